"""Task loaders on the real files and on each original public format; bad lines; splits."""

from __future__ import annotations

import json

import pytest

from bench.tasks import BadLine, TaskError, all_tasks, get_task, split_by_group
from tests.bench.conftest import SHARED, needs_shared

EXPECTED = {  # task: (rows in the eval file, a gold answer, difficulty of item 0)
    "gsm8k": (1319, 18.0, 2),
    "svamp": (1000, 51.0, 1),
    "stepgame": (3000, "lower-left", 1),
    "clutrr": (1146, "grandson", 2),
    "proofwriter": (600, "true", 5),
    "prontoqa": (500, "false", 5),
    "folio": (204, None, None),
    "strategyqa": (2290, "yes", None),
}


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_task_loads_its_shared_file(name):
    task = get_task(name)
    items = task.load(task.resolve(SHARED))
    n, gold, difficulty = EXPECTED[name]
    assert len(items) == n
    assert len({it.id for it in items}) == n and all(it.id.startswith(name + "/") for it in items)
    if gold is not None:
        assert items[0].gold == gold
    assert items[0].difficulty == difficulty
    for it in items[:50]:
        assert task.correct(it.gold, it.gold)  # the metric accepts its own gold
        assert it.question.strip()


def test_bundled_mit_sets_work_without_data():
    task = get_task("gsm8k")
    assert len(task.load(task.resolve(None))) == 1319
    shots = task.load(task.resolve(None, "train"))
    assert len(shots) == 100 and "The answer is" in task.fewshot_answer(shots[0])
    with pytest.raises(TaskError, match="pass --data"):
        get_task("clutrr").resolve(None)  # CC BY-NC: never bundled


@needs_shared
def test_proofwriter_groups_share_a_context():
    items = get_task("proofwriter").load(SHARED / "proofwriter/dev.jsonl")
    by_group: dict[str, set[str]] = {}
    for it in items:
        by_group.setdefault(it.group, set()).add(it.meta["context"])
    assert all(len(contexts) == 1 for contexts in by_group.values())
    a, b = split_by_group(items, 0.5, seed=1)
    assert {it.group for it in a}.isdisjoint({it.group for it in b})
    assert len(a) + len(b) == len(items)


def test_original_formats(tmp_path):
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text(json.dumps({"question": "1+1?", "answer": "1 + 1 = <<1+1=2>>2\n#### 2"}) + "\n")
    [item] = get_task("gsm8k").load(gsm)
    assert item.gold == 2.0 and item.difficulty == 1

    svamp = tmp_path / "SVAMP.json"
    svamp.write_text(
        json.dumps(
            [
                {
                    "ID": "chal-1",
                    "Body": "Tom has 3 apples.",
                    "Question": "How many now?",
                    "Equation": "( 3.0 + 2.0 )",
                    "Answer": 5.0,
                    "Type": "Addition",
                }
            ]
        )
    )
    [item] = get_task("svamp").load(svamp)
    assert (item.id, item.question, item.gold) == (
        "svamp/chal-1",
        "Tom has 3 apples. How many now?",
        5.0,
    )

    multi = tmp_path / "MultiArith.json"
    multi.write_text(
        json.dumps(
            [
                {
                    "iIndex": 7,
                    "sQuestion": "2 times 3?",
                    "lEquations": ["X=(2*3)"],
                    "lSolutions": [6.0],
                }
            ]
        )
    )
    [item] = get_task("multiarith").load(multi)
    assert (item.id, item.gold, item.difficulty) == ("multiarith/7", 6.0, 1)

    asdiv = tmp_path / "ASDiv.xml"
    asdiv.write_text(
        '<Machine-Reading-Corpus-File><ProblemSet><Problem ID="nluds-0001" Grade="2">'
        "<Body>Seven red apples and two green apples are in the basket.</Body>"
        "<Question>How many apples are in the basket?</Question><Answer>9 (apples)</Answer>"
        "<Formula>7+2=9</Formula></Problem></ProblemSet></Machine-Reading-Corpus-File>"
    )
    [item] = get_task("asdiv").load(asdiv)
    assert (item.id, item.gold, item.difficulty) == ("asdiv/nluds-0001", 9.0, 2)

    hard = tmp_path / "gsmhard.jsonl"
    hard.write_text(
        json.dumps({"input": "Big?", "code": "def solution(): return 3e9", "target": 3000000000.0})
        + "\n"
    )
    [item] = get_task("gsm-hard").load(hard)
    assert item.gold == 3e9 and item.meta["code"]

    sqa = tmp_path / "strategyqa_train.json"
    sqa.write_text(
        json.dumps(
            [
                {
                    "qid": "abc",
                    "question": "Is ice cold?",
                    "answer": True,
                    "facts": ["Ice is frozen water."],
                }
            ]
        )
    )
    [item] = get_task("strategyqa").load(sqa)
    assert (item.id, item.gold) == ("strategyqa/abc", "yes")

    game = tmp_path / "qa1_test.json"
    game.write_text(
        json.dumps(
            {
                "0": {
                    "story": ["A is left of B."],
                    "question": "What is the relation of the agent A to the agent B?",
                    "label": "left",
                    "k_hop": 1,
                }
            }
        )
    )
    [item] = get_task("stepgame").load(game)
    assert item.id == "stepgame/qa1_test-0" and item.question.startswith("A is left of B.\n")


