"""The distilled knowledge base: a DuckDB store people can read and edit.

NesyCD and Symbolic Knowledge Distillation keep specialised knowledge outside the student.
This package stores it (``KnowledgeBase``), retrieves it (exact, BM25, vector, hybrid),
exports it as Prolog clauses or ASP facts (``export``), and filters what gets in with a
critic (``critic``). It imports nothing above it.

Example:
    >>> from kb import KnowledgeBase, KnowledgeItem
    >>> kb = KnowledgeBase("/tmp/k.duckdb")                                # doctest: +SKIP
    >>> kb.add([KnowledgeItem(kind="triple", head="ann", relation="mother", tail="bob")])
    1
"""

from __future__ import annotations

from kb._duck import KBBusyError, KBError
from kb.models import ImportReport, KnowledgeItem, Provenance, Rejected, SearchHit, item_id
from kb.schema import SCHEMA_VERSION
from kb.store import KnowledgeBase

__all__ = [
    "SCHEMA_VERSION",
    "ImportReport",
    "KBBusyError",
    "KBError",
    "KnowledgeBase",
    "KnowledgeItem",
    "Provenance",
    "Rejected",
    "SearchHit",
    "item_id",
]
