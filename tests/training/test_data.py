"""Verified traces as training data: selection, splits, Socratic examples, KB exemplars."""

from __future__ import annotations

import errno
import json

import pytest

from solvers.files import atomic_write
from tests.conftest import SHARED, needs_shared
from tests.training.test_sft import PROV, trace
from training.data import (
    near_duplicates,
    read_traces,
    render_examples,
    select,
    shots_for,
    to_items,
    without_comments,
    write_traces,
)


def test_near_duplicate_questions_are_dropped_within_a_task():
    texts = [
        "Tom has 3 apples and buys 4 more. How many apples does Tom have now?",
        "Tom has 3 apples and buys 4 more. How many apples does Tom have now ?",
        "A train leaves at 9 and arrives at 11. How long is the trip?",
    ]
    assert near_duplicates(texts) == [None, 0, None]
    ts = [trace(0).model_copy(update={"question": q, "item_id": str(i)}) for i, q in
          enumerate(texts)]  # fmt: skip
    train, dev, dropped = select(ts, dev_fraction=0.0)
    assert [t.item_id for t in train] == ["0", "2"]
    assert [(t.item_id, t.reason, t.kept) for t in dropped] == [("1", "duplicate", False)]


def test_the_split_is_by_group_and_over_long_examples_are_dropped(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ts = [trace(i, group=f"ctx-{i // 3}") for i in range(60)]
    words = "apple boat cat dog egg fig goat hat ink jam kite lamp moon nut owl pig".split()
    ts = [t.model_copy(update={"question": f"How many {words[i % 16]} and {words[i // 16]} "
                               f"{words[(i * 7) % 16]} are there?"})
          for i, t in enumerate(ts)]  # fmt: skip
    train, dev, _ = select(ts, tok, max_tokens=10_000, dev_fraction=0.3)
    assert dev and train and len(train) + len(dev) == 60
    assert not {t.group for t in train} & {t.group for t in dev}
    assert {t.split for t in train} == {"train"} and {t.split for t in dev} == {"dev"}
    again, _, _ = select(ts, tok, max_tokens=10_000, dev_fraction=0.3)
    assert [t.item_id for t in again] == [t.item_id for t in train]  # stable
    _, _, dropped = select(ts[:2], tok, max_tokens=20)
    assert {t.reason for t in dropped} == {"too_long"}


def test_socratic_traces_teach_the_plan_and_the_program(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    t = trace(0).model_copy(
        update={"mode": "socratic", "steps": ["Tom has apples.", "He buys more apples."]}
    )
    (plan_prompt, plan), (prog_prompt, prog) = render_examples(t, tok)
    assert plan.startswith("Step: Tom has apples.\nStep: He buys more apples.")
    assert "Problem:" in plan_prompt and plan_prompt.endswith("assistant\n")
    assert "Steps:\n- Tom has apples.\n- He buys more apples." in prog_prompt
    assert prog.startswith("apples = 3 + 4")


def test_comments_are_stripped_only_when_asked():
    program = "# Tom has 3 + 4 = 7 apples.\napples = 3 + 4\nans = apples  # keep\n"
    assert without_comments(program, "python") == "apples = 3 + 4\nans = apples  # keep\n"
    assert without_comments("% fact\na.\n", "asp") == "a.\n"


def test_kb_exemplars_never_hold_dev_items_and_shots_skip_the_item_itself():
    ts = [trace(0), trace(1).model_copy(update={"split": "dev"}), trace(2)]
    items = to_items(ts)
    assert [i.provenance.source.rpartition("#")[2] for i in items] == ["t-0", "t-2"]
    assert all(i.verified and i.kind == "exemplar" for i in items)
    shots = shots_for(trace(0), items, k=2, exclude={"t-2"})
    assert shots == []  # its own item and a dev item are both left out
    assert [s.text for s in shots_for(trace(5), items, k=1, exclude=set())] == [items[0].text]


def test_to_kb_adds_searchable_exemplars(tmp_path, home):
    from kb.store import KnowledgeBase
    from training.data import to_kb

    assert to_kb([trace(0), trace(1)], tmp_path / "kb.duckdb") == 2
    with KnowledgeBase(tmp_path / "kb.duckdb") as kb:
        assert kb.count() == 2
        hits = kb.search("apples Tom buys", k=1)
        assert "apples" in hits[0].item.text


def test_atomic_writes_leave_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "traces.jsonl"
    write_traces(path, [trace(0)])
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("half a line")
        raise RuntimeError("killed mid-write")
    assert [t.item_id for t in read_traces(path)] == ["t-0"]
    assert [p.name for p in tmp_path.iterdir()] == ["traces.jsonl"]  # no temporary left

    import os

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"disk full while writing .*traces.jsonl"):
        write_traces(path, [trace(1)])
    assert [t.item_id for t in read_traces(path)] == ["t-0"]


@needs_shared
def test_socratic_teacher_checks_every_step():
    from training.verify_traces import candidates, check, summary

    checked = check(candidates("socratic:gsm8k", SHARED, 40))
    kept = [c.trace() for c in checked if c.kept]
    assert kept and all(t.steps and t.mode == "socratic" for t in kept)
    steps = [s for t in kept for s in t.steps]
    assert not [s for s in steps if "=" in s or "<<" in s]  # no arithmetic, no results
    assert kept[0].steps[0] == "Natalia sold clips in May."
    (row,) = summary(checked)
    assert row["source"] == "socratic:gsm8k" and row["kept"] == len(kept)
    # A step whose annotation is wrong is caught even when the final answer is right.
    first = next(c for c in checked if c.kept).candidate
    assert first.check
    broken = first.check.replace("_want = [", "_want = [1e9, ").replace("_got = [", "_got = [0, ")
    bad = check([first.__class__(**{**first.__dict__, "check": broken, "item_id": "x"})])
    assert bad[0].reason == "wrong_answer" and bad[0].answer == 1


def test_trace_files_carry_provenance(tmp_path):
    write_traces(tmp_path / "t.jsonl", [trace(0)])
    row = json.loads((tmp_path / "t.jsonl").read_text())
    assert row["provenance"] == PROV.model_dump() and row["schema_version"] == 1


def test_a_deductive_trace_teaches_one_sentence_at_a_time_and_shared_sentences_once(
    tiny_model_dir, tmp_path
):
    from transformers import AutoTokenizer

    from agent import theory
    from training.sft import TrainConfig, examples

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    context = "Bob is cold. If someone is cold then they are kind."

    def ask(statement: str, clause: str, item: str) -> object:
        t = theory.split(f"{context}\nTrue, false, or unknown? {statement}")
        program = theory.assemble(t, ["cold(bob).", "kind(X) :- cold(X).", clause])
        return trace(0).model_copy(update={
            "task": "proofwriter", "mode": "deductive", "item_id": item, "group": "ctx",
            "question": f"{context}\nTrue, false, or unknown? {statement}", "program": program,
        })  # fmt: skip

    q1, q2 = ask("Bob is kind.", "kind(bob).", "q1"), ask("Bob is not cold.", "-cold(bob).", "q2")
    pairs = render_examples(q1, tok)
    assert [p.rsplit("Sentence: ", 1)[1].split("<|im_end|>")[0] for p, _ in pairs] == [
        "Bob is cold.", "If someone is cold then they are kind.", "Bob is kind."
    ]  # fmt: skip
    assert [c.split("```", 1)[0] for _, c in pairs] == [
        "cold(bob).\n", "kind(X) :- cold(X).\n", "kind(bob).\n"
    ]  # fmt: skip
    write_traces(tmp_path / "train.jsonl", [q1, q2])
    cfg = TrainConfig(train=str(tmp_path / "train.jsonl"), out=str(tmp_path / "run"),
                      base=str(tiny_model_dir), max_tokens=4096)  # fmt: skip
    assert len(examples(cfg.train, tok, cfg)) == 4  # the two shared sentences count once
