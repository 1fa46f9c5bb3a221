"""The shipped KB's exemplars: GSM8K *train* solutions turned into verified PoT programs.

An offline data builder (it runs solvers), so it lives in training; ``kb.shipped`` only
loads what it wrote. Each human solution's calculator annotations (``<<48/2=24>>``) become a
program, the one verifier (``agent.verify``) executes it, and only programs whose answer
matches the gold answer are kept. GSM8K test is never read.

    python -m training.exemplars --data ../shared/data     # rebuild kb/data/*
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent import verify
from agent.normalize import to_number
from kb.models import KnowledgeItem, Provenance
from kb.shipped import DATA, EMBEDDINGS, EXEMPLARS

SOURCE = "gsm8k/train.jsonl"
CALC = re.compile(r"<<([^=<>]+)=([^<>]*)>>")


_NUMBER = re.compile(r"(?<![\w.])(?:\d[\d,]*(?:\.\d+)?|\.\d+)")
_WORD = re.compile(r"[ -]*([A-Za-z]+)")
_STOP = frozenset(
    "a an the of and or to in on at by for from with as than that this these those is are was "
    "were be been has have had do does did he she it they we you i his her its their our your "
    "him them me us who which what when where how if then so but each every more less many "
    "much some all any no not only just also very there here per times once twice thrice".split()
)
_RESERVED = frozenset(
    "ans and as assert break class continue def del elif else except false finally for from "
    "global if import in is lambda none nonlocal not or pass raise return true try while with "
    "yield abs all any divmod float int len list map max min pow range round set sorted str "
    "sum tuple type math solution".split()
)


@dataclass
class Silver:
    """One GSM8K solution as a program that carries its computation."""

    program: str
    question_numbers: int  # numbers in the question
    named: int  # of those, how many got a name from their sentence
    plan: list[str] = dataclasses.field(default_factory=list)  # one statement per sentence
    checks: list[tuple[str, float]] = dataclasses.field(default_factory=list)  # (var, result)


def _name_after(text: str, end: int, per: bool = True) -> str:
    """A snake_case name from the words right after a number (``16 eggs per day`` ->
    ``eggs_per_day``), or "" when the sentence gives none."""
    words: list[str] = []
    pos = end
    while len(words) < 4:
        m = _WORD.match(text, pos)
        if not m:
            break
        word = m.group(1).lower()
        if word in _STOP and not (per and word == "per" and words):
            break
        words.append(word)
        pos = m.end()
    while words and words[-1] == "per":
        words.pop()
    return "_".join(words[:3])


def _unique(name: str, taken: set[str]) -> str:
    base = name if name and name not in _RESERVED and name.isidentifier() else ""
    if not base:
        return ""
    out, i = base, 2
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


_NUM = r"\$?\s*\d[\d,]*(?:\.\d+)?\s*"
_OPERATORS = re.compile(r"(?<![\w])\s*[-+*/×÷^=]+\s*(?![\w])|\s=\s*|\s*=\s")
_ARITH = re.compile(rf"{_NUM}(?:(?:[-+*/x×÷^%]|=)\s*{_NUM})+")


def statement(sentence: str, results: Sequence[float] = ()) -> str:
    """A solution sentence as a plan step: annotations, arithmetic and computed results
    removed, the question's own numbers kept (``Natalia sold 48/2 = <<48/2=24>>24 clips in
    May.`` -> ``Natalia sold clips in May.``), so the decomposer says what to find and the
    program computes it."""

    def lone(m: re.Match[str]) -> str:
        value = to_number(m.group())
        return "" if value is not None and any(_same(value, r) for r in results) else m.group()

    text = _ARITH.sub(" ", CALC.sub("", sentence))
    text = _NUMBER.sub(lone, text).replace("$ ", " ")
    text = _OPERATORS.sub(" ", text)  # what is left of algebra (``S + 10 = 50``)
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()


def silver_program(question: str, solution: str) -> Silver | None:
    """GSM8K train's human solution as a program that does its own arithmetic.

    Each calculator annotation (``<<48/2=24>>``) becomes a line. A number in it that equals
    an earlier line's result becomes that line's variable (the student learns to reuse
    results, not to carry them in its head); a number from the question becomes the name
    its sentence gives it (``eggs_per_day = 16``), declared first; a line's own name comes
    from the words after its result (``clips_in_may = 48 / 2``), else ``stepN``.
    """
    taken: set[str] = set()
    quantities: list[tuple[str, float, str]] = []  # (name, value, literal)
    numbers = list(_NUMBER.finditer(question))
    for m in numbers:
        value = to_number(m.group())
        if value is None or any(_same(value, v) for _, v, _ in quantities):
            continue
        name = _unique(_name_after(question, m.end()), taken)
        if name:
            quantities.append((name, value, m.group().replace(",", "")))
    steps: list[tuple[str, float]] = []
    body: list[str] = []
    plan: list[str] = []
    for sentence in solution.splitlines():
        calls = list(CALC.finditer(sentence))
        if not calls:
            continue
        body.append(f"# {CALC.sub('', sentence).strip()}")
        plan.append(sentence)
        for call in calls:
            expr, result = call.group(1), call.group(2)
            expr = expr.replace("x", "*").replace("^", "**").replace("%", "/100").strip()

            def operand(m: re.Match[str]) -> str:
                value = to_number(m.group())
                if value is not None:
                    for name, v in reversed(steps):  # an earlier result: its variable
                        if _same(v, value):
                            return name
                    for name, v, _ in quantities:
                        if _same(v, value):
                            return name
                return m.group()

            rewritten = _NUMBER.sub(operand, expr)
            value = to_number(result)
            after = sentence[call.end() :]
            shown = _NUMBER.match(after.lstrip("$ "))
            words_from = len(after) - len(after.lstrip("$ ")) + (shown.end() if shown else 0)
            name = _unique(_name_after(after, words_from, per=True), taken) or _unique(
                f"step{len(steps) + 1}", taken
            )
            body.append(f"{name} = {rewritten}")
            if value is not None:
                steps.append((name, value))
    if not steps:
        return None
    used = {q for q, _, _ in quantities if re.search(rf"\b{q}\b", "\n".join(body))}
    head = [f"{q} = {lit}" for q, _, lit in quantities if q in used]
    program = "\n".join([*head, *body, f"ans = {steps[-1][0]}"]) + "\n"
    named = sum(1 for q, _, _ in quantities if q in used)
    results = [v for _, v in steps]
    plan = [statement(p, results) for p in plan]
    return Silver(program, len(numbers), named, plan, steps)


def step_check(silver: Silver, gold: float | None = None) -> str:
    """The program with each step's result checked against the solution's annotation (and
    the last against ``gold``): ``ans`` is the number of the first step that disagrees, 0
    when all agree, so the verifier checks the steps one by one in a single run."""
    checks = list(silver.checks)
    if gold is not None:
        checks.append((checks[-1][0], float(gold)))
    names = ", ".join(n for n, _ in checks)
    expected = ", ".join(repr(v) for _, v in checks)
    return (
        silver.program.rsplit("ans = ", 1)[0]
        + f"_got = [{names}]\n_want = [{expected}]\n"
        + "ans = next((i + 1 for i, (g, w) in enumerate(zip(_got, _want))"
        + " if abs(g - w) > 1e-6 * max(1, abs(w))), 0)\n"
    )


def solution_to_program(solution: str, question: str = "") -> str | None:
    """The program for one solution (see ``silver_program``)."""
    silver = silver_program(question, solution)
    return silver.program if silver else None


def keep(program: str, gold: object) -> bool:
    """Whether a program joins the shipped exemplars: the verifier's verdict against gold."""
    return bool(verify.run("pad", [program], gold=gold, timeout_s=2).verified)


