"""A low-rank adapter extracted from a full fine-tune: for every linear layer, the truncated
SVD of the weight change (``W_tuned - W_base = U S V^T``, the top ``rank`` singular values
kept), written as a peft LoRA adapter (``B = U_r sqrt(S_r)``, ``A = sqrt(S_r) V_r^T``,
``lora_alpha = r`` so the scale is 1). What the fine-tune changed outside linear layers
(norms, the tied embeddings) is not carried; the summary says how much of the linear
layers' change the rank keeps (its share of the squared Frobenius norm).

    python -m training.extract --base BASE_DIR --tuned RUN/model --out RUN/extracted --rank 16
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any


def extract(base: Path, tuned: Path, out: Path, rank: int, command: str = "") -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file, save_file

    from agent.records import ModelCard
    from solvers.files import atomic_write

    before = load_file(str(base / "model.safetensors"))
    after = load_file(str(tuned / "model.safetensors"))
    tensors: dict[str, Any] = {}
    targets: set[str] = set()
    kept = total = 0.0
    for name, w in after.items():
        if not name.endswith(".weight") or w.ndim != 2 or "embed" in name or "lm_head" in name:
            continue
        delta = w.float() - before[name].float()
        u, s, vh = torch.linalg.svd(delta, full_matrices=False)
        r = min(rank, s.numel())
        root = s[:r].sqrt()
        module = name[: -len(".weight")]
        tensors[f"base_model.model.{module}.lora_A.weight"] = (
            (root[:, None] * vh[:r]).to(torch.bfloat16).contiguous()
        )
        tensors[f"base_model.model.{module}.lora_B.weight"] = (
            (u[:, :r] * root).to(torch.bfloat16).contiguous()
        )
        targets.add(module.rsplit(".", 1)[1])
        kept += float((s[:r] ** 2).sum())
        total += float((s**2).sum())
    if not tensors:
        raise ValueError(f"{tuned}: no linear layer differs from {base}")
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": rank,
        "lora_dropout": 0.0, "bias": "none", "target_modules": sorted(targets),
        "base_model_name_or_path": str(base), "inference_mode": True, "fan_in_fan_out": False,
    }  # fmt: skip
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
    summary = {
        "rank": rank,
        "layers": len(tensors) // 2,
        "delta_energy_kept": round(kept / total, 4) if total else 1.0,
        "megabytes": round((out / "adapter_model.safetensors").stat().st_size / 1e6, 2),
    }
    card_path = tuned / "model_card.json"
    if card_path.is_file():
        card = ModelCard.model_validate_json(card_path.read_text())
        card = card.model_copy(
            update={
                "adapter": str(out),
                "config": {**card.config, "extracted": summary, "extracted_from": str(tuned)},
                "command": f"{card.command}; {command}".strip("; "),
            }
        )
        with atomic_write(out / "model_card.json") as f:
            f.write(card.model_dump_json(indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.extract", description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="the base model directory")
    parser.add_argument("--tuned", type=Path, required=True, help="the fine-tuned model dir")
    parser.add_argument("--out", type=Path, required=True, help="the adapter directory")
    parser.add_argument("--rank", type=int, default=16)
    args = parser.parse_args(argv)
    command = shlex.join([sys.executable, "-m", "training.extract", *sys.argv[1:]])
    try:
        summary = extract(args.base, args.tuned, args.out, args.rank, command)
    except (OSError, ValueError, KeyError) as exc:
        print(f"training.extract: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
