"""Live teachers (``openai:MODEL@URL``): a local stub server that fails the way real ones do
(500, 429, a timeout, malformed JSON), the response cache, and `nesy serve` on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from training.teachers import (
    LiveSettings,
    LiveTeacher,
    LocalTeacher,
    ResponseCache,
    gsm8k_candidates,
)
from training.verify_traces import TeacherError, check

PROGRAM = "```python\nans = 48 + 48 // 2\n```"


class Stub:
    """Answers /v1/chat/completions from a script: one behaviour per request, then OK."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.calls = 0
        self.release = threading.Event()  # a "hang" request answers only at close()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                model = {"id": "stub", "object": "model", "created": 0, "owned_by": "me"}
                self._send(200, json.dumps({"object": "list", "data": [model]}).encode())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.calls += 1
                what = stub.script.pop(0) if stub.script else "ok"
                if what == "500":
                    self._send(500, b'{"error": {"message": "boom"}}')
                elif what == "429":
                    self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0"})
                elif what == "hang":
                    stub.release.wait(60)
                elif what == "garbage":
                    self._send(200, b"{not json")
                else:
                    self._send(200, json.dumps({
                        "id": "x", "object": "chat.completion", "created": 0, "model": "stub",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": PROGRAM}}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
                    }).encode())  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def stub():
    made: list[Stub] = []

    def make(*script: str) -> Stub:
        made.append(Stub(list(script)))
        return made[-1]

    yield make
    for s in made:
        s.close()


MESSAGES = [[{"role": "user", "content": "Natalia sold 48 clips ..."}]]


def test_500s_and_429s_are_retried_and_the_answer_is_cached(stub, tmp_path):
    server = stub("500", "429")
    settings = LiveSettings(cache=str(tmp_path / "cache.jsonl"), retries=3)
    teacher = LiveTeacher("stub", server.url, settings)
    [[sample]] = teacher.sample(MESSAGES)
    assert sample.text == PROGRAM and not sample.error and server.calls == 3
    again = LiveTeacher("stub", server.url, settings)  # a re-run never pays twice
    [[cached]] = again.sample(MESSAGES)
    assert cached.cached and cached.text == PROGRAM and again.requests == 0 and server.calls == 3


def test_malformed_json_and_timeouts_are_errors_that_are_asked_again(stub, tmp_path):
    server = stub("garbage", "hang")
    settings = LiveSettings(cache=str(tmp_path / "c.jsonl"), retries=0, timeout_s=1.0)
    teacher = LiveTeacher("stub", server.url, settings)
    [[bad], [slow]] = teacher.sample(MESSAGES + [[{"role": "user", "content": "another"}]])
    assert bad.error and slow.error and not bad.text
    assert {bad.error.split(":")[0], slow.error.split(":")[0]} >= {"APITimeoutError"}
    assert not (tmp_path / "c.jsonl").exists()  # failures are never cached
    patient = LiveSettings(cache=str(tmp_path / "c.jsonl"), retries=0)  # the default 120 s
    [[good], [good2]] = LiveTeacher("stub", server.url, patient).sample(
        MESSAGES + [[{"role": "user", "content": "another"}]]
    )
    assert good.text == good2.text == PROGRAM


def test_a_corrupt_cache_line_is_reported_and_never_reused(stub, tmp_path, capsys):
    cache = tmp_path / "cache.jsonl"
    settings = LiveSettings(cache=str(cache), samples=2, temperature=0.7)
    key = ResponseCache.key("stub", MESSAGES[0], {"temperature": 0.7, "max_tokens": 512}, 0)
    cache.write_text(
        json.dumps({"key": key, "text": "kept", "usage": {}}) + "\n" + '{"key": "half-writ'
    )
    server = stub()
    teacher = LiveTeacher("stub", server.url, settings)
    assert f"{cache}:2: corrupt cache line skipped" in capsys.readouterr().err
    [[first, second]] = teacher.sample(MESSAGES)
    assert first.cached and first.text == "kept"  # sample 0 from the cache
    assert second.text == PROGRAM and server.calls == 1  # sample 1 asked again
    assert len(ResponseCache(cache).entries) == 2


def test_an_endpoint_that_is_down_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    teacher = LiveTeacher(
        "m", f"http://127.0.0.1:{port}/v1", LiveSettings(cache=str(tmp_path / "c"))
    )
    with pytest.raises(TeacherError, match=f"127.0.0.1:{port}/v1 is not reachable"):
        teacher.sample(MESSAGES)


