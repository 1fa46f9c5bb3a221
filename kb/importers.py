"""Bulk import through DuckDB's own readers, with validation and dedupe done in SQL.

Formats (``fmt``, or guessed from the extension):

| fmt       | file                                       | rows are located by |
|-----------|--------------------------------------------|---------------------|
| `jsonl`   | one JSON object per line (item fields, flat or with `provenance`) | line |
| `csv`     | header row with item field names          | line (data rows)    |
| `tsv`     | the same, tab-separated                   | line                |
| `atomic`  | ATOMIC-2020 layout: head, relation, tail; no header | line      |
| `parquet` | columns named like item fields             | row                 |

Every row is validated (kind, required fields, syntax, numbers, booleans, timestamps,
unknown JSON fields); a bad row is rejected with its line and reason and the rest go in.
Ids are computed in SQL exactly as ``kb.models.item_id`` does, so duplicates inside the file
and against the KB are skipped. A problem with the file itself (missing, not UTF-8,
not Parquet) raises ``KBError`` naming the file, line and column, and changes nothing.

The whole import is one transaction: killed half-way, the KB is exactly as it was.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from kb import schema
from kb._duck import KBError, scalar, sql_literal
from kb.models import KINDS, ImportReport, KnowledgeItem, Rejected, item_from_row

if TYPE_CHECKING:
    from kb.store import KnowledgeBase

FORMATS = ("jsonl", "csv", "tsv", "atomic", "parquet")
MAX_REJECTED_LISTED = 1000
FIELDS = (
    "kind",
    "head",
    "relation",
    "tail",
    "text",
    "program",
    "syntax",
    "domain",
    "tags",
    "source",
    "teacher",
    "prompt_hash",
    "created_at",
    "critic_score",
    "verified",
)
SYNTAXES = ("prolog", "asp", "python", "sympy", "text")
PROVENANCE = ("source", "teacher", "prompt_hash", "created_at")


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".parquet":
        return "parquet"
    if suffix == ".tsv":
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline().rstrip("\r\n").split("\t")
        return "tsv" if {"kind", "head", "text"} & set(first) else "atomic"
    raise KBError(f"cannot tell the format of {path}; pass one of: {', '.join(FORMATS)}")


def check_utf8(path: Path, chunk: int = 1 << 22) -> None:
    """Raise ``KBError`` with line and column at the first byte that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = line = 0
    last_newline = -1
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
                head = block[: exc.start]
                line += head.count(b"\n")
                if b"\n" in head:
                    last_newline = offset + head.rindex(b"\n")
                column = bad - last_newline
                raise KBError(
                    f"{path}: not valid UTF-8 at line {line + 1}, column {column} "
                    f"(byte 0x{block[exc.start]:02x}); re-encode the file as UTF-8"
                ) from None
            if not block:
                return
            line += block.count(b"\n")
            if b"\n" in block:
                last_newline = offset + block.rindex(b"\n")
            offset += len(block)


def _lines(path: Path) -> str:
    """Raw lines with exact 1-based line numbers (blank lines skipped, CRLF tolerated)."""
    return (
        "SELECT line, rtrim(raw, chr(13)) AS raw FROM ("
        "  SELECT unnest(l) AS raw, generate_subscripts(l, 1) AS line FROM ("
        f"    SELECT string_split(content, chr(10)) AS l FROM read_text({sql_literal(path)})))"
        " WHERE trim(rtrim(raw, chr(13))) <> ''"
    )


def _jsonl_source(path: Path) -> str:
    spec = {f: "VARCHAR" for f in FIELDS}
    spec["tags"] = "VARCHAR[]"
    spec["provenance"] = {p: "VARCHAR" for p in PROVENANCE}  # type: ignore[assignment]
    import json

    transform = sql_literal(json.dumps(spec))
    known = ", ".join(f"'{f}'" for f in (*FIELDS, "id", "provenance", "schema_version"))
    cols = ", ".join(
        f"coalesce(j.{f}, j.provenance.{f}) AS {f}" if f in PROVENANCE else f"j.{f} AS {f}"
        for f in FIELDS
    )
    return f"""
        SELECT line, {cols},
          CASE WHEN NOT ok THEN 'invalid JSON (truncated or malformed line)'
               WHEN json_type(raw) <> 'OBJECT' THEN 'not a JSON object'
               WHEN len(extra) > 0 THEN 'unknown field(s): ' || array_to_string(extra, ', ')
               WHEN coalesce(json_extract_string(raw, '$.schema_version'), '1') <> '1'
                 THEN 'KnowledgeItem schema_version '
                      || json_extract_string(raw, '$.schema_version')
                      || ' is not supported by this nesy (it reads 1)'
               WHEN json_type(raw, '$.tags') NOT IN ('ARRAY', 'NULL')
                 THEN 'tags must be a list of strings'
          END AS parse_error
        FROM (
          SELECT line, raw, ok,
            CASE WHEN ok THEN json_transform(raw, {transform}) END AS j,
            CASE WHEN ok AND json_type(raw) = 'OBJECT'
                 THEN list_filter(json_keys(raw), k -> NOT list_contains([{known}], k))
                 ELSE [] END AS extra
          FROM (SELECT line, raw, json_valid(raw) AS ok FROM ({_lines(path)}))
        )"""


