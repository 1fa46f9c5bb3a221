"""``nesy distill improve``: self-training on verified programs (ReST-EM, STaR).

Each round samples ``samples`` programs per question from the current student (a seeded
subsample of GSM8K train questions, never the dev split's), verifies them with the one
verifier, keeps the right ones (identical programs of a question once), adds them to the
verified data so far (the seed run's train split and the earlier rounds), retrains from the
base on that union and scores the dev split. Every stage's output is on disk in
``OUT/round-N/``, so a killed run resumes; each round appends one line to
``OUT/improve_log.jsonl``: verified yield, distinct correct programs per solved question,
questions newly solved, dev accuracy, minutes.

    nesy distill improve --from runs/gsm8k --out runs/improve --rounds 2 --questions 500 \\
        --samples 4 --temperature 0.7 --max-steps 320 --lr 2e-4
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvers.files import atomic_write


@dataclass
class ImproveConfig:
    """A self-training run. Saved as ``improve_config.json`` in the output directory."""

    seed_run: str = field(metadata={"help": "a distill run: its train/dev splits and model/"})
    out: str = field(metadata={"help": "output directory (resumes when it exists)"})
    data: str = field(default="../shared/data", metadata={"help": "the shared data folder"})
    rounds: int = field(default=1, metadata={"help": "sample -> verify -> retrain rounds"})
    questions: int = field(default=500, metadata={"help": "train questions sampled a round"})
    samples: int = field(default=4, metadata={"help": "programs per question"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    student: str = field(default="", metadata={"help": "round 1's student (default RUN/model)"})
    sampler: str = field(
        default="", metadata={"help": "sample with this spec instead (default ct2:STUDENT)"}
    )
    base: str = field(default="default", metadata={"help": "each round retrains from this"})
    seed: int = field(default=0, metadata={"help": "question subsample seed"})
    eval_items: int = field(default=100, metadata={"help": "dev items scored a round"})
    sample_tokens: int = field(default=512, metadata={"help": "new tokens a sampled program"})
    until: str = field(
        default="", metadata={"help": "'sample': stop after round 1's verified samples"}
    )


def train_questions(path: Path, dev: set[str]) -> list[tuple[int, str]]:
    """(line number, item id) of every GSM8K train question outside the dev groups."""
    from training.verify_traces import _row

    out = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            item = str(_row(path, number, line).get("id", f"gsm8k-train-{number - 1}"))
            if item not in dev:
                out.append((number, item))
    return out


def round_stats(traces: list[Any], solved_before: set[str]) -> dict[str, Any]:
    """One round's sampled traces: yield, distinct right programs, questions newly solved."""
    kept = [t for t in traces if t.kept]
    per_question: dict[str, set[str]] = {}
    for t in kept:
        per_question.setdefault(t.item_id, set()).add(" ".join(t.program.split()))
    return {
        "programs_sampled": len(traces),
        "verified_yield": round(len(kept) / len(traces), 4) if traces else 0.0,
        "questions_solved": len(per_question),
        "distinct_correct_per_solved_question": (
            round(sum(map(len, per_question.values())) / len(per_question), 3)
            if per_question else 0.0
        ),
        "newly_solved": len(set(per_question) - solved_before),
    }  # fmt: skip


def improve(
    cfg: ImproveConfig, train_overrides: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """All rounds, skipping the stages whose output is on disk; returns the log lines."""
    from transformers import AutoTokenizer

    from training.data import read_traces, select, write_traces
    from training.exemplars import SOURCE
    from training.pipeline import evaluate
    from training.sft import TrainConfig, base_dir, train
    from training.teachers import LiveSettings, gsm8k_candidates
    from training.verify_traces import check

    seed_run, out = Path(cfg.seed_run), Path(cfg.out)
    for need in ("train.jsonl", "dev.jsonl"):
        if not (seed_run / need).is_file():
            raise ValueError(f"{seed_run} has no {need}: give a `nesy distill run` directory")
    source = Path(cfg.data) / SOURCE
    if not source.is_file():
        raise ValueError(f"no GSM8K train file at {source}")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "improve_config.json") as f:
        json.dump(cfg.__dict__, f, indent=2)
    log_path = out / "improve_log.jsonl"
    log = [json.loads(x) for x in log_path.read_text().splitlines()] if log_path.exists() else []
    pool = train_questions(source, {t.group for t in read_traces(seed_run / "dev.jsonl")})
    tokenizer = AutoTokenizer.from_pretrained(base_dir(cfg.base))
    student = cfg.student or str(seed_run / "model")
    solved: set[str] = set()
    verified = [t for t in read_traces(seed_run / "train.jsonl") if t.kept]
    for r in range(1, cfg.rounds + 1):
        here = out / f"round-{r}"
        here.mkdir(exist_ok=True)
        t0 = time.monotonic()
        traces_p = here / "traces.jsonl"
        if not traces_p.exists():
            rng = random.Random(f"{cfg.seed}:{r}")
            pick = {n for n, _ in rng.sample(pool, min(cfg.questions, len(pool)))}
            settings = LiveSettings(samples=cfg.samples, temperature=cfg.temperature,
                                    max_tokens=cfg.sample_tokens,
                                    cache=str(out / "sample_cache.jsonl"))  # fmt: skip
            sampler = cfg.sampler or f"ct2:{student}"  # faster at 320 new tokens (bench/perf)
            print(f"== round {r}: {len(pick)} questions x {cfg.samples} from {sampler}",
                  file=sys.stderr)  # fmt: skip
            checked = check(gsm8k_candidates(sampler, source, None, settings, pick))
            write_traces(traces_p, (c.trace() for c in checked))
        sampled = read_traces(traces_p)
        stats = round_stats(sampled, solved)
        if cfg.until == "sample":
            print(json.dumps({"round": r, **stats, "traces": str(traces_p)}), file=sys.stderr)
            return [{"round": r, **stats}]
        mine = [t for t in sampled if t.kept]
        solved |= {t.item_id for t in mine}
        verified += mine
        model = here / "model"
        if not (model / "model_card.json").exists():
            train_p = here / "train.jsonl"
            tcfg = TrainConfig(train=str(train_p), dev=str(seed_run / "dev.jsonl"),
                               out=str(here), base=cfg.base, **(train_overrides or {}))  # fmt: skip
            union, _, dropped = select(verified, tokenizer, tcfg.max_tokens, dev_fraction=0.0)
            write_traces(train_p, union)
            print(f"== round {r}: retrain from {cfg.base} on {len(union)} verified programs "
                  f"({len(dropped)} duplicates or over-long dropped)", file=sys.stderr)  # fmt: skip
            train(tcfg, command=" ".join(sys.argv))
        if len(log) < r:
            result = evaluate(str(model), seed_run / "dev.jsonl", cfg.eval_items)
            entry = {
                "round": r, **stats, "train_programs": len(read_traces(here / "train.jsonl")),
                "dev_accuracy": result["accuracy"], "dev_ran": result["ran"],
                "minutes": round((time.monotonic() - t0) / 60, 1),
            }  # fmt: skip
            log.append(entry)
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
            print(json.dumps(entry), file=sys.stderr)
        student = str(model)  # the next round samples from this round's student
    return log
