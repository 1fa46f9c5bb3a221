"""What a benchmark task is: a loader, an answer type and metric, a difficulty and a group key.

A task is one small file in ``bench/tasks/`` that defines ``TASK = SomeTask(...)``; the
registry (``bench.tasks``) finds it. Training loads gold data through the same objects, so a
task's ``Item.id`` is what a ``ModelCard`` lists as a training item and what the contamination
guard checks.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.normalize import AnswerType, matches, normalize

BUNDLED = Path(__file__).resolve().parents[1] / "data"


class TaskError(ValueError):
    """A dataset that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Item:
    """One benchmark item.

    ``id`` is ``"<task>/<source id>"``; ``question`` is the full text a system sees (story,
    context and question together); ``difficulty`` is the task's hardness axis (hops, chain
    length, depth, steps) or ``None``; ``group`` keeps items that share a context together
    when splitting (ProofWriter's ``…-D5-1041_Q1`` and ``_Q2`` share ``…-D5-1041``).
    """

    id: str
    question: str
    gold: Any
    difficulty: int | None = None
    group: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BadLine:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


def in_holdout(group: str, fraction: float) -> bool:
    """Whether a group key falls in the hold-out share: a hash, so stable across runs,
    files and machines. Training's dev split and the bench's hold-out tasks use it."""
    h = int.from_bytes(hashlib.sha256(group.encode()).digest()[:8], "big")
    return h / 2**64 < fraction