def test_several_greedy_samples_are_refused():
    with pytest.raises(ValueError, match="give --temperature above 0"):
        LiveSettings(samples=4).check()


def test_programs_from_a_live_teacher_go_through_the_one_verifier(stub, tmp_path):
    data = tmp_path / "train.jsonl"
    rows = [{"question": "Natalia sold 48 clips in April and half as many in May. How many?",
             "answer": 72}, {"question": "Same again?", "answer": 5}]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    server = stub("garbage")
    settings = LiveSettings(cache=str(tmp_path / "c.jsonl"), retries=0, concurrency=1)
    teacher = f"openai:stub@{server.url}"
    checked = check(gsm8k_candidates(teacher, data, None, settings))
    by_reason = sorted((c.candidate.item_id, c.reason) for c in checked)
    # the first request got garbage; the second question's program is right for the first
    assert by_reason == [("gsm8k-train-0", "teacher_error"), ("gsm8k-train-1", "wrong_answer")]
    assert all(c.candidate.provenance.licence.endswith(f"programs by {teacher}") for c in checked)


def test_nesy_serve_is_a_live_teacher(nesy_serve_url, tmp_path):
    settings = LiveSettings(cache=str(tmp_path / "c.jsonl"), samples=2, temperature=0.7,
                            max_tokens=8)  # fmt: skip
    teacher = LiveTeacher("nesy-student", nesy_serve_url, settings)
    answers = teacher.sample(MESSAGES * 2)
    assert teacher.requests == 2  # the same prompt twice: sample keys repeat, still 2 x 2
    assert all(isinstance(s.text, str) and not s.error for ss in answers for s in ss)
    assert LiveTeacher("nesy-student", nesy_serve_url, settings).sample(MESSAGES)[0][0].cached


def test_a_local_model_is_a_teacher_batched_and_cached(tiny_model_dir, tmp_path):
    settings = LiveSettings(cache=str(tmp_path / "c.jsonl"), samples=2, temperature=0.7,
                            max_tokens=6)  # fmt: skip
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    teacher = LocalTeacher(f"hf:{tiny_model_dir}", settings, batch_size=2)
    answers = teacher.sample(prompts)
    assert teacher.requests == 6 and all(s.text.startswith("```python") for a in answers for s in a)
    again = LocalTeacher(f"hf:{tiny_model_dir}", settings)
    assert [[s.text for s in a] for a in again.sample(prompts)] == [
        [s.text for s in a] for a in answers
    ]
    assert again.requests == 0 and again._student is None  # nothing loaded: all cached


def test_a_sampling_run_killed_midway_keeps_the_answers_it_had(tiny_model_dir, tmp_path):
    settings = LiveSettings(cache=str(tmp_path / "c.jsonl"), samples=1, max_tokens=4)
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    teacher = LocalTeacher(f"hf:{tiny_model_dir}", settings, batch_size=2)
    from agent.students import load_student

    real, calls = load_student(f"hf:{tiny_model_dir}"), []

    class KilledOnSecondBatch:  # the real model; the process "dies" at its second batch
        def generate(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real.generate(*args, **kwargs)

    teacher._student = KilledOnSecondBatch()
    with pytest.raises(KeyboardInterrupt):
        teacher.sample(prompts)
    again = LocalTeacher(f"hf:{tiny_model_dir}", settings, batch_size=2)
    answers = again.sample(prompts)
    assert again.requests == 1  # the first batch's two answers came from the cache
    assert [s.cached for a in answers for s in a].count(True) == 2


def test_nesy_distill_verify_takes_a_live_teacher_and_its_flags(stub, tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "gsm8k").mkdir()
    row = {"question": "Natalia sold 48 clips in April and half as many in May.", "answer": 72}
    (tmp_path / "gsm8k" / "train.jsonl").write_text(json.dumps(row) + "\n")
    server = stub()
    cmd = [sys.executable, "-m", "nesy.cli", "distill", "verify", "--teacher",
           f"openai:stub@{server.url}", "--data", str(tmp_path), "--samples", "2",
           "--temperature", "0.5", "--cache", str(tmp_path / "c.jsonl"), "--json"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    [row_summary] = json.loads(r.stdout)
    # two samples, the same program: one kept, its copy a duplicate
    assert (row_summary["kept"], row_summary["reasons"]) == (1, {"duplicate": 1})
    assert server.calls == 2 and "2 answers asked for, 0 from the cache" in r.stderr
    greedy = [("0" if a == "0.5" else a) for a in cmd]
    r = subprocess.run(greedy, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "give --temperature above 0" in r.stderr
