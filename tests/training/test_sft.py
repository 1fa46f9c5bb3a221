"""Fine-tuning on verified traces, with tiny models built from a config: the batch loss is
the examples' own, a run changes the weights and exports a loadable model with its card, a
killed run resumes, LoRA exports an adapter, and two DDP ranks on gloo agree."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.data import Provenance, Trace, read_traces, tokenize_example, write_traces
from training.sft import CausalPadCollator, TrainConfig, params_digest, train

PROV = Provenance(teacher="test", file="inline", sha256="0" * 64, licence="MIT")
QUESTIONS = [
    ("Tom has 3 apples and buys 4 more. How many apples?", "apples = 3 + 4\nans = apples\n", 7),
    ("A box holds 6 eggs. How many eggs in 5 boxes?", "eggs = 6 * 5\nans = eggs\n", 30),
    ("Sam had 20 dollars and spent 8. How much is left?", "left = 20 - 8\nans = left\n", 12),
    ("9 kids share 27 sweets equally. How many each?", "each = 27 / 9\nans = each\n", 3),
]


def trace(i: int, group: str | None = None) -> Trace:
    q, p, a = QUESTIONS[i % len(QUESTIONS)]
    return Trace(
        source="test", task="gsm8k", item_id=f"t-{i}", group=group or f"g-{i}", mode="pad",
        question=f"{q} (case {i})", program=p, gold=a, answer=a, kept=True, provenance=PROV,
    )  # fmt: skip


@pytest.fixture()
def splits(tmp_path):
    write_traces(tmp_path / "train.jsonl", [trace(i) for i in range(12)])
    write_traces(tmp_path / "dev.jsonl", [trace(i) for i in range(100, 104)])
    return tmp_path


def tiny_cfg(tmp_path: Path, base: Path, **kw) -> TrainConfig:
    values = dict(
        train=str(tmp_path / "train.jsonl"), dev=str(tmp_path / "dev.jsonl"),
        out=str(tmp_path / "run"), base=str(base), max_steps=4, batch_size=2, grad_accum=2,
        eval_steps=2, eval_items=4, lr=5e-3, bf16=False, snapshots="8", max_tokens=4096,
    )  # fmt: skip
    values.update(kw)
    return TrainConfig(**values)


def test_batch_loss_is_the_examples_own_loss(tiny_model_dir):
    """Right-padded without a mask == with the mask == the token-weighted mean of each
    example's loss alone: pads change nothing."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    feats = [tokenize_example(trace(i), tok) for i in range(3)]
    assert len({len(f["input_ids"]) for f in feats}) == 3  # really different lengths

    def loss(batch):
        with torch.no_grad():
            return model(**batch).loss.item()

    no_mask = loss(CausalPadCollator(tok.pad_token_id)(feats))
    masked = loss(CausalPadCollator(tok.pad_token_id, mask=True)(feats))
    own, tokens = 0.0, 0
    for f in feats:
        n = sum(1 for x in f["labels"][1:] if x != -100)
        own += loss(CausalPadCollator(tok.pad_token_id)([f])) * n
        tokens += n
    assert math.isclose(no_mask, masked, rel_tol=1e-5)
    assert math.isclose(no_mask, own / tokens, rel_tol=1e-5)


def test_loss_is_on_the_completion_only(tiny_model_dir):
    from transformers import AutoTokenizer

    from training.data import render_example

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    t = trace(0)
    ex = tokenize_example(t, tok)
    prompt, completion = render_example(t, tok)
    learned = tok.decode([x for x in ex["labels"] if x != -100])
    assert learned == completion
    assert completion.startswith(t.program.strip()) and "Question:" in prompt
    assert prompt.endswith("```python\n")  # the graph's prefill: the prompt inference sees


