from __future__ import annotations

import json

import pytest

from agent.verify import choices as _choices
from agent.verify import choose, pal_program
from kb import KnowledgeItem
from kb.critic import EmbeddingCritic


def test_pal_program_is_cut_from_the_prompt_and_completion():
    record = {
        "question": "Question: old?\n# solution using Python:\n\n"
        "def solution():\n    return 1\n\n\n"
        "# Question: How far?Answer Choices:(a) 50 km(b) 60 km\n\n"
        "# solution using Python:\n",
        "generated_answer": "\ndef solution():\n    result = 20 * 2.5\n    return result\n\n\n\n"
        "Question: something else",
    }
    question, program = pal_program(record)
    assert question.startswith("How far?")
    assert program == "def solution():\n    result = 20 * 2.5\n    return result\n"
    assert choose(50.0, _choices(record["question"])) == "a"


def test_choose_handles_fractions_and_units():
    choices = {"a": "1/2", "b": "3/2 m", "c": "$2,500"}
    assert choose("3/2", choices) == "b"
    assert choose(2500, choices) == "c"
    assert choose("not a number", choices) is None


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    good = [
        KnowledgeItem(kind="exemplar", text=f"Add {i} and {i + 1}.", program=f"ans = {i} + {i + 1}")
        for i in range(12)
    ]
    bad = [
        KnowledgeItem(
            kind="exemplar",
            text=f"Add {i} and {i + 1}.",
            program=f"ans = open('/etc/passwd') # {i}",
        )
        for i in range(12)
    ]
    critic = EmbeddingCritic(card={"train_files": []})
    metrics = critic.fit([i.content for i in good + bad], [1] * 12 + [0] * 12)
    return critic, metrics, tmp_path_factory.mktemp("critic")


def test_critic_learns_and_scores_in_unit_interval(trained):
    critic, metrics, _ = trained
    # The two classes differ in one obvious way: held-out folds must separate them.
    assert metrics["n"] == 24 and metrics["cv_auc"] >= 0.9
    good = KnowledgeItem(kind="exemplar", text="Add 40 and 41.", program="ans = 40 + 41")
    bad = KnowledgeItem(kind="exemplar", text="Add 40 and 41.", program="ans = open('/etc/passwd')")
    s_good, s_bad = critic.score([good, bad])
    assert 0 <= s_bad < s_good <= 1


def test_critic_saves_and_loads_with_its_card(trained):
    critic, _, directory = trained
    critic.save(directory)
    loaded = EmbeddingCritic.load(directory)
    item = KnowledgeItem(kind="note", text="x")
    assert loaded.score([item]) == pytest.approx(critic.score([item]))
    assert json.loads((directory / "card.json").read_text())["train_files"] == []


def test_admission_through_the_trained_critic(trained, kb):
    critic, _, _ = trained
    items = [
        KnowledgeItem(kind="exemplar", text="Add 7 and 8.", program="ans = 7 + 8"),
        KnowledgeItem(kind="exemplar", text="Add 7 and 9.", program="ans = open('/x')"),
    ]
    assert kb.admit(items, critic, threshold=0.5) == {"admitted": 1, "quarantined": 1}


def test_untrained_critic_is_an_error():
    with pytest.raises(ValueError, match="not trained"):
        EmbeddingCritic().score([KnowledgeItem(kind="note", text="x")])
