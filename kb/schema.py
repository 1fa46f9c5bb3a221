"""The KB's tables, its schema version, and the migrations between versions.

A newer nesy opens an older KB by migrating it, after copying the file to
``<name>.v<old>.bak``. A KB newer than this code is refused with a clear message.

History:
- v1: ``items``, ``embeddings`` (+ HNSW), ``meta``.

Ids are unique without a PRIMARY KEY: a PK's index maintenance cost more than the rest of a
1M-row import together, and the single writer deduplicates every import against the table.
ART indexes on ``id`` and ``head`` (``INDEXES``) serve point lookups and exact filters; a
bulk import that would grow the table a lot drops and rebuilds them, and reports the time.
- v2: critic-filtered admission: ``items.critic_score`` and the ``quarantine`` table.
- v3: ``items.content`` (what BM25 and the embedder read) becomes a VIRTUAL generated column:
  it repeated head/relation/tail or text/program, and writing it was a third of a bulk
  import's time (bench/perf/kb.py). The table is rebuilt, its indexes remade and the FTS
  index marked for rebuild.
"""

from __future__ import annotations

SCHEMA_VERSION = 3
EMBED_DIM = 384

ITEM_COLUMNS = (
    "id", "kind", "head", "relation", "tail", "text", "program", "syntax", "domain", "tags",
    "source", "teacher", "prompt_hash", "created_at", "critic_score", "verified", "content",
)  # fmt: skip
# What an INSERT names: every column but the generated ``content``.
STORED_COLUMNS = ITEM_COLUMNS[:-1]

# The text that full-text and vector search index; the SQL twin of KnowledgeItem.content.
CONTENT_SQL = (
    "CASE WHEN kind = 'triple' THEN head || ' ' || relation || ' ' || tail "
    "ELSE trim(text || chr(10) || program) END"
)

_ITEMS_V1 = """
CREATE TABLE {name} (
    id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    head VARCHAR,
    relation VARCHAR,
    tail VARCHAR,
    text VARCHAR NOT NULL DEFAULT '',
    program VARCHAR NOT NULL DEFAULT '',
    syntax VARCHAR,
    domain VARCHAR NOT NULL,
    tags VARCHAR[] NOT NULL DEFAULT [],
    source VARCHAR NOT NULL DEFAULT '',
    teacher VARCHAR NOT NULL DEFAULT '',
    prompt_hash VARCHAR NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL, -- UTC
    verified BOOLEAN,
    content VARCHAR NOT NULL
)
"""

V1_DDL = [
    _ITEMS_V1.format(name="items"),
    f"CREATE TABLE embeddings (id VARCHAR NOT NULL, vec FLOAT[{EMBED_DIM}] NOT NULL)",
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "INSERT INTO meta VALUES ('schema_version', '1')",
]

INDEXES = {
    "items_id_idx": "CREATE INDEX IF NOT EXISTS items_id_idx ON items (id)",
    "items_head_idx": "CREATE INDEX IF NOT EXISTS items_head_idx ON items (head)",
}

MIGRATIONS: dict[int, list[str]] = {
    # v1 -> v2
    1: [
        "ALTER TABLE items ADD COLUMN critic_score DOUBLE",
        _ITEMS_V1.format(name="quarantine").replace(
            "content VARCHAR NOT NULL",
            "content VARCHAR NOT NULL, critic_score DOUBLE, reason VARCHAR NOT NULL, "
            "quarantined_at TIMESTAMP",
        ),
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
    ],
    # v2 -> v3: content becomes generated; DuckDB cannot ALTER a column into one.
    2: [
        "DROP SCHEMA IF EXISTS fts_main_items CASCADE",
        *[f"DROP INDEX IF EXISTS {name}" for name in INDEXES],
        _ITEMS_V1.format(name="items_v3").replace(
            "content VARCHAR NOT NULL",
            f"critic_score DOUBLE, content VARCHAR GENERATED ALWAYS AS ({CONTENT_SQL}) VIRTUAL",
        ),
        f"INSERT INTO items_v3 ({', '.join(STORED_COLUMNS)}) "
        f"SELECT {', '.join(STORED_COLUMNS)} FROM items",
        "DROP TABLE items",
        "ALTER TABLE items_v3 RENAME TO items",
        *INDEXES.values(),
        "INSERT OR REPLACE INTO meta VALUES ('fts_dirty', '1')",
        "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
    ],
}

HNSW = (
    "CREATE INDEX IF NOT EXISTS embeddings_hnsw ON embeddings USING HNSW (vec) "
    "WITH (metric = 'cosine')"
)

# SQL twins of kb.models.normalise / item_id, used by bulk imports.
# trim(x, ' '), not trim(x): DuckDB's bare trim also strips U+00A0 and other spaces
# (but not tabs), which Python's str.strip(" ") does not.
SQL_NORMALISE = "lower(trim(coalesce({x}, ''), ' '))"


def sql_item_id(kind: str, domain: str, parts: list[str]) -> str:
    """A SQL expression equal to ``item_id(kind, domain, *parts)`` for column expressions.

    DuckDB lowercases code point by code point, so one ``lower`` over the joined parts equals
    lowering each part (and costs a third as much in a bulk import)."""
    trimmed = " || chr(31) || ".join(f"trim(coalesce({p}, ''), ' ')" for p in parts)
    joined = f"lower({trimmed})"
    return (
        f"left({kind}, 1) || '-' || "
        f"left(sha1({kind} || chr(30) || {domain} || chr(30) || {joined}), 16)"
    )
