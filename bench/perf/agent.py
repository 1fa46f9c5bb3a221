"""Agent speed: framework overhead, batching, and decode speed against the bandwidth bound.

    python bench/perf/agent.py [--n 64] [--data ../shared/data] [--skip-batched]

- ``graph_overhead_ms_per_step``: LangGraph + records + checkpointing per graph step, with
  the LM and solver time subtracted (an instant fixed-reply LM, the real python solver,
  SQLite checkpointing on). Baseline in the same run: the same without checkpointing.
- ``batched_speedup``: ``ask_many`` against a sequential ``ask`` loop on the same N GSM8K
  *train* questions, the packaged student, pad mode, no repairs, prompts under 300 tokens;
  again with 2 KB exemplars in the prompt, where prefill dominates.
- decode tokens/s of the packaged student with HF ``generate`` (float32) and CTranslate2
  (``--ct2-compute``: float32, the default, or int8) at batch 1 and 16, next to each one's
  memory-bandwidth bound at batch 1 (weight bytes / measured copy bandwidth);
- ``ct2_agreement``: the agent's final answers with the CTranslate2 student against the HF
  student on the same N GSM8K train questions (pad mode, greedy, no repairs): the share of
  questions where both give the same answer (both "no answer" counts as agreeing, and is
  reported separately), and the share of identical programs. Measured without exemplars
  and, with ``--kb-only``, in the agent's default setting (2 exemplars from the shipped KB;
  the HF answers are those of the batched run).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import solvers  # noqa: E402
from agent.api import Agent  # noqa: E402
from agent.graph import AgentConfig  # noqa: E402
from agent.students import Generation, load_student  # noqa: E402


class InstantLM:
    """Replies at once with a fixed program: isolates the framework's own cost."""

    name = "instant"

    def __init__(self) -> None:
        self.seconds = 0.0

    def generate(self, prompts: list[Any], **_: Any) -> list[Generation]:
        t = time.perf_counter()
        out = [Generation("ans = 6 * 7\n", 10, 5, "stop") for _ in prompts]
        self.seconds += time.perf_counter() - t
        return out


def overhead(n: int, checkpoint: bool) -> float:
    lm = InstantLM()
    solve_seconds = 0.0
    real_solve = solvers.solve

    def timed_solve(req: Any) -> Any:
        nonlocal solve_seconds
        t = time.perf_counter()
        r = real_solve(req)
        solve_seconds += time.perf_counter() - t
        return r

    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(
            lm,
            config=AgentConfig(mode="pad", exemplars=0),
            checkpoint=Path(tmp) / "ckpt.sqlite" if checkpoint else None,
            solver=timed_solve,
        )
        agent.ask("warm up")
        lm.seconds = solve_seconds = 0.0
        steps = 0
        t = time.perf_counter()
        for i in range(n):
            steps += len(agent.ask(f"What is 6 times 7? ({i})").steps)
        total = time.perf_counter() - t
    return (total - lm.seconds - solve_seconds) / steps * 1000


def questions(data: Path, n: int) -> list[str]:
    rows = [json.loads(line) for line in open(data / "gsm8k" / "train.jsonl")][:n]
    return [r["question"] for r in rows]


def batched(qs: list[str], kb: Any) -> tuple[dict[str, float], list[Any]]:
    """The speed-up of ``ask_many`` over an ``ask`` loop, and ``ask_many``'s answers."""
    student = load_student("default")
    agent = Agent(student, kb=kb, config=pad_config(kb))
    agent.ask(qs[0])  # warm
    t = time.perf_counter()
    seq = [agent.ask(q) for q in qs]
    seq_s = time.perf_counter() - t
    t = time.perf_counter()
    many = agent.ask_many(qs, max_concurrency=len(qs))
    many_s = time.perf_counter() - t
    prompt_tokens = max(a.usage.prompt_tokens for a in seq)
    return {
        "sequential_s": round(seq_s, 1),
        "ask_many_s": round(many_s, 1),
        "speedup": round(seq_s / many_s, 2),
        "max_prompt_tokens": prompt_tokens,
        "same_answers": sum(a.answer == b.answer for a, b in zip(seq, many, strict=True)),
        "batch_sizes_max": max(agent.student.batches),
    }, many


def pad_config(kb: Any) -> AgentConfig:
    """Pad mode, greedy, no repairs; 2 KB exemplars (the default) when a KB is given."""
    return AgentConfig(mode="pad", max_repairs=0, max_new_tokens=128, exemplars=2 if kb else 0)


def decode(batch: int, spec: str = "default", tokens: int = 64) -> float:
    student = load_student(spec)
    prompt = [[{"role": "user", "content": "Write a long story about a robot."}]] * batch
    student.generate(prompt[:1], max_new_tokens=4)
    t = time.perf_counter()
    out = student.generate(prompt, max_new_tokens=tokens, temperature=0.0)
    seconds = time.perf_counter() - t
    return sum(g.completion_tokens for g in out) / seconds


