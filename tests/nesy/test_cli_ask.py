from __future__ import annotations

import json

from .test_cli import nesy


def test_ask_json_with_a_tiny_model(tiny_model_dir):
    out = nesy(
        "ask",
        "--model",
        f"hf:{tiny_model_dir}",
        "--no-kb",
        "--mode",
        "direct",
        "--max-new-tokens",
        "4",
        "--json",
        "What is 1 + 1?",
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["grounded"] is False and answer["trace"]["mode"] == "direct"


def test_ask_shows_steps(tiny_model_dir):
    out = nesy(
        "ask",
        "--model",
        f"hf:{tiny_model_dir}",
        "--no-kb",
        "--mode",
        "pad",
        "--max-new-tokens",
        "4",
        "--max-repairs",
        "0",
        "What is 1 + 1?",
    )
    assert out.returncode == 0, out.stderr
    lines = [line.strip() for line in out.stdout.splitlines()]
    # Every step is shown, in order: the program, the solver's verdict on it, the answer.
    program = lines.index("program")
    solved = next(i for i, line in enumerate(lines) if line.startswith("python: "))
    answer = next(i for i, line in enumerate(lines) if line.startswith("answer:"))
    assert program < solved < answer
    assert lines[solved].split()[1] in ("ok", "error", "timeout", "memory", "unsat")
    assert "grounded" in lines[answer]


def test_ask_bad_spec_and_empty_question():
    out = nesy("ask", "--model", "gpt4", "hi")
    assert out.returncode == 2 and "bad model spec 'gpt4'" in out.stderr
    out = nesy("ask", "--model", "hf:/nonexistent", "hi")
    assert out.returncode == 2 and "no model at '/nonexistent'" in out.stderr


def test_ask_without_a_task_shows_the_route(tiny_model_dir):
    out = nesy("ask", "--model", f"hf:{tiny_model_dir}", "--no-kb", "--max-new-tokens", "4",
               "--max-repairs", "0", "A pen costs 3 dollars. How much do 4 pens cost?")  # fmt: skip
    assert out.returncode == 0, out.stderr
    route = next(line.strip() for line in out.stdout.splitlines() if "route" in line)
    assert route.startswith("route pad for math"), route
