from __future__ import annotations

import pytest

from agent.students import StudentError, load_student, truncate_at_stop
from agent.students.hf import HFStudent


@pytest.fixture(scope="module")
def student(tiny_model_dir):
    return HFStudent(tiny_model_dir, threads=1)


def test_batched_generation_reports_tokens(student):
    out = student.generate(
        ["ans = 2", "What is two plus three? A much longer prompt here"], max_new_tokens=5
    )
    assert len(out) == 2
    short, long = out
    assert short.prompt_tokens < long.prompt_tokens
    assert all(0 <= g.completion_tokens <= 5 for g in out)
    assert all(g.finish_reason in ("stop", "length") for g in out)


def test_left_padding_does_not_change_greedy_output(student):
    alone = student.generate(["ans = 2"], max_new_tokens=6)[0].text
    batched = student.generate(["ans = 2", "What is two plus three? " * 3], max_new_tokens=6)
    assert batched[0].text == alone


def test_sampling_is_reproducible_with_a_seed(student):
    a = student.generate(["ans"], max_new_tokens=8, temperature=1.0, seed=7)
    b = student.generate(["ans"], max_new_tokens=8, temperature=1.0, seed=7)
    assert a == b


def test_chat_messages_use_the_chat_template(student):
    g = student.generate(
        [[{"role": "user", "content": "What is two plus three?"}]], max_new_tokens=3
    )[0]
    rendered = student._render([{"role": "user", "content": "hi"}])
    assert rendered.endswith("<|im_start|>assistant\n") and g.prompt_tokens > 5


def test_a_final_assistant_message_is_continued_not_closed(student):
    """The graph prefills an opening code fence; the model must continue that turn."""
    prompt = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "```python\n"}]
    rendered = student._render(prompt)
    assert rendered.endswith("<|im_start|>assistant\n```python\n")
    assert rendered.count("<|im_start|>assistant") == 1


def test_truncate_at_earliest_stop():
    assert truncate_at_stop("ans = 5\n```\nmore", ["\n\n", "```"]) == ("ans = 5\n", True)
    assert truncate_at_stop("no stop", ["```"]) == ("no stop", False)
    assert truncate_at_stop("x", None) == ("x", False)


def test_max_new_tokens_is_validated(student):
    with pytest.raises(ValueError, match="`max_new_tokens` must be >= 1"):
        student.generate(["x"], max_new_tokens=0)


def test_missing_model_and_adapter_are_clear_errors(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StudentError, match="no model at '/nonexistent/model'"):
        load_student("hf:/nonexistent/model")
    with pytest.raises(StudentError, match="cannot load adapter"):
        load_student(f"hf:{tiny_model_dir}+lora:{tmp_path / 'no-adapter'}")


def test_unreachable_server_fails_fast():
    import time

    start = time.monotonic()
    with pytest.raises(StudentError, match="cannot reach http://127.0.0.1:9/v1"):
        load_student("openai:m@http://127.0.0.1:9/v1")
    assert time.monotonic() - start < 10


def test_lora_adapter_is_applied(tmp_path, tiny_model_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(tmp_path / "adapter")
    plain = load_student(f"hf:{tiny_model_dir}", threads=1)
    adapted = load_student(f"hf:{tiny_model_dir}+lora:{tmp_path / 'adapter'}", threads=1)
    assert adapted.name.endswith("+lora:" + str(tmp_path / "adapter"))
    import torch

    ids = plain.tokenizer(["ans = 2"], return_tensors="pt")
    with torch.no_grad():
        a = plain.model(**ids).logits
        b = adapted.model(**ids).logits
    assert not torch.allclose(a, b)  # random (non-zero) LoRA weights change the outputs


def test_interrupt_stops_a_decode_and_clear_lets_the_next_run(student):
    """Ctrl-C in `nesy chat` calls interrupt(): the decode in flight stops after one token."""
    student.interrupt()
    try:
        (g,) = student.generate(["ans = 2"], max_new_tokens=50)
        assert g.completion_tokens <= 1
        pieces = list(student.stream("ans = 2", max_new_tokens=50))
        assert len("".join(pieces)) <= 8
    finally:
        student.clear_interrupt()
    (g,) = student.generate(["ans = 2"], max_new_tokens=50)
    assert g.completion_tokens > 1


def test_the_registry_maps_spec_kinds_to_backends_and_takes_new_ones():
    from agent import students

    assert students.REGISTRY["hf"] == "agent.students.hf:HFStudent"
    assert students._backend("ct2").__name__ == "CT2Student"
    students.register("hf", "agent.students.hf:HFStudent")  # idempotent re-registration
    assert students._backend("hf").__module__ == "agent.students.hf"


def test_a_gguf_file_loads_as_an_hf_model():
    """`hf:FILE.gguf` (the packaged SmolLM2 here; the local teacher in practice)."""
    from agent.students.packaged import default_gguf

    student = HFStudent(default_gguf(), threads=1)
    [g] = student.generate([[{"role": "user", "content": "What is 2+2?"}]], max_new_tokens=3)
    assert g.prompt_tokens > 10  # the GGUF's own chat template was applied
    assert g.completion_tokens > 0 and student.name.endswith(".gguf")
