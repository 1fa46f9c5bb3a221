from __future__ import annotations

import json
import subprocess
import sys

from .test_cli import nesy


def test_import_search_show_export_stats(tmp_path):
    kb = str(tmp_path / "k.duckdb")
    data = tmp_path / "facts.jsonl"
    data.write_text(
        '{"kind": "triple", "head": "tom", "relation": "parent", "tail": "bob"}\n'
        '{"kind": "triple", "head": "bob", "relation": "parent", "tail": "Ann Lee"}\n'
        '{"kind": "note", "text": "A grandparent is a parent of a parent."}\n'
        '{"kind": "triple", "head": "bob"}\n'
    )
    out = nesy("kb", "import", "--kb", kb, str(data), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["inserted"], report["rejected_count"]) == (3, 1)
    assert report["rejected"][0]["line"] == 4

    out = nesy("kb", "search", "--kb", kb, "--mode", "bm25", "grandparent", "--json")
    hits = json.loads(out.stdout)
    assert hits[0]["item"]["kind"] == "note" and hits[0]["score"] > 0

    out = nesy("kb", "show", "--kb", kb, hits[0]["item"]["id"])
    assert json.loads(out.stdout)["text"].startswith("A grandparent")

    out = nesy("kb", "export", "--kb", kb, "--format", "prolog", "--relation", "parent")
    assert set(out.stdout.strip().splitlines()) == {"parent(tom, bob).", "parent(bob, 'Ann Lee')."}

    out = nesy("kb", "stats", "--kb", kb, "--json")
    stats = json.loads(out.stdout)
    assert stats["items"] == 3 and stats["by_kind"] == {"note": 1, "triple": 2}


def test_kb_errors_are_one_line(tmp_path):
    out = nesy("kb", "search", "--kb", str(tmp_path / "none.duckdb"), "x")
    assert out.returncode == 1
    assert out.stderr.strip().startswith("nesy kb: error: no KB at")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "\xff"}\n')
    out = nesy("kb", "import", "--kb", str(tmp_path / "k.duckdb"), str(bad))
    assert out.returncode == 1 and "not valid UTF-8 at line 1, column 11" in out.stderr
    out = nesy("kb", "search", "--kb", str(tmp_path / "k.duckdb"), "--mode", "bm25")
    assert out.returncode == 2 and "needs a query" in out.stderr


def test_busy_kb_is_reported_by_the_cli(tmp_path):
    kb = tmp_path / "k.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from kb import KnowledgeBase; import time; "
            f"k = KnowledgeBase({str(kb)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        out = nesy("kb", "stats", "--kb", str(kb))
        assert out.returncode == 1
        assert f"KB is busy (being written by PID {holder.pid})" in out.stderr
    finally:
        holder.kill()
        holder.wait()
