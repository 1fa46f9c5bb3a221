"""What a person waits for on ``nesy ask``: seconds per question, one at a time, for a skill
of the packaged student, against the untuned base on the same questions in the same run.

    python bench/perf/skills.py --task stepgame --data ../shared/data --per-level 10

For each system (``ct2:default``: the base plus the shipped adapters, merged, on
CTranslate2; the baseline ``ct2:<the untuned base>``): ``Agent.ask`` on the first
``--per-level`` items of each difficulty, serially, no KB, the given agent settings.
Reports seconds per question (p50, p95), the share answered correctly and grounded,
completion tokens per question and decode tokens per second (completion tokens over the
time of the whole ask: a lower bound on the model's own decode speed).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.api import Agent  # noqa: E402
from bench.runner import RunSpec, load_items  # noqa: E402
from bench.systems import parse_agent_args  # noqa: E402
from bench.tasks import get_task  # noqa: E402


def measure(spec: str, items: list[Any], task: Any, agent_args: dict[str, Any]) -> dict[str, Any]:
    agent = Agent.load(spec, kb=None, **agent_args)
    agent.ask(items[0].question, task=task.domain)  # warm: load, merge, export
    seconds, right, grounded, tokens = [], 0, 0, 0
    for it in items:
        t = time.perf_counter()
        answer = agent.ask(it.question, task=task.domain)
        seconds.append(time.perf_counter() - t)
        right += task.correct(answer.answer, it.gold)
        grounded += bool(answer.grounded)
        tokens += answer.usage.completion_tokens
    n = len(items)
    return {
        "system": spec,
        "items": n,
        "seconds_p50": round(statistics.median(seconds), 3),
        "seconds_p95": round(sorted(seconds)[min(n - 1, round(0.95 * (n - 1)))], 3),
        "accuracy": round(right / n, 4),
        "grounded": round(grounded / n, 4),
        "completion_tokens_per_question": round(tokens / n, 1),
        "decode_tokens_per_s": round(tokens / sum(seconds), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="stepgame")
    parser.add_argument("--data", default=None, help="data root (default: bundled)")
    parser.add_argument("--per-level", type=int, default=10, help="items per difficulty")
    parser.add_argument("--baseline", default="", help="default: ct2:<the untuned base>")
    parser.add_argument("--agent-args", default="max_repairs=1,syntax_retries=1,max_new_tokens=256")
    args = parser.parse_args()
    from agent.students.packaged import default_model_dir

    task = get_task(args.task)
    spec = RunSpec(tasks=[args.task], system="none", data=args.data,
                   limit_per_difficulty=args.per_level)  # fmt: skip
    _, items, files = load_items(spec)
    agent_args = parse_agent_args(args.agent_args)
    baseline = args.baseline or f"ct2:{default_model_dir()}"
    out: dict[str, Any] = {"bench": "skills", "task": args.task, "agent_args": agent_args}
    out["data_files"] = [f["path"] for f in files]
    for key, system in (("trained", "ct2:default"), ("baseline", baseline)):
        result = measure(system, items[args.task], task, agent_args)
        print(
            f"{system}: {result['seconds_p50']} s p50 / {result['seconds_p95']} s p95 per "
            f"question, accuracy {result['accuracy']:.1%}, grounded {result['grounded']:.1%}, "
            f"{result['completion_tokens_per_question']} tokens/question",
            file=sys.stderr,
        )
        out[key] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()
