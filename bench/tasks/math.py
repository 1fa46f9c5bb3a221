"""Math word problems (answer type ``number``, agent mode ``pad``).

Files are under ``--data``; each task also reads its original public release:
- ``gsm8k``: ``gsm8k/test.jsonl`` (EVAL ONLY; few-shot from ``gsm8k/train.jsonl``). Fields
  ``id``, ``question``, ``answer`` (a number, or the original ``"... #### 18"``), ``solution``.
  Difficulty: the number of ``<<calculator>>`` steps in the solution.
- ``svamp``: ``svamp/test.jsonl`` (EVAL ONLY): ``id``, ``question``, ``answer``, ``equation``;
  or the original JSON list (``ID``, ``Body``, ``Question``, ``Equation``, ``Answer``).
  Difficulty: operators in the equation.
- ``multiarith``: ``multiarith/test.jsonl`` (``question``, ``answer``), or the original JSON
  list (``iIndex``, ``sQuestion``, ``lEquations``, ``lSolutions``). Difficulty: operators.
- ``asdiv``: the original ``asdiv/ASDiv.xml`` (``Problem/@ID``, ``@Grade``, ``Body``,
  ``Question``, ``Answer`` like ``"9 (apples)"``), or JSONL. Difficulty: the grade.
- ``gsm-hard``: ``gsmhard/test.jsonl`` with ``input``, ``code``, ``target``: the gold answer is
  what its program computes (``target``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.normalize import to_number
from bench.tasks.base import Item, Task, stable_id

_CALC = re.compile(r"<<[^>]*>>")
_OPS = re.compile(r"[-+*/]")


def _number(value: Any, what: str = "answer") -> float:
    n = to_number(value)
    if n is None:
        raise ValueError(f"{what} {value!r} is not a number")
    return n


@dataclass(frozen=True, kw_only=True)
class MathTask(Task):
    domain: str = "math"
    answer_type: Any = "number"

    def parse(self, row: dict[str, Any], line: int) -> Item:
        if "Body" in row:  # original SVAMP
            question = f"{row['Body'].strip()} {row['Question'].strip()}"
        else:
            question = str(row.get("question") or row.get("sQuestion") or row["input"]).strip()
        answer = row.get("answer", row.get("Answer", row.get("target")))
        if answer is None and row.get("lSolutions"):
            answer = row["lSolutions"][0]
        solution = ""
        if isinstance(answer, str) and "####" in answer:  # original GSM8K
            solution, answer = answer.rsplit("####", 1)
        source_id = row.get("id", row.get("ID", row.get("iIndex")))
        sid = str(source_id) if source_id is not None else stable_id(question)
        steps = row.get("solution", solution)
        equation = row.get("equation") or row.get("Equation") or " ".join(row.get("lEquations", []))
        if steps:
            difficulty: int | None = max(1, len(_CALC.findall(steps)) or steps.count("\n") + 1)
        elif equation:
            difficulty = len(_OPS.findall(equation.split("=")[-1])) or None
        else:
            difficulty = None
        return Item(
            id=f"{self.name}/{sid}",
            question=question,
            gold=_number(answer),
            difficulty=difficulty,
            group=sid,
            meta={"solution": steps, "code": row.get("code", "")},
        )

    def fewshot_answer(self, item: Item) -> str:
        steps = _CALC.sub("", item.meta.get("solution") or "").strip()
        gold = int(item.gold) if float(item.gold).is_integer() else item.gold
        return f"{steps}\nThe answer is {gold}." if steps else f"The answer is {gold}."


@dataclass(frozen=True, kw_only=True)
class ASDivTask(MathTask):
    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
        if path.suffix != ".xml":
            yield from super().rows(path)
            return
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            yield exc.position[0], f"invalid XML ({exc})"
            return
        for i, p in enumerate(root.iter("Problem"), 1):
            answer = (p.findtext("Answer") or "").split("(")[0].strip()
            yield (
                i,
                {
                    "id": p.get("ID", str(i)),
                    "question": f"{(p.findtext('Body') or '').strip()} "
                    f"{(p.findtext('Question') or '').strip()}".strip(),
                    "answer": answer,
                    "grade": p.get("Grade"),
                },
            )

    def parse(self, row: dict[str, Any], line: int) -> Item:
        item = super().parse(row, line)
        grade = row.get("grade")
        if grade is None or not str(grade).isdigit():
            return item
        return Item(item.id, item.question, item.gold, int(grade), item.group, item.meta)


TASKS = [
    MathTask(
        name="gsm8k",
        files={"test": "gsm8k/test.jsonl", "train": "gsm8k/train.jsonl"},
        fewshot_split="train",
        bundled_fewshot="gsm8k/train_fewshot.jsonl",
        licence="MIT",
        description="grade-school math, 1319 test questions",
    ),
    MathTask(
        name="svamp",
        files={"test": "svamp/test.jsonl", "train": "gsm8k/train.jsonl"},
        fewshot_split="train",  # SVAMP has no train split: GSM8K's exemplars, as PaL does
        bundled_fewshot="gsm8k/train_fewshot.jsonl",
        licence="MIT",
        description="SVAMP variations of simple word problems",
    ),
    MathTask(
        name="multiarith",
        files={"test": "multiarith/test.jsonl"},
        licence="CC BY 4.0 (MAWPS)",
        description="MultiArith multi-step arithmetic",
    ),
    ASDivTask(
        name="asdiv",
        files={"test": "asdiv/ASDiv.xml"},
        licence="CC BY-NC 4.0",
        description="ASDiv diverse math word problems",
    ),
    MathTask(
        name="gsm-hard",
        files={"test": "gsmhard/test.jsonl"},
        licence="MIT",
        description="GSM8K with larger numbers; gold is what its program computes",
    ),
]
