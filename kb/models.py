"""The records of the knowledge base: what an item is, where it came from, how it scored.

A ``KnowledgeItem`` is one of:
- ``triple``: (head, relation, tail), ATOMIC / ConceptNet style;
- ``fact`` / ``rule``: a clause in Prolog or ASP syntax (``syntax``);
- ``exemplar``: a question (``text``) with its verified program or decomposition (``program``);
- ``note``: a key point or hint (``text``).

Example:
    >>> KnowledgeItem(kind="triple", head="PersonX pays", relation="xIntent", tail="to buy").id
    't-...'  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kb import schema
from solvers.records import Record

Kind = Literal["triple", "fact", "rule", "exemplar", "note"]
Syntax = Literal["prolog", "asp", "python", "sympy", "text"]
KINDS: tuple[str, ...] = ("triple", "fact", "rule", "exemplar", "note")


def normalise(text: str | None) -> str:
    """Trim spaces and lower-case; mirrored exactly by ``schema.SQL_NORMALISE``.

    Deliberately cheap: bulk imports compute it in SQL for every row, and a whitespace-
    collapsing regex there cost more than the rest of the import together.
    """
    return (text or "").strip(" ").lower()


def item_id(kind: str, domain: str, *parts: str | None) -> str:
    """Stable id: the same knowledge in the same domain always gets the same id (dedupe key).

    Bulk imports compute the same id in SQL (``schema.sql_item_id``), so an item added from
    Python and the same item in an imported file deduplicate against each other.
    """
    norm = "\x1f".join(normalise(p) for p in parts)
    digest = hashlib.sha1(f"{kind}\x1e{domain}\x1e{norm}".encode()).hexdigest()[:16]
    return f"{kind[0]}-{digest}"


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field("", description="file, dataset or URL the item came from")
    teacher: str = Field("", description="model that wrote it, if any")
    prompt_hash: str = Field("", description="hash of the prompt that produced it")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class KnowledgeItem(Record):
    """One piece of knowledge, with provenance and quality signals. Versioned: shipped KB
    files and ``nesy kb export --format jsonl`` carry it across processes."""

    id: str = ""
    kind: Kind
    head: str | None = None
    relation: str | None = None
    tail: str | None = None
    text: str = ""
    program: str = ""
    syntax: Syntax | None = None
    domain: str = "general"
    tags: list[str] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)
    critic_score: float | None = None
    verified: bool | None = Field(
        None,
        description="training's sense: a solver re-ran it and it matched gold (exemplars) or "
        "a solver confirmed it (facts); False = refuted; None = not checked",
    )

    @model_validator(mode="after")
    def _check(self) -> KnowledgeItem:
        if self.kind == "triple":
            if not (self.head and self.relation and self.tail):
                raise ValueError("a triple needs non-empty head, relation and tail")
        elif not self.text.strip():
            raise ValueError(f"a {self.kind} needs non-empty `text`")
        if self.kind in ("fact", "rule") and self.syntax not in ("prolog", "asp"):
            raise ValueError(f"a {self.kind} needs `syntax` 'prolog' or 'asp'")
        if self.kind == "exemplar" and not self.program.strip():
            raise ValueError("an exemplar needs its verified `program`")
        if not self.id:
            self.id = item_id(self.kind, self.domain, *self.key_parts())
        return self

    def key_parts(self) -> tuple[str | None, ...]:
        if self.kind == "triple":
            return (self.head, self.relation, self.tail)
        return (self.text, self.program)

    @property
    def content(self) -> str:
        """The text that full-text and vector search index."""
        if self.kind == "triple":
            return f"{self.head} {self.relation} {self.tail}"
        return f"{self.text}\n{self.program}".strip()


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: KnowledgeItem
    score: float
    mode: str


class Rejected(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int
    reason: str
    where: Literal["line", "row"] = "line"

    def __str__(self) -> str:
        return f"{self.where} {self.line}: {self.reason}"


class ImportReport(BaseModel):
    """What an import did. ``rejected`` lists (up to a cap) the rows left out and why."""

    model_config = ConfigDict(extra="forbid")

    file: str
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[Rejected] = Field(default_factory=list)
    seconds: float = Field(0.0, description="read, validate, dedupe, insert (not the indexes)")
    index_seconds: float = 0.0
    fts_seconds: float = 0.0
    embed_seconds: float = 0.0


# --- rows <-> items (the one mapping between the items table and KnowledgeItem) -------------


def item_row(item: KnowledgeItem) -> dict[str, Any]:
    return {
        "id": item.id, "kind": item.kind, "head": item.head, "relation": item.relation,
        "tail": item.tail, "text": item.text, "program": item.program, "syntax": item.syntax,
        "domain": item.domain, "tags": list(item.tags), "source": item.provenance.source,
        "teacher": item.provenance.teacher, "prompt_hash": item.provenance.prompt_hash,
        "created_at": _naive_utc(item.provenance.created_at), "critic_score": item.critic_score,
        "verified": item.verified, "content": item.content,
    }  # fmt: skip


def _naive_utc(ts: datetime) -> datetime:
    """DuckDB TIMESTAMP (no zone, stored as UTC): fetching TIMESTAMPTZ would need pytz."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def item_from_dict(row: dict[str, Any]) -> KnowledgeItem:
    created = row.get("created_at") or datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return KnowledgeItem(
        id=row["id"], kind=row["kind"], head=row["head"], relation=row["relation"],
        tail=row["tail"], text=row["text"] or "", program=row["program"] or "",
        syntax=row["syntax"], domain=row["domain"], tags=list(row["tags"] or []),
        provenance=Provenance(source=row["source"] or "", teacher=row["teacher"] or "",
                              prompt_hash=row["prompt_hash"] or "", created_at=created),
        critic_score=row["critic_score"], verified=row["verified"],
    )  # fmt: skip


def item_from_row(row: Sequence[Any]) -> KnowledgeItem:
    return item_from_dict(dict(zip(schema.ITEM_COLUMNS, row, strict=False)))