def build(data: Path, limit: int = 1000) -> int:
    """Rebuild the shipped JSONL + embeddings from ``data/gsm8k/train.jsonl``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kb.embed import Embedder

    items: list[KnowledgeItem] = []
    with open(data / SOURCE) as f:
        for line in f:
            row = json.loads(line)
            program = solution_to_program(row["solution"], row["question"])
            if program is None:
                continue
            if not keep(program, row["answer"]):
                continue
            items.append(
                KnowledgeItem(
                    kind="exemplar",
                    text=row["question"],
                    program=program,
                    syntax="python",
                    domain="math",
                    tags=["gsm8k-train", "pot"],
                    verified=True,
                    provenance=Provenance(source=f"{SOURCE}#{row['id']}", teacher="human"),
                )
            )
            if len(items) >= limit:
                break
    DATA.mkdir(exist_ok=True)
    with open(EXEMPLARS, "w") as f:
        for it in items:
            f.write(it.model_dump_json(exclude={"provenance": {"created_at"}}) + "\n")
    vecs = Embedder().encode([it.content for it in items])
    table = pa.table(
        {
            "id": [it.id for it in items],
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]),
        }
    )
    pq.write_table(table, EMBEDDINGS, compression="zstd")
    return len(items)


def conversion_stats(data: Path) -> dict[str, float]:
    """Over all of GSM8K train: how many solutions convert, and the share of question
    numbers that got a name (the README reports these)."""
    rows = [json.loads(line) for line in open(data / SOURCE)]
    converted = [s for r in rows if (s := silver_program(r["question"], r["solution"]))]
    numbers = sum(s.question_numbers for s in converted)
    named = sum(s.named for s in converted)
    return {
        "solutions": len(rows),
        "converted": len(converted),
        "question_numbers": numbers,
        "named": named,
        "named_share": round(named / max(1, numbers), 4),
    }


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="Rebuild the KB files shipped with nesy.")
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--stats", action="store_true", help="only report the conversion's stats")
    args = p.parse_args()
    if args.stats:
        print(json.dumps(conversion_stats(args.data)))
        return
    print(f"wrote {build(args.data, args.limit)} verified exemplars to {EXEMPLARS}")


if __name__ == "__main__":
    main()
