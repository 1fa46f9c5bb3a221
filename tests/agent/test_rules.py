"""Oracle tests for the rule libraries: gold facts in, gold answers out."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from kb.export import asp_term
from solvers import SolverRequest, solve
from tests.conftest import SHARED, needs_shared

RULES = Path(__file__).resolve().parents[2] / "agent" / "rules"
CLUTRR = SHARED / "clutrr"


def kinship(
    facts: list[tuple[str, str, str]], query: tuple[str, str], extra: str = ""
) -> list[str]:
    text = (
        extra
        + "\n"
        + "\n".join(
            f"rel({asp_term(a)}, {r.replace('-', '_')}, {asp_term(b)})." for a, r, b in facts
        )
    )
    text += f"\nquery({asp_term(query[0])}, {asp_term(query[1])})."
    r = solve(SolverRequest(solver="asp", program=(RULES / "kinship.lp").read_text(), facts=text))
    assert r.ok, r.detail
    return [a[len("answer(") : -1].replace("_", "-") for a in r.answer[0]]


def test_kinship_composes_a_chain():
    facts = [("Ann", "father", "Bob"), ("Bob", "sister", "Cara"), ("Cara", "son", "Dan")]
    assert kinship(facts, ("Ann", "Cara")) == ["aunt"]
    assert kinship(facts[:2], ("Ann", "Cara")) == ["aunt"]


def test_in_law_derivation_defeats_the_default_parent():
    facts = [
        ("Sandra", "husband", "James"),
        ("James", "son", "Anthony"),
        ("Anthony", "grandfather", "Stanley"),
    ]
    assert kinship(facts, ("Sandra", "Stanley")) == ["father-in-law"]


def test_a_said_gender_names_the_answer_when_no_relation_does():
    facts = [("Myrna", "father", "Jason"), ("Jason", "wife", "Gabrielle")]
    assert kinship(facts, ("Gabrielle", "Myrna")) == []  # Myrna's gender is unknown
    told = 'said_gender("Myrna", female). said_gender("Jason", female).'
    assert kinship(facts, ("Gabrielle", "Myrna"), told) == ["daughter"]
    # "her father [Jason]" says Jason is male: a relation wins over a pronoun
    assert kinship(facts, ("Myrna", "Jason"), told) == ["father"]


def test_a_names_usual_gender_is_the_last_resort():
    facts = [("William", "son", "Tim"), ("Connie", "sibling", "Tim")]
    assert kinship(facts, ("William", "Connie")) == []  # "[Connie] and [Tim] are siblings"
    usual = 'name_gender("Connie", female).'
    assert kinship(facts, ("William", "Connie"), usual) == ["daughter"]
    # a pronoun the story uses, or a relation that names her, wins over the name
    assert kinship(facts, ("William", "Connie"), usual + 'said_gender("Connie", male).') == ["son"]
    named = [*facts, ("Tim", "brother", "Connie")]
    assert kinship(named, ("William", "Connie"), usual) == ["son"]


def test_everyday_words_are_the_relations_they_name():
    facts = [("Ann", "mom", "Bea"), ("Bea", "kid", "Cal"), ("Dov", "dad", "Ann")]
    assert kinship(facts[:1], ("Ann", "Bea")) == ["mother"]
    assert kinship(facts, ("Ann", "Cal"), 'said_gender("Cal", male).') == ["brother"]
    assert kinship(facts, ("Dov", "Bea")) == ["grandmother"]


def _leaves(proof: list[dict]) -> list[tuple[str, str, str]]:
    derived = {k for d in proof for k in d}
    return [e for d in proof for v in d.values() for e in v if e not in derived]


@needs_shared
@pytest.mark.parametrize("split,floor", [("validation", 0.99), ("test", 0.98)])
def test_kinship_library_on_clutrr_gold_proofs(split, floor):
    """CLUTRR's gold proof_state edges through the library: about 100%. The misses are
    stories whose answer CLUTRR fixes only by the nesting of its proof (a wife's daughter's
    grandmother can be a mother or a mother-in-law)."""
    rows = [json.loads(line) for line in (CLUTRR / f"gen_train23_{split}.jsonl").open()]
    correct = sum(
        kinship(_leaves(ast.literal_eval(r["proof_state"])), ast.literal_eval(r["query"]))
        == [r["target"]]
        for r in rows
    )
    assert correct / len(rows) >= floor, f"{correct}/{len(rows)}"


# --- ProofWriter / ProntoQA: open- and closed-world answers ------------------------------------

TRACES = SHARED / "teacher_traces"
PROGRAM = """Predicates:
Cold($x, bool) ::: Is x cold?
Facts:
Cold(Bob, True) ::: Bob is cold.
Red(Anne, False) ::: Anne is not red.
Rules:
Cold($x, True) >>> Round($x, True) ::: Cold things are round.
Query:
{query} ::: ?
"""


def deductive(query: str, closed: bool = False) -> str:
    from agent.logiclm import to_asp

    facts = to_asp(PROGRAM.format(query=query)) + ("closed_world.\n" if closed else "")
    r = solve(
        SolverRequest(solver="asp", program=(RULES / "proofwriter.lp").read_text(), facts=facts)
    )
    assert r.ok, r.detail
    assert "closed_world" not in r.detail  # declared #defined: optional, not undefined
    (atom,) = r.answer[0]
    return atom[len("answer(") : -1]


@pytest.mark.parametrize(
    "query,open_world,closed_world",
    [
        ("Round(Bob, True)", "true", "true"),  # derived
        ("Round(Bob, False)", "false", "false"),  # its negation is derived
        ("Red(Anne, False)", "true", "true"),  # a negative fact
        ("Red(Anne, True)", "false", "false"),
        ("Round(Anne, True)", "unknown", "false"),  # not derivable: unknown unless closed world
    ],
)
def test_open_and_closed_world(query, open_world, closed_world):
    assert deductive(query) == open_world
    assert deductive(query, closed=True) == closed_world


def test_malformed_logic_program_is_named():
    from agent.logiclm import ConversionError, to_asp

    with pytest.raises(ConversionError, match="True or False"):
        to_asp("Facts:\nCold(Bob) ::: x\nQuery:\nCold(Bob, True)")
    with pytest.raises(ConversionError, match="no Query"):
        to_asp("Facts:\nCold(Bob, True)")


@needs_shared
@pytest.mark.parametrize(
    "name,closed,floor", [("ProofWriter", False, 0.97), ("ProntoQA", True, 0.80)]
)
def test_gpt4_logic_programs_replayed_through_the_library(name, closed, floor):
    """Logic-LM's GPT-4 programs for the dev sets, converted and solved: ProofWriter 98.7%
    (open world), ProntoQA 83.2% (closed world; Logic-LM reports 83.20 for GPT-4)."""
    from agent.logiclm import ConversionError, to_asp

    letters = {"A": "true", "B": "false", "C": "unknown"}
    lib = (RULES / "proofwriter.lp").read_text()
    rows = [
        json.loads(line)
        for line in (TRACES / f"logiclm_{name}_dev_gpt-4_logic_programs.jsonl").open()
    ]
    correct = 0
    for row in rows:
        try:
            facts = to_asp(row["raw_logic_programs"][0]) + ("closed_world.\n" if closed else "")
        except ConversionError:
            continue
        r = solve(SolverRequest(solver="asp", program=lib, facts=facts))
        correct += r.ok and r.answer[0] == [f"answer({letters[row['answer']]})"]
    assert correct / len(rows) >= floor, f"{correct}/{len(rows)}"


# --- StepGame: 2-D spatial relations ---------------------------------------------------------

STEPGAME = SHARED / "stepgame"


def spatial(facts: str) -> list[str]:
    r = solve(SolverRequest(solver="asp", program=(RULES / "spatial.lp").read_text(), facts=facts))
    assert r.ok, r.detail
    return sorted(a[len("answer(") : -1] for a in r.answer[0])


def test_spatial_chains_compose_and_read_both_directions():
    # A is left of B, C is above B; so A is lower-left of C, and C upper-right of A
    facts = 'rel("A", left, "B"). rel("C", above, "B").'
    assert spatial(facts + 'query("A", "C").') == ["lower_left"]
    assert spatial(facts + 'query("C", "A").') == ["upper_right"]
    assert spatial('rel("A", left, "B"). rel("B", left, "A"). query("A", "B").') == [
        "left",
        "right",
    ]  # contradictory facts: both answers, which the agent treats as no answer
    assert spatial('rel("A", overlap, "B"). query("A", "B").') == ["overlap"]


@needs_shared
def test_spatial_library_on_stepgame_with_template_facts():
    """Oracle: sentence templates learned from the dev file's 1-hop items parse the EVAL ONLY
    test stories (k = 1..3) into facts; the library answers 97.5%. The rest is StepGame's own
    label noise: one template ("X is to the right and above Y at an angle of about 45
    degrees") carries all four diagonal labels in the dev file."""
    from bench.tasks import get_task
    from training.stepgame import learn_templates, story_facts

    task = get_task("stepgame")
    templates = learn_templates(task.load(STEPGAME / "valid_k1-10.jsonl"))
    assert len(templates) >= 200
    items = task.load(STEPGAME / "test_k1-3_first1000.jsonl")
    correct = 0
    for it in items:
        facts, _ = story_facts(it, templates)
        answers = spatial(facts)
        correct += answers == [it.gold.replace("-", "_")]
    assert correct / len(items) >= 0.97, f"{correct}/{len(items)}"