def _atomic_source(path: Path) -> str:
    # read_csv is 3x faster than splitting raw lines; it skips blank lines and sends lines with
    # the wrong number of fields to its rejects table (with exact line numbers). `line` is
    # left NULL: the stage's rowid is the data-row number (see `_stage`), mapped back to file
    # lines by `_file_lines`.
    reader = (
        f"read_csv({sql_literal(path)}, columns = {{'head': 'VARCHAR', 'relation': 'VARCHAR', "
        "'tail': 'VARCHAR'}, header = false, delim = '\t', quote = '', escape = '', "
        "auto_detect = false, store_rejects = true, rejects_table = 'nesy_rejects', "
        "rejects_scan = 'nesy_rejects_scan')"
    )
    return f"""
        SELECT NULL::BIGINT AS line, 'triple' AS kind, head, relation, tail,
          NULL AS text, NULL AS program, NULL AS syntax, NULL AS domain, NULL AS tags,
          NULL AS source, NULL AS teacher, NULL AS prompt_hash, NULL AS created_at,
          NULL AS critic_score, NULL AS verified,
          CASE WHEN lower(trim(tail, ' ')) = 'none' THEN 'tail is "none" (no inference)' END
            AS parse_error
        FROM {reader}"""


def _file_lines(path: Path, rows: list[int], skipped: set[int]) -> dict[int, int]:
    """Map data-row numbers (as read_csv counts them) to file line numbers.

    read_csv drops blank lines, the header and rejected lines; only rows that need a line
    number in a report are mapped, in one pass over the file.
    """
    wanted = set(rows)
    out: dict[int, int] = {}
    data_row = 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number in skipped or not raw.strip(b"\r\n"):
                continue
            data_row += 1
            if data_row in wanted:
                out[data_row] = number
                if len(out) == len(wanted):
                    break
    return out


def _columns(con: duckdb.DuckDBPyConnection, reader: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]


