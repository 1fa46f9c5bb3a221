"""Render knowledge items as solver input: Prolog clauses or ASP facts, quoted correctly.

A triple ``(head, relation, tail)`` becomes ``relation(head, tail).``; facts and rules
already in the target syntax pass through unchanged; notes and exemplars are skipped
(they are prompt material, not solver input).

Quoting (the part that goes wrong with capitals, spaces, quotes and unicode):
- Prolog: an atom that is not ``[a-z][A-Za-z0-9_]*`` is single-quoted with ``\\`` and ``'``
  escaped, so ``Bob`` stays a constant and never becomes a variable; integers stay numbers.
- ASP: constants must be ``[a-z_][A-Za-z0-9_']*``; anything else is a double-quoted string
  with ``\\``, ``"`` and newlines escaped; predicate names are made into valid identifiers
  (``HasProperty`` -> ``hasProperty``, ``is a`` -> ``is_a``).

Example:
    >>> from kb.models import KnowledgeItem
    >>> t = KnowledgeItem(kind="triple", head="Bob", relation="father", tail="O'Neil")
    >>> print(to_prolog([t]))
    father('Bob', 'O\\'Neil').
    >>> print(to_asp([t]))
    father("Bob","O'Neil").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kb.models import KnowledgeItem

_PL_ATOM = re.compile(r"[a-z][A-Za-z0-9_]*\Z")
_ASP_CONST = re.compile(r"[a-z_][A-Za-z0-9_']*\Z")
_INT = re.compile(r"-?[0-9]+\Z")
_PL_RESERVED = {"is", "mod", "rem", "xor", "div", "rdiv", "divmod"}


def prolog_term(value: str) -> str:
    if _INT.match(value):
        return value
    if _PL_ATOM.match(value) and value not in _PL_RESERVED:
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def asp_term(value: str) -> str:
    if _INT.match(value):
        return value
    if _ASP_CONST.match(value) and value not in ("not",):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def predicate_name(relation: str) -> str:
    """A relation as an identifier valid in both Prolog and ASP."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", relation.strip()).strip("_") or "rel"
    if name[0].isdigit():
        name = f"r_{name}"
    return name[0].lower() + name[1:]


def _items(items: Iterable[Any]) -> list[KnowledgeItem]:
    return [getattr(x, "item", x) for x in items]  # SearchHit or KnowledgeItem


def to_prolog(items: Iterable[Any]) -> str:
    lines = []
    for it in _items(items):
        if it.kind == "triple":
            rel = prolog_term(predicate_name(it.relation or ""))
            lines.append(f"{rel}({prolog_term(it.head or '')}, {prolog_term(it.tail or '')}).")
        elif it.kind in ("fact", "rule") and it.syntax == "prolog":
            lines.append(it.text.strip())
    return "\n".join(lines)


def to_asp(items: Iterable[Any]) -> str:
    lines = []
    for it in _items(items):
        if it.kind == "triple":
            rel = predicate_name(it.relation or "")
            lines.append(f"{rel}({asp_term(it.head or '')},{asp_term(it.tail or '')}).")
        elif it.kind in ("fact", "rule") and it.syntax == "asp":
            lines.append(it.text.strip())
    return "\n".join(lines)


def export(items: Iterable[Any], fmt: str) -> str:
    if fmt == "prolog":
        return to_prolog(items)
    if fmt == "asp":
        return to_asp(items)
    if fmt == "jsonl":
        return "\n".join(it.model_dump_json() for it in _items(items))
    raise ValueError(f"unknown export format {fmt!r}; known: prolog, asp, jsonl")
