"""The results database: a DuckDB file with runs, per-item records, logged samples and the
LM request cache.

One process writes a file at a time (DuckDB's rule), so shards of one run write their own
files and ``merge`` joins them. Reports open files read-only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from bench.records import SCHEMA_VERSION, BenchRecord, RunInfo

DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR NOT NULL, shard VARCHAR NOT NULL, system VARCHAR NOT NULL,
        info JSON NOT NULL, PRIMARY KEY (run_id, shard))""",
    """CREATE TABLE IF NOT EXISTS records (
        run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
        prediction JSON, gold JSON, correct BOOLEAN NOT NULL, grounded BOOLEAN NOT NULL,
        failure VARCHAR, repairs INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, latency_s DOUBLE NOT NULL, difficulty INTEGER,
        contaminated BOOLEAN NOT NULL, schema_version INTEGER NOT NULL,
        PRIMARY KEY (run_id, task, item_id))""",
    """CREATE TABLE IF NOT EXISTS samples (
        run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, item_id VARCHAR NOT NULL,
        prompts JSON, outputs JSON, PRIMARY KEY (run_id, task, item_id))""",
    """CREATE TABLE IF NOT EXISTS lm_cache (
        key VARCHAR PRIMARY KEY, text VARCHAR NOT NULL, prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, finish_reason VARCHAR NOT NULL)""",
]
RECORD_COLUMNS = [f for f in BenchRecord.model_fields if f != "schema_version"]


class ResultsError(RuntimeError):
    """A results file that cannot be used; the message names it."""


EXPORTED = ("meta", "runs", "records")  # what ``export`` keeps: no prompts, no LM cache


def db_path(location: str | Path, shard: str = "") -> Path:
    """``location`` may be a ``.duckdb`` file or a directory (``results.duckdb`` inside, or
    ``results.shard-I-of-N.duckdb`` for a shard, or an ``export``: the directory itself)."""
    p = Path(location)
    if p.suffix == ".duckdb" or (not shard and is_export(p)):
        return p
    name = "results.duckdb" if not shard else f"results.shard-{shard.replace('/', '-of-')}.duckdb"
    return p / name


