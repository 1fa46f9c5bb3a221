"""``KnowledgeBase``: the DuckDB store, opened read-write by one process or read-only by many.

Example:
    >>> from kb import KnowledgeBase, KnowledgeItem
    >>> with KnowledgeBase("/tmp/demo.duckdb") as kb:            # doctest: +SKIP
    ...     kb.add([KnowledgeItem(kind="triple", head="ice", relation="HasProperty", tail="cold")])
    ...     kb.search("cold ice", mode="bm25")[0].item.tail
    'cold'
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from kb import _duck, schema
from kb._duck import scalar
from kb.models import KnowledgeItem, SearchHit, item_from_row, item_row

Mode = Literal["exact", "bm25", "vector", "hybrid"]


class KnowledgeBase:
    """A knowledge base in one DuckDB file.

    Args:
        path: the ``.duckdb`` file; created (read-write) when missing.
        read_only: open as a reader; many reader processes may share the file.
        busy_timeout_s: how long to retry while another process holds the write lock.
    """

    def __init__(
        self, path: str | Path, read_only: bool = False, busy_timeout_s: float = 5.0
    ) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise _duck.KBError(f"no KB at {self.path}; create one with `nesy kb import`")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _duck.connect(self.path, read_only=read_only, busy_timeout_s=busy_timeout_s)
        # One DuckDB connection must not run statements from two threads at once (results
        # get mixed up); the agent's ask_many retrieves from many threads.
        self._lock = threading.RLock()
        self._embedder: Any = None
        self.migrated_from: int | None = None
        try:
            self._ensure_schema()
        except BaseException:
            self.con.close()
            raise

    # --- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.con is None:
            return
        try:
            if not self.read_only and self._meta("fts_dirty") == "1":
                self.rebuild_fts()
            if not self.read_only:
                self.con.execute("CHECKPOINT")
        finally:
            self.con.close()
            self.con = None  # type: ignore[assignment]

    def _meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute("DELETE FROM meta WHERE key = ?", [key])
        self.con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])

    def _ensure_schema(self) -> None:
        tables = {
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = ?",
                [_duck.ALIAS],
            ).fetchall()
        }
        if "meta" not in tables:
            if self.read_only:
                raise _duck.KBError(f"{self.path} is not a nesy KB (no meta table)")
            self.con.begin()
            for ddl in schema.V1_DDL:
                self.con.execute(ddl)
            self._migrate(1, backup=False)
            self.con.commit()
            return
        version = int(self._meta("schema_version") or 0)
        if version > schema.SCHEMA_VERSION:
            raise _duck.KBError(
                f"KB {self.path} has schema v{version}, newer than this nesy "
                f"(v{schema.SCHEMA_VERSION}); upgrade nesy to open it"
            )
        if version < schema.SCHEMA_VERSION:
            if self.read_only:
                raise _duck.KBError(
                    f"KB {self.path} has schema v{version}; open it once read-write "
                    f"(e.g. `nesy kb stats --kb {self.path}`) to migrate it"
                )
            self._migrate(version, backup=True)

    def _migrate(self, version: int, backup: bool) -> None:
        if backup:
            self.con.execute("CHECKPOINT")  # the file alone is then the whole database
            target = self.path.with_name(f"{self.path.name}.v{version}.bak")
            shutil.copy2(self.path, target)
            self.migrated_from = version
        own_txn = backup
        if own_txn:
            self.con.begin()
        try:
            while version < schema.SCHEMA_VERSION:
                for sql in schema.MIGRATIONS[version]:
                    self.con.execute(sql)
                version += 1
            if own_txn:
                self.con.commit()
        except BaseException:
            if own_txn:
                self.con.rollback()
            raise

    def _writable(self) -> None:
        if self.read_only:
            raise _duck.KBError(f"KB {self.path} is open read-only")

    # --- writing -----------------------------------------------------------------------

    def add(self, items: Iterable[KnowledgeItem], table: str = "items") -> int:
        """Insert items, skipping ids already present. Returns how many were inserted."""
        self._writable()
        rows = {item.id: item_row(item) for item in items}
        if not rows:
            return 0
        existing = self._existing_ids(list(rows), table)
        new = [r for i, r in rows.items() if i not in existing]
        if new:
            self._insert_rows(new, table)
            self._set_meta("fts_dirty", "1")
        return len(new)

    def _existing_ids(self, ids: list[str], table: str = "items") -> set[str]:
        found = self.con.execute(
            f"SELECT id FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
        ).fetchall()
        return {r[0] for r in found}

    def _insert_rows(self, rows: list[dict[str, Any]], table: str) -> None:
        import pyarrow as pa

        if table == "items":  # content is generated there, stored in quarantine
            rows = [{k: v for k, v in r.items() if k != "content"} for r in rows]
        cols = ", ".join(rows[0])
        self._insert_arrow(table, cols, pa.Table.from_pylist(rows))

    def _insert_arrow(self, table: str, cols: str, data: Any) -> None:
        self.con.register("nesy_batch", data)
        try:
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM nesy_batch")
        finally:
            self.con.unregister("nesy_batch")

    def delete(self, ids: Sequence[str]) -> int:
        self._writable()
        n = scalar(
            self.con,
            "SELECT count(*) FROM items WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [list(ids)],
        )
        self.con.execute(
            "DELETE FROM embeddings WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)]
        )
        self.con.execute("DELETE FROM items WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)])
        self._set_meta("fts_dirty", "1")
        return int(n)

    def set_verified(self, ids: Sequence[str], verified: bool) -> None:
        """Record a solver's verdict on items (it overrides the critic at admission)."""
        self._writable()
        self.con.execute(
            "UPDATE items SET verified = ? WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [verified, list(ids)],
        )

    def admit(
        self, items: Iterable[KnowledgeItem], critic: Any = None, threshold: float = 0.5
    ) -> dict[str, int]:
        """Critic-filtered admission (SKD): score each item; admit those at or above
        ``threshold``, quarantine the rest. A solver's verdict (``verified``) overrides the
        critic: verified items are admitted and refuted ones quarantined whatever they score.
        """
        self._writable()
        items = list(items)
        scores = critic.score(items) if critic is not None and items else [None] * len(items)
        admitted, quarantined = [], []
        for item, score in zip(items, scores, strict=True):
            item = item.model_copy(update={"critic_score": score})
            if item.verified is True:
                admitted.append(item)
            elif item.verified is False:
                quarantined.append((item, "refuted by a solver"))
            elif score is None or score >= threshold:
                admitted.append(item)
            else:
                quarantined.append((item, f"critic score {score:.3f} < {threshold}"))
        self.con.begin()
        try:
            n_in = self.add(admitted)
            n_q = self._quarantine(quarantined)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return {"admitted": n_in, "quarantined": n_q}

    def _quarantine(self, pairs: list[tuple[KnowledgeItem, str]]) -> int:
        if not pairs:
            return 0
        rows = {it.id: {**item_row(it), "reason": reason} for it, reason in pairs}
        existing = self._existing_ids(list(rows), "quarantine")
        new = [r for i, r in rows.items() if i not in existing]
        if new:
            self._insert_rows(new, "quarantine")
        return len(new)

    def rebuild_fts(self) -> float:
        """Rebuild the BM25 index (DuckDB's fts index does not follow inserts)."""
        self._writable()
        t = time.perf_counter()
        self.con.execute(
            "PRAGMA create_fts_index('items', 'id', 'content', stemmer = 'porter', "
            "stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)"
        )
        self._set_meta("fts_dirty", "0")
        return time.perf_counter() - t

    def ensure_indexes(self) -> float:
        self._writable()
        t = time.perf_counter()
        for ddl in schema.INDEXES.values():
            self.con.execute(ddl)
        return time.perf_counter() - t

    def drop_indexes(self) -> None:
        for name in schema.INDEXES:
            self.con.execute(f"DROP INDEX IF EXISTS {name}")

    # --- embeddings ----------------------------------------------------------------------

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kb.embed import Embedder

            self._embedder = Embedder()
        return self._embedder

    def embed(self, batch_size: int = 256, progress: bool = False) -> int:
        """Compute and store embeddings for every item that lacks one; keep HNSW current."""
        self._writable()
        todo = self.con.execute(
            "SELECT id, content FROM items WHERE id NOT IN (SELECT id FROM embeddings)"
        ).fetchall()
        if not todo:
            return 0
        import numpy as np
        import pyarrow as pa

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="embedding", unit="item")
        self.con.begin()
        try:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                vecs = np.asarray(self.embedder.encode([c for _, c in chunk]), dtype=np.float32)
                batch = pa.table(
                    {
                        "id": [i for i, _ in chunk],
                        "vec": pa.FixedSizeListArray.from_arrays(
                            pa.array(vecs.ravel()), schema.EMBED_DIM
                        ),
                    }
                )
                self._insert_arrow("embeddings", "id, vec", batch)
                if bar:
                    bar.update(len(chunk))
            self.con.execute(schema.HNSW)
            self._set_meta("embed_model", self.embedder.name)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        finally:
            if bar:
                bar.close()
        return len(todo)

    def load_embeddings(self, parquet: str | Path, model: str | None = None) -> int:
        """Load precomputed vectors (columns ``id``, ``vec``) for items already in the KB."""
        self._writable()
        literal = _duck.sql_literal(parquet)
        self.con.begin()
        try:
            n = scalar(
                self.con,
                f"INSERT INTO embeddings SELECT p.id, p.vec::FLOAT[{schema.EMBED_DIM}] "
                f"FROM read_parquet({literal}) p JOIN items i ON i.id = p.id "
                "WHERE p.id NOT IN (SELECT id FROM embeddings)",
            )
            self.con.execute(schema.HNSW)
            from kb.embed import Embedder

            self._set_meta("embed_model", model or Embedder.name)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return int(n)

    # --- reading -------------------------------------------------------------------------

    def get(self, item_id: str) -> KnowledgeItem | None:
        cols = ", ".join(schema.ITEM_COLUMNS)
        cur = self.con.execute(f"SELECT {cols} FROM items WHERE id = ?", [item_id])
        row = cur.fetchone()
        return None if row is None else item_from_row(row)

    def count(self) -> int:
        return int(scalar(self.con, "SELECT count(*) FROM items"))

    def stats(self) -> dict[str, Any]:
        by = dict(
            self.con.execute("SELECT kind, count(*) FROM items GROUP BY 1 ORDER BY 1").fetchall()
        )
        domains = dict(
            self.con.execute(
                "SELECT domain, count(*) FROM items GROUP BY 1 ORDER BY 2 DESC LIMIT 20"
            ).fetchall()
        )
        q = scalar(self.con, "SELECT count(*) FROM quarantine")
        e = scalar(self.con, "SELECT count(*) FROM embeddings")
        v = scalar(self.con, "SELECT count(*) FROM items WHERE verified")
        return {
            "path": str(self.path),
            "schema_version": int(self._meta("schema_version") or 0),
            "items": sum(by.values()),
            "by_kind": by,
            "domains": domains,
            "verified": int(v),
            "embedded": int(e),
            "quarantined": int(q),
            "embed_model": self._meta("embed_model"),
            "fts_current": self._meta("fts_dirty") != "1",
            "size_bytes": self.path.stat().st_size if self.path.exists() else 0,
        }

    def search(
        self, query: str | None = None, mode: Mode = "hybrid", k: int = 10, **filters: Any
    ) -> list[SearchHit]:
        """Retrieve items; see ``kb.search`` for modes and filters. Each hit has its score."""
        from kb import search

        with self._lock:
            if mode == "bm25" and not self.read_only and self._meta("fts_dirty") == "1":
                self.rebuild_fts()
            return search.search(self, query, mode, k, **filters)

    def import_file(self, path: str | Path, **kw: Any) -> Any:
        from kb.importers import import_file

        self._writable()
        return import_file(self, Path(path), **kw)
