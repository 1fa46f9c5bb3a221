"""The KB that ships with nesy, built into ``$NESY_HOME/kb/default.duckdb`` on first use.

Site-packages may be read-only, so the package carries only data (MIT-licensed):
``kb/data/gsm8k_train_exemplars.jsonl`` (worked exemplars) and
``kb/data/gsm8k_train_exemplars.embeddings.parquet`` (their MiniLM vectors, so the first
open costs an import, not an hour of embedding).

The exemplars are distilled from GSM8K *train* (openai/grade-school-math, MIT): each
human solution's calculator annotations (``<<48/2=24>>``) become a PoT program, which the
python solver executes; only programs whose answer equals the gold answer are kept, so
every shipped exemplar is ``verified``. GSM8K test is never read.

    python -m kb.shipped --data ../shared/data     # rebuild the shipped files
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from kb.models import KnowledgeItem, Provenance

DATA = Path(__file__).with_name("data")
EXEMPLARS = DATA / "gsm8k_train_exemplars.jsonl"
EMBEDDINGS = DATA / "gsm8k_train_exemplars.embeddings.parquet"
SOURCE = "gsm8k/train.jsonl"
CALC = re.compile(r"<<([^=<>]+)=([^<>]*)>>")


def nesy_home() -> Path:
    return Path(os.environ.get("NESY_HOME", "~/.cache/nesy")).expanduser()


def default_kb_path() -> Path:
    return nesy_home() / "kb" / "default.duckdb"


def solution_to_program(solution: str) -> str | None:
    """Turn a GSM8K solution with calculator annotations into a PoT program."""
    lines, step = [], 0
    for sentence in solution.splitlines():
        calls = CALC.findall(sentence)
        if not calls:
            continue
        comment = CALC.sub("", sentence).strip()
        lines.append(f"# {comment}")
        for expr, _result in calls:
            step += 1
            expr = expr.replace("x", "*").replace("^", "**").replace("%", "/100")
            lines.append(f"step{step} = {expr.strip()}")
    if not step:
        return None
    lines.append(f"ans = step{step}")
    return "\n".join(lines) + "\n"


def build(data: Path, limit: int = 1000) -> int:
    """Rebuild the shipped JSONL + embeddings from ``data/gsm8k/train.jsonl``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kb.embed import Embedder
    from solvers import SolverRequest, solve

    items: list[KnowledgeItem] = []
    with open(data / SOURCE) as f:
        for line in f:
            row = json.loads(line)
            program = solution_to_program(row["solution"])
            if program is None:
                continue
            r = solve(SolverRequest(solver="python", program=program, timeout_s=2))
            try:
                ok = r.ok and math.isclose(
                    float(_num(r.answer)), float(row["answer"]), rel_tol=1e-4
                )
            except (TypeError, ValueError):
                ok = False
            if not ok:
                continue
            items.append(
                KnowledgeItem(
                    kind="exemplar",
                    text=row["question"],
                    program=program,
                    syntax="python",
                    domain="math",
                    tags=["gsm8k-train", "pot"],
                    verified=True,
                    provenance=Provenance(source=f"{SOURCE}#{row['id']}", teacher="human"),
                )
            )
            if len(items) >= limit:
                break
    DATA.mkdir(exist_ok=True)
    with open(EXEMPLARS, "w") as f:
        for it in items:
            f.write(it.model_dump_json(exclude={"provenance": {"created_at"}}) + "\n")
    vecs = Embedder().encode([it.content for it in items])
    table = pa.table(
        {
            "id": [it.id for it in items],
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), vecs.shape[1]),
        }
    )
    pq.write_table(table, EMBEDDINGS, compression="zstd")
    return len(items)


def _num(value: Any) -> float:
    from fractions import Fraction

    return float(Fraction(value)) if isinstance(value, str) else float(value)


def open_default(read_only: bool = True) -> Any:
    """The shipped KB, built under ``$NESY_HOME`` the first time it is needed."""
    from kb.store import KnowledgeBase

    path = default_kb_path()
    if not path.exists():
        install(path)
    return KnowledgeBase(path, read_only=read_only)


def install(path: Path) -> Path:
    """Build the default KB at ``path`` from the shipped files (atomically: tmp + rename)."""
    from kb.store import KnowledgeBase

    tmp = path.with_name(path.name + ".building")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    with KnowledgeBase(tmp) as kb:
        kb.import_file(EXEMPLARS, fmt="jsonl")
        if EMBEDDINGS.exists():
            kb.load_embeddings(EMBEDDINGS)
    os.replace(tmp, path)
    return path


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="Rebuild the KB files shipped with nesy.")
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--limit", type=int, default=1000)
    args = p.parse_args()
    print(f"wrote {build(args.data, args.limit)} verified exemplars to {EXEMPLARS}")


if __name__ == "__main__":
    main()
