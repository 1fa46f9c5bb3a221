"""DuckDB connections for the KB: extensions from package files, the file attached after.

Why ``:memory:`` + LOAD + ATTACH instead of ``duckdb.connect(path)``: a persisted HNSW index
needs the vss extension loaded *before* the WAL replays (duckdb-vss issues #65 and #81),
and connecting to the file directly replays it first. Loading into an in-memory database
and attaching the file afterwards makes that order certain, also after a ``kill -9``.
Extensions come from the ``duckdb-extension-fts`` / ``-vss`` wheels with autoinstall and
autoload off: DuckDB cannot download extensions here, and must never try.

DuckDB allows one read-write process or many read-only ones. A conflicting lock is
retried with backoff up to ``busy_timeout_s``, then reported as ``KBBusyError`` naming
the PID that holds it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import duckdb

ALIAS = "kb"


class KBError(RuntimeError):
    """A knowledge-base problem a user can act on; the message says what and where."""


class KBBusyError(KBError):
    def __init__(self, path: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"PID {pid}" if pid else "another process"
        super().__init__(f"KB is busy (being written by {who}): {path}")


def _extension(package: str, name: str) -> Path:
    import importlib

    try:
        module = importlib.import_module(package)
    except ImportError:
        raise KBError(
            f"the DuckDB {name} extension is missing: pip install {package.replace('_', '-')}"
        ) from None
    base = Path(module.__file__ or "").parent / "extensions"
    version = duckdb.__version__
    exact = base / f"v{version}" / f"{name}.duckdb_extension"
    if exact.exists():
        return exact
    found = sorted(base.glob(f"*/{name}.duckdb_extension"))
    if not found:
        raise KBError(f"no {name}.duckdb_extension file in {base}")
    return found[-1]


def extension_files() -> dict[str, Path]:
    return {
        "fts": _extension("duckdb_extension_fts", "fts"),
        "vss": _extension("duckdb_extension_vss", "vss"),
    }


def sql_literal(text: str | Path) -> str:
    """A SQL string literal, for the few places DuckDB takes no parameter (ATTACH, reader
    arguments built into SQL text)."""
    return "'" + str(text).replace("'", "''") + "'"


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first column of the first row (``None`` for no row)."""
    row = con.execute(sql, params or []).fetchone()
    return None if row is None else row[0]


_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def connect(
    path: Path | str, read_only: bool = False, busy_timeout_s: float = 5.0
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with fts + vss loaded and ``path`` attached as ``kb``."""
    path = Path(path)
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        for file in extension_files().values():
            con.execute(f"LOAD '{file}'")
        con.execute("SET hnsw_enable_experimental_persistence = true")
        _attach(con, path, read_only, busy_timeout_s)
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _attach(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, timeout: float) -> None:
    mode = " (READ_ONLY)" if read_only else ""
    deadline = time.monotonic() + timeout
    delay = 0.02
    literal = sql_literal(path)  # ATTACH takes no parameters
    while True:
        try:
            con.execute(f"ATTACH {literal} AS {ALIAS}{mode}")
            return
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise KBError(f"cannot open KB {path}: {message}") from None
            if time.monotonic() >= deadline:
                match = _LOCK_PID.search(message)
                raise KBBusyError(path, int(match.group(1)) if match else None) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise KBError(f"cannot open KB {path}: {exc}") from None
