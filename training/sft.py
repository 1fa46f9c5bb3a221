"""Supervised fine-tuning on verified traces: the transformers ``Trainer``, tuned.

What the tuning is (measured together against TRL's defaults in ``bench/perf/training.py``):

- **length-grouped, right-padded batches without a mask** (``CausalPadCollator``): pads
  only follow real tokens, so causal attention already hides them, and SDPA keeps its
  causal fast path (``tests/training/test_sft.py`` checks the batch loss equals the masked
  one and the examples' own losses);
- **loss on the completion only**: prompt tokens are labelled -100;
- **bf16 autocast** (fp32 master weights), on CPU (avx512_bf16) and CUDA alike;
- no gradient checkpointing (a 135M model's activations fit; recomputing costs a third).

Everything else is the ecosystem's: cosine schedule with warmup, gradient accumulation,
eval on the dev split with early stopping, TensorBoard logs, checkpoints every
``save_steps`` and resume after a kill (from the last complete checkpoint), DDP when launched with
``torchrun`` (gloo on CPU). Full fine-tuning or LoRA (``lora_r > 0``, peft), exported as a
model directory (``hf:DIR``) or an adapter (``hf:BASE+lora:DIR``), with a ``ModelCard``.

    python -m training.sft --config run/train_config.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solvers.files import atomic_write, sha256_file, weights_hash


@dataclass
class TrainConfig:
    """One fine-tuning run. Saved as ``train_config.json`` beside the checkpoints."""

    train: str = field(metadata={"help": "train split: a traces JSONL (training.data.Trace)"})
    out: str = field(metadata={"help": "run directory: checkpoints/, model/, logs/"})
    dev: str = field(default="", metadata={"help": "dev split JSONL (eval and early stopping)"})
    base: str = field(default="default", metadata={"help": "'default' or a model directory"})
    tokenizer: str = field(default="", metadata={"help": "tokenizer dir (default: the base's)"})
    model_config: str = field(
        default="", metadata={"help": "a config.json: train a fresh model of that shape (tests)"}
    )
    exemplars: int = field(default=0, metadata={"help": "KB exemplars rendered in each prompt"})
    max_tokens: int = field(default=1024, metadata={"help": "drop longer rendered examples"})
    strip_comments: bool = field(
        default=False,
        metadata={"help": "train on programs without their whole-line comments (the plan)"},
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 = full fine-tuning"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    merge: bool = field(default=False, metadata={"help": "LoRA: also export a merged model"})
    init_adapter: str = field(
        default="",
        metadata={
            "help": "LoRA: start from this adapter directory (an extraction, say) instead "
            "of a fresh init; its rank and alpha replace --lora-r/--lora-alpha"
        },
    )
    epochs: float = field(default=1.0, metadata={"help": "passes over the train split"})
    max_steps: int = field(default=-1, metadata={"help": "optimizer steps (overrides epochs)"})
    lr: float = field(default=1e-4, metadata={"help": "peak learning rate"})
    warmup_ratio: float = field(default=0.03, metadata={"help": "share of steps warming up"})
    batch_size: int = field(default=4, metadata={"help": "examples per micro-batch (one row)"})
    grad_accum: int = field(default=4, metadata={"help": "micro-batches per optimizer step"})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast (CPU avx512_bf16, CUDA)"})
    attention_mask: bool = field(
        default=False, metadata={"help": "pass a padding mask (exact either way; slower)"}
    )
    eval_steps: int = field(default=50, metadata={"help": "evaluate and save every N steps"})
    eval_items: int = field(default=128, metadata={"help": "dev examples per evaluation"})
    patience: int = field(default=3, metadata={"help": "early stopping: evals without gain"})
    snapshots: str = field(
        default="1000,2000,4000",
        metadata={"help": "also save the model after this many examples seen (learning curve)"},
    )
    seed: int = field(default=0, metadata={"help": "data order and init seed"})
    threads: int = field(default=0, metadata={"help": "CPU threads (0 = all cores)"})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda"})

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        data = json.loads(Path(path).read_text())
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown training settings {sorted(unknown)}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as f:
            json.dump(dataclasses.asdict(self), f, indent=2)


def add_arguments(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per ``TrainConfig`` field, with its help text."""
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f.metadata["help"])  # fmt: skip
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None, help=f.metadata["help"])


