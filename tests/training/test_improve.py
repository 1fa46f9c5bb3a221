"""``nesy distill improve``: a self-training round samples, verifies, retrains on the
verified union and logs what it bought; a second run resumes instead of redoing."""

from __future__ import annotations

import json

from tests.conftest import SHARED, needs_shared
from tests.training.test_teachers import Stub
from training.data import read_traces
from training.improve import ImproveConfig, improve
from training.pipeline import RunConfig, run

TINY = dict(max_steps=1, batch_size=2, grad_accum=1, eval_steps=1, eval_items=2, bf16=False,
            snapshots="", max_tokens=4096)  # fmt: skip


def seed_run(tmp_path, tiny_model_dir, questions: int):
    """A ``nesy distill run`` stopped after select, on the first GSM8K train questions."""
    data = tmp_path / "data"
    (data / "gsm8k").mkdir(parents=True)
    lines = (SHARED / "gsm8k" / "train.jsonl").read_text().splitlines()[:questions]
    (data / "gsm8k" / "train.jsonl").write_text("\n".join(lines) + "\n")
    seed = tmp_path / "seed"
    run(RunConfig(task="gsm8k", out=str(seed), data=str(data), student=str(tiny_model_dir),
                  dev_fraction=0.2, until="select"), TINY)  # fmt: skip
    return data, seed


@needs_shared
def test_a_round_keeps_the_right_samples_retrains_and_logs(tmp_path, tiny_model_dir):
    data, seed = seed_run(tmp_path, tiny_model_dir, 20)
    dev = {t.item_id for t in read_traces(seed / "dev.jsonl")}
    assert dev and "gsm8k-train-0" not in dev
    stub = Stub([])  # answers every question with Natalia's program (72): right once
    try:
        cfg = ImproveConfig(
            seed_run=str(seed), out=str(tmp_path / "imp"), data=str(data), rounds=2,
            questions=50, samples=2, temperature=0.7, student=str(tiny_model_dir),
            sampler=f"openai:stub@{stub.url}", base=str(tiny_model_dir), eval_items=2,
        )  # fmt: skip
        log = improve(cfg, TINY)
        calls = stub.calls
        assert calls == 2 * (20 - len(dev))  # every train question, never a dev one
        first, second = log
        assert first["questions_solved"] == 1 and first["newly_solved"] == 1
        assert first["distinct_correct_per_solved_question"] == 1.0  # its copy: duplicate
        assert second["newly_solved"] == 0 and stub.calls == calls  # from the cache
        sampled = read_traces(tmp_path / "imp" / "round-1" / "traces.jsonl")
        assert not {t.item_id for t in sampled} & dev
        union = read_traces(tmp_path / "imp" / "round-1" / "train.jsonl")
        assert "openai:stub@" + stub.url in {t.source for t in union}
        assert first["train_programs"] == len(union) > len(read_traces(seed / "train.jsonl"))
        assert 0 <= first["dev_accuracy"] <= 1
        assert improve(cfg, TINY) == log  # resumed: nothing redone
        lines = (tmp_path / "imp" / "improve_log.jsonl").read_text().splitlines()
        assert [json.loads(x)["round"] for x in lines] == [1, 2]
    finally:
        stub.close()


@needs_shared
def test_until_sample_stops_after_the_verified_samples(tmp_path, tiny_model_dir):
    data, seed = seed_run(tmp_path, tiny_model_dir, 10)
    stub = Stub([])
    try:
        cfg = ImproveConfig(
            seed_run=str(seed), out=str(tmp_path / "imp"), data=str(data), questions=50,
            samples=2, temperature=0.7, sampler=f"openai:stub@{stub.url}", until="sample",
            sample_tokens=64,
        )  # fmt: skip
        (stats,) = improve(cfg, TINY)
    finally:
        stub.close()
    round_1 = tmp_path / "imp" / "round-1"
    assert stats["programs_sampled"] == len(read_traces(round_1 / "traces.jsonl")) > 0
    assert stats["questions_solved"] == 1  # Natalia's program is right once
    assert not (round_1 / "train.jsonl").exists() and not (round_1 / "model").exists()
    assert not (tmp_path / "imp" / "improve_log.jsonl").exists()


@needs_shared
def test_the_default_sampler_is_the_student_on_ctranslate2(tmp_path, tiny_model_dir):
    data, seed = seed_run(tmp_path, tiny_model_dir, 4)
    cfg = ImproveConfig(
        seed_run=str(seed), out=str(tmp_path / "imp"), data=str(data), questions=2,
        samples=1, temperature=0.7, student=str(tiny_model_dir), until="sample",
        sample_tokens=8,
    )  # fmt: skip
    (stats,) = improve(cfg, TINY)
    sampled = read_traces(tmp_path / "imp" / "round-1" / "traces.jsonl")
    assert stats["programs_sampled"] == len(sampled) == 2
    assert {t.source for t in sampled} == {f"ct2:{tiny_model_dir}"}