def _table_source(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> str:
    if fmt == "parquet":
        reader = f"read_parquet({sql_literal(path)}, file_row_number = true)"
        line = "file_row_number + 1"
    else:
        delim = "\\t" if fmt == "tsv" else ","
        quote = "" if fmt == "tsv" else '"'
        reader = (
            f"read_csv({sql_literal(path)}, header = true, all_varchar = true, delim = E'{delim}', "
            f"quote = '{quote}', auto_detect = true, store_rejects = true, "
            "rejects_table = 'nesy_rejects', rejects_scan = 'nesy_rejects_scan')"
        )
        line = "NULL::BIGINT"  # the stage's rowid + 1 instead; see _stage
    columns = _columns(con, reader)
    unknown = [c for c in columns if c not in (*FIELDS, "id", "file_row_number", "schema_version")]
    if unknown:
        raise KBError(f"{path}: unknown column(s) {unknown}; known: {', '.join(FIELDS)}")

    def col(f: str) -> str:
        if f not in columns:
            return f"NULL AS {f}"
        if f == "tags":
            return (
                "CASE WHEN tags IS NULL THEN NULL ELSE string_split(CAST(tags AS VARCHAR)"
                ", '|') END AS tags"
                if fmt != "parquet"
                else "CAST(tags AS VARCHAR[]) AS tags"
            )
        return f"CAST({f} AS VARCHAR) AS {f}"

    cols = ", ".join(col(f) for f in FIELDS)
    return f"SELECT {line} AS line, {cols}, NULL AS parse_error FROM {reader}"


def _validated(source: str, domain: str, source_name: str, now: datetime) -> str:
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    syntaxes = ", ".join(f"'{s}'" for s in SYNTAXES)
    item_id = schema.sql_item_id("kind", "domain", ["head", "relation", "tail"])
    other_id = schema.sql_item_id("kind", "domain", ["text", "program"])
    keep = ", ".join(c for c in schema.STORED_COLUMNS if c not in ("id", "created_at"))
    return f"""
      SELECT line, {keep}, created_at_v,
        CASE
          WHEN parse_error IS NOT NULL THEN parse_error
          WHEN kind NOT IN ({kinds}) THEN 'unknown kind ' || coalesce('"' || kind || '"', 'NULL')
          WHEN kind = 'triple' AND (head IS NULL OR relation IS NULL OR tail IS NULL)
            THEN 'a triple needs non-empty head, relation and tail'
          WHEN kind <> 'triple' AND trim(text) = '' THEN 'a ' || kind || ' needs non-empty text'
          WHEN kind IN ('fact', 'rule') AND coalesce(syntax, '') NOT IN ('prolog', 'asp')
            THEN 'a ' || kind || ' needs syntax "prolog" or "asp"'
          WHEN kind = 'exemplar' AND trim(program) = '' THEN 'an exemplar needs its program'
          WHEN syntax IS NOT NULL AND syntax NOT IN ({syntaxes})
            THEN 'unknown syntax "' || syntax || '"'
          WHEN critic_raw IS NOT NULL AND critic_score IS NULL
            THEN 'critic_score is not a number: ' || critic_raw
          WHEN verified_raw IS NOT NULL AND verified IS NULL
            THEN 'verified is not a boolean: ' || verified_raw
          WHEN created_raw IS NOT NULL AND created_at IS NULL
            THEN 'created_at is not a timestamp: ' || created_raw
        END AS reason,
        CASE WHEN kind = 'triple' THEN {item_id} ELSE {other_id} END AS id
      FROM (
        SELECT line, parse_error,
          coalesce(nullif(trim(kind, ' '), ''),
                   CASE WHEN coalesce(head, relation, tail) IS NOT NULL THEN 'triple'
                        WHEN coalesce(program, '') <> '' THEN 'exemplar' ELSE 'note' END) AS kind,
          nullif(trim(head, ' '), '') AS head, nullif(trim(relation, ' '), '') AS relation,
          nullif(trim(tail, ' '), '') AS tail, coalesce(text, '') AS text,
          coalesce(program, '') AS program, nullif(trim(syntax, ' '), '') AS syntax,
          coalesce(nullif(trim(domain, ' '), ''), {sql_literal(domain)}) AS domain,
          coalesce(tags, []::VARCHAR[]) AS tags,
          coalesce(nullif(source, ''), {sql_literal(source_name)}) AS source,
          coalesce(teacher, '') AS teacher, coalesce(prompt_hash, '') AS prompt_hash,
          coalesce(TRY_CAST(created_at AS TIMESTAMP), TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}')
            AS created_at_v,
          TRY_CAST(created_at AS TIMESTAMP) AS created_at, created_at AS created_raw,
          TRY_CAST(critic_score AS DOUBLE) AS critic_score, critic_score AS critic_raw,
          TRY_CAST(verified AS BOOLEAN) AS verified, verified AS verified_raw
        FROM ({source})
      )"""


def _stage(kb: KnowledgeBase, path: Path, fmt: str | None, domain: str) -> ImportReport:
    """Read, validate and id every row into TEMP TABLE ``nesy_stage``; report the rejects."""
    if not path.exists():
        raise KBError(f"{path}: no such file")
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise KBError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if fmt != "parquet":
        check_utf8(path)
    con = kb.con
    if scalar(con, "SELECT current_setting('preserve_insertion_order')") is not True:
        raise KBError("import needs DuckDB's preserve_insertion_order on (it numbers rows)")
    try:
        source = {"jsonl": _jsonl_source, "atomic": _atomic_source}.get(fmt)
        sql = source(path) if source else _table_source(con, path, fmt)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE nesy_stage AS "
            + _validated(sql, domain, path.name, datetime.now(UTC))
        )
    except duckdb.Error as exc:
        raise KBError(f"{path}: cannot read as {fmt}: {_first_line(exc)}") from None
    staged = int(scalar(con, "SELECT count(*) FROM nesy_stage"))
    # The stage keeps the reader's order (DuckDB preserves insertion order unless told not
    # to) and numbers its rows consecutively (from 2^55 inside a transaction), so rowid gives
    # the data-row number; a window over 1M rows cost more than reading them. JSONL and
    # Parquet carry their own line/row numbers.
    bad = con.execute(
        "SELECT coalesce(line, rowid - (SELECT min(rowid) FROM nesy_stage) + 1) AS l, reason "
        "FROM nesy_stage WHERE reason IS NOT NULL ORDER BY rowid"
    ).fetchall()
    malformed = _csv_rejects(con, fmt)  # rows the CSV reader itself could not parse
    if bad and fmt in ("atomic", "csv", "tsv"):
        header = {1} if fmt != "atomic" else set()
        mapping = _file_lines(path, [r for r, _ in bad], {m for m, _ in malformed} | header)
        bad = [(mapping.get(r, r), reason) for r, reason in bad]
    rejected = sorted(bad + malformed)
    label = "row" if fmt == "parquet" else "line"
    return ImportReport(
        file=str(path),
        rows=staged + len(malformed),
        rejected_count=len(rejected),
        rejected=[
            Rejected(line=int(line), reason=str(reason), where=label)
            for line, reason in rejected[:MAX_REJECTED_LISTED]
        ],
        duplicates=staged - len(bad),  # valid rows; import_file turns it into duplicates
    )


