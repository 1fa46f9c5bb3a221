"""``nesy distill``: verify teacher traces, train a student on them, evaluate it, or all
of it end to end.

    nesy distill verify --teacher silver:gsm8k --data ../shared/data --limit 200
    nesy distill run --task gsm8k --teacher silver:gsm8k --student default --out runs/gsm8k
    nesy distill train --config runs/gsm8k/train_config.json
    nesy distill eval --model runs/gsm8k/model --traces runs/gsm8k/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agent.students.base import StudentError

# what a command reports as one clear line (exit 2): bad flags or files, an adapter refused
FAILURES = (ValueError, OSError, StudentError)


def _fail(command: str, exc: BaseException) -> int:
    print(f"nesy distill {command}: error: {exc}", file=sys.stderr)
    return 2


def cmd_verify(args: argparse.Namespace) -> int:
    from training.data import write_traces
    from training.verify_traces import TeacherError, candidates, check, summary

    try:
        checked = check(candidates(args.teacher, args.data, args.limit, _live(args)))
        traces = [c.trace() for c in checked] if args.out or args.to_kb else []
        if args.out:
            write_traces(args.out, traces)
        if args.to_kb:
            from training.data import to_kb

            n = to_kb(traces, args.to_kb)
            print(f"{n} verified exemplars added to {args.to_kb}", file=sys.stderr)
    except (TeacherError, OSError, ValueError) as exc:
        return _fail("verify", exc)
    rows = summary(checked)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'source':<58} {'task':<12} {'kept':>6} {'rejected':>8}  why")
    for r in rows:
        why = ", ".join(f"{k} {v}" for k, v in r["reasons"].items()) or "-"
        print(f"{r['source']:<58} {r['task']:<12} {r['kept']:>6} {r['rejected']:>8}  {why}")
        if "kept_by_difficulty" in r:
            levels = ", ".join(f"{k}: {v}" for k, v in r["kept_by_difficulty"].items())
            print(f"  kept by difficulty: {levels}")
        for note, n in list(r.get("notes", {}).items())[:5]:
            print(f"  {n:>5}x {note}")
    return 0


def _live(args: argparse.Namespace) -> Any:
    from training.teachers import LiveSettings

    return LiveSettings(
        samples=args.samples, temperature=args.temperature, concurrency=args.concurrency,
        cache=str(args.cache or ""),
    )  # fmt: skip


def _add_live_arguments(q: Any, positive: Any) -> None:
    g = q.add_argument_group("live teachers (openai:MODEL@URL)")
    g.add_argument("--samples", type=positive(int), default=1, help="programs per question")
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature")
    g.add_argument(
        "--concurrency", type=positive(int), default=8, help="requests in flight at once"
    )
    g.add_argument(
        "--cache", type=Path,
        help="response cache (JSONL; default $NESY_HOME/cache/teacher_responses.jsonl)",
    )  # fmt: skip


RUN_OWNS = ("train", "dev", "out", "base", "eval_items")  # set by the run, not by flags


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    from training.sft import settings

    values = settings(args, args.train_config)
    return {k: v for k, v in values.items() if k not in RUN_OWNS}


def cmd_run(args: argparse.Namespace) -> int:
    from training.pipeline import RunConfig, run

    cfg = RunConfig(
        task=args.task, out=str(args.out), teacher=args.teacher or "", data=str(args.data),
        student=args.student, limit=args.limit or 0, dev_fraction=args.dev_fraction,
        max_difficulty=args.max_difficulty or 0, eval_items=args.eval_items, until=args.until,
        samples=args.samples, temperature=args.temperature, concurrency=args.concurrency,
        cache=str(args.cache or ""),
    )  # fmt: skip
    try:
        result = run(cfg, _train_overrides(args))
    except FAILURES as exc:
        return _fail("run", exc)
    print(json.dumps(result))
    return 0


def cmd_improve(args: argparse.Namespace) -> int:
    from training.improve import ImproveConfig, improve

    cfg = ImproveConfig(
        seed_run=str(args.seed_run), out=str(args.out), data=str(args.data), rounds=args.rounds,
        questions=args.questions, samples=args.samples, temperature=args.temperature,
        student=args.student or "", sampler=args.sampler or "", base=args.base, seed=args.seed,
        eval_items=args.eval_items, sample_tokens=args.sample_tokens, until=args.until or "",
    )  # fmt: skip
    try:
        log = improve(cfg, _train_overrides(args))
    except FAILURES as exc:
        return _fail("improve", exc)
    for line in log:
        print(json.dumps(line))
    return 0


def cmd_dpo(args: argparse.Namespace) -> int:
    from training.dpo import DPOSettings, train_dpo

    cfg = DPOSettings(
        model=str(args.model), traces=[str(t) for t in args.traces], out=str(args.out),
        pairs_per_question=args.pairs_per_question, beta=args.beta, lr=args.lr,
        max_steps=args.max_steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
        lora_r=args.lora_r, max_length=args.max_length, seed=args.seed,
        reference=[str(t) for t in args.reference], sft_weight=args.sft_weight,
        init_adapter=str(args.init_adapter or ""),
    )  # fmt: skip
    try:
        summary = train_dpo(cfg)
    except FAILURES as exc:
        return _fail("dpo", exc)
    print(json.dumps(summary))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from training.sft import config_from_args, train

    try:
        cfg = config_from_args(args)
        summary = train(cfg, command=" ".join(["nesy", *sys.argv[1:]]))
    except (ValueError, OSError, TypeError) as exc:
        return _fail("train", exc)
    print(json.dumps(summary))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from training.pipeline import evaluate

    try:
        result = evaluate(
            str(args.model), args.traces, args.limit, adapter=args.adapter,
            max_new_tokens=args.max_new_tokens,
        )  # fmt: skip
    except FAILURES as exc:
        return _fail("eval", exc)
    print(json.dumps(result))
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from training.ship import ShipError, ship

    try:
        target = ship(args.adapter, args.mode, args.to)
    except (ShipError, OSError) as exc:
        return _fail("ship", exc)
    print(target)
    return 0


def add_parser(sub: Any, positive: Any) -> None:
    from training.pipeline import EVAL_MAX_NEW_TOKENS
    from training.sft import add_arguments

    p = sub.add_parser("distill", help="distillation: verify traces, train, evaluate")
    dsub = p.add_subparsers(dest="distill_command", required=True, metavar="COMMAND")

    q = dsub.add_parser(
        "verify", help="convert a teacher's outputs, verify them, count kept and rejected"
    )
    q.add_argument(
        "--teacher", required=True, help="silver:gsm8k, replay:FILE, openai:MODEL@URL, ..."
    )
    q.add_argument("--data", type=Path, help="the shared data folder (for silver:gsm8k)")
    q.add_argument("--limit", type=positive(int), help="the first N records")
    q.add_argument("--out", type=Path, help="write every trace (kept or rejected) as JSONL")
    q.add_argument("--to-kb", type=Path, help="add the kept traces to this KB as exemplars")
    q.add_argument("--json", action="store_true")
    _add_live_arguments(q, positive)
    q.set_defaults(func=cmd_verify)

    q = dsub.add_parser("run", help="convert, verify, select, train and evaluate (resumes)")
    q.add_argument(
        "--task",
        required=True,
        help="gsm8k, stepgame, clutrr, proofwriter, prontoqa or aqua; comma-separated tasks "
        "train one student on all of them (proofwriter,prontoqa)",
    )
    q.add_argument("--teacher", help="silver:gsm8k or replay:FILE (default: the task's)")
    q.add_argument("--student", default="default", help="base model: default or a directory")
    q.add_argument("--out", type=Path, required=True, help="run directory")
    q.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder")
    q.add_argument("--limit", type=positive(int), help="the first N teacher records")
    q.add_argument(
        "--dev-fraction", type=float, default=0.0,
        help="share of groups in dev (default: 0.3 for proofwriter/prontoqa, else 0.05)",
    )  # fmt: skip
    q.add_argument(
        "--max-difficulty", type=positive(int),
        help="train on traces up to this difficulty (StepGame hops, CLUTRR chain length)",
    )  # fmt: skip
    q.add_argument("--eval-items", type=positive(int), default=100, help="dev items to score")
    q.add_argument(
        "--until", choices=("select", "train", "evaluate"), default="evaluate",
        help="last stage: select prepares the data and train_config.json (train on another "
        "machine with `nesy distill train --config`), train skips the dev eval",
    )  # fmt: skip
    q.add_argument("--train-config", help="training settings (a train_config.json)")
    _add_live_arguments(q, positive)
    add_arguments(q, skip=RUN_OWNS)
    q.set_defaults(func=cmd_run)

    q = dsub.add_parser(
        "improve", help="self-training: sample, verify, retrain on the verified union (resumes)"
    )
    q.add_argument("--from", dest="seed_run", type=Path, required=True,
                   help="a distill run directory (its train/dev splits and model/)")  # fmt: skip
    q.add_argument("--out", type=Path, required=True, help="output directory")
    q.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder")
    q.add_argument("--rounds", type=positive(int), default=1)
    q.add_argument("--questions", type=positive(int), default=500, help="questions a round")
    q.add_argument("--samples", type=positive(int), default=4, help="programs per question")
    q.add_argument("--temperature", type=float, default=0.7)
    q.add_argument("--student", help="round 1's student (default: RUN/model)")
    q.add_argument("--sampler", help="sample with this model spec (default: ct2:STUDENT)")
    q.add_argument("--base", default="default", help="each round retrains from this base")
    q.add_argument("--seed", type=int, default=0, help="question subsample seed")
    q.add_argument("--eval-items", type=positive(int), default=100, help="dev items a round")
    q.add_argument("--sample-tokens", type=positive(int), default=512,
                   help="new tokens a sampled program")  # fmt: skip
    q.add_argument("--until", choices=["sample"],
                   help="stop after round 1's verified samples (for nesy distill dpo)")  # fmt: skip
    q.add_argument("--train-config", help="training settings (a train_config.json)")
    add_arguments(q, skip=(*RUN_OWNS, "seed"))
    q.set_defaults(func=cmd_improve)

    q = dsub.add_parser("dpo", help="preference training on right/wrong program pairs (TRL)")
    q.add_argument("--model", required=True,
                   help="the student (a model directory); with --init-adapter, its base "
                   "('default': the packaged one)")  # fmt: skip
    q.add_argument("--traces", type=Path, nargs="+", required=True,
                   help="sampled traces (e.g. RUN/round-1/traces.jsonl)")  # fmt: skip
    q.add_argument("--out", type=Path, required=True, help="output: adapter/ and model/")
    q.add_argument("--reference", type=Path, nargs="+", default=[],
                   help="verified traces (e.g. RUN/train.jsonl): the chosen program where "
                   "none of a question's samples is right")  # fmt: skip
    q.add_argument("--init-adapter", type=Path,
                   help="train this adapter of --model (its base) as the policy: a drop-in "
                   "replacement of the same rank (e.g. agent/skills/pad)")  # fmt: skip
    q.add_argument("--sft-weight", type=float, default=0.0,
                   help="add an SFT loss on the chosen program with this weight (RPO)")  # fmt: skip
    q.add_argument("--pairs-per-question", type=positive(int), default=4)
    q.add_argument("--beta", type=float, default=0.1)
    q.add_argument("--lr", type=float, default=5e-6)
    q.add_argument("--max-steps", type=positive(int), default=100)
    q.add_argument("--batch-size", type=positive(int), default=4)
    q.add_argument("--grad-accum", type=positive(int), default=4)
    q.add_argument("--lora-r", type=positive(int), default=16)
    q.add_argument("--max-length", type=positive(int), default=1024)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=cmd_dpo)

    q = dsub.add_parser("train", help="fine-tune on a traces file (resumes from checkpoints)")
    q.add_argument("--config", help="a train_config.json (flags override it)")
    add_arguments(q)
    q.set_defaults(func=cmd_train)

    q = dsub.add_parser("ship", help="make a trained LoRA adapter the packaged mode's skill")
    q.add_argument("--adapter", type=Path, required=True, help="RUN/adapter (with its card)")
    q.add_argument("--mode", required=True, help="the agent mode it serves (spatial, ...)")
    q.add_argument("--to", type=Path, help="skills folder (default: the package's agent/skills)")
    q.set_defaults(func=cmd_ship)

    q = dsub.add_parser("eval", help="a student's programs on a traces file, verified")
    q.add_argument("--model", required=True, help="a model directory or a spec (ct2:DIR)")
    q.add_argument("--adapter", help="a LoRA adapter directory")
    q.add_argument("--traces", type=Path, required=True, help="e.g. RUN/dev.jsonl")
    q.add_argument("--limit", type=positive(int), default=100)
    q.add_argument(
        "--max-new-tokens", type=positive(int), default=EVAL_MAX_NEW_TOKENS,
        help="tokens per generated program",
    )  # fmt: skip
    q.set_defaults(func=cmd_eval)
