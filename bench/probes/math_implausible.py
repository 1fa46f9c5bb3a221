"""Probe: can sampling rescue the math student's answers that are surely wrong?

    python bench/probes/math_implausible.py [--samples 8] [--temperature 0.7] [--run 5d4f]

GSM8K's answers are whole, non-negative numbers. On the first ``--limit`` test items
(``bench/data/gsm8k/test.jsonl``, EVAL ONLY: measured, never trained on), take the items
where a recorded run of the default (``--run``, in ``docs/headline``) answered a negative
or fractional number, ask the default student (``ct2:default``, ``pad`` mode) for
``--samples`` programs at ``--temperature``, solve each, and vote among the whole,
non-negative answers. Prints one line per item and a final JSON line: how many of those
items the vote gets right. A resample-when-implausible step in the graph is worth building
only if this number is well above zero.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def plausible(value: Any) -> bool:
    """A whole, non-negative number (every GSM8K answer is one): the graph's own check
    (``verify.whole``) on the normalised value."""
    from agent.normalize import normalize
    from agent.verify import whole

    return whole(normalize(value, "number"))


def recorded(run: str, results: Path) -> dict[str, Any]:
    import duckdb

    rows = duckdb.connect().execute(
        f"select item_id, prediction from '{results}/records.parquet' "
        "where task = 'gsm8k' and starts_with(run_id, ?)",
        [run],
    )
    return {i.split("/")[-1]: json.loads(p) if p else None for i, p in rows.fetchall()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--run", default="5d4f", help="a run id (prefix) in --results")
    ap.add_argument("--results", type=Path, default=ROOT / "docs" / "headline")
    args = ap.parse_args(argv)

    from nesy import Agent

    rows = [json.loads(line) for line in (ROOT / "bench/data/gsm8k/test.jsonl").open()]
    before = recorded(args.run, args.results)
    todo = [
        r
        for r in rows[: args.limit]
        if before.get(r["id"]) is not None and not plausible(before[r["id"]])
    ]
    agent = Agent.load(
        "ct2:default",
        mode="pad",
        vote_k=args.samples,
        vote_temperature=args.temperature,
        max_repairs=0,
        syntax_retries=1,
        max_new_tokens=384,
    )
    right = 0
    for r, a in zip(todo, agent.ask_many([r["question"] for r in todo]), strict=True):
        answers = [
            at.result.answer
            for at in a.trace.attempts
            if at.node == "solve" and at.result is not None and at.result.status == "ok"
        ]
        whole = [round(float(v)) for v in answers if plausible(v)]
        best = Counter(whole).most_common(1)[0][0] if whole else None
        ok = best is not None and best == round(float(r["answer"]))
        right += ok
        mark = "  RIGHT" if ok else ""
        print(f"{r['id']}: gold {r['answer']}, was {before[r['id']]}, vote {best} "
              f"({len(whole)} of {len(answers)} answers whole){mark}")  # fmt: skip
    out = {
        "items": args.limit,
        "implausible": len(todo),
        "samples": args.samples,
        "temperature": args.temperature,
        "right_after_vote": right,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
