"""``nesy distill dpo``: (right, wrong) program pairs of one question, rendered as the agent
renders them, and TRL's DPOTrainer on a tiny student with a LoRA policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from training.data import Provenance, Trace, write_traces
from training.dpo import pairs

PROV = Provenance(teacher="t", file="f", sha256="0", licence="MIT")
Q = "Natalia sold 48 clips in April and half as many in May. How many altogether?"


def trace(item: str, program: str, kept: bool, reason: str | None = None) -> Trace:
    return Trace(source="t", task="gsm8k", item_id=item, group=item, mode="pad", question=Q,
                 program=program, gold=72, kept=kept, reason=reason, provenance=PROV)  # fmt: skip


TRACES = [
    trace("q1", "ans = 48 + 48 / 2\n", True),
    trace("q1", "ans = 48 / 2\n", False, "wrong_answer"),
    trace("q1", "ans = 48 * 2\n", False, "wrong_answer"),
    trace("q2", "ans = 1\n", False, "wrong_answer"),  # no right program: no pair
    trace("q3", "ans = 72\n", True),  # no wrong program: no pair
    trace("q4", "", False, "parse_error"),
]


def test_pairs_take_a_right_and_a_wrong_program_of_one_question(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    got = pairs(TRACES, tok, per_question=4)
    assert len(got) == 2 and len({p["prompt"] for p in got}) == 1
    assert all("48 + 48 / 2" in p["chosen"] and "48 + 48" not in p["rejected"] for p in got)
    assert got[0]["prompt"].rstrip().endswith("```python")  # the agent's prefilled fence
    assert len(pairs(TRACES, tok, per_question=1)) == 1


def test_a_question_with_no_right_sample_borrows_a_verified_reference(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    reference = [
        trace("q2", "ans = 48 + 24\n", True), trace("q1", "ans = 72 * 1\n", True),
        trace("q4", "ans = 72\n", True), trace("q5", "ans = 0\n", False, "wrong_answer"),
    ]  # fmt: skip
    got = pairs(TRACES, tok, per_question=4, reference=reference)
    borrowed = [p for p in got if p["reference"]]
    assert len(got) == 3 and len(borrowed) == 1  # q1 keeps its own right samples
    assert "48 + 24" in borrowed[0]["chosen"] and "ans = 1" in borrowed[0]["rejected"]
    assert not any("72 * 1" in p["chosen"] for p in got)  # q4's program never ran: no pair


def test_dpo_trains_a_lora_policy_and_exports_a_merged_student(tiny_model_dir, tmp_path):
    write_traces(tmp_path / "t.jsonl", TRACES)
    cmd = [sys.executable, "-m", "nesy.cli", "distill", "dpo", "--model", str(tiny_model_dir),
           "--traces", str(tmp_path / "t.jsonl"), "--out", str(tmp_path / "dpo"),
           "--max-steps", "1", "--batch-size", "1", "--grad-accum", "1", "--lora-r", "2",
           "--max-length", "4096", "--lr", "1e-2", "--sft-weight", "0.5"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["pairs"] == 2 and summary["global_step"] == 1
    assert (tmp_path / "dpo" / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "dpo" / "model" / "config.json").exists()
    write_traces(tmp_path / "none.jsonl", TRACES[3:])
    none = [str(tmp_path / "none.jsonl") if a.endswith("t.jsonl") else a for a in cmd]
    r = subprocess.run(none, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 2 and "has both a right and a wrong program" in r.stderr


def test_dpo_from_a_shipped_style_adapter_keeps_its_rank_and_moves_it(tiny_model_dir, tmp_path):
    """``--init-adapter``: the policy is that adapter (the reference, its frozen copy), so
    the result replaces it: the same rank, the same base, weights changed; a damaged one is
    refused by name."""
    from peft import PeftConfig
    from safetensors.torch import load_file

    from training.sft import TrainConfig, train

    write_traces(tmp_path / "t.jsonl", TRACES)
    train(TrainConfig(train=str(tmp_path / "t.jsonl"), dev="", out=str(tmp_path / "sft"),
                      base=str(tiny_model_dir), lora_r=4, lora_alpha=8, max_steps=1,
                      batch_size=1, grad_accum=1, bf16=False, snapshots="", max_tokens=4096),
          command="pytest")  # fmt: skip
    first = tmp_path / "sft" / "adapter"
    cmd = [sys.executable, "-m", "nesy.cli", "distill", "dpo", "--model", str(tiny_model_dir),
           "--init-adapter", str(first), "--traces", str(tmp_path / "t.jsonl"),
           "--out", str(tmp_path / "dpo"), "--max-steps", "1", "--batch-size", "2",
           "--grad-accum", "1", "--max-length", "4096", "--lr", "1e-2"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    after = tmp_path / "dpo" / "adapter"
    assert PeftConfig.from_pretrained(str(after)).r == 4
    assert not (after / "ref").exists()  # only the policy is saved
    old, new = (
        load_file(first / "adapter_model.safetensors"),
        load_file(after / "adapter_model.safetensors"),
    )
    assert set(new) == set(old) and {str(v.dtype) for v in new.values()} == {"torch.bfloat16"}
    assert any(not old[k].float().equal(new[k].float()) for k in old)
    from agent.students.skills import card, check
    from solvers.files import weights_hash

    got = check(after, weights_hash(tiny_model_dir))  # shippable: files whole, this base
    assert set(card(first).train_item_ids) <= set(got.train_item_ids)  # its SFT data, and
    assert "gsm8k/q1" in got.train_item_ids and str(tmp_path / "t.jsonl") in {
        f.path for f in got.train_files
    }
    from agent.students import read_card

    merged = read_card(f"hf:{tmp_path / 'dpo' / 'model'}")  # what the bench's guard reads
    assert merged is not None and merged.train_item_ids == got.train_item_ids
    (first / "adapter_model.safetensors").write_bytes(b"partial")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 2 and "adapter_model.safetensors is damaged" in r.stderr
