"""Training-side speed, measured against baselines in the same run.

    python bench/perf/training.py [--data ../shared/data] [--steps 6] [--json-only]

Measures, on this machine:
- ``sft_tokens_per_s`` / ``trl_tokens_per_s`` / ``sft_speedup_vs_trl``: the tuned setup
  (``training.sft``: length-grouped right-padded batches without a mask, bf16 autocast, no
  gradient checkpointing) against TRL's ``SFTTrainer`` defaults (``SFTConfig(use_cpu=True)``,
  which in TRL 1.16 turns on bf16 and gradient checkpointing and pads each batch to its
  longest example), with the same model (the packaged SmolLM2-135M), the same LoRA (r16,
  all linear layers), the same verified GSM8K-train examples (prompt rendered by the agent,
  loss on the completion), the same batch size and steps. Both count only real tokens
  (the examples' lengths, summed as batches are collated), first step excluded (warm-up);
- ``sft_full_tokens_per_s``: the same tuned setup, full fine-tuning instead of LoRA;
- ``convert_verify_per_s``: GSM8K-train solutions converted to programs (``silver:gsm8k``)
  and verified per second, over the first ``--verify-items``;
- ``tokens_per_example``: mean rendered example length with 0 and with 2 KB exemplars;
- ``sample_tokens_per_s_hf`` / ``sample_tokens_per_s_ct2``: the student sampling programs
  for self-training (``nesy distill improve``): the same ``--sample-questions`` GSM8K-train
  prompts (the agent's pad prompt, prefilled fence), one batch, temperature 0.7,
  ``--sample-tokens`` new tokens at most (128; ``improve`` samples up to 320, where a
  program that loops keeps a padded batch waiting), through transformers' batched
  ``generate`` and through CTranslate2; ``sample_tokens_per_s_ct2_int8``: CTranslate2 with
  int8 weights (``NESY_CT2_COMPUTE=int8``; ``improve``'s default is CTranslate2 at float32:
  int8's samples verified less often, docs/distillation.md);
- ``teacher_tokens_per_s`` (with ``--teacher FILE.gguf``, e.g. the local Qwen2.5-Coder from
  ``make teacher``): the same prompts through that model, batched (transformers, GGUF);
- ``teacher_tokens_per_s_ct2`` (with ``--teacher-ct2 DIR``, the same model as a safetensors
  directory: ``python -m training.local_teacher export``): the same prompts on CTranslate2,
  int8, batched;
- ``round_verified_yield`` / ``round_minutes`` / ``round_questions_solved`` (with
  ``--round-questions N``): one self-training round's sampling and verification, scaled
  down: ``improve``'s sampler (``--round-student``, default the base, on CTranslate2 at
  float32) writes ``improve``'s default samples per question at its default temperature
  for each of the first N GSM8K-train questions, up to ``--sample-tokens`` each, through
  the one verifier; minutes are the round's wall time, yield the share verified right.

``--sampling-only`` measures the sampling rows alone (the training rows print null).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class _Clock:
    """Times the steps after the first and counts their real (non-pad) tokens, the same
    way for both trainers: the examples' own lengths, summed as each batch is collated."""

    def __init__(self) -> None:
        from transformers import TrainerCallback

        outer = self
        self.seen = 0

        class CB(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                now = time.perf_counter()
                if state.global_step == 1:
                    outer.t0, outer.tok0 = now, outer.seen
                outer.t1, outer.tok1 = now, outer.seen

        self.callback = CB()
        self.t0 = self.t1 = 0.0
        self.tok0 = self.tok1 = 0

    def counting(self, collate: Any) -> Any:
        def wrapped(features: list[dict[str, Any]]) -> Any:
            self.seen += sum(len(f["input_ids"]) for f in features)
            return collate(features)

        return wrapped

    @property
    def tokens_per_s(self) -> float:
        return (self.tok1 - self.tok0) / max(1e-9, self.t1 - self.t0)


def traces(data: Path, n: int) -> list[Any]:
    from training.verify_traces import candidates, check

    return [c.trace() for c in check(candidates("silver:gsm8k", data, n)) if c.kept]


def ours(
    model_dir: Path, rows: list[Any], steps: int, batch: int, out: str, lora: bool = True
) -> float:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from training.data import tokenize_example
    from training.sft import CausalPadCollator

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if lora:
        model = get_peft_model(
            model,
            LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
        )
    data = [tokenize_example(t, tok, "", strip_comments=True) for t in rows]
    clock = _Clock()
    args = TrainingArguments(
        output_dir=out, per_device_train_batch_size=batch, max_steps=steps, bf16=True,
        use_cpu=True, report_to=[], save_strategy="no", logging_steps=1000,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length", disable_tqdm=True, seed=0,
    )  # fmt: skip
    Trainer(
        model=model, args=args, train_dataset=data, callbacks=[clock.callback],
        data_collator=clock.counting(CausalPadCollator(tok.pad_token_id)),
    ).train()  # fmt: skip
    return clock.tokens_per_s


def trl(model_dir: Path, rows: list[Any], steps: int, batch: int, out: str) -> float:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from training.data import render_example

    tok = AutoTokenizer.from_pretrained(model_dir)
    pairs = [render_example(t, tok, "", strip_comments=True) for t in rows]
    ds = Dataset.from_list([{"prompt": p, "completion": c} for p, c in pairs])
    clock = _Clock()
    cfg = SFTConfig(
        output_dir=out, use_cpu=True, per_device_train_batch_size=batch, max_steps=steps,
        report_to=[], save_strategy="no", logging_steps=1000, disable_tqdm=True, seed=0,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32),
        args=cfg, train_dataset=ds, processing_class=tok, callbacks=[clock.callback],
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                               task_type="CAUSAL_LM"),
    )  # fmt: skip
    trainer.data_collator = clock.counting(trainer.data_collator)
    trainer.train()
    return clock.tokens_per_s


