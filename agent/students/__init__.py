"""The student runtime: load a model from a spec and generate, batched.

    >>> student = load_student("default")                 # doctest: +SKIP
    >>> student.generate(["What is 2 + 3?"], max_new_tokens=16)[0].text   # doctest: +SKIP
    '2 + 3 = 5'

One module per backend, the shape ``solvers/`` has: ``hf`` (Hugging Face, LoRA), ``ct2``
(CTranslate2), ``openai_compat`` (OpenAI-compatible servers), the packaged default in
``packaged``, the contract in ``base``. ``REGISTRY`` maps a spec's kind to its backend;
``register`` adds one. Backends import lazily: loading an OpenAI student never imports torch.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

from agent.records import ModelCard
from agent.spec import ModelSpec, parse_spec
from agent.students.base import (
    Generation,
    Interruptible,
    Prompt,
    Student,
    StudentError,
    check_request,
    render_prompt,
    truncate_at_stop,
)
from agent.students.packaged import default_model_dir
from solvers.files import nesy_home

__all__ = [
    "REGISTRY", "Generation", "Interruptible", "Prompt", "Student", "StudentError",
    "check_request", "default_model_dir", "load_student", "nesy_home", "read_card",
    "register", "render_prompt", "trained_settings", "truncate_at_stop",
]  # fmt: skip

# spec kind -> "module:Class"
REGISTRY: dict[str, str] = {
    "hf": "agent.students.hf:HFStudent",
    "default": "agent.students.hf:HFStudent",
    "ct2": "agent.students.ct2:CT2Student",
    "openai": "agent.students.openai_compat:OpenAIStudent",
}


def register(kind: str, target: str) -> None:
    """Add a backend: ``register("mlx", "mypkg.mlx:MLXStudent")``."""
    REGISTRY[kind] = target


def _backend(kind: str) -> Any:
    module, _, name = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def load_student(spec: str | ModelSpec, device: str = "auto", threads: int | None = None) -> Any:
    """Load the student a spec names (see ``agent.spec``)."""
    s = parse_spec(spec) if isinstance(spec, str) else spec
    t = time.perf_counter()
    cls = _backend(s.kind)
    if s.kind == "openai":
        student: Any = cls(s.name, str(s.url))
    elif s.kind == "default" or (s.kind == "ct2" and s.name == "default"):
        from agent.students.skills import load_default  # the base + the shipped adapters

        student = load_default(s.kind, device, threads)
    elif s.kind == "ct2":
        student = cls(Path(s.name).expanduser(), device=device, threads=threads, name=str(s))
    else:
        local = Path(s.name).expanduser()
        if not local.exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise StudentError(
                f"no model at {s.name!r} (and HF_HUB_OFFLINE=1, so the hub is not asked)"
            )
        student = cls(
            local if local.exists() else s.name,
            adapter=s.adapter,
            device=device,
            threads=threads,
            name=str(s),
        )
    student.load_seconds = time.perf_counter() - t
    return student


def read_card(spec: str) -> ModelCard | None:
    """The ``ModelCard`` (``model_card.json``) next to a student's weights or adapter, if any
    (``nesy distill`` writes one; the bench's contamination guard and the agent read it).
    For the packaged default: one card over its shipped adapters (every item any of them
    trained on; their training settings are per mode, so none here)."""
    try:
        s = parse_spec(spec)
    except ValueError:
        return None
    if s.kind == "default" or (s.kind == "ct2" and s.name == "default"):
        from agent.students import skills

        cards = [skills.card(path) for path in skills.shipped().values()]
        if not cards:
            return None
        return ModelCard(
            base_model=cards[0].base_model,
            base_model_sha256=cards[0].base_model_sha256,
            train_files=[f for c in cards for f in c.train_files],
            train_item_ids=sorted({i for c in cards for i in c.train_item_ids}),
            command="; ".join(c.command for c in cards),
        )
    for where in (s.adapter, s.name if s.kind in ("hf", "ct2") else None):
        card = Path(where).expanduser() / "model_card.json" if where else None
        if card is not None and card.is_file():
            return ModelCard.model_validate_json(card.read_text())
    return None


# Agent settings a student was trained for: its prompts must look as they did in training.
TRAINED_SETTINGS = ("exemplars",)


def trained_settings(card: ModelCard | None) -> dict[str, Any]:
    """The agent settings a card's training config fixes (a student trained without KB
    exemplars in its prompt is run without them), for ``Agent.load``'s defaults."""
    config = card.config if card else {}
    return {k: config[k] for k in TRAINED_SETTINGS if isinstance(config.get(k), int)}
