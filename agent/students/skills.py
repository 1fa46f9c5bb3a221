"""Skills: the packaged student is the base model plus, for each solver mode that has one, a
low-rank adapter trained for that mode and shipped inside the package (``agent/skills/``).

    agent/skills/<mode>/adapter_config.json         peft LoRA config
    agent/skills/<mode>/adapter_model.safetensors   its weights (bf16)
    agent/skills/<mode>/model_card.json             base model and sha256, train files and
                                                    sha256s, item ids, licence, command

``SkillStudent`` routes each ``generate`` to the student of the mode that runs (the graph
passes ``skill=<mode>``): the base for a mode without an adapter, else the base with that
adapter, loaded on first use. On CTranslate2 (``ct2:default``, the fast CPU path) a skill
runs as the base with its adapter merged, exported once under ``$NESY_HOME/ct2/`` and
checked by sha256 on every load (a damaged one is rebuilt); see ``skill_export``.

A shipped adapter that is missing a file, truncated, or trained on another base is an
``AdapterError`` that names the file and the fix, never a silent fallback to the base.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.records import ModelCard
from agent.students.base import Interruptible, StudentError
from solvers.files import nesy_home, sha256_file

SKILLS_DIR = Path(__file__).resolve().parent.parent / "skills"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "model_card.json")
EXPORT_FORMAT = 1


class AdapterError(StudentError):
    """A shipped (or given) adapter that cannot be used; the message names the file and fix."""


def shipped(root: Path | None = None) -> dict[str, Path]:
    """Mode -> the directory of its shipped adapter (every subdirectory of ``root``, by
    default the package's ``agent/skills``)."""
    root = SKILLS_DIR if root is None else root
    if not root.is_dir():
        return {}
    return {d.name: d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith("_")}


def card(adapter: Path) -> ModelCard:
    """An adapter's ModelCard; a clear error when it is missing or unreadable."""
    path = adapter / "model_card.json"
    try:
        return ModelCard.model_validate_json(path.read_text())
    except OSError as exc:
        raise AdapterError(f"{path}: cannot read the adapter's model card ({exc.strerror})"
                           f"; {_fix(adapter)}") from None  # fmt: skip
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise AdapterError(f"{path}: not a model card ({first}); {_fix(adapter)}") from None


def _fix(adapter: Path) -> str:
    if adapter.parent == SKILLS_DIR:
        return "reinstall nesy (pip install --force-reinstall) or restore it from git"
    return "retrain it with nesy distill, or point at an intact adapter directory"


def check(adapter: Path, base_sha256: str) -> ModelCard:
    """Every file present, the weights readable to their last byte, and trained on this base
    (the card's ``base_model_sha256``); returns the card."""
    for name in ADAPTER_FILES:
        if not (adapter / name).is_file():
            raise AdapterError(f"{adapter / name} is missing; {_fix(adapter)}")
    weights = adapter / "adapter_model.safetensors"
    try:
        from safetensors import safe_open

        with safe_open(str(weights), "pt") as f:  # checks the header against the file size
            for key in f.keys():
                f.get_slice(key)
    except Exception as exc:  # safetensors raises its own error types
        raise AdapterError(
            f"{weights} is damaged ({str(exc).splitlines()[0]}); {_fix(adapter)}"
        ) from None
    meta = card(adapter)
    if base_sha256 and meta.base_model_sha256 and meta.base_model_sha256 != base_sha256:
        raise AdapterError(
            f"{adapter} was trained on another base model (sha256 "
            f"{meta.base_model_sha256[:12]}..., this base is {base_sha256[:12]}...); "
            f"{_fix(adapter)}"
        )
    return meta


def skill_export(base: Path, adapter: Path, mode: str, quantization: str) -> Path:
    """The base with ``adapter`` merged in, exported for CTranslate2 under
    ``$NESY_HOME/ct2/<mode>-<adapter sha256>-<quantization>``: built once per adapter,
    its ``model.bin`` checked against the manifest's sha256 on every load, rebuilt when
    damaged. Only the export is kept: the merged Hugging Face weights (as large again) are
    an intermediate, deleted once converted, so a skill costs one model's disk, not two."""
    from agent.students.ct2 import convert

    adapter_sha = sha256_file(adapter / "adapter_model.safetensors")
    target = nesy_home() / "ct2" / f"{mode}-{adapter_sha[:12]}-{quantization}"
    manifest_path = target / "nesy_manifest.json"
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            manifest = {}
        weights = target / "model.bin"
        if (
            manifest.get("format") == EXPORT_FORMAT
            and manifest.get("adapter_sha256") == adapter_sha
            and weights.is_file()
            and manifest.get("model_sha256") == sha256_file(weights)
        ):
            return target
    # Merged models of nesy <= 0.18 lay here, one per skill; the export replaces them.
    shutil.rmtree(nesy_home() / "models" / "skills" / f"{mode}-{adapter_sha[:12]}",
                  ignore_errors=True)  # fmt: skip
    merged = target.with_name(target.name + ".merging")
    try:
        _merge(base, adapter, merged)
        convert(merged, target, quantization)
    except OSError as exc:  # a full disk while saving the merged weights
        raise StudentError(f"cannot merge {adapter} into {base}: {exc}") from None
    finally:
        shutil.rmtree(merged, ignore_errors=True)
    manifest = {
        "format": EXPORT_FORMAT,
        "base": str(base),
        "adapter": str(adapter),
        "adapter_sha256": adapter_sha,
        "model_sha256": sha256_file(target / "model.bin"),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return target


def _merge(base: Path, adapter: Path, out: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    shutil.rmtree(out, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)


class SkillStudent(Interruptible):
    """The base model, and per mode the base with that mode's adapter; each built on first
    use by ``make(adapter_or_None)``. ``generate(..., skill=mode)`` runs the mode's one."""

    uses_skills = True
    # Each mode's prompt carries the KB exemplars its adapter was trained with, unless the
    # user set a number (``Agent.load(exemplars=...)`` turns this off).
    follow_trained_exemplars = True

    def __init__(
        self,
        make: Callable[[str | None, Path | None], Any],
        adapters: dict[str, Path],
        name: str,
        base_sha256: str = "",
    ) -> None:
        super().__init__()
        self._make = make
        self.adapters = dict(adapters)
        self.cards = {mode: check(path, base_sha256) for mode, path in self.adapters.items()}
        self.name = name
        self._students: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def for_skill(self, skill: str | None) -> Any:
        """The student a mode runs on (the base when the mode has no adapter)."""
        key = skill if skill in self.adapters else None
        with self._lock:
            if key not in self._students:
                student = self._make(key, self.adapters.get(key) if key else None)
                # One interrupt flag and step counter for all: Ctrl-C stops whichever runs.
                student._interrupt, student._steps = self._interrupt, self._steps
                self._students[key] = student
            return self._students[key]

    @property
    def tokenizer(self) -> Any:
        return self.for_skill(None).tokenizer

    def trained_exemplars(self, skill: str | None) -> int | None:
        """The KB exemplars a mode's adapter was trained with (None: no adapter)."""
        meta = self.cards.get(skill or "")
        value = meta.config.get("exemplars") if meta else None
        return value if isinstance(value, int) else None

    def generate(self, prompts: list[Any], skill: str | None = None, **kw: Any) -> list[Any]:
        return list(self.for_skill(skill).generate(prompts, **kw))

    def stream(self, prompt: Any, skill: str | None = None, **kw: Any) -> Iterator[str]:
        return iter(self.for_skill(skill).stream(prompt, **kw))


def load_default(kind: str, device: str, threads: int | None, root: Path | None = None) -> Any:
    """``default`` (Hugging Face) or ``ct2:default``: the packaged base with the shipped
    adapters, or the base alone when none is shipped."""
    from agent.students.packaged import DEFAULT_NAME, default_model_dir, default_weights_hash

    base = default_model_dir()
    adapters = shipped(root)
    if kind == "ct2":
        from agent.students.ct2 import CT2Student

        def make(mode: str | None, adapter: Path | None) -> Any:
            if adapter is None:
                return CT2Student(base, device=device, threads=threads, name="ct2:default")
            return CT2Student(
                base, device=device, threads=threads, name=f"ct2:default:{mode}",
                exporter=lambda q: skill_export(base, adapter, str(mode), q),
            )  # fmt: skip

        name = "ct2:default"
    else:
        from agent.students.hf import HFStudent

        def make(mode: str | None, adapter: Path | None) -> Any:
            label = f"default:{DEFAULT_NAME}" + (f"+{mode}" if adapter else "")
            return HFStudent(base, adapter=str(adapter) if adapter else None, device=device,
                             threads=threads, name=label)  # fmt: skip

        name = "default:" + DEFAULT_NAME
    if adapters:
        name += "+skills:" + ",".join(sorted(adapters))
    return SkillStudent(make, adapters, name, base_sha256=default_weights_hash(base))
