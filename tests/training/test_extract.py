"""A low-rank adapter extracted from a full fine-tune's weight change (``training.extract``)."""

from __future__ import annotations

import json

import torch

from agent.students.hf import HFStudent
from training.extract import extract


def test_a_low_rank_change_comes_back_exactly_and_runs_as_a_lora_adapter(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(3)
    with torch.no_grad():  # a "fine-tune" whose change is rank 2 in two layers
        for layer in model.model.layers:
            w = layer.self_attn.q_proj.weight
            w += 0.5 * torch.randn(w.shape[0], 2) @ torch.randn(2, w.shape[1])
    model.save_pretrained(tmp_path / "tuned")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "tuned")
    summary = extract(tiny_model_dir, tmp_path / "tuned", tmp_path / "adapter", rank=4)
    assert summary["delta_energy_kept"] > 0.999  # rank 4 holds a rank-2 change whole
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4
    tuned = HFStudent(tmp_path / "tuned", threads=1)
    adapted = HFStudent(tiny_model_dir, adapter=str(tmp_path / "adapter"), threads=1)
    ids = tuned.tokenizer(["ans = 2 + 3"], return_tensors="pt")
    with torch.no_grad():
        a, b = tuned.model(**ids).logits, adapted.model(**ids).logits
    assert torch.allclose(a, b, atol=0.05), (a - b).abs().max()  # bf16 factors: close
    plain = HFStudent(tiny_model_dir, threads=1)
    with torch.no_grad():
        assert not torch.allclose(plain.model(**ids).logits, a, atol=0.05)


def test_truncation_keeps_the_largest_part_of_the_change(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(4)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p += 0.01 * torch.randn_like(p)  # full rank
    model.save_pretrained(tmp_path / "tuned")
    low = extract(tiny_model_dir, tmp_path / "tuned", tmp_path / "r2", rank=2)
    high = extract(tiny_model_dir, tmp_path / "tuned", tmp_path / "r8", rank=8)
    assert 0 < low["delta_energy_kept"] < high["delta_energy_kept"] < 1
