"""Logic-LM's ProofWriter/ProntoQA programs (Pyke-style) as ASP for ``rules/proofwriter.lp``.

    Predicates:  Cold($x, bool) ::: Is x cold?
    Facts:       Cold(Bob, True) ::: Bob is cold.
    Rules:       Quiet($x, True) && Cold($x, True) >>> Smart($x, True) ::: ...
    Query:       Kind(Charlie, True) ::: Charlie is kind.

becomes ``cold(bob).``, ``smart(X) :- quiet(X), cold(X).``, ``query_pos :- kind(charlie).``
and ``query_neg :- -kind(charlie).`` A ``False`` truth value is classical negation
(``-cold(bob)``), which keeps the open world: what is not derived is unknown.

Each clause keeps the sentence it translates as a ``% comment`` (the text after ``:::``,
or, for ProntoQA's programs that have none, the context's sentences matched in order):
the per-sentence student (``agent.theory``) trains on those pairs. Names are normalised
so that one sentence always reads the same way: ``BaldEagle`` -> ``bald_eagle``, the verb
``Need`` -> ``needs``, the plural ``Impuses`` -> ``impus``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent import theory

_ATOM = re.compile(r"^\s*(\w+)\((.*)\)\s*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_VERBS = {"need", "visit", "chase", "see", "like", "eat"}  # GPT-4 mostly writes "Needs"
_PLURAL = re.compile(r"^(\w+pus)es$")  # ProntoQA's "Impuses" for the concept "impus"


class ConversionError(ValueError):
    """The program does not follow the Logic-LM format; the message says where."""


def _snake(text: str) -> str:
    return re.sub(r"\W+", "_", _CAMEL.sub("_", text.strip())).strip("_").lower()


def _term(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith("$"):
        return arg[1:].upper()
    name = _snake(arg)
    if not name:
        raise ConversionError(f"empty argument in {arg!r}")
    return name if name[0].isalpha() else f"c_{name}"


def _predicate(name: str) -> str:
    pred = _snake(name)
    if pred in _VERBS:
        return pred + "s"
    plural = _PLURAL.match(pred)
    return plural.group(1) if plural else pred


def literal(text: str) -> str:
    """``Cold(Bob, False)`` -> ``-cold(bob)``."""
    m = _ATOM.match(text)
    if not m:
        raise ConversionError(f"not an atom: {text.strip()!r}")
    pred, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
    if len(args) < 2 or args[-1] not in ("True", "False"):
        raise ConversionError(f"the last argument must be True or False: {text.strip()!r}")
    atom = f"{_predicate(pred)}({', '.join(_term(a) for a in args[:-1])})"
    return atom if args[-1] == "True" else f"-{atom}"


Line = tuple[str, str]  # (the Logic-LM text, the sentence after ``:::``, or "")


def _sections(program: str) -> dict[str, list[Line]]:
    out: dict[str, list[Line]] = {}
    current = None
    for line in program.splitlines():
        head = line.strip().rstrip(":")
        if head in ("Predicates", "Facts", "Rules", "Query"):
            current = head
            out[current] = []
        elif current and line.strip():
            text, _, sentence = line.partition(":::")
            out[current].append((text.strip(), " ".join(sentence.split())))
    return out


def _rule(text: str) -> list[str]:
    if ">>>" not in text:
        raise ConversionError(f"a rule needs '>>>': {text!r}")
    body, head = text.split(">>>", 1)
    body_lits = ", ".join(literal(b) for b in body.split("&&"))
    return [f"{literal(h)} :- {body_lits}." for h in head.split("&&")]


def _mentions(sentence: str, clauses: Sequence[str]) -> bool:
    """Whether every predicate of ``clauses`` is named by a word of ``sentence`` (``chase``
    in "chases", ``impus`` in "Impuses"): the check that an in-order match is right."""
    words = re.findall(r"[a-z]+", sentence.lower())
    preds = {p for c in clauses for p in re.findall(r"(\w+)\(", c)}
    return all(any(w.startswith(p[: max(3, len(p) - 1)]) for w in words) for p in preds)


def to_asp(program: str, sentences: Sequence[str] = (), statement: str = "") -> str:
    """The program as ASP facts, rules and query lines, each clause followed by the sentence
    it translates as a comment. ``sentences`` (the context's, in order) and ``statement``
    name the clauses of a program written without ``:::`` comments (ProntoQA's)."""
    sections = _sections(program)
    if "Query" not in sections or not sections["Query"]:
        raise ConversionError("no Query section")
    facts = [([f"{literal(t)}."], s) for t, s in sections.get("Facts", [])]
    rules = [(_rule(t), s) for t, s in sections.get("Rules", [])]
    units = [*facts, *rules]
    if sentences and not any(s for _, s in units):
        for order in ([*rules, *facts], [*facts, *rules]):
            if len(order) == len(sentences) and all(
                _mentions(s, c) for (c, _), s in zip(order, sentences, strict=True)
            ):
                pairs = zip(order, sentences, strict=True)
                units = [(c, s) for (c, _), s in pairs]
                break
    lines = [theory.comment(c, s) for clauses, s in units for c in clauses]
    text, said = sections["Query"][0]
    query = literal(text)
    negated = query[1:] if query.startswith("-") else f"-{query}"
    asked = theory.comment(f"query_pos :- {query}.", said or statement)
    lines += [asked, f"query_neg :- {negated}."]
    return "\n".join(lines) + "\n"
