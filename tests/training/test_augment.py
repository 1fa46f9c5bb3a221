"""``augment:renumber``: verified programs re-instantiated with new numbers, consistently
in the question and the program, run in the sandbox, kept when well formed."""

from __future__ import annotations

import random

import pytest

from training.augment import candidates, named_numbers, renumber, well_formed
from training.data import Provenance, Trace
from training.teachers import LiveSettings
from training.verify_traces import Candidate, TeacherError, check
from training.verify_traces import candidates as teacher_candidates

QUESTION = (
    "Julie is reading a 120-page book. Yesterday, she was able to read 12 pages and today, "
    "she read twice as many pages as yesterday. If she wants to read half of the remaining "
    "pages tomorrow, how many pages should she read?"
)
PROGRAM = """page_book = 120
pages = 12
# today she read 12 x 2 = 24 pages
pages_today = pages*2
pages_left = page_book-pages-pages_today
ans = pages_left/2
"""


def test_new_numbers_go_into_the_question_and_the_named_assignments_alike():
    question, program = renumber(QUESTION, PROGRAM, random.Random(1))
    named = dict(line.split(" = ") for line in program.splitlines()[:2])
    assert set(named) == {"page_book", "pages"} and named != {"page_book": "120", "pages": "12"}
    assert f"a {named['page_book']}-page book" in question
    assert f"read {named['pages']} pages" in question
    assert "#" not in program  # the comments carried the old arithmetic
    assert program.splitlines()[2:] == ["pages_today = pages*2",
                                        "pages_left = page_book-pages-pages_today",
                                        "ans = pages_left/2"]  # fmt: skip


def test_a_number_also_used_as_a_literal_or_said_twice_is_not_renumbered():
    assert named_numbers("Tom has 48 apples.", "apples = 48\nans = 48 + apples\n") is None
    assert named_numbers("Tom has 4 and 4 more.", "a = 4\nans = a * 2\n") is None
    # 4 inside 48, 4.5 or 1,400 is not the number 4
    assert named_numbers("4 cats, 48 dogs, 4.5 kg, 1,400 m", "cats = 4\nans = cats\n") == {
        "cats": "4"
    }


def test_well_formed_answers():
    assert well_formed(36.0, 72) and well_formed(2.5, 7.5)
    assert not well_formed(2.5, 72)  # a whole count became a fraction
    assert not well_formed(-3, 72) and not well_formed(None, 72)


def test_variants_are_verified_by_the_sandbox_and_keep_their_group():
    prov = Provenance(teacher="silver:gsm8k", file="train.jsonl", sha256="0", licence="MIT")
    source = Candidate(source="silver:gsm8k", task="gsm8k", item_id="gsm8k-train-7",
                       mode="pad", program=PROGRAM, gold=48, question=QUESTION,
                       group="gsm8k-train-7", provenance=prov)  # fmt: skip
    checked = check(candidates(iter([source]), samples=6, seed=3))
    assert len(checked) >= 4
    for c in checked:
        assert c.candidate.group == "gsm8k-train-7" and c.candidate.item_id.startswith(
            "gsm8k-train-7-renumber"
        )
        assert c.candidate.provenance.teacher == "augment:renumber"
        assert c.kept == (c.reason is None) and c.reason in (None, "ill_formed")
    kept = [c for c in checked if c.kept]
    assert kept and all(c.answer == c.candidate.gold and c.answer > 0 for c in kept)


def test_a_traces_file_is_renumbered_from_its_kept_programs_only(tmp_path):
    prov = Provenance(teacher="ct2:teacher", file="train.jsonl", sha256="0", licence="MIT")
    kept = Trace(source="ct2:teacher", task="gsm8k", item_id="gsm8k-train-7",
                 group="gsm8k-train-7", mode="pad", question=QUESTION, program=PROGRAM,
                 gold=48, answer=48, kept=True, provenance=prov)  # fmt: skip
    wrong = kept.model_copy(update={"item_id": "gsm8k-train-8", "group": "gsm8k-train-8",
                                    "kept": False, "reason": "wrong_answer"})  # fmt: skip
    path = tmp_path / "teacher.jsonl"
    path.write_text(wrong.model_dump_json() + "\n" + kept.model_dump_json() + "\n")
    out = list(teacher_candidates(f"augment:renumber:{path}", live=LiveSettings(samples=3)))
    assert 1 <= len(out) <= 3
    assert {c.group for c in out} == {"gsm8k-train-7"}
    assert all(c.provenance.teacher == "augment:renumber" for c in out)
    assert all(c.question != QUESTION for c in out)
    # the limit counts traces: the first holds only the rejected program
    assert list(teacher_candidates(f"augment:renumber:{path}", limit=1)) == []


def test_a_traces_file_that_is_missing_or_broken_is_named(tmp_path):
    with pytest.raises(TeacherError, match="no traces file at"):
        list(teacher_candidates(f"augment:renumber:{tmp_path / 'none.jsonl'}"))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"task": "gsm8k"\n')
    with pytest.raises(TeacherError, match=r"broken.jsonl:1: not a trace"):
        list(teacher_candidates(f"augment:renumber:{broken}"))
