"""The agent's records: what a run produced, and what training and the bench read.

``Trace`` is the row training reads (one JSON line per question), so the loop from agent
back to training needs no conversion. ``ModelCard`` is written by training and read by the
bench's contamination guard. Every record carries ``schema_version``; a reader rejects an
unknown version with a clear message instead of guessing.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from solvers import SolverResult

SCHEMA_VERSION = 1


class FailureClass(StrEnum):
    """Why an answer is not a verified correct one (bench and training share these)."""

    parse_error = "parse_error"  # the model's output held no usable program
    solver_error = "solver_error"  # the program ran and failed (after repairs)
    timeout = "timeout"  # the solver or the question's budget ran out
    fallback_used = "fallback_used"  # no solver answer: a direct, unverified answer
    wrong_answer = "wrong_answer"  # verified or not, it does not match the gold answer
    duplicate = "duplicate"  # training only: a trace already seen


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(
                f"{cls.__name__} schema_version {v} is not supported by this nesy "
                f"(expected {SCHEMA_VERSION}); upgrade nesy or convert the file"
            )
        return v


class Usage(_Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    repairs: int = 0
    solver_calls: int = 0


class Step(_Record):
    """One node's contribution: a sub-question, a program and its solver result, a repair."""

    node: str
    text: str = ""
    program: str | None = None
    solver: str | None = None
    result: SolverResult | None = None
    repair: int = 0
    seconds: float = 0.0


class Trace(_Record):
    """A run, as training reads it. ``to_jsonl`` / ``from_jsonl`` round-trip exactly."""

    task: str = ""
    item_id: str = ""
    question: str
    gold: Any = None
    model: str = Field("", description="teacher or student id (spec or model hash)")
    prompt_id: str = Field("", description="template name@version the prompt came from")
    mode: str = ""
    raw_outputs: list[str] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    sub_questions: list[str] = Field(default_factory=list)
    results: list[SolverResult] = Field(default_factory=list)
    answer: Any = None
    verified: bool = False
    verdict: Literal["accepted", "rejected", "unknown"] = "unknown"
    rejection_reason: FailureClass | None = None

    def to_jsonl(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_jsonl(cls, line: str) -> Trace:
        data = json.loads(line)
        return cls.model_validate(data)


class Answer(_Record):
    """What ``Agent.ask`` returns."""

    answer: Any
    answer_type: str = "none"
    verified: bool = False
    steps: list[Step] = Field(default_factory=list)
    trace: Trace
    usage: Usage = Field(default_factory=Usage)
    failure: FailureClass | None = None


class ModelCard(_Record):
    """Written by training next to a checkpoint; read by the bench's contamination guard."""

    base_model: str
    base_model_sha256: str = ""
    adapter: str | None = None
    train_files: list[dict[str, str]] = Field(
        default_factory=list, description="[{'file': path, 'sha256': hex}]"
    )
    train_item_ids: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    command: str = ""
