"""The student contract: what every backend's ``generate`` takes and returns.

A student turns prompts (plain text, or chat messages) into ``Generation`` records, batched,
with stop strings and token counts. Backends live beside this module, one each, and are
found by spec kind through the registry in ``agent/students/__init__.py``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

Prompt = str | list[dict[str, str]]  # plain text, or chat messages


class StudentError(RuntimeError):
    """A model that cannot be loaded or reached; the message says what to do."""


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"


class Student(Protocol):
    name: str

    def generate(
        self,
        prompts: list[Prompt],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]: ...


def check_request(prompts: list[Prompt], max_new_tokens: int) -> bool:
    """Whether there is anything to generate; a bad ``max_new_tokens`` is a ValueError."""
    if max_new_tokens < 1:
        raise ValueError(f"`max_new_tokens` must be >= 1, got {max_new_tokens}")
    return bool(prompts)


def truncate_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; say whether one was found."""
    cut = min((i for s in stop or [] if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def render_prompt(tokenizer: Any, prompt: Prompt) -> str:
    """A prompt as the text the model sees. Chat messages go through the chat template; a
    final assistant message is a prefill that the model continues (the graph opens a code
    fence that way), not a finished turn."""
    if isinstance(prompt, str):
        return prompt
    prefill = bool(prompt) and prompt[-1]["role"] == "assistant"
    if tokenizer.chat_template:
        return str(
            tokenizer.apply_chat_template(
                prompt,
                tokenize=False,
                add_generation_prompt=not prefill,
                continue_final_message=prefill,
            )
        )
    return "\n".join(m["content"] for m in prompt) + ("" if prefill else "\n")


class Interruptible:
    """The interrupt flag of a local student: ``nesy chat``'s Ctrl-C sets it, and the decode in
    flight stops after its current token (an HF stopping criterion, a CTranslate2 step
    callback), as does any decode started before ``clear_interrupt``."""

    def __init__(self) -> None:
        self._interrupt = threading.Event()
        self._steps = [0]  # decode steps taken (a list, so decode callbacks hold no `self`)

    @property
    def decode_steps(self) -> int:
        """Decode steps taken so far, in any call: ``nesy chat`` shows that decoding began."""
        return self._steps[0]

    def interrupt(self) -> None:
        self._interrupt.set()

    def clear_interrupt(self) -> None:
        self._interrupt.clear()
