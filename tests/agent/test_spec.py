from __future__ import annotations

import pytest

from agent.spec import ModelSpec, parse_spec


@pytest.mark.parametrize(
    "text,expected",
    [
        ("default", ModelSpec("default")),
        ("hf:HuggingFaceTB/SmolLM2-135M", ModelSpec("hf", "HuggingFaceTB/SmolLM2-135M")),
        ("hf:./out+lora:./adapter", ModelSpec("hf", "./out", adapter="./adapter")),
        (
            "openai:gpt-4o@https://api.openai.com/v1",
            ModelSpec("openai", "gpt-4o", url="https://api.openai.com/v1"),
        ),
        (
            "openai:org/model@v2@http://127.0.0.1:8000/v1",
            ModelSpec("openai", "org/model@v2", url="http://127.0.0.1:8000/v1"),
        ),
    ],
)
def test_parse_round_trips(text, expected):
    assert parse_spec(text) == expected
    assert parse_spec(str(expected)) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "bad model spec"),
        ("gpt4", "bad model spec"),
        ("ollama:llama3", "unknown model kind 'ollama'"),
        ("hf:x+qlora:y", "expected hf:MODEL\\+lora:ADAPTER"),
        ("openai:gpt-4o", "expected openai:MODEL@http"),
        ("openai:gpt-4o@localhost:8000", "expected openai:MODEL@http"),
    ],
)
def test_bad_specs_show_the_grammar(text, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(text)
