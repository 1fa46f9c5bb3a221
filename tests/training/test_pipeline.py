"""``nesy distill run`` end to end on a small slice, with a tiny student: every stage writes
its output, a second run resumes instead of redoing, and bad input is a clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import SHARED, needs_shared
from training.data import read_traces
from training.pipeline import RunConfig, run

TINY = dict(max_steps=2, batch_size=2, grad_accum=1, eval_steps=2, eval_items=4, bf16=False,
            snapshots="", max_tokens=4096)  # fmt: skip


@needs_shared
def test_gsm8k_silver_run_writes_each_stage_and_resumes(tmp_path, tiny_model_dir):
    cfg = RunConfig(
        task="gsm8k", out=str(tmp_path / "run"), data=str(SHARED), student=str(tiny_model_dir),
        limit=40, dev_fraction=0.2, eval_items=4,
    )  # fmt: skip
    result = run(cfg, TINY)
    out = tmp_path / "run"
    traces = read_traces(out / "traces.jsonl")
    assert len(traces) == 40 and all(t.provenance.sha256 for t in traces)
    assert {t.provenance.licence for t in traces} == {"MIT (openai/grade-school-math)"}
    train, dev = read_traces(out / "train.jsonl"), read_traces(out / "dev.jsonl")
    assert train and dev and not {t.item_id for t in train} & {t.item_id for t in dev}
    assert (out / "model" / "model_card.json").exists()
    assert result["items"] == min(4, len(dev)) and 0 <= result["accuracy"] <= 1
    assert set(result) >= {"accuracy", "ran", "failures", "eval_file"}
    stamp = (out / "model" / "model.safetensors").stat().st_mtime_ns
    assert run(cfg, TINY) == result  # resumed: nothing redone
    assert (out / "model" / "model.safetensors").stat().st_mtime_ns == stamp


@needs_shared
def test_one_deductive_student_for_both_replays_from_the_command_line(tmp_path, tiny_model_dir):
    cmd = [
        sys.executable, "-m", "nesy.cli", "distill", "run", "--task", "proofwriter,prontoqa",
        "--data", str(SHARED), "--student", str(tiny_model_dir), "--out", str(tmp_path / "pw"),
        "--limit", "24", "--dev-fraction", "0.3", "--eval-items", "2",
        "--max-steps", "1", "--batch-size", "1", "--grad-accum", "1", "--no-bf16",
        "--snapshots", "", "--max-tokens", "8192",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["items"] >= 1
    traces = read_traces(tmp_path / "pw" / "traces.jsonl")
    assert {t.mode for t in traces} == {"deductive"}
    assert {t.task for t in traces} == {"proofwriter", "prontoqa"}  # each task's own teacher
    train = read_traces(tmp_path / "pw" / "train.jsonl")
    dev = read_traces(tmp_path / "pw" / "dev.jsonl")
    assert not {t.group for t in train} & {t.group for t in dev}  # a context stays on one side
    assert {t.task for t in dev} == {"proofwriter", "prontoqa"}
    card = json.loads((tmp_path / "pw" / "model" / "model_card.json").read_text())
    assert {"ProofWriter", "ProntoQA"} <= {
        w for f in card["train_files"] for w in ("ProofWriter", "ProntoQA") if w in f["path"]
    }
    # --teacher names one teacher: with two tasks it is a clear error
    r = subprocess.run([*cmd[:-2], "--teacher", "silver:gsm8k"], capture_output=True, text=True,
                       env=env, timeout=120)  # fmt: skip
    assert r.returncode == 2 and "several tasks use their own" in r.stderr


def test_a_test_set_teacher_and_a_missing_file_are_clear_errors(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    base = [sys.executable, "-m", "nesy.cli", "distill", "run", "--task", "gsm8k",
            "--out", str(tmp_path / "r"), "--data", str(tmp_path)]  # fmt: skip
    r = subprocess.run(base, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "no GSM8K train file at" in r.stderr
    evil = tmp_path / "pot_codex_gsm8k_test_fewshot.jsonl"
    evil.write_text("{}\n")
    r = subprocess.run([*base, "--teacher", f"replay:{evil}"], capture_output=True, text=True,
                       env=env, timeout=120)  # fmt: skip
    assert r.returncode == 2 and "same-item baseline, never training data" in r.stderr


@needs_shared
def test_max_difficulty_keeps_the_easier_stories_out_of_both_splits(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from training.pipeline import stage_select, stage_verify

    cfg = RunConfig(task="stepgame", out=str(tmp_path), data=str(SHARED), limit=60,
                    max_difficulty=2, dev_fraction=0.2)  # fmt: skip
    traces = read_traces(stage_verify(cfg, tmp_path))
    assert {t.difficulty for t in traces if t.kept} > {1, 2}  # the file mixes hop counts
    train, dev = stage_select(cfg, tmp_path, AutoTokenizer.from_pretrained(tiny_model_dir), 4096)
    kept = read_traces(train) + read_traces(dev)
    assert kept and {t.difficulty for t in kept} <= {1, 2}


@needs_shared
def test_until_select_prepares_a_run_that_trains_from_its_config(tmp_path, tiny_model_dir):
    """Prepare on one machine (--until select), train on another from train_config.json."""
    out = tmp_path / "run"
    cfg = RunConfig(task="gsm8k", out=str(out), data=str(SHARED), student=str(tiny_model_dir),
                    limit=20, dev_fraction=0.2, until="select")  # fmt: skip
    result = run(cfg, TINY)
    assert result == {"until": "select", "train_config": str(out / "train_config.json")}
    assert (out / "train.jsonl").exists() and not (out / "model").exists()
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["max_steps"] == 2 and saved["train"] == str(out / "train.jsonl")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "nesy.cli", "distill", "train", "--config",
                        str(out / "train_config.json")], capture_output=True, text=True,
                       env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["global_step"] == 2
    assert (out / "model" / "model_card.json").exists() and not (out / "eval.json").exists()
    cfg.until = "train"  # the run resumes past the trained model and stops before the eval
    assert run(cfg, TINY)["global_step"] == 2 and not (out / "eval.json").exists()
