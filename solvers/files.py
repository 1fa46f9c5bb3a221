"""What every layer shares about files, without importing any of them: the cache root
(``NESY_HOME``), a file's sha256, and a model's identity (the hash of its weights).

Example:
    >>> nesy_home().name in ("nesy", "") or True
    True
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def nesy_home() -> Path:
    """The cache root: converted models, CT2 exports, the built default KB."""
    return Path(os.environ.get("NESY_HOME", "~/.cache/nesy")).expanduser()


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def weights_hash(model_dir: str | Path) -> str:
    """A model directory's identity: the sha256 over its safetensors files' sha256s, in name
    order ("" when it has none). The ModelCard, the bench and the CT2 export use it."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return ""
    h = hashlib.sha256()
    for f in files:
        h.update(sha256_file(f).encode())
    return h.hexdigest()
