"""One verifier: the same recorded teacher programs get the same verdict everywhere."""

from __future__ import annotations

import json

from agent import theory, verify
from agent.api import Agent
from agent.graph import AgentConfig
from agent.students import Generation
from solvers import solve
from tests.conftest import SHARED, needs_shared

POT_SVAMP = "teacher_traces/pot_codex_svamp_fewshot.jsonl"


class Replies:
    """A student that answers each question with a recorded teacher program (no weights):
    it drives the graph's real formulate -> solve -> answer path."""

    name = "teacher-replay"

    def __init__(self, by_question: dict[str, str]) -> None:
        self.by_question = by_question

    def generate(self, prompts, **kw):
        out = []
        for messages in prompts:
            user = next(m["content"] for m in messages if m["role"] == "user")
            question = user.rsplit("Question: ", 1)[-1]
            out.append(Generation(self.by_question[question], 10, 5, "stop"))
        return out


@needs_shared
def test_recorded_programs_get_identical_verdicts_on_every_path(tmp_path):
    from bench.systems import Options, ReplaySystem
    from bench.tasks import get_task
    from training.critic_labels import teacher_labels
    from training.exemplars import keep

    lines = (SHARED / POT_SVAMP).read_text().splitlines()[:40]
    rows = [json.loads(line) for line in lines]
    (tmp_path / "teacher_traces").mkdir()
    (tmp_path / POT_SVAMP).write_text("\n".join(lines) + "\n")

    # The critic's labeller and the shipped-KB builder (training/).
    examples, _ = teacher_labels(tmp_path, [POT_SVAMP])
    critic = [bool(e.label) for e in examples]
    builder = [keep(verify.pot_programs(r)[0], r["answer"]) for r in rows]

    # The graph's answer node, with gold given to Agent.ask_many.
    agent = Agent(
        Replies({r["question"]: verify.pot_programs(r)[0] for r in rows}),
        config=AgentConfig(mode="pad", exemplars=0, max_repairs=0),
    )
    answers = agent.ask_many([r["question"] for r in rows], golds=[r["answer"] for r in rows])
    graph = [bool(a.trace.verified) for a in answers]

    # Bench replay, scored by the task against its own gold file.
    task = get_task("svamp")
    items = {it.question: it for it in task.load(task.resolve(SHARED))}
    system = ReplaySystem(f"replay:{tmp_path / POT_SVAMP}", Options())
    replay = []
    for row in rows:
        item = items[row["question"]]
        prediction = system._score(task, item, row)
        replay.append(prediction.answer is not None and task.correct(prediction.answer, item.gold))

    assert critic == builder == graph == replay
    assert 0 < sum(graph) < len(graph)  # both verdicts occur in the sample
    verdicts = [a.trace.verdict for a in answers]
    assert verdicts == ["accepted" if v else "rejected" for v in graph]


def test_verdict_of_a_program():
    v = verify.run("pad", ["ans = 6 * 7"], gold="42")
    assert (v.answer, v.grounded, v.verified, v.failure) == (42.0, True, True, None)
    v = verify.run("pad", ["ans = 6 * 7"], gold=41)
    assert (v.verified, v.failure) == (False, verify.FailureClass.wrong_answer)
    v = verify.run("pad", ["ans = 1 / 0"])
    assert (v.answer, v.grounded, v.verified) == (None, False, None)


def test_vote_is_majority_with_first_seen_ties():
    assert verify.vote([2.0, 3.0, 3.0, None]) == (3.0, 2)
    assert verify.vote([5.0, 4.0]) == (5.0, 1)
    assert verify.vote([None]) == (None, 0)


def test_a_whole_answer_is_a_non_negative_integer_value():
    assert all(verify.whole(v) for v in (0, 3, 3.0, 1e6, 2.0000000001))
    assert not any(verify.whole(v) for v in (-1, -0.5, 2.5, 16.666666666666668, "3", None, True))


def test_an_ok_result_that_is_a_list_is_not_an_answer():
    v = verify.run("prolog", ["answer([1, 2])."])
    assert v.results[0].status == "ok" and v.answer is None and not v.grounded
    assert "must be one value" in verify.unusable(v.results[0])


def test_a_story_whose_facts_conflict_is_answered_by_leaving_each_fact_out():
    told = 'rel("Ann", son, "Bob"). rel("Bob", daughter, "Cat"). rel("Cat", father, "Bob").\n'
    query = 'query("Ann", "Cat").\n'
    assert verify.run("asp", [told + query]).answer == "granddaughter"
    # "Cat is Bob's sister" (a wrong fact) makes her Ann's daughter as well; without each
    # fact in turn only one program answers alone: granddaughter (without the wrong one)
    wrong = told + 'rel("Bob", sister, "Cat").\n' + query
    first = solve(verify.request("asp", wrong))
    assert sorted(verify.asp_answers(first)) == ["daughter", "granddaughter"]
    settled = verify.settle("asp", wrong, first)
    assert verify.answer_of(settled, "label") == "granddaughter"
    assert "without each of the 4 facts in turn, 1 imply granddaughter" in settled.detail
    assert verify.run("asp", [wrong]).answer == "granddaughter"
    # a tie between two relations leaves the result as it was: no answer
    tie = 'rel("Ann", son, "Bob"). rel("Bob", daughter, "Cat"). rel("Bob", sister, "Cat").\n'
    assert verify.run("asp", [tie + query]).answer is None
    # another mode is never settled
    assert verify.settle("deductive", wrong, first) is first


BACKWARDS = (
    'rel("Christine", mother, "Patricia"). rel("Timothy", sister, "Christina").\n'
    'rel("Christina", sister, "Connie"). rel("Connie", daughter, "Patricia").\n'
    'query("Christine", "Timothy").\nname_gender("Timothy", male).\n'
)


def test_a_story_whose_facts_imply_nothing_is_answered_by_turning_each_fact_round():
    # "[Patricia] had picked her daughter [Connie]" written backwards: Patricia as Connie's
    # daughter makes Connie Christine's grandparent, and a grandparent's sibling composes
    # into no rule. Turned round, that fact (and one other) gives brother.
    assert verify.answer_of(verify.solved("asp", BACKWARDS), "label") is None  # off by default
    settled = verify.solved("asp", BACKWARDS, turn=True)
    assert verify.answer_of(settled, "label") == "brother"
    assert "with each of the 4 facts turned round in turn, 2 imply brother" in settled.detail
    assert theory.with_each_fact_turned('rel("A", son, "B"). % x\nrel("B", Aunt, "C").') == [
        'rel("B", son, "A"). % x\nrel("B", Aunt, "C").',
        'rel("A", son, "B"). % x\nrel("C", Aunt, "B").',
    ]
    # errors and other modes are never turned
    failed = solve(verify.request("asp", "rel(("))
    assert verify.settle("asp", "rel((", failed, turn=True) is failed