def agreement(qs: list[str], kb: Any = None, hf: list[Any] | None = None) -> dict[str, Any]:
    """CT2 against HF answers; ``hf``: HF's ``ask_many`` answers already computed."""
    times = {}
    runs = {}
    for spec in ("default", "ct2:default") if hf is None else ("ct2:default",):
        agent = Agent(load_student(spec), kb=kb, config=pad_config(kb))
        t = time.perf_counter()
        runs[spec] = agent.ask_many(qs, max_concurrency=len(qs))
        times[spec] = round(time.perf_counter() - t, 1)
    hf = runs["default"] if hf is None else hf
    pairs = list(zip(hf, runs["ct2:default"], strict=True))
    return {
        "n": len(qs),
        "exemplars": pad_config(kb).exemplars,
        "same_answer": round(sum(a.answer == b.answer for a, b in pairs) / len(qs), 3),
        "both_answered_and_same": sum(
            a.answer is not None and a.answer == b.answer for a, b in pairs
        ),
        "both_no_answer": sum(a.answer is None and b.answer is None for a, b in pairs),
        "same_program": round(
            sum(a.trace.programs[:1] == b.trace.programs[:1] for a, b in pairs) / len(qs), 3
        ),
        "hf_seconds": times.get("default"),
        "ct2_seconds": times["ct2:default"],
    }


def bandwidth_gb_s() -> float:
    import numpy as np

    a = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, well past the caches
    b = np.empty_like(a)
    best = 0.0
    for _ in range(10):
        t = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t))  # read + write
    return best / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--overhead-n", type=int, default=200)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--skip-batched", action="store_true")
    p.add_argument("--skip-ct2", action="store_true")
    p.add_argument(
        "--kb-only",
        action="store_true",
        help="batched run and CT2 agreement with 2 KB exemplars (the default) only",
    )
    p.add_argument("--agree-n", type=int, default=64, help="questions for the no-KB agreement")
    p.add_argument("--ct2-compute", default="float32", choices=["float32", "int8"])
    args = p.parse_args()
    import torch

    print(
        f"# agent perf | {platform.node()} | {os.cpu_count()} cores | torch {torch.__version__}"
        f" | threads {torch.get_num_threads()}"
    )
    out: dict[str, Any] = {"bench": "agent", "cores": os.cpu_count()}
    out["graph_overhead_ms_per_step"] = round(overhead(args.overhead_n, checkpoint=True), 3)
    out["graph_overhead_ms_per_step_no_checkpoint"] = round(
        overhead(args.overhead_n, checkpoint=False), 3
    )
    print(
        f"graph overhead per step: {out['graph_overhead_ms_per_step']} ms with SQLite "
        f"checkpoints, {out['graph_overhead_ms_per_step_no_checkpoint']} ms without"
    )

    for b in (1, 16):
        out[f"hf_decode_tok_s_batch{b}"] = round(decode(b), 1)
    weights = 134_515_008 * 4  # float32 SmolLM2-135M
    bw = bandwidth_gb_s()
    out["memory_bandwidth_gb_s"] = round(bw, 1)
    out["decode_bound_tok_s_batch1"] = round(bw * 1e9 / weights, 1)
    print(
        f"HF decode: {out['hf_decode_tok_s_batch1']} tok/s at batch 1, "
        f"{out['hf_decode_tok_s_batch16']} tok/s at batch 16 | bandwidth bound at batch 1: "
        f"{out['decode_bound_tok_s_batch1']} tok/s ({bw:.1f} GB/s, {weights / 1e6:.0f} MB)"
    )

    if not args.skip_ct2:
        os.environ["NESY_CT2_COMPUTE"] = args.ct2_compute
        out["ct2_compute"] = args.ct2_compute
        for b in (1, 16):
            out[f"ct2_decode_tok_s_batch{b}"] = round(decode(b, "ct2:default"), 1)
        ct2_bytes = 134_515_008 * (4 if args.ct2_compute == "float32" else 1)
        out["ct2_decode_bound_tok_s_batch1"] = round(bw * 1e9 / ct2_bytes, 1)
        print(
            f"CT2 {args.ct2_compute} decode: {out['ct2_decode_tok_s_batch1']} tok/s at batch 1, "
            f"{out['ct2_decode_tok_s_batch16']} at batch 16 | bound at batch 1: "
            f"{out['ct2_decode_bound_tok_s_batch1']} tok/s"
        )

    qs = questions(args.data, args.n)
    if not args.skip_batched and not args.kb_only:
        out["batched"], _ = batched(qs, None)
        out["batched_speedup"] = out["batched"]["speedup"]
        print(f"ask_many vs ask loop on {args.n} GSM8K train questions: {out['batched']}")
    if not args.skip_ct2 and not args.kb_only:
        out["ct2_agreement"] = agreement(qs[: args.agree_n])
        print(f"CT2 vs HF agent answers, no exemplars: {out['ct2_agreement']}")
    if args.kb_only:
        from kb import shipped

        with shipped.open_default() as kb:
            hf = None
            if not args.skip_batched:
                out["batched_with_kb_exemplars"], hf = batched(qs, kb)
                print(f"... with 2 KB exemplars in each prompt: {out['batched_with_kb_exemplars']}")
            if not args.skip_ct2:
                out["ct2_agreement_kb"] = agreement(qs, kb, hf)
                print(f"CT2 vs HF agent answers, 2 KB exemplars: {out['ct2_agreement_kb']}")
    out["data_files"] = ["gsm8k/train.jsonl"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