class Results:
    """Open (creating if needed) a results database; use as a context manager."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if is_export(self.path):
            self._open_export(read_only)
            return
        if read_only and not self.path.exists():
            raise ResultsError(f"no results database at {self.path}")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc).splitlines()[0]
            if "lock" in msg.lower():
                raise ResultsError(
                    f"results database {self.path} is busy (another nesy bench process is "
                    f"writing it): {msg}"
                ) from None
            raise ResultsError(f"cannot open results database {self.path}: {msg}") from None
        except duckdb.Error as exc:
            raise ResultsError(
                f"{self.path} is not a results database: {str(exc).splitlines()[0]}"
            ) from None
        if not read_only:
            for ddl in DDL:
                self.con.execute(ddl)
            self.con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        version = self._version()
        if version == 1:  # v1 called a solver-computed prediction "verified"
            self._migrate_v1(read_only)
            version = self._version()
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"{self.path} has results schema v{version}; this nesy reads v{SCHEMA_VERSION}"
            )

    def _open_export(self, read_only: bool) -> None:
        """An ``export`` (Parquet files) loaded into an in-memory database, read-only."""
        if not read_only:
            raise ResultsError(
                f"{self.path} is an exported results folder (read-only): write runs to "
                "another --out, then `nesy bench export` them here"
            )
        self.con = duckdb.connect(":memory:")
        for ddl in DDL:
            self.con.execute(ddl)
        for table in EXPORTED:
            try:
                self.con.execute(
                    f"INSERT INTO {table} SELECT * FROM read_parquet(?)",
                    [str(self.path / f"{table}.parquet")],
                )
            except duckdb.Error as exc:
                raise ResultsError(
                    f"{self.path / f'{table}.parquet'}: not an exported results table "
                    f"({str(exc).splitlines()[0]})"
                ) from None
        if self._version() != SCHEMA_VERSION:
            raise ResultsError(
                f"{self.path} has results schema v{self._version()}; this nesy reads "
                f"v{SCHEMA_VERSION}: export it again with this nesy"
            )

    def _migrate_v1(self, read_only: bool) -> None:
        if read_only:  # migrate once with a writable connection, then read as asked
            self.con.close()
            self.con = duckdb.connect(str(self.path))
        with self.con.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("ALTER TABLE records RENAME COLUMN verified TO grounded")
            cur.execute("UPDATE records SET schema_version = 2")
            cur.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
            cur.execute("COMMIT")
        if read_only:
            self.con.close()
            self.con = duckdb.connect(str(self.path), read_only=True)

    def _version(self) -> int:
        try:
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except duckdb.Error:
            raise ResultsError(f"{self.path} is not a nesy results database") from None
        return int(row[0]) if row else 0

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # --- runs ----------------------------------------------------------------------------

    def save_run(self, info: RunInfo) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
            [info.run_id, info.shard, info.system, info.model_dump_json()],
        )

    def runs(self) -> list[RunInfo]:
        rows = self.con.execute("SELECT info FROM runs ORDER BY run_id, shard").fetchall()
        return [RunInfo.model_validate_json(r[0]) for r in rows]

    def run(self, run_id: str) -> RunInfo:
        matches = [r for r in self.runs() if r.run_id == run_id or r.run_id.startswith(run_id)]
        ids = sorted({r.run_id for r in matches})
        if not ids:
            known = ", ".join(sorted({r.run_id for r in self.runs()})) or "none"
            raise ResultsError(f"no run {run_id!r} in {self.path}; runs there: {known}")
        if len(ids) > 1:
            raise ResultsError(f"run id prefix {run_id!r} is ambiguous: {', '.join(ids)}")
        return next(r for r in matches if r.run_id == ids[0])

    # --- records -------------------------------------------------------------------------

    def done(self, run_id: str) -> set[tuple[str, str]]:
        rows = self.con.execute(
            "SELECT task, item_id FROM records WHERE run_id = ?", [run_id]
        ).fetchall()
        return {(t, i) for t, i in rows}

    def add(self, records: Sequence[BenchRecord], samples: Iterable[dict[str, Any]] = ()) -> None:
        """Insert one chunk of records (and logged samples) in one transaction."""
        if not records:
            return
        rows = []
        for r in records:
            d = r.model_dump(mode="json")
            d["prediction"] = json.dumps(d["prediction"])
            d["gold"] = json.dumps(d["gold"])
            rows.append([d[c] for c in RECORD_COLUMNS] + [r.schema_version])
        marks = ", ".join("?" for _ in range(len(RECORD_COLUMNS) + 1))
        self.con.begin()
        try:
            self.con.executemany(
                f"INSERT OR REPLACE INTO records ({', '.join(RECORD_COLUMNS)}, schema_version) "
                f"VALUES ({marks})",
                rows,
            )
            for s in samples:
                self.con.execute(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?)",
                    [s["run_id"], s["task"], s["item_id"], json.dumps(s["prompts"]),
                     json.dumps(s["outputs"])],
                )  # fmt: skip
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def records(self, run_id: str, task: str | None = None) -> list[BenchRecord]:
        sql = f"SELECT {', '.join(RECORD_COLUMNS)}, schema_version FROM records WHERE run_id = ?"
        params: list[Any] = [run_id]
        if task:
            sql += " AND task = ?"
            params.append(task)
        out = []
        for row in self.con.execute(sql + " ORDER BY task, item_id", params).fetchall():
            d = dict(zip([*RECORD_COLUMNS, "schema_version"], row, strict=True))
            d["prediction"] = json.loads(d["prediction"]) if d["prediction"] else None
            d["gold"] = json.loads(d["gold"]) if d["gold"] else None
            out.append(BenchRecord.model_validate(d))
        return out

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.con.execute(
            "SELECT task, item_id, prompts, outputs FROM samples WHERE run_id = ? "
            "ORDER BY task, item_id",
            [run_id],
        ).fetchall()
        return [
            {"task": t, "item_id": i, "prompts": json.loads(p), "outputs": json.loads(o)}
            for t, i, p, o in rows
        ]

    # --- LM request cache ----------------------------------------------------------------

    @staticmethod
    def cache_key(model: str, prompt: Any, kwargs: dict[str, Any]) -> str:
        blob = json.dumps([model, prompt, kwargs], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def cached(self, keys: list[str]) -> dict[str, tuple[str, int, int, str]]:
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT key, text, prompt_tokens, completion_tokens, finish_reason FROM lm_cache "
            "WHERE key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def cache(self, entries: list[tuple[str, str, int, int, str]]) -> None:
        if entries:
            self.con.executemany("INSERT OR REPLACE INTO lm_cache VALUES (?, ?, ?, ?, ?)", entries)


def is_export(path: Path) -> bool:
    """A folder ``export`` wrote (its Parquet tables, no database file)."""
    return path.is_dir() and (path / "records.parquet").is_file()


def export(sources: Sequence[str | Path], folder: str | Path) -> list[str]:
    """The runs in ``sources`` (joined as ``merge`` joins them) written to ``folder`` as
    one Parquet file per table (``EXPORTED``): runs and records without the logged prompts
    and outputs or the LM cache, a few kilobytes a run, small enough to commit. Every bench
    command reads the folder as a results location (read-only); returns the run ids."""
    import tempfile

    folder = Path(folder)
    if folder.exists() and not is_export(folder) and any(folder.iterdir()):
        raise ResultsError(f"{folder} holds other files; export to a new or exported folder")
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / "results.duckdb"
        ids = merge(sources, joined)
        folder.mkdir(parents=True, exist_ok=True)
        with Results(joined, read_only=True) as r:
            for table in EXPORTED:
                target = str(folder / f"{table}.parquet").replace("'", "''")
                r.con.execute(
                    f"COPY (SELECT * FROM {table} ORDER BY ALL) TO '{target}' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
    return ids


def merge(sources: Sequence[str | Path], target: str | Path) -> list[str]:
    """Join shard databases into ``target``; returns the merged run ids.

    Shards of a run must all be there (``0/n`` .. ``n-1/n``) and must not score the same item
    twice; the merged run is recorded without a shard.
    """
    infos: dict[str, dict[str, RunInfo]] = {}
    paths = [db_path(s) if Path(s).is_dir() else Path(s) for s in sources]
    expanded: list[Path] = []
    for s, p in zip(sources, paths, strict=True):
        if is_export(Path(s)):
            expanded.append(Path(s))
        elif Path(s).is_dir():
            expanded += sorted(Path(s).glob("results*.duckdb"))
        else:
            expanded.append(p)
    if not expanded:
        raise ResultsError(f"no results databases in {', '.join(map(str, sources))}")
    for p in expanded:
        with Results(p, read_only=True) as r:
            for info in r.runs():
                infos.setdefault(info.run_id, {})[f"{p}|{info.shard}"] = info
    for run_id, parts in infos.items():  # check everything before writing anything
        shards = sorted({i.shard for i in parts.values() if i.shard})
        if shards:
            n = int(shards[0].split("/")[1])
            want = {f"{i}/{n}" for i in range(n)}
            if set(shards) != want:
                missing = ", ".join(sorted(want - set(shards)))
                raise ResultsError(f"run {run_id}: shard(s) {missing} missing; merge all {n}")
    merged = []
    with Results(db_path(target)) as out:
        for run_id, parts in infos.items():
            seen: set[tuple[str, str]] = set()
            for key in parts:
                path = key.split("|")[0]
                with Results(path, read_only=True) as r:
                    recs = r.records(run_id)
                    overlap = seen & {(x.task, x.item_id) for x in recs}
                    if overlap:
                        raise ResultsError(
                            f"run {run_id}: {len(overlap)} item(s) scored in two shards, "
                            f"e.g. {sorted(overlap)[0]}"
                        )
                    seen |= {(x.task, x.item_id) for x in recs}
                    samples = [{**s, "run_id": run_id} for s in r.samples(run_id)]
                out.add(recs, samples)
            first = next(iter(parts.values()))
            out.save_run(first.model_copy(update={"shard": ""}))
            merged.append(run_id)
    return merged