def sampling(spec: str, questions: list[str], max_new_tokens: int = 128) -> float:
    """Completion tokens per second, one batch of pad prompts, temperature 0.7."""
    from agent import render
    from agent.students import load_student

    student = load_student(spec)
    prompts = [
        render.with_prefill(render.formulate_messages("pad", q), "python") for q in questions
    ]
    student.generate(prompts[:1], max_new_tokens=4)  # warm-up (CT2 export, first call)
    t = time.perf_counter()
    out = student.generate(
        prompts, max_new_tokens=max_new_tokens, temperature=0.7, seed=0, stop=render.STOP
    )
    return sum(g.completion_tokens for g in out) / (time.perf_counter() - t)


ROUND_KEYS = ("round_verified_yield", "round_questions_solved", "round_programs", "round_minutes")


def sample_round(spec: str, data: Path, questions: int, max_tokens: int) -> dict[str, float]:
    """A self-training round's sampling and verification (``nesy distill improve``'s own
    settings and ``round_stats``), on the first ``questions`` GSM8K-train questions."""
    from dataclasses import fields

    from training.exemplars import SOURCE
    from training.improve import ImproveConfig, round_stats
    from training.teachers import LiveSettings, gsm8k_candidates
    from training.verify_traces import check

    default = {f.name: f.default for f in fields(ImproveConfig)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = LiveSettings(samples=default["samples"], temperature=default["temperature"],
                                max_tokens=max_tokens, cache=f"{tmp}/cache.jsonl")  # fmt: skip
        t = time.perf_counter()
        traces = [c.trace() for c in check(gsm8k_candidates(spec, data / SOURCE, questions,
                                                             settings))]  # fmt: skip
        minutes = (time.perf_counter() - t) / 60
    stats = round_stats(traces, set())
    values = (stats["verified_yield"], stats["questions_solved"], stats["programs_sampled"],
              round(minutes, 2))  # fmt: skip
    return dict(zip(ROUND_KEYS, values, strict=True))


TRAIN_KEYS = (
    "sft_tokens_per_s", "trl_tokens_per_s", "sft_speedup_vs_trl", "sft_full_tokens_per_s",
    "tokens_per_example_0_exemplars", "tokens_per_example_2_exemplars",
)  # fmt: skip


def training_rows(
    args: argparse.Namespace, model_dir: Path, rows: list[Any], say: Any
) -> dict[str, float]:
    """The JSON line's training rows (``TRAIN_KEYS``): the three training speeds (TRL's
    defaults, ours with LoRA, ours in full) and the example lengths."""
    from transformers import AutoTokenizer

    from agent.render import exemplar_block
    from kb.shipped import exemplars
    from training.data import tokenize_example

    tok = AutoTokenizer.from_pretrained(model_dir)
    pool = exemplars()[:2]
    sample = rows[:200]
    lengths = {
        k: statistics.mean(
            len(tokenize_example(r, tok, exemplar_block(pool, "python") if k else "",
                                 strip_comments=True)["input_ids"])
            for r in sample
        )
        for k in (0, 2)
    }  # fmt: skip
    say(f"tokens per example: {lengths[0]:.0f} (0 exemplars), {lengths[2]:.0f} (2 exemplars)")

    n = args.steps * args.batch
    train_rows = rows[:n]
    with tempfile.TemporaryDirectory() as tmp:
        trl_tps = trl(model_dir, train_rows, args.steps, args.batch, tmp + "/trl")
        say(f"TRL SFTTrainer defaults: {trl_tps:.0f} non-pad tokens/s")
        our_tps = ours(model_dir, train_rows, args.steps, args.batch, tmp + "/ours")
        say(f"training.sft: {our_tps:.0f} non-pad tokens/s")
        full_tps = ours(model_dir, train_rows, args.steps, args.batch, tmp + "/full", lora=False)
        say(f"training.sft, full fine-tuning: {full_tps:.0f} non-pad tokens/s")
    values = (our_tps, trl_tps, our_tps / trl_tps, full_tps, lengths[0], lengths[2])
    return {
        key: round(value, 2 if key == "sft_speedup_vs_trl" else 1)
        for key, value in zip(TRAIN_KEYS, values, strict=True)
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument(
        "--steps", type=int, default=6,
        help="optimizer steps a trainer (at least 3: the first is warm-up, not timed)",
    )  # fmt: skip
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--verify-items", type=int, default=2000)
    p.add_argument("--sample-questions", type=int, default=16)
    p.add_argument("--sample-tokens", type=int, default=128, help="new tokens a sample")
    p.add_argument("--round-questions", type=int, default=0, help="a scaled-down improve round")
    p.add_argument("--round-student", type=Path, help="its student (default: the base)")
    p.add_argument("--teacher", type=Path, help="a teacher GGUF file for teacher_tokens_per_s")
    p.add_argument("--teacher-ct2", type=Path, help="the teacher as a model directory (int8 CT2)")
    p.add_argument("--sampling-only", action="store_true", help="skip the training rows")
    p.add_argument("--json-only", action="store_true")
    args = p.parse_args()
    if args.steps < 3:
        p.error(f"--steps {args.steps}: at least 3 (the first step is not timed)")

    import torch

    from agent.students.packaged import default_model_dir

    torch.set_num_threads(os.cpu_count() or 1)
    say = (lambda *a: None) if args.json_only else print
    t = time.perf_counter()
    n_verify = args.sample_questions if args.sampling_only else args.verify_items
    rows = traces(args.data, n_verify)
    convert_verify = n_verify / (time.perf_counter() - t)
    say(f"convert+verify: {convert_verify:.0f} solutions/s ({len(rows)} kept)")

    model_dir = default_model_dir()
    train: dict[str, float | None] = dict.fromkeys(TRAIN_KEYS)  # null: not measured
    if not args.sampling_only:
        train.update(training_rows(args, model_dir, rows, say))
    questions = [r.question for r in rows[: args.sample_questions]]
    n_new = args.sample_tokens
    sample_hf = sampling(f"hf:{model_dir}", questions, n_new)
    say(f"sampling, transformers batched: {sample_hf:.0f} tokens/s")
    sample_ct2 = sampling(f"ct2:{model_dir}", questions, n_new)
    say(f"sampling, CTranslate2: {sample_ct2:.0f} tokens/s")
    rounds: dict[str, float | None] = dict.fromkeys(ROUND_KEYS)  # null: not measured
    if args.round_questions:  # at float32, as improve samples
        student = args.round_student or model_dir
        rounds.update(sample_round(f"ct2:{student}", args.data, args.round_questions, n_new))
        say(f"a round of {args.round_questions} questions: {rounds}")
    os.environ["NESY_CT2_COMPUTE"] = "int8"  # from here on: the int8 rows
    sample_int8 = sampling(f"ct2:{model_dir}", questions, n_new)
    say(f"sampling, CTranslate2 int8: {sample_int8:.0f} tokens/s")
    teacher_tps = sampling(f"hf:{args.teacher}", questions) if args.teacher else None
    if teacher_tps:
        say(f"teacher {args.teacher.name}: {teacher_tps:.1f} tokens/s")
    teacher_ct2 = None
    if args.teacher_ct2:
        teacher_ct2 = sampling(f"ct2:{args.teacher_ct2}", questions)
        say(f"teacher {args.teacher_ct2} on CTranslate2 int8: {teacher_ct2:.1f} tokens/s")
    print(
        json.dumps(
            {
                "sample_tokens_per_s_hf": round(sample_hf, 1),
                "sample_tokens_per_s_ct2": round(sample_ct2, 1),
                "sample_tokens_per_s_ct2_int8": round(sample_int8, 1),
                "sample_tokens": n_new,
                "teacher_tokens_per_s": round(teacher_tps, 2) if teacher_tps else None,
                "teacher_tokens_per_s_ct2": round(teacher_ct2, 2) if teacher_ct2 else None,
                "sample_questions": len(questions),
                **train,
                **rounds,
                "convert_verify_per_s": None if args.sampling_only else round(convert_verify, 1),
                "steps": args.steps,
                "batch": args.batch,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
