"""StepGame (spatial, answer type ``label``; difficulty ``k_hop``).

File: ``stepgame/test_k1-3_first1000.jsonl`` (EVAL ONLY), dev/train ``stepgame/valid_k1-10.jsonl``.
Fields: ``id``, ``story`` (a list of sentences), ``question``, ``label``, ``k_hop``; or the
original release, a JSON object of ``{"0": {"story", "question", "label", "k_hop"}, ...}``.
The question a system sees is the story, one sentence per line, then the question. The
agent's ``spatial`` mode (``auto`` picks it) has the student write ``rel/3`` facts and
``agent/rules/spatial.lp`` place the agents. The template parser that turns a story into
those facts (the library's oracle, the ``silver:stepgame`` teacher) is ``training.stepgame``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tasks.base import Item, Task

LABELS = (
    "left", "right", "above", "below", "lower-left", "lower-right", "upper-left",
    "upper-right", "overlap",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class StepGame(Task):
    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
        if path.suffix != ".json":
            yield from super().rows(path)
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield exc.lineno, f"invalid JSON ({exc.msg})"
            return
        for i, (key, row) in enumerate(data.items(), 1):
            ok = isinstance(row, dict)
            yield i, {"id": f"{path.stem}-{key}", **row} if ok else "not a JSON object"

    def parse(self, row: dict[str, Any], line: int) -> Item:
        story = row["story"]
        if not isinstance(story, list):
            raise ValueError("story must be a list of sentences")
        label = str(row["label"]).strip().lower()
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        question = "\n".join(s.strip() for s in story) + "\n" + str(row["question"]).strip()
        sid = str(row["id"])
        return Item(
            id=f"{self.name}/{sid}",
            question=question,
            gold=label,
            difficulty=int(row["k_hop"]),
            group=sid,
            meta={"story": story, "query": row["question"]},
        )


TASK = StepGame(
    name="stepgame",
    domain="spatial",
    answer_type="label",
    files={"test": "stepgame/test_k1-3_first1000.jsonl", "train": "stepgame/valid_k1-10.jsonl"},
    fewshot_split="train",
    bundled_fewshot="stepgame/valid_fewshot.jsonl",
    labels=LABELS,
    licence="MIT",
    description="2-D spatial relations over k-hop stories",
)
