"""Versioned prompt templates, shared with training so train and inference prompts match.

A template is a file ``NAME.vN.txt``: a ``system`` section, then a ``user`` section, with
``{placeholders}``. ``load("pad")`` returns the newest version; ``load("pad@v1")`` a given
one. A ``Template`` renders to chat messages, and its ``id`` (``pad@v1``) goes in the trace.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
_SECTION = re.compile(r"^### (system|user)\s*$", re.M)


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def messages(self, **fields: str) -> list[dict[str, str]]:
        try:
            user = self.user.format(**fields)
        except KeyError as exc:
            raise ValueError(f"prompt {self.id} needs field {exc.args[0]!r}") from None
        out = [{"role": "system", "content": self.system}] if self.system else []
        return [*out, {"role": "user", "content": user}]


def available() -> list[str]:
    return sorted(p.name.removesuffix(".txt") for p in HERE.glob("*.v*.txt"))


@functools.lru_cache(maxsize=128)  # templates are versioned files, never edited in place
def load(ref: str) -> Template:
    name, _, version = ref.partition("@")
    candidates = sorted(HERE.glob(f"{name}.v*.txt"), key=lambda p: int(p.stem.split(".v")[-1]))
    if version:
        candidates = [p for p in candidates if p.stem == f"{name}.{version}"]
    if not candidates:
        raise ValueError(f"no prompt template {ref!r}; known: {', '.join(available())}")
    path = candidates[-1]
    parts = _SECTION.split(path.read_text())
    sections = dict(zip(parts[1::2], (p.strip("\n") for p in parts[2::2]), strict=True))
    return Template(
        name, int(path.stem.split(".v")[-1]), sections.get("system", ""), sections.get("user", "")
    )
