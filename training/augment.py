"""``augment:renumber``: verified data without a teacher. A verified GSM8K program whose
question numbers are named (``eggs_per_day = 16``) is re-instantiated: new numbers are put
in consistently, in the question's text and in the named assignments, the program runs in
the sandbox, and the variant is kept when it is well formed (a positive answer, a whole
number where the original was one). The solver has made a new verified example; its gold
is what the unchanged operations compute.

A program is renumbered only when every named number occurs exactly once in the question,
as a number of its own, and nowhere else in the program as a literal (``48 + clips`` with
``clips = 48 / 2`` would keep the old 48). Whole-line comments are dropped: they carry the
original arithmetic. Variants keep their source's group, so they never straddle the
train/dev split.

    nesy distill verify --teacher augment:renumber --data ../shared/data --limit 200 --samples 4
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

NAMED = re.compile(r"^([A-Za-z_]\w*) = (\d+)$")


def _number(value: str) -> re.Pattern[str]:
    """``value`` as a number of its own (not inside 148, 4.8 or 1,480)."""
    return re.compile(rf"(?<![\d.,]){re.escape(value)}(?![\d]|[.,]\d)")


def named_numbers(question: str, program: str) -> dict[str, str] | None:
    """Variable -> its literal, for a program that can be renumbered; else None."""
    named: dict[str, str] = {}
    body: list[str] = []
    for line in program.splitlines():
        m = NAMED.match(line.strip())
        if m and int(m.group(2)) > 0:
            named[m.group(1)] = m.group(2)
        elif not line.lstrip().startswith("#"):
            body.append(line)
    if not named or len(set(named.values())) != len(named):
        return None
    rest = "\n".join(body)
    for value in named.values():
        if len(_number(value).findall(question)) != 1 or _number(value).search(rest):
            return None
    return named


def renumber(question: str, program: str, rng: random.Random) -> tuple[str, str] | None:
    """One re-instantiation: (question, program) with new numbers, or None."""
    named = named_numbers(question, program)
    if named is None:
        return None
    olds = set(named.values())
    new: dict[str, str] = {}
    for value in named.values():
        v = int(value)
        choices = [c for c in range(max(1, v // 2), 2 * v + 2) if str(c) not in olds]
        pick = str(rng.choice(choices)) if choices else value
        while pick in new.values() and len(choices) > len(new):
            pick = str(rng.choice(choices))
        new[value] = pick
    for old, fresh in new.items():
        question = _number(old).sub(fresh, question, count=1)
    lines = []
    for line in program.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = NAMED.match(line.strip())
        lines.append(f"{m.group(1)} = {new[m.group(2)]}" if m and m.group(2) in new else line)
    return question, "\n".join(lines).strip() + "\n"


def well_formed(answer: Any, original: Any) -> bool:
    """A positive answer, whole where the original answer was whole."""
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return False
    whole = float(original) == int(float(original))
    return value > 0 and (not whole or value == int(value))


def candidates(sources: Iterator[Any], samples: int, seed: int = 0) -> Iterator[Any]:
    """``samples`` renumbered variants of each verified source candidate (see module doc)."""
    from agent import verify

    for source in sources:
        prov = source.provenance.model_copy(update={"teacher": "augment:renumber"})
        rng = random.Random(f"{seed}:{source.item_id}")
        made: set[str] = set()
        for n in range(samples):
            variant = renumber(source.question, source.program, rng)
            if variant is None:
                break  # the source cannot be renumbered at all
            question, program = variant
            if question in made:
                continue
            made.add(question)
            v = verify.run("pad", [program])
            ok = v.answer is not None and well_formed(v.answer, source.gold)
            yield replace(
                source, source="augment:renumber", item_id=f"{source.item_id}-renumber{n}",
                question=question, program=program, gold=v.answer if ok else None,
                reason=None if ok else "ill_formed", group=source.group or source.item_id,
                note="" if ok else f"answer {v.answer!r}", check=None, provenance=prov,
            )  # fmt: skip