def settings(args: argparse.Namespace, config: str | None) -> dict[str, Any]:
    """``TrainConfig`` values from a config file, then from the flags that were given."""
    values: dict[str, Any] = {}
    if config:
        values = dataclasses.asdict(TrainConfig.from_file(config))
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    return values


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = settings(args, getattr(args, "config", None))
    missing = [n for n in ("train", "out") if not values.get(n)]
    if missing:
        raise ValueError(f"missing setting(s): {', '.join(missing)} (flags or --config)")
    return TrainConfig(**values)


# --- the run ----------------------------------------------------------------------------------


def base_dir(base: str) -> Path:
    if base == "default":
        from agent.students.packaged import default_model_dir

        return default_model_dir()
    path = Path(base).expanduser()
    if not (path / "config.json").is_file():
        raise ValueError(f"no model at {path} (expected config.json and safetensors)")
    return path


def load_model(cfg: TrainConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if cfg.model_config:
        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer or base_dir(cfg.base))
        torch.manual_seed(cfg.seed)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(cfg.model_config))
    else:
        where = base_dir(cfg.base)
        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer or where)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.init_adapter:
        return _from_adapter(model, cfg), tokenizer
    if cfg.lora_r > 0:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules="all-linear",
                task_type="CAUSAL_LM",
            ),
        )  # fmt: skip
    return model, tokenizer


def _from_adapter(model: Any, cfg: TrainConfig) -> Any:
    """The base wrapped with the trainable adapter in ``cfg.init_adapter``, after the same
    checks a shipped adapter passes (files whole, trained on this base); sets ``cfg.lora_r``
    and ``cfg.lora_alpha`` from it so the export is an adapter of the same shape."""
    from peft import PeftConfig

    adapter = Path(cfg.init_adapter).expanduser()
    base = "" if cfg.model_config else weights_hash(base_dir(cfg.base))
    wrapped = trainable_adapter(model, adapter, base)
    lora = PeftConfig.from_pretrained(str(adapter))
    cfg.lora_r, cfg.lora_alpha = int(lora.r), int(lora.lora_alpha)
    return wrapped


def trainable_adapter(model: Any, adapter: Path, base_sha256: str) -> Any:
    """``model`` wrapped with ``adapter``, its weights trainable, after the checks a shipped
    adapter passes (files whole, trained on the base whose weights hash is given)."""
    from peft import PeftModel

    from agent.students.skills import check

    check(adapter, base_sha256)
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=True)


def examples(path: str, tokenizer: Any, cfg: TrainConfig, limit: int | None = None) -> list[Any]:
    """Tokenized examples of the kept traces in ``path``, each distinct one once. With
    ``exemplars``, each prompt carries that many shipped KB exemplars, never the example's
    own item nor a dev item."""
    from agent.render import exemplar_block
    from training.data import read_traces, shots_for, tokenize_examples

    traces = [t for t in read_traces(path) if t.kept][:limit]
    pool: list[Any] = []
    exclude: set[str] = set()
    if cfg.exemplars:
        from kb.shipped import exemplars

        pool = exemplars()
        if cfg.dev:
            exclude = {t.item_id for t in read_traces(cfg.dev)}
    out, seen = [], set()
    for t in traces:
        shots = ""
        if cfg.exemplars:
            shots = exemplar_block(shots_for(t, pool, cfg.exemplars, exclude), "python")
        for ex in tokenize_examples(t, tokenizer, shots, cfg.strip_comments):
            key = tuple(ex["input_ids"])  # questions on one context share their sentences
            if len(ex["input_ids"]) <= cfg.max_tokens and key not in seen:
                seen.add(key)
                out.append(ex)
    return out


