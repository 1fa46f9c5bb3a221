"""StrategyQA yes/no questions (answer type ``yesno``), BIG-bench packaging.

File: ``strategyqa/train.jsonl`` (the only split here; used as dev). Fields: ``id``,
``question``, ``answer`` (bool), ``facts``; or the original release's JSON list
(``strategyqa_train.json``: ``qid``, ``question``, ``answer``, ``facts`` as a list).
Runs in ``direct`` mode: no solver covers open-domain yes/no questions yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.tasks.base import Item, Task


@dataclass(frozen=True, kw_only=True)
class StrategyQA(Task):
    def parse(self, row: dict[str, Any], line: int) -> Item:
        answer = row["answer"]
        if not isinstance(answer, bool):
            raise ValueError(f"answer {answer!r} is not true/false")
        sid = str(row.get("id") or row["qid"])
        return Item(
            id=f"{self.name}/{sid}",
            question=str(row["question"]).strip(),
            gold="yes" if answer else "no",
            group=sid,
            meta={"facts": row.get("facts", "")},  # a string here, a list in the original
        )


TASK = StrategyQA(
    name="strategyqa",
    domain="yesno",
    answer_type="yesno",
    files={"test": "strategyqa/train.jsonl"},
    mode="direct",
    labels=("yes", "no"),
    description="implicit multi-step yes/no questions (direct mode)",
)
