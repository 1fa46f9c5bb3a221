"""CLUTRR kinship (answer type ``label``, agent mode ``asp``; difficulty: chain length).

- hf/1.0 JSONL (``clutrr/gen_train23_test.jsonl``, EVAL ONLY; dev
  ``clutrr/gen_train23_validation.jsonl``): ``id``, ``story``, ``query`` (``"('A', 'B')"``),
  ``target``, ``f_comb`` (the relation chain, ``"grandson-brother"``).
- the 1.3 CSV (``clutrr/llmasp_clutrr_1.3/clean_100.csv`` and the other three): an index column,
  ``story``, ``query``, ``target``; ids are ``<file stem>-<index>``.

The question is the story, then ``Who is B to A?``: CLUTRR's ``(A, target, B)`` means B is
A's target. Licence CC BY-NC 4.0: read from ``--data``, never bundled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tasks.base import Item, Task, read_csv_rows

LABELS = (
    "father", "mother", "son", "daughter", "brother", "sister", "husband", "wife",
    "grandfather", "grandmother", "grandson", "granddaughter", "uncle", "aunt", "nephew",
    "niece", "father-in-law", "mother-in-law", "son-in-law", "daughter-in-law",
    "brother-in-law", "sister-in-law",
)  # fmt: skip


ALIASES = {"neice": "niece"}  # the 1.3 CSVs spell it so


def question(story: str, query: tuple[str, str]) -> str:
    """The question a system sees: the story, then who B is to A (CLUTRR's ``(A, B)``)."""
    return f"{story.strip()}\nWho is {query[1]} to {query[0]}?"


@dataclass(frozen=True, kw_only=True)
class Clutrr(Task):
    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
        if path.suffix != ".csv":
            yield from super().rows(path)
            return
        for line, row in read_csv_rows(path):
            if isinstance(row, dict):
                row = {**row, "id": f"{path.stem}-{row.get('') or line}"}
            yield line, row

    def parse(self, row: dict[str, Any], line: int) -> Item:
        pair = ast.literal_eval(row["query"])
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"query {row['query']!r} is not a pair of names")
        a, b = (str(x) for x in pair)
        chain = row.get("f_comb")
        gold = str(row["target"]).strip().lower()
        sid = str(row["id"])
        return Item(
            id=f"{self.name}/{sid}",
            question=question(row["story"], (a, b)),
            gold=ALIASES.get(gold, gold),
            difficulty=len(chain.split("-")) if chain else None,
            group=sid,
            meta={"story": row["story"], "query": [a, b], "proof_state": row.get("proof_state")},
        )


TASK = Clutrr(
    name="clutrr",
    domain="kinship",
    answer_type="label",
    files={
        "test": "clutrr/gen_train23_test.jsonl",
        "train": "clutrr/gen_train23_validation.jsonl",
    },
    fewshot_split="train",
    labels=LABELS,
    licence="CC BY-NC 4.0",
    description="kinship relations composed along a chain of family facts",
)
