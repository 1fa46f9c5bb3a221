"""Logic-LM's ProofWriter/ProntoQA programs (Pyke-style) as ASP for ``rules/proofwriter.lp``.

    Predicates:  Cold($x, bool) ::: Is x cold?
    Facts:       Cold(Bob, True) ::: Bob is cold.
    Rules:       Quiet($x, True) && Cold($x, True) >>> Smart($x, True) ::: ...
    Query:       Kind(Charlie, True) ::: Charlie is kind.

becomes ``cold(bob).``, ``smart(X) :- quiet(X), cold(X).``, ``query_pos :- kind(charlie).``
and ``query_neg :- -kind(charlie).`` A ``False`` truth value is classical negation
(``-cold(bob)``), which keeps the open world: what is not derived is unknown.
"""

from __future__ import annotations

import re

_ATOM = re.compile(r"^\s*(\w+)\((.*)\)\s*$")


class ConversionError(ValueError):
    """The program does not follow the Logic-LM format; the message says where."""


def _term(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith("$"):
        return arg[1:].upper()
    name = re.sub(r"\W+", "_", arg).strip("_").lower()
    if not name:
        raise ConversionError(f"empty argument in {arg!r}")
    return name if name[0].isalpha() else f"c_{name}"


def literal(text: str) -> str:
    """``Cold(Bob, False)`` -> ``-cold(bob)``."""
    m = _ATOM.match(text)
    if not m:
        raise ConversionError(f"not an atom: {text.strip()!r}")
    pred, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
    if len(args) < 2 or args[-1] not in ("True", "False"):
        raise ConversionError(f"the last argument must be True or False: {text.strip()!r}")
    name = re.sub(r"\W+", "_", pred).lower()
    atom = f"{name}({', '.join(_term(a) for a in args[:-1])})"
    return atom if args[-1] == "True" else f"-{atom}"


def _sections(program: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in program.splitlines():
        head = line.strip().rstrip(":")
        if head in ("Predicates", "Facts", "Rules", "Query"):
            current = head
            out[current] = []
        elif current and line.strip():
            out[current].append(line.split(":::")[0].strip())
    return out


def to_asp(program: str) -> str:
    sections = _sections(program)
    if "Query" not in sections or not sections["Query"]:
        raise ConversionError("no Query section")
    lines = [f"{literal(f)}." for f in sections.get("Facts", [])]
    for rule in sections.get("Rules", []):
        if ">>>" not in rule:
            raise ConversionError(f"a rule needs '>>>': {rule!r}")
        body, head = rule.split(">>>", 1)
        body_lits = ", ".join(literal(b) for b in body.split("&&"))
        for h in head.split("&&"):
            lines.append(f"{literal(h)} :- {body_lits}.")
    query = literal(sections["Query"][0])
    negated = query[1:] if query.startswith("-") else f"-{query}"
    lines += [f"query_pos :- {query}.", f"query_neg :- {negated}."]
    return "\n".join(lines) + "\n"