def test_training_changes_weights_and_exports_a_loadable_model(splits, tiny_model_dir, home):
    from transformers import AutoModelForCausalLM

    from agent.students import read_card
    from agent.students.hf import HFStudent

    before = params_digest(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    summary = train(tiny_cfg(splits, tiny_model_dir), command="pytest")
    assert summary["global_step"] == 4 and math.isfinite(summary["train_loss"])
    assert summary["best_eval_loss"] is not None and math.isfinite(summary["best_eval_loss"])
    model_dir = splits / "run" / "model"
    after = params_digest(AutoModelForCausalLM.from_pretrained(model_dir))
    assert after != before
    card = read_card(f"hf:{model_dir}")
    assert card is not None and card.command == "pytest"
    assert read_card(f"ct2:{model_dir}") == card  # the CT2 export is the same model
    assert card.train_item_ids == sorted(f"gsm8k/t-{i}" for i in range(12))
    assert card.train_files[0].sha256 and card.base_model_sha256
    assert (splits / "run" / "snapshots" / "examples-8" / "model.safetensors").exists()
    assert list((splits / "run" / "logs").glob("events.out.tfevents.*"))  # TensorBoard
    saved = TrainConfig.from_file(splits / "run" / "train_config.json")
    assert saved.max_steps == 4
    out = HFStudent(model_dir).generate([[{"role": "user", "content": "hi"}]], 4)
    assert out[0].completion_tokens > 0
    from agent.students import load_student

    ct2 = load_student(f"ct2:{model_dir}", device="cpu")  # exported on first load
    assert ct2.generate([[{"role": "user", "content": "hi"}]], 4)[0].completion_tokens > 0
    # The agent runs a trained student with the prompt it was trained on (no KB exemplars,
    # where an untrained student gets AgentConfig's 2); an explicit setting still wins.
    from agent.api import Agent
    from agent.config import default

    assert saved.exemplars == 0 != default("exemplars")
    assert Agent.load(f"hf:{model_dir}", device="cpu").config.exemplars == 0
    assert Agent.load(f"hf:{model_dir}", device="cpu", exemplars=3).config.exemplars == 3


def test_lora_exports_a_bf16_adapter_loadable_with_its_base(splits, tiny_model_dir):
    from safetensors import safe_open

    from agent.students.hf import HFStudent

    train(tiny_cfg(splits, tiny_model_dir, lora_r=4, max_steps=2, dev=""), command="pytest")
    adapter = splits / "run" / "adapter"
    with safe_open(adapter / "adapter_model.safetensors", "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.bfloat16"}
    assert (adapter / "model_card.json").exists()
    student = HFStudent(tiny_model_dir, adapter=str(adapter))
    assert student.generate([[{"role": "user", "content": "hi"}]], 2)[0].completion_tokens > 0


def test_lora_starts_from_a_given_adapter_with_its_rank(splits, tiny_model_dir):
    """``init_adapter``: training resumes in the adapter's low-rank space (an extraction's,
    say), taking its rank and alpha; a damaged adapter is refused by name."""
    import torch
    from safetensors.torch import load_file

    from agent.students.skills import AdapterError
    from training.sft import load_model

    train(tiny_cfg(splits, tiny_model_dir, lora_r=4, lora_alpha=8, max_steps=2, dev="",
                   out=str(splits / "first")), command="pytest")  # fmt: skip
    first = splits / "first" / "adapter"
    cfg = tiny_cfg(
        splits, tiny_model_dir, init_adapter=str(first), lora_r=16, out=str(splits / "b")
    )
    model, _ = load_model(cfg)
    assert (cfg.lora_r, cfg.lora_alpha) == (4, 8)
    saved = load_file(first / "adapter_model.safetensors")
    params = dict(model.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    for key, value in saved.items():
        name = key.replace(".weight", ".default.weight")
        assert torch.equal(params[name].detach().to(torch.bfloat16), value), key
    summary = train(cfg, command="pytest")
    assert summary["global_step"] == 4
    assert json.loads((splits / "b" / "train_config.json").read_text())["lora_r"] == 4
    assert (splits / "b" / "adapter" / "adapter_model.safetensors").exists()

    (first / "adapter_model.safetensors").write_bytes(b"partial")
    with pytest.raises(AdapterError, match="adapter_model.safetensors is damaged"):
        load_model(tiny_cfg(splits, tiny_model_dir, init_adapter=str(first)))


def _cli(cfg: TrainConfig, path: Path) -> list[str]:
    cfg.save(path)
    return [sys.executable, "-m", "training.sft", "--config", str(path)]


def test_a_killed_run_resumes_from_its_last_checkpoint(splits, tiny_model_dir):
    cfg = tiny_cfg(splits, tiny_model_dir, max_steps=40, eval_steps=2, dev="", snapshots="")
    cmd = _cli(cfg, splits / "cfg.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ckpts = splits / "run" / "checkpoints"
    deadline = time.monotonic() + 240
    while not list(ckpts.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 240 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (splits / "run" / "model").exists()
    cut = ckpts / "checkpoint-39"  # a save cut short by the kill: weights, no trainer state
    cut.mkdir()
    (cut / "model.safetensors").write_bytes(b"partial")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stderr and "checkpoint-39" not in done.stderr.split(
        "resuming from")[1].splitlines()[0]  # fmt: skip
    assert "removing incomplete checkpoint" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["global_step"] == 40 and summary["resumed_from"]
    assert (splits / "run" / "model" / "model.safetensors").exists()


def test_ddp_two_ranks_on_gloo_agree(splits, tiny_model_dir):
    cfg = tiny_cfg(splits, tiny_model_dir, max_steps=2, dev="", snapshots="")
    cmd = _cli(cfg, splits / "cfg.json")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", str(29500 + os.getpid() % 1000)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(torchrun + cmd[1:], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((splits / "run" / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert ranks[0]["params_sha256"] == ranks[1]["params_sha256"]
    before = params_digest(__import__("transformers").AutoModelForCausalLM.from_pretrained(
        tiny_model_dir))  # fmt: skip
    assert ranks[0]["params_sha256"] != before  # a step happened


def test_bad_settings_and_files_are_clear_errors(tmp_path, tiny_model_dir):
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"train": "x", "out": "y", "learning_rate": 1}))
    with pytest.raises(ValueError, match="unknown training settings.*learning_rate"):
        TrainConfig.from_file(bad)
    broken = tmp_path / "train.jsonl"
    write_traces(broken, [trace(0)])
    with open(broken, "a") as f:
        f.write('{"truncated": \n')
    with pytest.raises(ValueError, match=r"train.jsonl:2: not a trace record"):
        read_traces(broken)
    r = subprocess.run([sys.executable, "-m", "training.sft", "--out", "x"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and "missing setting(s): train" in r.stderr
