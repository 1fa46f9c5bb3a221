"""``nesy distill dpo``: preference training on verification. For a question with a right
and a wrong program among the sampled ones (``nesy distill improve`` rounds, or any verified
traces file), the right one is *chosen* and the wrong one (a wrong answer, or a program
that did not run) *rejected*; TRL's ``DPOTrainer`` trains a peft LoRA adapter on the
student as the policy, the student itself (the adapter switched off) as the reference.
Prompts are rendered exactly as the agent renders them (chat template, prefilled fence).

    nesy distill dpo --model runs/gsm8k/model --traces runs/improve/round-1/traces.jsonl \\
        --out runs/dpo --max-steps 100
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvers.files import atomic_write

REJECTED = ("wrong_answer", "solver_error", "timeout")  # the program ran, or was meant to


@dataclass
class DPOSettings:
    model: str = field(
        metadata={"help": "the student (a model directory); with init_adapter, its base"}
    )
    traces: list[str] = field(metadata={"help": "sampled traces files (kept and rejected)"})
    out: str = field(metadata={"help": "output directory: adapter/ and model/ (merged)"})
    reference: list[str] = field(
        default_factory=list,
        metadata={"help": "verified traces (e.g. RUN/train.jsonl): the chosen program of a "
                  "sampled question none of whose samples is right"},
    )  # fmt: skip
    init_adapter: str = field(
        default="",
        metadata={"help": "train this adapter of MODEL as the policy (the reference: a frozen "
                  "copy), so the result is a drop-in adapter of the same rank"},
    )  # fmt: skip
    sft_weight: float = field(
        default=0.0, metadata={"help": "weight of an SFT loss on the chosen program (RPO)"}
    )
    pairs_per_question: int = field(default=4, metadata={"help": "at most this many pairs"})
    beta: float = field(default=0.1, metadata={"help": "DPO's beta"})
    lr: float = field(default=5e-6, metadata={"help": "learning rate"})
    max_steps: int = field(default=100, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=4, metadata={"help": "pairs per micro-batch"})
    grad_accum: int = field(default=4, metadata={"help": "micro-batches per step"})
    lora_r: int = field(default=16, metadata={"help": "the policy adapter's rank"})
    max_length: int = field(default=1024, metadata={"help": "prompt + completion tokens"})
    seed: int = field(default=0, metadata={"help": "pair sampling and data order"})


def pairs(
    traces: list[Any],
    tokenizer: Any,
    per_question: int,
    seed: int = 0,
    reference: Sequence[Any] = (),
) -> list[dict]:
    """(prompt, chosen, rejected) texts for every question with a right and a wrong program.
    A question whose samples are all wrong takes its chosen programs from ``reference`` (a
    verified corpus of the same questions, e.g. the converted human solutions): the student's
    own mistake against a program the solver checked."""
    from training.data import render_example

    right: dict[str, list[Any]] = {}
    wrong: dict[str, list[Any]] = {}
    for t in traces:
        if t.kept:
            right.setdefault(t.item_id, []).append(t)
        elif t.reason in REJECTED and t.program.strip():
            wrong.setdefault(t.item_id, []).append(t)
    borrowed: set[str] = set()
    for t in reference:
        if t.kept and t.item_id in wrong and t.item_id not in right:
            right[t.item_id] = [t]
            borrowed.add(t.item_id)
    rng = random.Random(seed)
    out = []
    for item in sorted(set(right) & set(wrong)):
        combos = [(r, w) for r in right[item] for w in wrong[item]]
        for r, w in rng.sample(combos, min(per_question, len(combos))):
            prompt, chosen = render_example(r, tokenizer)
            prompt_w, rejected = render_example(w, tokenizer)
            if prompt_w == prompt:  # the same question, rendered the same
                out.append({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                            "reference": item in borrowed, "item": f"{w.task}/{item}",
                            "licence": r.provenance.licence})  # fmt: skip
    return out


def train_dpo(cfg: DPOSettings) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from training.data import read_traces
    from training.sft import base_dir, to_bf16

    out = Path(cfg.out)
    where = base_dir(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(where)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    traces = [t for path in cfg.traces for t in read_traces(path)]
    reference = [t for path in cfg.reference for t in read_traces(path)]
    data = pairs(traces, tokenizer, cfg.pairs_per_question, cfg.seed, reference)
    if not data:
        raise ValueError(
            f"no question in {', '.join(cfg.traces)} has both a right and a wrong program"
        )
    model: Any = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32)
    peft_config: Any = LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r,
                                  target_modules="all-linear", task_type="CAUSAL_LM")  # fmt: skip
    if cfg.init_adapter:  # TRL keeps a frozen copy of it as the reference
        from solvers.files import weights_hash
        from training.sft import trainable_adapter

        model = trainable_adapter(model, Path(cfg.init_adapter), weights_hash(where))
        peft_config = None
    mixed: dict[str, Any] = (  # RPO: DPO plus an SFT loss on the chosen program
        {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, cfg.sft_weight]}
        if cfg.sft_weight > 0 else {}
    )  # fmt: skip
    args = DPOConfig(
        output_dir=str(out / "checkpoints"), beta=cfg.beta, learning_rate=cfg.lr,
        max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_length=cfg.max_length,
        logging_steps=5, save_strategy="no", report_to=[], seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(), bf16=False,
        **mixed,
    )  # fmt: skip
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=Dataset.from_list([
            {k: d[k] for k in ("prompt", "chosen", "rejected")} for d in data]),
        processing_class=tokenizer, peft_config=peft_config,
    )  # fmt: skip
    result = trainer.train()
    policy: Any = trainer.model
    if "ref" in policy.peft_config:
        policy.delete_adapter("ref")
    policy.save_pretrained(out / "adapter")
    to_bf16(out / "adapter" / "adapter_model.safetensors")
    merged = policy.merge_and_unload()
    merged.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    card = _card(cfg, where, data)
    for folder, adapter in ((out / "adapter", str(out / "adapter")), (out / "model", None)):
        with atomic_write(folder / "model_card.json") as f:  # the bench's guard reads both
            f.write(card.model_copy(update={"adapter": adapter}).model_dump_json(indent=2))
    logs = [x for x in trainer.state.log_history if "rewards/accuracies" in x]
    summary = {
        "pairs": len(data), "questions": len({d["prompt"] for d in data}),
        "chosen_from_reference": sum(d["reference"] for d in data),
        "global_step": trainer.state.global_step, "train_loss": result.training_loss,
        "last_reward_accuracy": logs[-1]["rewards/accuracies"] if logs else None,
        "model": str(out / "model"), "command": " ".join(sys.argv),
    }  # fmt: skip
    with atomic_write(out / "dpo_summary.json") as f:
        json.dump(summary, f, indent=2)
    return summary


def _card(cfg: DPOSettings, base: Path, data: list[dict]) -> Any:
    """The adapter's ModelCard: what it was trained on, its init adapter's data included (the
    bench's contamination guard reads it), so it can be shipped like an SFT adapter."""
    from agent.records import ModelCard
    from agent.students.skills import card
    from solvers.files import sha256_file, weights_hash
    from solvers.records import DataFile

    files = [DataFile(path=p, sha256=sha256_file(p), split="train")
             for p in [*cfg.traces, *cfg.reference]]  # fmt: skip
    items = {d["item"] for d in data}
    licences = {d["licence"] for d in data}
    command = " ".join(sys.argv)
    if cfg.init_adapter:
        before = card(Path(cfg.init_adapter))
        files = [*before.train_files, *files]
        items |= set(before.train_item_ids)
        licences |= {x for x in before.licence.split("; ") if x}
        command = f"{before.command}; {command}".strip("; ")
    return ModelCard(
        base_model=str(base), base_model_sha256=weights_hash(base), train_files=files,
        train_item_ids=sorted(items), licence="; ".join(sorted(licences)),
        config={"dpo": cfg.__dict__}, command=command,
    )  # fmt: skip