# First occurrence of each id, by file order. A semi-join on the first rowids is cheaper than
# QUALIFY row_number(), which drags every column through the window's partitioning.
_FIRST = "AND s.rowid IN (SELECT min(rowid) FROM nesy_stage WHERE reason IS NULL GROUP BY id)"


def import_file(
    kb: KnowledgeBase,
    path: Path,
    fmt: str | None = None,
    domain: str = "general",
    embed: bool = False,
    fts: bool = True,
    progress: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import one file into ``kb`` in one transaction. See the module docstring.

    ``on_stage`` is called with ``staged``, ``inserted`` and ``indexed`` as each stage of the
    transaction finishes (before the commit): progress for callers, known points for tests.
    """
    start = time.perf_counter()
    bar = _progress(progress, ["read + validate", "insert", "indexes", "full-text"], path)

    def stage(name: str) -> None:
        _step(bar)
        if on_stage is not None:
            on_stage(name)

    con = kb.con
    con.begin()
    try:
        report = _stage(kb, path, fmt, domain)
        valid = report.duplicates
        stage("staged")
        bulk = valid > 50_000 and valid > kb.count() // 5
        if bulk:
            kb.drop_indexes()  # rebuilding after is cheaper than maintaining them row by row
        cols = ", ".join(schema.STORED_COLUMNS)
        select = cols.replace("created_at", "created_at_v")
        report.inserted = int(
            scalar(
                con,
                f"INSERT INTO items ({cols}) SELECT {select} FROM nesy_stage s "
                "WHERE reason IS NULL AND NOT EXISTS (SELECT 1 FROM items i WHERE i.id = s.id) "
                + _FIRST,
            )
        )
        report.duplicates = valid - report.inserted
        con.execute("DROP TABLE nesy_stage")
        stage("inserted")
        t = time.perf_counter()
        kb.ensure_indexes()
        stage("indexed")
        if fts and report.inserted:
            report.fts_seconds = kb.rebuild_fts()
        elif report.inserted:
            kb._set_meta("fts_dirty", "1")
        con.commit()
        # DuckDB builds the ART indexes at commit; count the commit as index time.
        report.index_seconds = time.perf_counter() - t - report.fts_seconds
        _step(bar)
    except BaseException:
        con.rollback()
        raise
    finally:
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - start - report.fts_seconds - report.index_seconds
    if embed and report.inserted:
        t = time.perf_counter()
        kb.embed(progress=progress)
        report.embed_seconds = time.perf_counter() - t
    return report


def read_items(
    kb: KnowledgeBase, path: Path, fmt: str | None = None, domain: str = "general"
) -> tuple[list[KnowledgeItem], ImportReport]:
    """Validate a file like ``import_file`` but return its items instead of inserting them
    (for critic-filtered admission, which must score every item first)."""
    report = _stage(kb, path, fmt, domain)
    cols = ", ".join(schema.STORED_COLUMNS).replace("created_at", "created_at_v")
    rows = kb.con.execute(
        f"SELECT {cols} FROM nesy_stage s WHERE reason IS NULL {_FIRST}"
    ).fetchall()
    kb.con.execute("DROP TABLE nesy_stage")
    report.duplicates = report.duplicates - len(rows)
    return [item_from_row(r) for r in rows], report


def _csv_rejects(con: duckdb.DuckDBPyConnection, fmt: str) -> list[tuple[int, str]]:
    if fmt not in ("csv", "tsv", "atomic"):
        return []
    try:
        rows = con.execute("SELECT line, error_message FROM nesy_rejects").fetchall()
    except duckdb.Error:
        return []
    return [(int(line), str(msg)) for line, msg in rows]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def _progress(enabled: bool, steps: list[str], path: Path) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=len(steps), desc=f"importing {path.name}", unit="step")


def _step(bar: Any) -> None:
    if bar is not None:
        bar.update(1)
