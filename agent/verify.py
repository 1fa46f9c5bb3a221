"""Verification, in one place: program -> solver request -> answer -> comparison with gold.

The graph's answer node, bench replay, the critic's teacher labels, the shipped-KB build
and training all call this module, so a program gets the same verdict everywhere:

- ``request(mode, program)``: the ``SolverRequest`` a mode's program becomes (with the
  mode's rule library when the program is facts for one);
- ``answer_of(result, answer_type)``: the one answer a solver result denotes, normalised
  (an ASP ``answer(X)`` atom, a single Prolog binding, a Python value), or None;
- ``settle(mode, program, result)``: a family story whose facts imply several relations,
  answered by leaving each fact out in turn (with ``turn``, one that implies none, by
  turning each fact round in turn); ``solved(mode, program)``: request, solve and settle
  in one call;
- ``vote(answers)``: majority over answers, first seen wins ties (PoT/PAL maj@k);
- ``matches(prediction, gold, answer_type)``: the one comparison (``agent.normalize``);
- ``run(mode, programs, gold=...)``: all of the above, as a ``Verdict``;
- teacher formats: ``pot_programs`` (PoT), ``pal_program`` (PAL), ``logiclm_facts``
  (Logic-LM programs for ``proofwriter.lp``), ``llm_asp_facts`` (LLM+ASP kinship facts).

``grounded`` in a verdict means a solver computed the answer; ``verified`` means it also
matches gold (None when there is no gold).

Example:
    >>> v = run("pad", ["ans = 6 * 7"], gold="42")
    >>> v.answer, v.grounded, v.verified
    (42.0, True, True)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent import theory
from agent.modes import MODE_SPECS, rule_library
from agent.normalize import AnswerType, matches, normalize
from agent.records import FailureClass
from solvers import SolverRequest, SolverResult, solve


@dataclass
class Verdict:
    """What the solvers made of one item's programs."""

    answer: Any
    grounded: bool
    verified: bool | None = None  # matches gold; None without gold
    votes: int = 0
    results: list[SolverResult] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    failure: FailureClass | None = None


def request(mode: str, program: str, timeout_s: float = 5.0, facts: str = "") -> SolverRequest:
    """The solver request for a program written in ``mode`` (facts for its rule library)."""
    spec = MODE_SPECS[mode]
    if spec.solver is None:
        raise ValueError(f"mode {mode!r} runs no solver")
    if spec.rules:
        return SolverRequest(
            solver=spec.solver,
            program=rule_library(spec.rules),
            facts=program + facts,
            timeout_s=timeout_s,
        )
    return SolverRequest(solver=spec.solver, program=program, facts=facts, timeout_s=timeout_s)


def asp_answers(result: SolverResult) -> list[str]:
    """The ``answer(X)`` atoms' X in an ASP result's first model (none on an error)."""
    try:
        atoms = result.answer[0] if result.ok and result.solver == "asp" else []
    except (TypeError, IndexError, KeyError):
        return []
    return [m.group(1).strip('"') for a in atoms if (m := re.fullmatch(r"answer\((.+)\)", str(a)))]


def answer_of(result: SolverResult, answer_type: AnswerType) -> Any:
    """The one normalised answer a result denotes, or None (an error, several solutions,
    no ``answer/1`` atom)."""
    if result.status != "ok":
        return None
    value = result.answer
    if result.solver == "asp":
        found = asp_answers(result)
        if len(found) != 1:
            return None
        value = found[0]
    if isinstance(value, (list, dict)):  # several solutions (Prolog) or roots: not one answer
        return None
    if answer_type == "label" and isinstance(value, str):
        value = value.replace("_", "-")
    return normalize(value, answer_type)


