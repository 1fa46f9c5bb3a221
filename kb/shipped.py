"""The KB that ships with nesy, built into ``$NESY_HOME/kb/default.duckdb`` on first use.

Site-packages may be read-only, so the package carries only data (MIT-licensed):
``kb/data/gsm8k_train_exemplars.jsonl`` (worked exemplars) and
``kb/data/gsm8k_train_exemplars.embeddings.parquet`` (their MiniLM vectors, so the first
open costs an import, not an hour of embedding).

The exemplars are distilled from GSM8K *train* (openai/grade-school-math, MIT) by an
offline builder in training (``python -m training.exemplars --data ../shared/data``): only
programs whose executed answer equals the gold answer are kept, so every shipped exemplar
is ``verified``. GSM8K test is never read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from solvers.files import nesy_home  # the one cache root

DATA = Path(__file__).with_name("data")
EXEMPLARS = DATA / "gsm8k_train_exemplars.jsonl"
EMBEDDINGS = DATA / "gsm8k_train_exemplars.embeddings.parquet"


def exemplars() -> list[Any]:
    """The shipped exemplar items (``KnowledgeItem``), in file order."""
    from kb.models import KnowledgeItem

    with open(EXEMPLARS) as f:
        return [KnowledgeItem.model_validate_json(line) for line in f if line.strip()]


def default_kb_path() -> Path:
    return nesy_home() / "kb" / "default.duckdb"


def open_default(read_only: bool = True) -> Any:
    """The shipped KB, built under ``$NESY_HOME`` the first time it is needed."""
    from kb.store import KnowledgeBase

    path = default_kb_path()
    if not path.exists():
        install(path)
    return KnowledgeBase(path, read_only=read_only)


def install(path: Path) -> Path:
    """Build the default KB at ``path`` from the shipped files (atomically: tmp + rename)."""
    from kb.store import KnowledgeBase

    tmp = path.with_name(path.name + ".building")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    with KnowledgeBase(tmp) as kb:
        kb.import_file(EXEMPLARS, fmt="jsonl")
        if EMBEDDINGS.exists():
            kb.load_embeddings(EMBEDDINGS)
    os.replace(tmp, path)
    return path