@dataclass(frozen=True, kw_only=True)
class Task:
    """Base task over JSONL files. Subclasses override ``parse`` (and ``rows`` for other
    formats).

    Attributes:
        name: the CLI name.
        domain: the agent's task type (``math``, ``spatial``, ``kinship``, ``deductive``,
            ``fol``, ``yesno``); ``agent --mode auto`` routes on it.
        answer_type: ``number``, ``label`` or ``yesno`` (the agent's shared normaliser).
        files: split -> path relative to a data root (``../shared/data`` layout).
        eval_split: the split ``nesy bench run`` scores.
        fewshot_split: where few-shot exemplars for direct prompting come from; never an
            EVAL ONLY file of the same set.
        mode: the agent mode a run uses unless told otherwise (``direct`` where no solver
            covers the task yet).
        labels: the closed label set, for prompts and for reading labels out of free text.
        licence: of the data; MIT sets may be bundled in ``bench/data``.
        bundled_fewshot: the few-shot file in ``bench/data`` used without ``--data``.
        holdout: score only the items whose group falls in this hold-out share
            (``in_holdout``): the part of a file that a student trained on the rest never
            saw (training splits its dev part by the same hash).
        id_prefix: the namespace of item ids (default ``name``): a hold-out variant keeps
            its file's ids, so the contamination guard still recognises them.
    """

    name: str
    domain: str
    answer_type: AnswerType
    files: dict[str, str]
    eval_split: str = "test"
    fewshot_split: str | None = None
    mode: str = "auto"
    labels: tuple[str, ...] = ()
    licence: str = ""
    description: str = ""
    bundled_fewshot: str | None = None
    holdout: float = 0.0
    id_prefix: str = ""

    @property
    def prefix(self) -> str:
        return self.id_prefix or self.name

    # --- reading -----------------------------------------------------------------------------

    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """``(line, row)`` pairs; a malformed line gives ``(line, reason)`` instead.

        JSONL, or for a ``.json`` file a JSON list (how several original releases ship),
        where ``line`` is the position in the list."""
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                yield exc.lineno, f"invalid JSON ({exc.msg})"
                return
            if not isinstance(data, list):
                yield 1, "expected a JSON list of items"
                return
            for i, row in enumerate(data, 1):
                yield i, row if isinstance(row, dict) else "not a JSON object"
            return
        yield from jsonl_rows(path)

    def parse(self, row: dict[str, Any], line: int) -> Item:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(
        self, path: str | Path, on_bad_line: str = "stop", bad: list[BadLine] | None = None
    ) -> list[Item]:
        """Every item of one file. A malformed line raises ``TaskError`` naming file and line,
        or, with ``on_bad_line="skip"``, is appended to ``bad`` and skipped."""
        path = Path(path)
        if not path.is_file():
            raise TaskError(f"{self.name}: no data file at {path}")
        items: list[Item] = []
        try:
            for number, row in self.rows(path):
                try:
                    if isinstance(row, str):
                        raise ValueError(row)
                    items.append(self.parse(row, number))
                except (KeyError, TypeError, ValueError) as exc:
                    reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                    if on_bad_line != "skip":
                        raise TaskError(f"{path}:{number}: {reason}") from None
                    if bad is not None:
                        bad.append(BadLine(str(path), number, reason))
        except UnicodeDecodeError as exc:
            raise TaskError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        if self.holdout:
            items = [it for it in items if in_holdout(it.group or it.id, self.holdout)]
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise TaskError(f"{path}: item id {item.id!r} appears twice")
            seen.add(item.id)
        return items

    def resolve(self, data: str | Path | None, split: str | None = None) -> Path:
        """The file for ``split``: ``data`` may be that file, or a data root laid out like
        ``../shared/data``; without ``data``, the copy bundled in ``bench/data`` (MIT sets)."""
        split = split or self.eval_split
        if split not in self.files:
            raise TaskError(f"{self.name} has no {split!r} split; it has {sorted(self.files)}")
        if data is not None and Path(data).is_file():
            return Path(data)
        root = Path(data) if data is not None else BUNDLED
        path = root / self.files[split]
        if data is None and split == self.fewshot_split and self.bundled_fewshot:
            path = BUNDLED / self.bundled_fewshot
        if not path.exists():
            hint = (
                "pass --data with the benchmark files (a data root or the file itself)"
                if data is None
                else f"expected {self.files[split]} under {root}"
            )
            raise TaskError(f"{self.name}: no {split} data at {path}; {hint}")
        return path

    def fewshot_pool(self, data: str | Path | None) -> list[Item]:
        """The exemplars direct prompting samples from: the few-shot split; for a hold-out
        variant, the rest of its own file (the contexts a student trained on, none of which
        it scores)."""
        if self.holdout:
            whole = dataclasses.replace(self, holdout=0.0).load(self.resolve(data))
            return [it for it in whole if not in_holdout(it.group or it.id, self.holdout)]
        if not self.fewshot_split:
            return []
        return self.load(self.resolve(data, self.fewshot_split))

    # --- scoring -------------------------------------------------------------------------------

    def normalize(self, value: Any) -> Any:
        return normalize(value, self.answer_type)

    def correct(self, prediction: Any, gold: Any) -> bool:
        """Numbers within relative tolerance 1e-4, labels and yes/no exactly."""
        return matches(prediction, gold, self.answer_type)

    def extract(self, text: str) -> Any:
        """Read an answer out of a model's free text (for direct prompting)."""
        tail = text.strip().split("\n\n")[0] if self.answer_type != "number" else text
        for marker in ("answer is", "Answer:", "answer:"):
            if marker in tail:
                tail = tail.rsplit(marker, 1)[1]
                break
        if self.labels:
            lowered = tail.lower()
            found = [(lowered.find(lab), lab) for lab in self.labels if lab in lowered]
            # the earliest mention; among labels starting there, the longest ("upper-left")
            return min(found, key=lambda p: (p[0], -len(p[1])))[1] if found else None
        return normalize(tail, self.answer_type)

    # --- prompting -----------------------------------------------------------------------------

    def fewshot_answer(self, item: Item) -> str:
        """How an exemplar's answer is written in a few-shot prompt."""
        return str(item.gold)


def jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line, object)`` per non-blank line of a JSONL file; ``(line, reason)`` for a
    malformed one, so a caller can stop or skip it."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"invalid JSON ({exc.msg})"
                continue
            yield number, row if isinstance(row, dict) else "not a JSON object"


def stable_id(*parts: str) -> str:
    """A short content hash, for sources without ids."""
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]


def read_csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            yield reader.line_num, row
