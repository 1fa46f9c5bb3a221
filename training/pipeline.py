"""``nesy distill run``: convert -> verify -> select -> train -> evaluate, each stage's output
on disk in the run directory, so an interrupted run resumes at the first stage whose
output is missing (training itself resumes from its last checkpoint).

    run/traces.jsonl        every candidate, kept or rejected with a reason (provenance on each)
    run/train.jsonl         selected, split by group key (dev.jsonl beside it)
    run/dropped.jsonl       near-duplicates and over-long examples
    run/model/              the student (model_card.json beside the weights)
    run/eval.json           dev accuracy of the student's programs, through the verifier

    nesy distill run --task gsm8k --teacher silver:gsm8k --student default --out run/
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvers.files import atomic_write

# The dev split by task: deductive students train on replays of the very dev files the
# bench scores, so their dev split is the bench's hold-out (proofwriter-heldout, ...) and
# large enough to measure; elsewhere the dev split is a small check.
DEV_FRACTIONS = {"proofwriter": 0.3, "prontoqa": 0.3}
DEV_FRACTION = 0.05

# What each task trains from, when --teacher is not given.
TEACHERS = {
    "gsm8k": "silver:gsm8k",
    "stepgame": "silver:stepgame",
    "proofwriter": "replay:teacher_traces/logiclm_ProofWriter_dev_gpt-4_logic_programs.jsonl",
    "prontoqa": "replay:teacher_traces/logiclm_ProntoQA_dev_gpt-4_logic_programs.jsonl",
    "aqua": "replay:teacher_traces/pal_aqua_codex_outputs.jsonl",
}


@dataclass
class RunConfig:
    """One distillation run, end to end. Saved as ``run_config.json`` in the run directory."""

    task: str = field(
        metadata={"help": "gsm8k, stepgame, clutrr, proofwriter, prontoqa or aqua; several, "
                  "comma-separated, train one student on all (proofwriter,prontoqa)"}
    )  # fmt: skip
    out: str = field(metadata={"help": "run directory (resumes when it exists)"})
    teacher: str = field(default="", metadata={"help": "silver:gsm8k, silver:stepgame, ..."})
    data: str = field(default="../shared/data", metadata={"help": "the shared data folder"})
    student: str = field(default="default", metadata={"help": "base model: default or a dir"})
    limit: int = field(default=0, metadata={"help": "the first N teacher records (0 = all)"})
    dev_fraction: float = field(
        default=0.0, metadata={"help": "share of groups in dev (0: the task's, DEV_FRACTIONS)"}
    )
    max_difficulty: int = field(
        default=0, metadata={"help": "keep traces up to this difficulty (hops, ...; 0 = all)"}
    )
    eval_items: int = field(default=100, metadata={"help": "dev items the final eval runs"})
    until: str = field(
        default="evaluate",
        metadata={"help": "last stage to run: select (data and train_config.json only, to "
                  "train elsewhere), train or evaluate"},
    )  # fmt: skip
    timeout_s: float = field(default=2.0, metadata={"help": "solver limit per trace"})
    samples: int = field(default=1, metadata={"help": "live teacher: programs per question"})
    temperature: float = field(default=0.0, metadata={"help": "live teacher: temperature"})
    concurrency: int = field(default=8, metadata={"help": "live teacher: requests in flight"})
    cache: str = field(default="", metadata={"help": "live teacher: response cache file"})


def tasks_of(cfg: RunConfig) -> list[str]:
    tasks = [t.strip() for t in cfg.task.split(",") if t.strip()]
    if not tasks:
        raise ValueError("no task given")
    if len(tasks) > 1 and cfg.teacher:
        raise ValueError("--teacher names one task's teacher; several tasks use their own")
    return tasks


def teacher_for(cfg: RunConfig, task: str | None = None) -> str:
    task = task or cfg.task
    teacher = cfg.teacher or TEACHERS.get(task, "")
    if not teacher:
        raise ValueError(f"no default teacher for task {task!r}; pass --teacher")
    kind, _, rest = teacher.partition(":")
    if kind == "replay" and not Path(rest).is_absolute() and not Path(rest).exists():
        teacher = f"replay:{Path(cfg.data) / rest}"
    return teacher


def stage_verify(cfg: RunConfig, out: Path) -> Path:
    """Convert and verify every teacher record (each task's teacher) -> ``traces.jsonl``."""
    from tqdm import tqdm

    from training.data import write_traces
    from training.teachers import LiveSettings
    from training.verify_traces import candidates, check, summary

    path = out / "traces.jsonl"
    if path.exists():
        return path
    checked = []
    live = LiveSettings(samples=cfg.samples, temperature=cfg.temperature,
                        concurrency=cfg.concurrency, cache=cfg.cache)  # fmt: skip
    for task in tasks_of(cfg):
        cands = candidates(teacher_for(cfg, task), Path(cfg.data), cfg.limit or None, live)
        bar = tqdm(cands, desc=f"verify {task}", unit="trace", file=sys.stderr, mininterval=2)
        mine = [c for c in check(bar, cfg.timeout_s) if c.candidate.task == task]
        if not mine:
            raise ValueError(f"the teacher has no {task} records")
        checked += mine
    write_traces(path, (c.trace() for c in checked))
    with atomic_write(out / "verify_summary.json") as f:
        json.dump(summary(checked), f, indent=2)
    return path


def within(cfg: RunConfig, difficulty: int | None) -> bool:
    return not cfg.max_difficulty or difficulty is None or difficulty <= cfg.max_difficulty


def stage_select(cfg: RunConfig, out: Path, tokenizer: Any, max_tokens: int) -> tuple[Path, Path]:
    """Dedupe, length-filter and split (each task by its own dev share) -> ``train.jsonl``,
    ``dev.jsonl``, ``dropped.jsonl``."""
    from training.data import read_traces, select, write_traces

    train_p, dev_p = out / "train.jsonl", out / "dev.jsonl"
    if train_p.exists() and dev_p.exists():
        return train_p, dev_p
    traces = read_traces(out / "traces.jsonl")
    train: list[Any] = []
    dev: list[Any] = []
    dropped: list[Any] = []
    for task in tasks_of(cfg):
        fraction = cfg.dev_fraction or DEV_FRACTIONS.get(task, DEV_FRACTION)
        mine = [t for t in traces if t.task == task and within(cfg, t.difficulty)]
        parts = select(mine, tokenizer, max_tokens, fraction)
        for acc, part in zip((train, dev, dropped), parts, strict=True):
            acc += part
    write_traces(out / "dropped.jsonl", dropped)
    write_traces(dev_p, dev)
    write_traces(train_p, train)  # last: its presence marks the stage done
    return train_p, dev_p


# Tokens per generated program in ``evaluate``: a commented GSM8K silver program is 131
# tokens at the median and 321 at p99 (SmolLM2's tokenizer over runs/gsm8k/train.jsonl).
EVAL_MAX_NEW_TOKENS = 384


def evaluate(
    model: str,
    traces_path: str | Path,
    limit: int = 100,
    batch_size: int = 16,
    timeout_s: float = 2.0,
    adapter: str | None = None,
    max_new_tokens: int = EVAL_MAX_NEW_TOKENS,
) -> dict[str, Any]:
    """The student's programs for dev items, greedy, run through the one verifier: accuracy
    (matches gold), the share that ran to an answer, and the failure classes. ``model`` is a
    directory or a student spec (``ct2:DIR`` for CTranslate2's faster CPU decoding)."""
    from collections import Counter

    from tqdm import tqdm

    from agent import render, theory, verify
    from agent.graph import SENTENCE_TOKENS
    from agent.modes import MODE_SPECS
    from agent.students import load_student
    from training.data import messages, read_traces

    traces = [t for t in read_traces(traces_path) if t.kept][:limit]
    if not traces:
        raise ValueError(f"{traces_path}: no kept traces to evaluate on")
    spec = model if ":" in model else f"hf:{model}" + (f"+lora:{adapter}" if adapter else "")
    student = load_student(spec)
    correct = ran = 0
    failures: Counter[str] = Counter()
    bar = tqdm(total=len(traces), desc="eval", unit="item", file=sys.stderr, mininterval=2)
    for start in range(0, len(traces), batch_size):
        chunk = traces[start : start + batch_size]
        # A per-sentence mode's item is one prompt per sentence (agent.theory), assembled.
        theories = [
            theory.split(t.question, form) if form else None
            for t in chunk
            for form in [MODE_SPECS[t.mode].per_sentence]
        ]
        prompts: list[Any] = [
            render.with_prefill(m, MODE_SPECS[t.mode].language)
            for t, th in zip(chunk, theories, strict=True)
            for m in (
                [render.formulate_messages(t.mode, u) for u in th.units] if th else [messages(t)]
            )
        ]
        budget = SENTENCE_TOKENS if all(theories) else max_new_tokens
        outs = iter(student.generate(prompts, max_new_tokens=budget, stop=render.STOP))
        for t, th in zip(chunk, theories, strict=True):
            language = MODE_SPECS[t.mode].language
            texts = [
                render.extract_program(next(outs).text, language).strip()
                for _ in (th.units if th else [t])
            ]
            program = theory.assemble(th, texts) if th else texts[0] + "\n"
            v = verify.run(t.mode, [program], t.gold, timeout_s=timeout_s)
            correct += bool(v.verified)
            ran += v.grounded
            if not v.verified:
                failures[v.failure.value if v.failure else "wrong_answer"] += 1
        bar.update(len(chunk))
    bar.close()
    n = len(traces)
    return {
        "model": model + (f"+lora:{adapter}" if adapter else ""),
        "items": n,
        "eval_file": str(traces_path),
        "accuracy": round(correct / n, 4),
        "correct": correct,
        "ran": round(ran / n, 4),
        "failures": dict(failures.most_common()),
    }


def run(cfg: RunConfig, train_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """All stages, skipping those whose output is on disk."""
    from transformers import AutoTokenizer

    from training.sft import TrainConfig, base_dir, train

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "run_config.json") as f:
        json.dump(cfg.__dict__, f, indent=2)
    tcfg = TrainConfig(
        train=str(out / "train.jsonl"), dev=str(out / "dev.jsonl"), out=str(out), base=cfg.student
    )
    for k, v in (train_overrides or {}).items():
        setattr(tcfg, k, v)
    teachers = ", ".join(teacher_for(cfg, t) for t in tasks_of(cfg))
    print(f"== verify ({teachers})", file=sys.stderr)
    stage_verify(cfg, out)
    print("== select (dedupe, length, split by group)", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(tcfg.tokenizer or base_dir(cfg.student))
    stage_select(cfg, out, tokenizer, tcfg.max_tokens)
    if cfg.until == "select":
        tcfg.save(out / "train_config.json")
        print(
            f"== stopped after select: train with `nesy distill train --config "
            f"{out / 'train_config.json'}` (or python -m training.sft)",
            file=sys.stderr,
        )
        return {"until": "select", "train_config": str(out / "train_config.json")}
    model = out / "adapter" if tcfg.lora_r > 0 and not tcfg.merge else out / "model"
    if not (model / "model_card.json").exists():
        print("== train", file=sys.stderr)
        train(tcfg, command=" ".join(sys.argv))
    if cfg.until == "train":
        return json.loads((out / "train_summary.json").read_text())
    result_path = out / "eval.json"
    if not result_path.exists():
        print("== evaluate on the dev split", file=sys.stderr)
        if tcfg.lora_r > 0 and not tcfg.merge:
            result = evaluate(str(base_dir(cfg.student)), out / "dev.jsonl", cfg.eval_items,
                              adapter=str(model))  # fmt: skip
        else:
            result = evaluate(str(model), out / "dev.jsonl", cfg.eval_items)
        with atomic_write(result_path) as f:
            json.dump(result, f, indent=2)
    return json.loads(result_path.read_text())
