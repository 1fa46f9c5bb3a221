"""FOLIO first-order logic (answer type ``label``: true / false / uncertain).

Files: ``folio/validation.jsonl`` (dev), ``folio/train.jsonl``. Fields: ``premises`` (a list),
``conclusion``, ``label``; ``story_id`` when present groups items of one story, otherwise
the premises' hash does. Runs in ``direct`` mode: no solver covers first-order logic yet.
Licence CC BY-SA 4.0: read from ``--data``, never bundled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.tasks.base import Item, Task, stable_id


@dataclass(frozen=True, kw_only=True)
class Folio(Task):
    def parse(self, row: dict[str, Any], line: int) -> Item:
        premises = row["premises"]
        if isinstance(premises, str):
            premises = [premises]
        label = str(row["label"]).strip().lower()
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}")
        group = str(row.get("story_id") or stable_id(*premises))
        sid = str(row.get("example_id") or row.get("id") or stable_id(*premises, row["conclusion"]))
        text = "\n".join(p.strip() for p in premises)
        return Item(
            id=f"{self.name}/{sid}",
            question=f"{text}\nIs the following true, false or uncertain? {row['conclusion']}",
            gold=label,
            group=group,
            meta={"premises": premises, "conclusion": row["conclusion"]},
        )


TASK = Folio(
    name="folio",
    domain="fol",
    answer_type="label",
    files={"test": "folio/validation.jsonl", "train": "folio/train.jsonl"},
    eval_split="test",
    fewshot_split="train",
    mode="direct",
    labels=("true", "false", "uncertain"),
    licence="CC BY-SA 4.0",
    description="first-order logic stories (direct mode until a FOL solver exists)",
)