class CausalPadCollator:
    """Right-padded batches without an attention mask.

    Padding only ever follows an example's last token, and attention is causal, so no real
    token can see a pad: the mask changes nothing for them (pads are labelled -100), and
    without it SDPA takes its causal fast path instead of materialising a mask. Flattened
    (packed) rows were slower in a one-off check and gave a different loss than the padded
    batch through transformers 5's SDPA path. Batches come length-grouped, so pads are few.
    """

    def __init__(self, pad_id: int, mask: bool = False) -> None:
        self.pad_id, self.mask = pad_id, mask

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), -100, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, :n] = torch.tensor(f["input_ids"])
            labels[row, :n] = torch.tensor(f["labels"])
            mask[row, :n] = 1
        batch = {"input_ids": ids, "labels": labels}
        if self.mask:
            batch["attention_mask"] = mask
        return batch


def _trainer_callbacks(cfg: TrainConfig, out: Path) -> list[Any]:
    from transformers import EarlyStoppingCallback, TrainerCallback

    marks = sorted(int(x) for x in cfg.snapshots.split(",") if x.strip())
    per_step = cfg.batch_size * cfg.grad_accum * _world_size()

    class Snapshots(TrainerCallback):
        """The model after N examples seen (main process), for the learning curve."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            seen = state.global_step * per_step
            for mark in marks:
                target = out / "snapshots" / f"examples-{mark}"
                if seen >= mark > seen - per_step and state.is_world_process_zero:
                    _save_model(kw["model"], kw.get("processing_class"), target)

    callbacks: list[Any] = [Snapshots()]
    if cfg.dev and cfg.patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=cfg.patience))
    return callbacks


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _save_model(model: Any, tokenizer: Any, target: Path) -> None:
    tmp = target.with_name(target.name + ".saving")
    model.save_pretrained(tmp, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    os.replace(tmp, target)


def last_checkpoint(folder: Path) -> str | None:
    """The newest *complete* checkpoint: the Trainer writes ``trainer_state.json`` last, so
    a directory without a readable one was cut short by a kill; it is removed (with a
    message) rather than resumed from."""
    import shutil

    if not folder.is_dir():
        return None
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    for path in reversed(found):
        try:
            json.loads((path / "trainer_state.json").read_text())
            return str(path)
        except (OSError, ValueError):
            print(f"removing incomplete checkpoint {path} (cut short)", file=sys.stderr)
            shutil.rmtree(path, ignore_errors=True)
    return None


def params_digest(model: Any) -> str:
    """sha256 over every parameter's bytes, in name order (DDP ranks must agree)."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def train(cfg: TrainConfig, command: str = "") -> dict[str, Any]:
    """Train, export and write the model card; resumes from the last checkpoint in
    ``out/checkpoints``. Returns the run's summary (also ``out/train_summary.json``)."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if not cuda:
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    model, tokenizer = load_model(cfg)
    cfg.save(out / "train_config.json")
    train_set = examples(cfg.train, tokenizer, cfg)
    if not train_set:
        raise ValueError(f"{cfg.train}: no kept traces to train on")
    dev_set = examples(cfg.dev, tokenizer, cfg, limit=cfg.eval_items) if cfg.dev else []
    ckpts = out / "checkpoints"
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(out / "logs")  # transformers 5 reads it here
    args = TrainingArguments(
        output_dir=str(ckpts),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine",
        warmup_steps=cfg.warmup_ratio,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        bf16=cfg.bf16,
        use_cpu=not cuda,
        logging_steps=5,
        report_to=["tensorboard"],
        eval_strategy="steps" if dev_set else "no",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=bool(dev_set),
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        seed=cfg.seed,
        data_seed=cfg.seed,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        include_num_input_tokens_seen="non_padding",
        ddp_backend="gloo" if not cuda and _world_size() > 1 else None,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set or None,
        data_collator=CausalPadCollator(tokenizer.pad_token_id, cfg.attention_mask),
        processing_class=tokenizer,
        callbacks=_trainer_callbacks(cfg, out),
    )
    last = last_checkpoint(ckpts)
    if last:
        print(f"resuming from {last}", file=sys.stderr)
    result = trainer.train(resume_from_checkpoint=last)
    rank = int(os.environ.get("RANK", "0"))
    ranks = out / "ranks"
    ranks.mkdir(exist_ok=True)
    with atomic_write(ranks / f"rank-{rank}.json") as f:
        json.dump({"world_size": _world_size(), "params_sha256": params_digest(model)}, f)
    summary = {
        "global_step": trainer.state.global_step,
        "train_loss": result.training_loss,
        "examples": len(train_set),
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "train_runtime_s": result.metrics.get("train_runtime"),
        "best_eval_loss": trainer.state.best_metric,
        "resumed_from": last,
    }
    if trainer.is_world_process_zero():
        export(trainer.model, tokenizer, cfg, out, command)
        with atomic_write(out / "train_summary.json") as f:
            json.dump(summary, f, indent=2)
    return summary


def export(model: Any, tokenizer: Any, cfg: TrainConfig, out: Path, command: str) -> Path:
    """Write the trained model (``out/model``, or the adapter in ``out/adapter`` and, with
    ``merge``, the merged model in ``out/model``) and a ModelCard beside each."""
    target = out / "model"
    if cfg.lora_r > 0:
        adapter = out / "adapter"
        _save_model(model, tokenizer, adapter)
        to_bf16(adapter / "adapter_model.safetensors")
        _write_card(cfg, adapter, command, adapter=str(adapter))
        if not cfg.merge:
            return adapter
        model = model.merge_and_unload()
    _save_model(model, tokenizer, target)
    _write_card(cfg, target, command)
    return target


def to_bf16(path: Path) -> None:
    """An adapter's weights as bf16 (half the size; peft upcasts on load)."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.bfloat16) for k, v in load_file(path).items()}
    tmp = path.with_name(path.name + ".bf16")
    save_file(tensors, tmp, metadata={"format": "pt"})
    os.chmod(tmp, 0o644)  # as the file it replaces was written, readable by all
    os.replace(tmp, path)


