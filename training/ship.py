"""``nesy distill ship``: a trained LoRA adapter becomes the packaged skill of one agent mode
(``agent/skills/<mode>/``: its config, its bf16 weights and its ModelCard), after checks:
it is an adapter of the packaged base, its data may ship under the package's licence
(Apache-2.0: no non-commercial data, such as CLUTRR's CC BY-NC), and it fits the size
budget. The card keeps where it was trained; the shipped copy's ``adapter`` field says
where it now lives.

    nesy distill ship --adapter runs/stepgame/adapter --mode spatial
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.modes import MODE_SPECS
from agent.students import skills

MAX_MB = 20.0  # per adapter, bf16 (the budget: the wheel stays small)
NOT_SHIPPABLE = ("NC",)  # licence markers of data that cannot ship (CC BY-NC)


class ShipError(ValueError):
    """An adapter that cannot become a packaged skill; the message says why."""


def ship(adapter: Path, mode: str, to: Path | None = None, base_sha256: str | None = None) -> Path:
    """Copy ``adapter`` to ``to/<mode>`` (default: the package's skills); returns it.
    ``base_sha256``: the base it must belong to (default: the packaged SmolLM2's)."""
    if mode not in MODE_SPECS:
        raise ShipError(f"unknown mode {mode!r}; known: {', '.join(MODE_SPECS)}")
    if base_sha256 is None:
        from agent.students.packaged import default_model_dir, default_weights_hash

        base_sha256 = default_weights_hash(default_model_dir())
    card = skills.check(adapter, base_sha256)
    if not card.base_model_sha256:
        raise ShipError(f"{adapter}: its card does not say which base it was trained on")
    if any(marker in card.licence for marker in NOT_SHIPPABLE):
        raise ShipError(
            f"{adapter} was trained on data licensed {card.licence!r}, which this Apache-2.0 "
            "package cannot ship; keep it as a local adapter (hf:BASE+lora:DIR)"
        )
    size = (adapter / "adapter_model.safetensors").stat().st_size / 1e6
    if size > MAX_MB:
        raise ShipError(f"{adapter}: {size:.1f} MB of weights, over the {MAX_MB:g} MB budget")
    target = (to or skills.SKILLS_DIR) / mode
    tmp = target.with_name(target.name + ".shipping")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in skills.ADAPTER_FILES[:2]:
        shutil.copy2(adapter / name, tmp / name)
    shipped = card.model_copy(update={"adapter": f"agent/skills/{mode}"})
    (tmp / "model_card.json").write_text(shipped.model_dump_json(indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
