"""The CTranslate2 student on a tiny model: export once, batched generation, stop strings."""

from __future__ import annotations

import gc

import pytest

from agent.spec import parse_spec
from agent.students import StudentError, load_student


@pytest.fixture
def load():
    """Load CT2 students and release their worker threads when the test ends (CTranslate2
    and torch each bring an OpenMP runtime; stray generator threads at a later garbage
    collection are what can abort a process that uses both)."""
    loaded = []

    def make(spec: str):
        s = load_student(spec, device="cpu")
        loaded.append(s)
        return s

    yield make
    for s in loaded:
        s.generator.unload_model()
        del s.generator
    gc.collect()


def test_export_is_cached_and_generation_matches_the_hf_format(home, tiny_model_dir, load):
    ct2 = load(f"ct2:{tiny_model_dir}")
    assert ct2.export.parent == home / "ct2" and (ct2.export / "model.bin").exists()
    again = load(f"ct2:{tiny_model_dir}")
    assert again.export == ct2.export  # exported once
    out = ct2.generate(
        ["ans = 2", [{"role": "user", "content": "What is two plus three?"}]], max_new_tokens=6
    )
    assert len(out) == 2
    assert all(0 < g.completion_tokens <= 6 and g.prompt_tokens > 0 for g in out)
    assert out == ct2.generate(["ans = 2", [{"role": "user", "content":
                               "What is two plus three?"}]], max_new_tokens=6)  # fmt: skip
    sampled = ct2.generate(["ans", "ans"], max_new_tokens=8, temperature=1.0, seed=3)
    assert all(g.completion_tokens > 0 for g in sampled)
    # A stop string cuts the decoded text where it starts (a string the output holds).
    text = ct2.generate(["ans = 2"], max_new_tokens=6)[0].text
    assert len(text) >= 3, f"the fixture model should write a few characters, wrote {text!r}"
    cut = ct2.generate(["ans = 2"], max_new_tokens=6, stop=[text[1:3]])[0]
    assert cut.text == text[:1] and cut.finish_reason == "stop"


def test_ct2_specs_and_errors(tmp_path):
    assert str(parse_spec("ct2:default")) == "ct2:default"
    with pytest.raises(ValueError, match="merge the adapter first"):
        parse_spec("ct2:./m+lora:./a")
    with pytest.raises(StudentError, match="no Hugging Face model"):
        load_student(f"ct2:{tmp_path}")


def test_interrupt_stops_the_ct2_decode(home, tiny_model_dir, load):
    ct2 = load(f"ct2:{tiny_model_dir}")
    ct2.interrupt()
    assert ct2.generate(["ans = 2"], max_new_tokens=50)[0].completion_tokens <= 1
    ct2.clear_interrupt()
    assert ct2.generate(["ans = 2"], max_new_tokens=50)[0].completion_tokens > 1


def test_default_ct2_computes_like_hf_and_matches_its_greedy_output(home, tiny_model_dir, load):
    """By default CTranslate2 computes in float32 on a CPU, as HF does, so greedy text is the
    same; int8 is an explicit choice with its own export."""
    from agent.students.hf import HFStudent

    ct2 = load(f"ct2:{tiny_model_dir}")
    assert ct2.export.name.endswith("-float32")
    hf = HFStudent(tiny_model_dir, threads=1)
    prompts = ["ans = 2", [{"role": "user", "content": "What is two plus three?"}]]
    assert [g.text for g in ct2.generate(prompts, max_new_tokens=8)] == [
        g.text for g in hf.generate(prompts, max_new_tokens=8)
    ]


def test_int8_is_opt_in(home, tiny_model_dir, load, monkeypatch):
    monkeypatch.setenv("NESY_CT2_COMPUTE", "int8")
    ct2 = load(f"ct2:{tiny_model_dir}")
    assert ct2.export.name.endswith("-int8")
    assert ct2.generator.compute_type.startswith("int8")
    assert ct2.generate(["ans = 2"], max_new_tokens=4)[0].completion_tokens > 0


def test_default_precision_follows_hf_on_each_device():
    from agent.students.ct2 import hf_precision

    assert hf_precision("cpu", {"int8", "int8_float32", "float32"}) == "float32"
    assert hf_precision("cuda", {"float32", "float16", "bfloat16", "int8_float16"}) == "bfloat16"
    assert hf_precision("cuda", {"float32", "float16"}) == "float32"  # no bfloat16 on the GPU
