"""`nesy serve` with the real openai client, a tiny model and a real uvicorn server."""

from __future__ import annotations

import httpx
import openai
import pytest


@pytest.fixture
def base_url(nesy_serve_url):
    return nesy_serve_url


@pytest.fixture
def client(base_url):
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)


def test_models_are_listed(client):
    assert {m.id for m in client.models.list()} == {"nesy-agent", "nesy-student"}


def test_student_completion(client):
    r = client.chat.completions.create(
        model="nesy-student", max_tokens=5, messages=[{"role": "user", "content": "Say hi"}]
    )
    assert r.choices[0].message.role == "assistant"
    assert 0 < r.usage.completion_tokens <= 5


def test_agent_completion_carries_the_answer_record(client):
    r = client.chat.completions.create(
        model="nesy-agent", messages=[{"role": "user", "content": "What is 2+2?"}]
    )
    extra = r.model_extra["nesy"]
    assert extra["grounded"] is False and "not grounded" in r.choices[0].message.content


def test_streaming(client):
    stream = client.chat.completions.create(
        model="nesy-student",
        max_tokens=5,
        stream=True,
        messages=[{"role": "user", "content": "Say hi"}],
    )
    chunks = list(stream)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[0].choices[0].delta.role == "assistant"


@pytest.mark.parametrize(
    "kwargs,status,text",
    [
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}, 404, "does not exist"),
        ({"model": "nesy-student", "messages": []}, 400, "messages"),
        (
            {
                "model": "nesy-student",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 10_000,
            },
            400,
            "exceeds the server cap 64",
        ),
    ],
)
def test_malformed_requests_get_openai_style_errors(client, kwargs, status, text):
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(**kwargs)
    assert err.value.status_code == status
    assert (
        text in err.value.body["message"]
        if isinstance(err.value.body, dict)
        else text in str(err.value)
    )


def test_not_json_and_too_big(base_url):
    r = httpx.post(f"{base_url}/chat/completions", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(f"{base_url}/chat/completions", content=b"x" * 5000)
    assert r.status_code == 413


def test_student_stream_sends_tokens_as_decoded(base_url, client):
    stream = client.chat.completions.create(
        model="nesy-student",
        max_tokens=12,
        stream=True,
        messages=[{"role": "user", "content": "What is two plus three?"}],
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert len(pieces) >= 2 and all(pieces)  # several content deltas, not one blob
    whole = client.chat.completions.create(
        model="nesy-student", max_tokens=12,
        messages=[{"role": "user", "content": "What is two plus three?"}],
    )  # fmt: skip
    assert "".join(pieces) == whole.choices[0].message.content  # greedy: the same text


def test_requests_past_the_concurrency_limit_get_429(base_url):
    """Two streams hold both slots (max_concurrency=2) while unread; a third is refused."""
    body = {
        "model": "nesy-student", "max_tokens": 64, "stream": True,
        "messages": [{"role": "user", "content": "Say hi"}],
    }  # fmt: skip
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", f"{base_url}/chat/completions", json=body) as a:
            lines_a = a.iter_lines()
            next(lines_a)
            with http.stream("POST", f"{base_url}/chat/completions", json=body) as b:
                lines_b = b.iter_lines()
                next(lines_b)
                r = http.post(f"{base_url}/chat/completions", json={**body, "stream": False})
                assert r.status_code == 429
                assert r.json()["error"]["type"] == "rate_limit_error"
                list(lines_b)
            list(lines_a)
        r = http.post(f"{base_url}/chat/completions", json={**body, "stream": False})
        assert r.status_code == 200  # slots are released when the streams end