def settle(
    mode: str,
    program: str,
    result: SolverResult,
    solver: Callable[[SolverRequest], SolverResult] = solve,
    timeout_s: float = 5.0,
    facts: str = "",
    turn: bool = False,
) -> SolverResult:
    """A family story's facts that imply several relations hold a wrong one (a son written
    the wrong way round): solved once without each ``rel/3`` fact, the relation that
    strictly most of those programs imply alone is the answer, and the detail says so.
    With ``turn``, facts that imply no relation are solved once with each fact's people
    swapped (a fact written backwards composes into no rule: "[Patricia] had picked her
    daughter [Connie]" as Patricia being Connie's daughter), the same vote. Else (a tie,
    no single answer, another mode) the result stands."""
    found = asp_answers(result)
    if MODE_SPECS[mode].per_sentence != "story" or result.status != "ok" or len(found) == 1:
        return result
    if found:
        variants, how = theory.without_each_fact(program), "without each"
    elif turn:
        variants, how = theory.with_each_fact_turned(program), "with each"
    else:
        return result
    alone = [asp_answers(solver(request(mode, p, timeout_s, facts))) for p in variants]
    counts = Counter(a[0] for a in alone if len(a) == 1).most_common(2)
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return result
    best, votes = counts[0]
    implied = f"imply {', '.join(found)}" if found else "imply no relation"
    turned = "" if found else " turned round"
    return result.model_copy(update={
        "answer": [[f"answer({best})"]],
        "detail": f"the facts {implied}; {how} of the {len(alone)} facts{turned} in turn, "
        f"{votes} imply {best} alone, more than any other",
    })  # fmt: skip


def solved(
    mode: str,
    program: str,
    solver: Callable[[SolverRequest], SolverResult] = solve,
    timeout_s: float = 5.0,
    facts: str = "",
    turn: bool = False,
) -> SolverResult:
    """A mode's program through its solver: the ``request``, then ``settle``; every path
    that solves a program (the graph, ``run``) goes through here."""
    first = solver(request(mode, program, timeout_s, facts))
    return settle(mode, program, first, solver, timeout_s, facts, turn)


def unusable(result: SolverResult) -> str:
    """Why an ``ok`` result gives no answer, in words the repair step can act on."""
    value = result.answer
    if result.solver == "asp":
        return "no single answer(X) atom was derived; derive exactly one"
    if isinstance(value, (list, dict)):
        return f"the answer is {str(value)[:120]}, a collection; it must be one value"
    return f"the answer {str(value)[:120]!r} is not of the expected type"


