"""Deductive reasoning over rules: ProofWriter and ProntoQA, in Logic-LM's JSON
(answer type ``label``; agent mode ``prolog``).

File: ``proofwriter/dev.jsonl`` / ``prontoqa/dev.jsonl`` (or Logic-LM's original ``dev.json``
lists). Fields: ``id``, ``context``, ``question``, ``options``, ``answer`` (a letter). The gold
label is the option's word: ``true``, ``false`` or ``unknown``.

- ProofWriter: difficulty is the depth in the id (``…-D5-…``); items that share a context
  (``…-D5-1041_Q1``, ``_Q2``) share a group, so splits never leak a context.
- ProntoQA: difficulty is the number of hops in the gold explanation.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from bench.tasks.base import Item, Task

_DEPTH = re.compile(r"-D(\d+)-")


@dataclass(frozen=True, kw_only=True)
class LogicLM(Task):
    def parse(self, row: dict[str, Any], line: int) -> Item:
        options = {o.split(")")[0].strip(): o.split(")", 1)[1].strip() for o in row["options"]}
        letter = str(row["answer"]).strip()
        if letter not in options:
            raise ValueError(f"answer {letter!r} is not one of the options {sorted(options)}")
        gold = options[letter].lower()
        sid = str(row["id"])
        depth = _DEPTH.search(sid)
        explanation = row.get("explanation") or []
        difficulty = (
            int(depth.group(1)) if depth else (len(explanation) - 1) // 2 if explanation else None
        )
        return Item(
            id=f"{self.prefix}/{sid}",
            question=f"{row['context'].strip()}\n{row['question'].strip()}",
            gold=gold,
            difficulty=difficulty,
            group=sid.rsplit("_Q", 1)[0],
            meta={"context": row["context"], "query": row["question"]},
        )


HOLDOUT = 0.3  # the share of contexts a deductive student's training leaves out

PROOFWRITER = LogicLM(
    name="proofwriter",
    domain="deductive",
    answer_type="label",
    files={"test": "proofwriter/dev.jsonl"},
    labels=("true", "false", "unknown"),
    licence="MIT (Logic-LM subset)",
    description="depth-5 open-world rule reasoning",
)
PRONTOQA = LogicLM(
    name="prontoqa",
    domain="deductive",
    answer_type="label",
    files={"test": "prontoqa/dev.jsonl"},
    labels=("true", "false"),
    licence="MIT (Logic-LM subset)",
    description="5-hop closed-world syllogisms with fictional concepts",
)
# The contexts a student trained on the Logic-LM replays of these dev files never saw (its
# dev split), so the shipped default is scored without --allow-contaminated; the ids stay
# the file's, so the contamination guard still recognises them.
TASKS = [
    PROOFWRITER,
    PRONTOQA,
    *(
        dataclasses.replace(
            task,
            name=f"{task.name}-heldout",
            id_prefix=task.name,
            holdout=HOLDOUT,
            description=f"{task.name} dev, the {HOLDOUT:.0%} of contexts training holds out",
        )
        for task in (PROOFWRITER, PRONTOQA)
    ),
]