@needs_shared
def test_clutrr_13_csv_and_its_misspelt_label():
    items = get_task("clutrr").load(SHARED / "clutrr/llmasp_clutrr_1.3/clean_100.csv")
    assert len(items) == 100 and items[0].id == "clutrr/clean_100-0"
    assert items[0].question.endswith("Who is Asberry to Terry?")
    assert "neice" not in {it.gold for it in items} and "niece" in {it.gold for it in items}


def test_malformed_lines_stop_or_skip(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text(
        json.dumps({"id": "a", "question": "1+1?", "answer": 2}) + "\n"
        '{"id": "b", "question": \n'
        + json.dumps({"id": "c", "question": "x?", "answer": "many"})
        + "\n"
        + json.dumps({"id": "d", "question": "2+2?", "answer": 4})
        + "\n"
    )
    task = get_task("gsm8k")
    with pytest.raises(TaskError, match=r"bad.jsonl:2: invalid JSON"):
        task.load(f)
    bad: list[BadLine] = []
    items = task.load(f, on_bad_line="skip", bad=bad)
    assert [it.id for it in items] == ["gsm8k/a", "gsm8k/d"]
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [
        (2, "invalid JSON"),
        (3, "answer 'many' is not a number"),
    ]


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(TaskError, match="known tasks: asdiv, clutrr, folio"):
        get_task("gsm9k")
    assert {
        "gsm8k",
        "svamp",
        "multiarith",
        "asdiv",
        "gsm-hard",
        "stepgame",
        "clutrr",
        "proofwriter",
        "prontoqa",
        "folio",
        "strategyqa",
    } <= set(all_tasks())


def test_label_extraction_prefers_the_earliest_longest_label():
    task = get_task("stepgame")
    assert task.extract("The answer is upper-left. Not left.") == "upper-left"
    assert task.extract("It is left of it") == "left"
    assert task.extract("no idea") is None
    assert get_task("clutrr").extract("Answer: son-in-law") == "son-in-law"
    assert get_task("gsm8k").extract("5 + 7 = 12\nThe answer is 12.") == 12.0


@pytest.mark.parametrize("name", ["proofwriter", "prontoqa"])
def test_a_heldout_task_is_a_share_of_whole_contexts_with_the_file_ids(name):
    from bench.tasks import get_task

    full = get_task(name).load(get_task(name).resolve(None))
    held = get_task(f"{name}-heldout").load(get_task(f"{name}-heldout").resolve(None))
    assert {it.id for it in held} < {it.id for it in full}  # the same ids: the guard sees them
    groups = {it.group for it in held}
    assert all(it.group not in groups for it in full if it not in held)  # contexts whole
    share = len(groups) / len({it.group for it in full})
    assert 0.2 < share < 0.4, share


@pytest.mark.parametrize("name", ["proofwriter", "prontoqa"])
def test_a_heldout_task_takes_its_exemplars_from_the_contexts_it_does_not_score(name):
    task = get_task(f"{name}-heldout")
    scored = task.load(task.resolve(None))
    pool = task.fewshot_pool(None)
    whole = get_task(name).load(get_task(name).resolve(None))
    assert len(pool) + len(scored) == len(whole)
    assert {it.group for it in pool}.isdisjoint({it.group for it in scored})


def test_svamp_borrows_gsm8k_exemplars_and_a_task_without_any_is_an_error(tiny_model_dir):
    from bench.systems import DirectSystem, Options, SystemError

    shots = get_task("svamp").fewshot_pool(None)
    assert len(shots) == 100 and "The answer is" in get_task("svamp").fewshot_answer(shots[0])
    system = DirectSystem(f"hf:{tiny_model_dir}", Options(num_fewshot=4))
    assert len(system._exemplars(get_task("svamp"))) == 4
    with pytest.raises(SystemError, match="multiarith has no few-shot exemplars"):
        system._exemplars(get_task("multiarith"))
