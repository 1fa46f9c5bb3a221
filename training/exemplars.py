"""The shipped KB's exemplars: GSM8K *train* solutions turned into verified PoT programs.

An offline data builder (it runs solvers), so it lives in training; ``kb.shipped`` only
loads what it wrote. Each human solution's calculator annotations (``<<48/2=24>>``) become a
program, the one verifier (``agent.verify``) executes it, and only programs whose answer
matches the gold answer are kept. GSM8K test is never read.

    python -m training.exemplars --data ../shared/data     # rebuild kb/data/*
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent import verify
from kb.models import KnowledgeItem, Provenance
from kb.shipped import DATA, EMBEDDINGS, EXEMPLARS

SOURCE = "gsm8k/train.jsonl"
CALC = re.compile(r"<<([^=<>]+)=([^<>]*)>>")


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


def keep(program: str, gold: object) -> bool:
    """Whether a program joins the shipped exemplars: the verifier's verdict against gold."""
    return bool(verify.run("pad", [program], gold=gold, timeout_s=2).verified)


def build(data: Path, limit: int = 1000) -> int:
    """Rebuild the shipped JSONL + embeddings from ``data/gsm8k/train.jsonl``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kb.embed import Embedder

    items: list[KnowledgeItem] = []
    with open(data / SOURCE) as f:
        for line in f:
            row = json.loads(line)
            program = solution_to_program(row["solution"])
            if program is None:
                continue
            if not keep(program, row["answer"]):
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


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="Rebuild the KB files shipped with nesy.")
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--limit", type=int, default=1000)
    args = p.parse_args()
    print(f"wrote {build(args.data, args.limit)} verified exemplars to {EXEMPLARS}")


if __name__ == "__main__":
    main()
