"""One writer or many readers; a killed import changes nothing; the KB is never corrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kb import KBBusyError, KnowledgeBase, schema

ROOT = Path(__file__).resolve().parents[2]


def spawn(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seed_with_hnsw(path: Path, n: int = 300) -> None:
    with KnowledgeBase(path) as kb:
        tsv = path.with_suffix(".seed.tsv")
        tsv.write_text("".join(f"head {i}\trel\ttail {i}\n" for i in range(n)))
        kb.import_file(tsv, fmt="atomic")
        kb.con.execute(
            f"INSERT INTO embeddings SELECT id, [random() FOR x IN range({schema.EMBED_DIM})]"
            f"::FLOAT[{schema.EMBED_DIM}] FROM items"
        )
        kb.con.execute(schema.HNSW)


def test_writer_blocks_others_with_a_clear_busy_error(tmp_path):
    path = tmp_path / "kb.duckdb"
    KnowledgeBase(path).close()
    holder = spawn(f"""
        import time
        from kb import KnowledgeBase
        kb = KnowledgeBase({str(path)!r})
        print("holding", flush=True)
        time.sleep(30)
    """)
    try:
        assert holder.stdout.readline().strip() == "holding"
        for read_only in (False, True):
            start = time.monotonic()
            with pytest.raises(
                KBBusyError,
                match=rf"KB is busy \(being written by PID "
                rf"{holder.pid}\)",
            ) as err:
                KnowledgeBase(path, read_only=read_only, busy_timeout_s=0.5)
            assert err.value.pid == holder.pid
            assert time.monotonic() - start < 3  # bounded retry, then a clear error
    finally:
        holder.kill()
        holder.wait()
    with KnowledgeBase(path, busy_timeout_s=5) as kb:  # free again once the writer is gone
        assert kb.count() == 0


def test_many_readers_share_the_kb(tmp_path):
    path = tmp_path / "kb.duckdb"
    seed_with_hnsw(path, n=50)
    code = f"""
        from kb import KnowledgeBase
        with KnowledgeBase({str(path)!r}, read_only=True) as kb:
            import time; time.sleep(1)
            print(kb.count())
    """
    readers = [spawn(code) for _ in range(3)]
    outs = [r.communicate(timeout=60) for r in readers]
    assert [o[0].strip() for o in outs] == ["50"] * 3, [o[1][-300:] for o in outs]


def test_import_killed_half_way_leaves_the_kb_as_it_was(tmp_path):
    path = tmp_path / "kb.duckdb"
    seed_with_hnsw(path)
    with KnowledgeBase(path, read_only=True) as kb:
        before = (
            kb.count(),
            kb.stats()["embedded"],
            [h.item.id for h in kb.search("tail 7", mode="bm25", k=3)],
        )
    big = tmp_path / "big.tsv"
    with open(big, "w") as f:
        for i in range(20_000):
            f.write(f"subject number {i}\trelation\tobject number {i}\n")
    # The importer stops at a known point inside its transaction: every row inserted into
    # the items table, nothing committed. It is killed there.
    importer = spawn(f"""
        import time
        from kb import KnowledgeBase
        def on_stage(name):
            print(name, flush=True)
            if name == "inserted":
                time.sleep(600)
        kb = KnowledgeBase({str(path)!r})
        kb.import_file({str(big)!r}, fmt="atomic", on_stage=on_stage)
        print("finished", flush=True)
    """)
    assert importer.stdout.readline().strip() == "staged"
    assert importer.stdout.readline().strip() == "inserted"
    os.kill(importer.pid, signal.SIGKILL)
    rest, _ = importer.communicate()
    assert importer.returncode == -signal.SIGKILL
    assert "finished" not in rest

    with KnowledgeBase(path) as kb:  # the WAL replays with vss loaded first
        after = (
            kb.count(),
            kb.stats()["embedded"],
            [h.item.id for h in kb.search("tail 7", mode="bm25", k=3)],
        )
        assert after == before
        vec = kb.con.execute("SELECT vec FROM embeddings LIMIT 1").fetchone()[0]
        from kb.search import vector_by

        assert len(vector_by(kb, list(vec), 5, {})) == 5  # the HNSW index still answers
        plan = kb.con.execute(
            "EXPLAIN SELECT id FROM embeddings ORDER BY "
            f"array_cosine_distance(vec, ?::FLOAT[{schema.EMBED_DIM}]) LIMIT 5",
            [list(vec)],
        ).fetchall()
        assert "HNSW" in str(plan)
        report = kb.import_file(big, fmt="atomic", fts=False)  # and it still takes writes
        assert report.inserted == 20_000
