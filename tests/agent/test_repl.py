"""`nesy chat` through a real pseudo-terminal (pexpect), with a tiny model."""

from __future__ import annotations

import os
import signal
import sys

import pexpect
import pytest

PROMPT = ">>>"  # prompt_toolkit draws the trailing space with cursor moves


def _like_a_background_job() -> None:
    """The child starts as one from a non-interactive job may: SIGINT ignored and blocked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@pytest.fixture
def chat(tiny_model_dir, tmp_path, request):
    max_tokens = getattr(request, "param", 300)
    env = {
        **os.environ,
        "NESY_HOME": str(tmp_path),
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "TERM": "xterm",
        "HF_HUB_OFFLINE": "1",
        "NO_COLOR": "1",
    }
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "nesy.cli",
            "chat",
            "--model",
            f"hf:{tiny_model_dir}",
            "--no-kb",
            "--mode",
            "direct",
            "--max-new-tokens",
            str(max_tokens),
        ],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
        preexec_fn=_like_a_background_job,  # ^C must reach the session however it started
    )
    child.expect("nesy chat:")
    child.expect(PROMPT)
    try:
        yield child
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.terminate(force=True)  # a failed test must not leave a decode running


def test_commands_and_a_question(chat, tmp_path):
    chat.sendline("/help")
    chat.expect("/resume ID")
    chat.expect(PROMPT)
    chat.sendline("/mode magic")
    chat.expect("unknown mode 'magic'")
    chat.expect(PROMPT)
    chat.sendline("/mode pad")
    chat.expect(r"mode: pad \(runs as pad\)")
    chat.expect(PROMPT)
    chat.sendline("/mode direct")
    chat.expect(PROMPT)
    chat.sendline("What is 1 + 1?")
    chat.expect("answer:")
    chat.expect(PROMPT)
    chat.sendline("/trace")
    chat.expect('"question": "What is 1 \\+ 1\\?"')
    chat.expect(PROMPT)
    chat.sendline("/threads")
    chat.expect(r"[0-9a-f]{12}")
    chat.expect(PROMPT)
    out = tmp_path / "traces.jsonl"
    chat.sendline(f"/save {out}")
    chat.expect("saved 1 traces")
    chat.expect(PROMPT)
    assert len(out.read_text().splitlines()) == 1
    chat.sendline("/bogus")
    chat.expect("unknown command /bogus")
    chat.expect(PROMPT)


# A decode far longer than any timeout here, on any machine: only the ^C can end it, so the
# test cannot pass by the answer finishing first, nor fail by it (whatever the load).
@pytest.mark.parametrize("chat", [1_000_000], indirect=True)
def test_ctrl_c_cancels_the_question_not_the_session(chat):
    chat.sendline("Tell me a long story about numbers.")
    chat.expect("decoding")  # after the model's first token: its decode is in flight
    chat.sendintr()
    assert chat.expect(["cancelled", "answer:"]) == 0
    chat.expect(PROMPT)
    chat.sendline("/help")  # still alive and answering
    chat.expect("commands:")
    chat.expect(PROMPT)
