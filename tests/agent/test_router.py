"""Routing a question with no task (``agent.router``): the shipped classifier, the graph's
``route`` step, and a router file that cannot be used."""

from __future__ import annotations

import json

import pytest

from agent.api import Agent
from agent.config import AgentConfig
from agent.router import ROUTER_FILE, Router, RouterError, default_router
from tests.agent.test_graph import Scripted

# Our own questions (no data item), one a class, written as a person would, no brackets.
QUESTIONS = {
    "math": ("A baker makes 24 rolls a day and sells them for $2 each. How much money does "
             "she make in a week?", "pad"),
    "spatial": ("A is to the left of B.\nC is above A.\nWhat is the relation of the agent C "
                "to the agent B?", "spatial"),
    "kinship": ("Mary went shopping with her son Tom. Tom's sister Alice stayed home with "
                "her husband Greg.\nWho is Greg to Mary?", "asp"),
    "deductive": ("The cat is blue. If something is blue then it is round.\nIs the following "
                  "statement true or false? The cat is round.", "deductive"),
    "other": ("Would a penguin be able to live in the Sahara desert?", "direct"),
}  # fmt: skip


@pytest.mark.parametrize("task", sorted(QUESTIONS))
def test_the_shipped_router_sends_each_kind_of_question_to_its_skill(task):
    question, mode = QUESTIONS[task]
    r = default_router().route(question)
    assert (r.task, r.mode) == (task, mode), r.why
    assert r.confidence >= 0.5 and abs(sum(r.scores.values()) - 1) < 1e-3


def test_the_shipped_router_trained_on_no_eval_only_file():
    card = json.loads(ROUTER_FILE.read_text())["card"]
    trained = {f["path"] for f in card["train_files"]}
    eval_only = {
        "gsm8k/test.jsonl", "svamp/test.jsonl", "stepgame/test_k1-3_first1000.jsonl",
        "clutrr/gen_train23_test.jsonl", "clutrr/gen_train23_validation.jsonl",
    }  # fmt: skip
    assert trained and not trained & eval_only  # CLUTRR (CC BY-NC) never trains it either
    assert card["held_out"]["accuracy"] >= 0.95


def test_a_question_with_no_task_is_routed_and_the_step_says_why():
    student = Scripted(['rel("Mary", son, "Tom").', 'rel("Tom", sister, "Alice").',
                        'rel("Alice", husband, "Greg").', 'query("Mary", "Greg").'])  # fmt: skip
    agent = Agent(student, config=AgentConfig(exemplars=0))  # mode auto, task auto
    a = agent.ask(QUESTIONS["kinship"][0])
    assert a.trace.mode == "asp" and a.steps[0].node == "route"
    assert a.steps[0].text.startswith("asp for kinship")
    # a task or a mode still decides without the router
    b = Agent(Scripted(["ans = 48 * 7\n"]), config=AgentConfig(exemplars=0, mode="pad"))
    assert b.ask(QUESTIONS["kinship"][0]).steps[0].node != "route"


def test_a_question_no_skill_claims_runs_direct_with_a_text_answer():
    agent = Agent(Scripted(["Answer: No, it is far too hot."]), config=AgentConfig(exemplars=0))
    a = agent.ask(QUESTIONS["other"][0])
    assert (a.trace.mode, a.failure, a.grounded) == ("direct", None, False)
    assert a.answer == "no, it is far too hot."


def test_a_broken_router_file_is_a_clear_error(tmp_path):
    with pytest.raises(RouterError, match="no router at .*python -m training.router"):
        Router.from_file(tmp_path / "missing.json")
    bad = tmp_path / "router.json"
    bad.write_text('{"format": 1, "vectorizer": {}')
    with pytest.raises(RouterError, match=f"{bad} is not a usable router"):
        Router.from_file(bad)
    d = json.loads(ROUTER_FILE.read_text())
    d["coef"] = d["coef"][:-1]  # one class's weights lost
    bad.write_text(json.dumps(d))
    with pytest.raises(RouterError, match="coefficients of shape"):
        Router.from_file(bad)
