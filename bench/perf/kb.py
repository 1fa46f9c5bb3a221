"""Knowledge-base speed: import throughput and retrieval latency, with baselines in the same run.

    python bench/perf/kb.py [--rows 1000000] [--small 100000] [--queries 50] [--breakdown]

Measures, on generated ATOMIC-style triples (head, relation, tail; 1% duplicates):
- ``import_rows_per_s``: 1M triples through ``KnowledgeBase.import_file`` (read, validate,
  id, dedupe in file and against the KB, insert, in one transaction), against DuckDB's
  ``read_csv`` of the same file into a bare table (the baseline), and the same plus the
  normalised sha1 id column (the floor for any content-addressed import); ``--breakdown``
  times the pieces (reading, ids, compression, constant columns) on their own. The ART
  index build and the FTS build are reported separately, as are MiniLM embeddings;
- latency p50/p99: exact filters on 1M items; BM25 on 100k and on 1M; vector (HNSW) and
  hybrid (BM25 + vector, RRF) on 100k. The 100k vectors are random unit vectors, inserted
  directly (embedding 100k texts on this CPU takes longer than the rest of the benchmark;
  HNSW latency does not depend on where vectors come from); query vectors for ``vector``
  and ``hybrid`` are real MiniLM encodings, and their time is included;
- ``embed_per_s``: MiniLM sentence embeddings on this CPU (batch 64).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from kb import KnowledgeBase, schema  # noqa: E402
from kb.search import vector_by  # noqa: E402

RELATIONS = [
    "xIntent",
    "xNeed",
    "xWant",
    "xEffect",
    "oReact",
    "HasProperty",
    "AtLocation",
    "CapableOf",
    "UsedFor",
    "isBefore",
]


def generate(path: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Write ``n`` triples (12-word rows, 1% exact duplicates); return some (head, relation)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20_000)]
    probes = []
    with open(path, "w") as f:
        previous = ""
        for i in range(n):
            if previous and rng.random() < 0.01:
                f.write(previous)
                continue
            head = "PersonX " + " ".join(rng.choices(words, k=5))
            rel = rng.choice(RELATIONS)
            tail = "to " + " ".join(rng.choices(words, k=4))
            previous = f"{head}\t{rel}\t{tail}\n"
            f.write(previous)
            if i % (n // 100 or 1) == 0:
                probes.append((head, rel))
    return probes


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 3)


def timed(fn: Any, args_list: list[Any]) -> dict[str, float]:
    fn(*args_list[0])  # warm
    times = []
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": pct(times, 0.5), "p99_ms": pct(times, 0.99)}


def reader(path: Path) -> str:
    return (
        f"read_csv('{path}', delim = '\\t', header = false, quote = '', "
        "columns = {'head': 'VARCHAR', 'relation': 'VARCHAR', 'tail': 'VARCHAR'})"
    )


ITEM_ID = schema.sql_item_id("'triple'", "'general'", ["head", "relation", "tail"])


def copy_seconds(path: Path, select: str = "*", setting: str | None = None) -> float:
    """Seconds to ``read_csv`` the file into a fresh on-disk table as ``SELECT {select}``.

    ``*`` is the baseline (the 3 raw columns); with the normalised sha1 id added it is the
    floor for any content-addressed import, before validation, dedupe and provenance."""
    target = path.with_name("copy.duckdb")
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    if setting:
        con.execute(f"SET {setting}")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT {select} FROM {reader(path)}")
    con.close()
    return time.perf_counter() - t


def query_seconds(sql: str) -> float:
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - t


def breakdown(path: Path) -> dict[str, float]:
    """Where a bulk import's time goes: each piece on its own, in seconds (``--breakdown``)."""
    constants = (
        "*, 'triple' AS kind, '' AS text, '' AS program, 'general' AS domain, "
        "'triples.tsv' AS source, '' AS teacher"
    )
    out = {
        "read_only": query_seconds(f"SELECT count(*) FROM {reader(path)}"),
        "read_ids_and_distinct_in_memory": query_seconds(
            f"SELECT count(DISTINCT {ITEM_ID}) FROM {reader(path)}"
        ),
        "copy_3_columns": copy_seconds(path),
        "copy_3_columns_uncompressed": copy_seconds(
            path, setting="force_compression = 'uncompressed'"
        ),
        "copy_3_columns_plus_6_constants": copy_seconds(path, constants),
        "copy_3_columns_plus_ids": copy_seconds(path, f"{ITEM_ID} AS id, *"),
    }
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--breakdown", action="store_true", help="only time the pieces of an import, then stop"
    )
    args = parser.parse_args()
    print(
        f"# kb perf | {platform.node()} | {os.cpu_count()} cores | duckdb {duckdb.__version__}"
        f" | python {platform.python_version()}"
    )
    out: dict[str, Any] = {"bench": "kb", "cores": os.cpu_count(), "rows": args.rows}
    rng = random.Random(1)
    queries = [" ".join(f"w{rng.randrange(20_000)}" for _ in range(3)) for _ in range(args.queries)]

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        big = tmpdir / "triples.tsv"
        probes = generate(big, args.rows)

        # --- import ----------------------------------------------------------------------
        if args.breakdown:
            out["breakdown_s"] = breakdown(big)
            print(f"import pieces, seconds: {out['breakdown_s']}")
            print(json.dumps(out))
            return
        base_s = copy_seconds(big)
        ids_s = copy_seconds(big, f"{ITEM_ID} AS id, *")
        with KnowledgeBase(tmpdir / "big.duckdb") as kb:
            report = kb.import_file(big, fmt="atomic", fts=False)
            out["import_rows_per_s"] = round(report.rows / report.seconds)
            out["import_seconds"] = round(report.seconds, 2)
            out["index_build_s"] = round(report.index_seconds, 2)
            out["inserted"] = report.inserted
            out["duplicates"] = report.duplicates
            out["baseline_read_csv_rows_per_s"] = round(args.rows / base_s)
            out["baseline_read_csv_with_ids_rows_per_s"] = round(args.rows / ids_s)
            print(
                f"import {args.rows} triples: {report.seconds:.2f} s "
                f"({out['import_rows_per_s']} rows/s; {report.duplicates} duplicates skipped)"
                f" + ART indexes {report.index_seconds:.2f} s | baseline read_csv into a "
                f"table: {base_s:.2f} s ({out['baseline_read_csv_rows_per_s']} rows/s); "
                f"with the sha1 ids: {ids_s:.2f} s "
                f"({out['baseline_read_csv_with_ids_rows_per_s']} rows/s)"
            )
            out["fts_build_s_1m"] = round(kb.rebuild_fts(), 2)
            print(f"FTS build on {kb.count()} items: {out['fts_build_s_1m']} s")
            kb.con.execute("CHECKPOINT")

            # --- exact on 1M ----------------------------------------------------------------
            out["exact_1m"] = timed(
                lambda h, r: kb.search(None, mode="exact", head=h, relation=r, k=10),
                [p for p in probes][: args.queries],
            )
            out["exact_relation_only_1m"] = timed(
                lambda r: kb.search(None, mode="exact", relation=r, k=10), [(r,) for r in RELATIONS]
            )
            out["bm25_1m"] = timed(
                lambda q: kb.search(q, mode="bm25", k=10), [(q,) for q in queries]
            )
            print(
                f"exact on 1M: {out['exact_1m']} | relation only: "
                f"{out['exact_relation_only_1m']} | BM25 on 1M: {out['bm25_1m']}"
            )

        # --- 100k: BM25, vector, hybrid ---------------------------------------------------------
        small = tmpdir / "small.tsv"
        generate(small, args.small, seed=2)
        with KnowledgeBase(tmpdir / "small.duckdb") as kb:
            kb.import_file(small, fmt="atomic")
            out["bm25_100k"] = timed(
                lambda q: kb.search(q, mode="bm25", k=10), [(q,) for q in queries]
            )
            dim = schema.EMBED_DIM
            kb.con.execute(
                "INSERT INTO embeddings SELECT id, list_transform(v, x -> x / n)::FLOAT[384] FROM ("
                f"  SELECT id, v, sqrt(list_sum(list_transform(v, x -> x * x))) AS n FROM ("
                f"    SELECT id, [random() - 0.5 FOR i IN range({dim})] AS v FROM items))"
            )
            t = time.perf_counter()
            kb.con.execute(schema.HNSW)
            kb.con.execute("CHECKPOINT")
            out["hnsw_build_s_100k"] = round(time.perf_counter() - t, 1)
            print(
                f"BM25 on 100k: {out['bm25_100k']} | HNSW build on 100k: "
                f"{out['hnsw_build_s_100k']} s"
            )
            kb.embedder.encode(["warm up"])
            vecs = [kb.embedder.encode([q])[0].tolist() for q in queries]
            out["vector_index_only_100k"] = timed(
                lambda v: vector_by(kb, v, 10, {}), [(v,) for v in vecs]
            )
            out["vector_100k"] = timed(
                lambda q: kb.search(q, mode="vector", k=10), [(q,) for q in queries]
            )
            out["hybrid_100k"] = timed(
                lambda q: kb.search(q, mode="hybrid", k=10), [(q,) for q in queries]
            )
            t = time.perf_counter()
            brute = kb.con.execute(
                f"SELECT id FROM (SELECT id, array_cosine_distance(vec, ?::FLOAT[{dim}]) + 0 AS d "
                "FROM embeddings) ORDER BY d LIMIT 10",
                [vecs[0]],
            ).fetchall()
            out["vector_bruteforce_100k_ms"] = round((time.perf_counter() - t) * 1000, 1)
            del brute
            print(
                f"vector on 100k: HNSW only {out['vector_index_only_100k']}, with query "
                f"encoding {out['vector_100k']} (brute force: "
                f"{out['vector_bruteforce_100k_ms']} ms) | hybrid: {out['hybrid_100k']}"
            )

            texts = [f"PersonX {q} because they wanted to" for q in queries * 11][:512]
            t = time.perf_counter()
            kb.embedder.encode(texts)
            out["embed_per_s"] = round(len(texts) / (time.perf_counter() - t), 1)
            print(f"MiniLM embeddings: {out['embed_per_s']} texts/s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