def _write_card(cfg: TrainConfig, where: Path, command: str, adapter: str | None = None) -> None:
    from agent.records import ModelCard
    from solvers.records import DataFile
    from training.data import read_traces

    traces = [t for t in read_traces(cfg.train) if t.kept]
    files = [DataFile(path=cfg.train, sha256=sha256_file(cfg.train), split="train")]
    seen = set()
    for t in traces:
        key = (t.provenance.file, t.provenance.sha256)
        if key not in seen:
            seen.add(key)
            files.append(DataFile(path=t.provenance.file, sha256=t.provenance.sha256,
                                  task=t.task, split="teacher"))  # fmt: skip
    base = base_dir(cfg.base) if not cfg.model_config else Path(cfg.model_config)
    card = ModelCard(
        base_model=str(base),
        base_model_sha256=weights_hash(base) if not cfg.model_config else "",
        adapter=adapter,
        train_files=files,
        train_item_ids=sorted({f"{t.task}/{t.item_id}" for t in traces}),
        licence="; ".join(sorted({t.provenance.licence for t in traces})),
        config=dataclasses.asdict(cfg),
        command=command,
    )
    with atomic_write(where / "model_card.json") as f:
        f.write(card.model_dump_json(indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sft", description=__doc__)
    parser.add_argument("--config", help="a train_config.json (flags override it)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"training.sft: error: {exc}", file=sys.stderr)
        return 2
    summary = train(cfg, command=shlex.join([sys.executable, "-m", "training.sft", *sys.argv[1:]]))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
