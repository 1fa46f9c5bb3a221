"""The agent's records: what a run produced, and what training and the bench read.

``Trace`` is the row training reads (one JSON line per question), so the loop from agent
back to training needs no conversion. ``ModelCard`` is written by training and read by the
bench's contamination guard. Every record carries ``schema_version``; a reader rejects an
unknown version with a clear message instead of guessing.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from solvers import SolverResult
from solvers.records import DataFile, Record


class FailureClass(StrEnum):
    """Why an answer is not a verified correct one (bench and training share these)."""

    parse_error = "parse_error"  # the model's output held no usable program
    solver_error = "solver_error"  # the program ran and failed (after repairs)
    timeout = "timeout"  # the solver or the question's budget ran out
    fallback_used = "fallback_used"  # no solver answer: a direct, unverified answer
    wrong_answer = "wrong_answer"  # verified or not, it does not match the gold answer
    duplicate = "duplicate"  # training only: a trace already seen


class Usage(Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    repairs: int = 0
    solver_calls: int = 0


class Step(Record):
    """One node's contribution: a sub-question, a program and its solver result, a repair."""

    node: str
    text: str = ""
    program: str | None = None
    solver: str | None = None
    result: SolverResult | None = None
    repair: int = 0
    seconds: float = 0.0


class Attempt(Record):
    """One step of a run, losslessly: a model call (its node, the rendered messages, the raw
    output and the program kept from it) or a solver call (the program and its result).
    SFT examples, rejection sampling and preference pairs are built from these."""

    node: str
    prompt_id: str = ""
    messages: list[dict[str, str]] | None = None
    raw_output: str = ""
    program: str | None = None
    result: SolverResult | None = None


class Trace(Record):
    """A run, as training reads it. ``to_jsonl`` / ``from_jsonl`` round-trip exactly.

    ``grounded``: a solver computed ``answer`` from a program the student wrote (the agent
    sets it). ``verified``: the answer matches ``gold`` by the one verifier (None when no
    gold was given); ``verdict`` and ``rejection_reason`` are training's, never the agent's.
    """

    SCHEMA_VERSION: ClassVar[int] = 2  # 2: `verified` (solver-computed) became `grounded`

    task: str = ""
    item_id: str = ""
    question: str
    gold: Any = None
    model: str = Field("", description="teacher or student id (spec or model hash)")
    prompt_id: str = Field("", description="template name@version the prompt came from")
    mode: str = ""
    attempts: list[Attempt] = Field(default_factory=list, description="every step, in order")
    raw_outputs: list[str] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    sub_questions: list[str] = Field(default_factory=list)
    results: list[SolverResult] = Field(default_factory=list)
    answer: Any = None
    grounded: bool = False
    verified: bool | None = None
    verdict: Literal["accepted", "rejected", "unknown"] = "unknown"
    rejection_reason: FailureClass | None = None

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        # v1 called a solver-computed answer "verified" and marked it "accepted" without
        # any gold: that is grounding, not a training verdict.
        data["grounded"] = bool(data.pop("verified", False))
        if data.get("verdict") == "accepted":
            data["verdict"] = "unknown"
        return data

    def to_jsonl(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_jsonl(cls, line: str) -> Trace:
        data = json.loads(line)
        return cls.model_validate(data)


class Answer(Record):
    """What ``Agent.ask`` returns. ``grounded``: a solver computed the answer from the
    student's program; it says nothing about whether the answer is correct."""

    SCHEMA_VERSION: ClassVar[int] = 2  # 2: `verified` became `grounded`

    answer: Any
    answer_type: str = "none"
    grounded: bool = False
    steps: list[Step] = Field(default_factory=list)
    trace: Trace
    usage: Usage = Field(default_factory=Usage)
    failure: FailureClass | None = None

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        data["grounded"] = bool(data.pop("verified", False))
        return data


class ModelCard(Record):
    """Written by training next to a checkpoint; read by the bench's contamination guard."""

    base_model: str
    base_model_sha256: str = ""
    adapter: str | None = None
    train_files: list[DataFile] = Field(default_factory=list)
    train_item_ids: list[str] = Field(default_factory=list)
    licence: str = ""  # of the data it was trained on, as each teacher file states it
    config: dict[str, Any] = Field(default_factory=dict)
    command: str = ""
