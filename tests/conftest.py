from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data")


def pytest_sessionstart(session: pytest.Session) -> None:
    """CI has ../shared beside the checkout: there, a test that needs it must not skip."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and not SHARED.exists():
        raise pytest.UsageError(
            f"CI=true but {SHARED} is missing: the tests that need the shared data would "
            "skip silently. Lay ../shared beside the checkout (or unset CI)."
        )


# Two workers per pool, whatever the machine, so pool-size assertions are stable.
os.environ.setdefault("NESY_SOLVER_WORKERS", "2")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A fresh NESY_HOME for one test module (converted models, CT2 exports, the KB)."""
    path = tmp_path_factory.mktemp("nesy-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NESY_HOME", str(path))
        yield path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer Llama with a byte-level BPE tokenizer, built from a config in a second."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-student")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["ans = 2 + 3", "What is two plus three?", "def solution(): return 5"] * 50
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def nesy_serve_url(tiny_model_dir):
    """`nesy serve` on loopback: a tiny model, a real uvicorn server (models nesy-agent,
    nesy-student)."""
    import socket
    import threading
    import time

    import uvicorn

    from agent.api import Agent
    from agent.graph import AgentConfig
    from agent.server import create_app
    from agent.students.hf import HFStudent

    agent = Agent(
        HFStudent(tiny_model_dir, threads=1), config=AgentConfig(mode="direct", max_new_tokens=4)
    )
    app = create_app(agent, max_request_bytes=4096, max_tokens_cap=64, max_concurrency=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)