def whole(answer: Any) -> bool:
    """A whole, non-negative number: what a count is (every GSM8K answer is one). A
    program that answers -11 or 4.25 to "how many eggs" took a wrong operation."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False
    return answer >= 0 and abs(answer - round(answer)) < 1e-6


def vote(answers: Sequence[Any]) -> tuple[Any, int]:
    """(majority answer, its votes) among non-None answers; first seen wins ties."""
    keyed = [(json.dumps(a, sort_keys=True, default=str), a) for a in answers if a is not None]
    if not keyed:
        return None, 0
    counts = Counter(k for k, _ in keyed)
    best = max(counts.values())
    return next(a for k, a in keyed if counts[k] == best), best


def run(
    mode: str,
    programs: Sequence[str],
    gold: Any = None,
    answer_type: AnswerType | None = None,
    timeout_s: float = 5.0,
    facts: str = "",
    options: dict[str, str] | None = None,
) -> Verdict:
    """Solve every program, vote, and compare the answer with ``gold`` when given (with
    ``options``, gold is the letter of the option nearest the answer: PAL's AQuA scoring)."""
    kind = answer_type or MODE_SPECS[mode].answer_type
    results = [solved(mode, p, timeout_s=timeout_s, facts=facts) for p in programs]
    return judge(results, kind, gold, programs, options)


def judge(
    results: Sequence[SolverResult],
    answer_type: AnswerType,
    gold: Any = None,
    programs: Sequence[str] = (),
    options: dict[str, str] | None = None,
) -> Verdict:
    """A ``Verdict`` from solver results already in hand (the graph's answer node)."""
    best, votes = vote([answer_of(r, answer_type) for r in results])
    failure = None
    if best is None:
        statuses = {r.status for r in results}
        failure = FailureClass.timeout if statuses == {"timeout"} else FailureClass.solver_error
    verified, failure = against_gold(best, best is not None, gold, answer_type, failure, options)
    return Verdict(
        answer=best,
        grounded=best is not None,
        verified=verified,
        votes=votes,
        results=list(results),
        programs=list(programs),
        failure=failure,
    )


def against_gold(
    answer: Any,
    grounded: bool,
    gold: Any,
    answer_type: AnswerType,
    failure: FailureClass | None = None,
    options: dict[str, str] | None = None,
) -> tuple[bool | None, FailureClass | None]:
    """(verified, failure): whether a grounded answer matches ``gold`` (None without gold),
    and the failure class with ``wrong_answer`` when it does not and nothing else failed."""
    if gold is None:
        return None, failure
    if not grounded:
        verified = False
    elif options is not None:
        verified = choose(answer, options) == gold
    else:
        verified = matches(answer, gold, answer_type)
    return verified, failure if verified or failure is not None else FailureClass.wrong_answer


# --- teacher formats ---------------------------------------------------------------------------


def pot_programs(row: dict[str, Any]) -> list[str]:
    """A PoT record's program(s) (``program`` is one string or a list of samples)."""
    program = row["program"]
    return list(program) if isinstance(program, list) else [program]


def pal_program(record: dict[str, Any]) -> tuple[str, str]:
    """(question, program) of a PAL record: the last prompt question and its solution()."""
    prompt = record["question"]
    question = prompt.rsplit("Question:", 1)[-1].split("# solution", 1)[0].strip()
    text = prompt.rsplit("# solution using Python:", 1)[-1] + record["generated_answer"]
    start = text.find("def solution():")
    body = text[start:] if start >= 0 else text
    cut = min(
        (
            i
            for i in (body.find("\n\n\n"), body.find("\nQuestion:"), body.find("\n# Question"))
            if i > 0
        ),
        default=len(body),
    )
    return question, body[:cut].rstrip() + "\n"


def choices(question: str) -> dict[str, str]:
    """The lettered options of a multiple-choice question (AQuA's ``(a) 12``)."""
    tail = question.rsplit("Answer Choices:", 1)[-1]
    tail = tail.split("# solution", 1)[0].split('"""', 1)[0]
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"\(([a-e])\)\s*(.*?)(?=\([a-e]\)|$)", tail, re.S)
    }


def choose(value: Any, options: dict[str, str]) -> str | None:
    """The option whose number is closest to ``value`` (PAL's AQuA scoring)."""
    v = normalize(value, "number")
    if v is None:
        return None
    best, best_d = None, float("inf")
    for letter, text in options.items():
        n = normalize(text, "number")
        if n is not None and abs(n - v) < best_d:
            best, best_d = letter, abs(n - v)
    return best


def logiclm_facts(raw_program: str, closed_world: bool, question: str = "") -> str:
    """A Logic-LM ProofWriter/ProntoQA program as facts for ``proofwriter.lp``; with the
    ``question`` (context, then the asking line), clauses written without their sentence
    (ProntoQA's) get it from the context's sentences, in order."""
    from agent import theory
    from agent.logiclm import to_asp

    th = theory.split(question) if question.strip() else None
    facts = to_asp(raw_program, th.sentences, th.statement) if th else to_asp(raw_program)
    return facts + ("closed_world.\n" if closed_world else "")


def llm_asp_facts(output: str, query: tuple[str, str]) -> str:
    """LLM+ASP kinship relations (``rel("A", "B")`` lines) as facts for ``kinship.lp``."""
    from kb.export import asp_term

    lines = [
        f"rel({asp_term(x)}, {_singular(r.replace('-', '_'))}, {asp_term(y)})."
        for r, x, y in re.findall(r'([a-z_-]+)\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\)', output)
    ]
    lines.append(f"query({asp_term(query[0])}, {asp_term(query[1])}).")
    return "\n".join(lines) + "\n"


def _singular(relation: str) -> str:
    """``grandsons`` -> ``grandson``: teachers sometimes pluralise a predicate."""
    return relation[:-1] if relation.endswith("s") and not relation.endswith("ss") else relation
