"""``nesy.toml``: default paths and agent settings; command-line flags override it.

Looked up in this order, first found wins: ``$NESY_CONFIG``, ``./nesy.toml``,
``$NESY_HOME/nesy.toml``. Example::

    [paths]
    kb = "~/kbs/math.duckdb"          # default --kb
    checkpoint = "~/.cache/nesy/chat.sqlite"
    results = "./results"             # where bench runs go
    data = "../shared/data"           # default --data for nesy bench run

    [agent]
    model = "hf:./out/student"        # default --model
    mode = "pad"
    max_repairs = 2
    vote_k = 1
    resample_k = 8                    # math answers are counts: no whole answer, sample again
    max_new_tokens = 256
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

# The AgentConfig fields (agent/config.py) the CLI and nesy.toml expose, and the CLI's own.
CONFIG_FLAGS = ("mode", "task", "max_repairs", "vote_k", "resample_k", "max_new_tokens")
SECTIONS = {
    "paths": {"kb", "checkpoint", "results", "data"},
    "agent": {"model", "device", *CONFIG_FLAGS},
}


def config_path() -> Path | None:
    candidates = [
        os.environ.get("NESY_CONFIG"),
        "nesy.toml",
        str(Path(os.environ.get("NESY_HOME", "~/.cache/nesy")).expanduser() / "nesy.toml"),
    ]
    for c in candidates:
        if c and Path(c).expanduser().is_file():
            return Path(c).expanduser()
    return None


def load_config(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The config as ``{section: {key: value}}``; unknown keys are an error naming them."""
    path = path or config_path()
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    for section, values in data.items():
        known = SECTIONS.get(section)
        if known is None:
            raise ValueError(
                f"{path}: unknown section [{section}]; known: {', '.join(sorted(SECTIONS))}"
            )
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in [{section}]")
    return data


def apply(args: Any, config: dict[str, dict[str, Any]], defaults: dict[str, Any]) -> None:
    """Fill every flag the user did not give (``None``) from the config, then the defaults."""
    merged = {**config.get("agent", {}), **config.get("paths", {})}
    for key, default in defaults.items():
        if getattr(args, key, None) is None:
            value = merged.get(key, default)
            if key in ("kb", "checkpoint") and value is not None:
                value = Path(str(value)).expanduser()
            setattr(args, key, value)
