"""The harness's records: one ``BenchRecord`` per scored item and one ``RunInfo`` per run.

Both are pydantic (``extra="forbid"``) with a ``schema_version``; the results database
(``bench.results``) stores them as rows and reads them back through these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.records import FailureClass

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(
                f"{cls.__name__} schema_version {v} is not supported by this nesy "
                f"(expected {SCHEMA_VERSION}); upgrade nesy or re-run the benchmark"
            )
        return v


class BenchRecord(_Record):
    """One item's outcome in one run."""

    run_id: str
    task: str
    item_id: str
    prediction: Any = None
    gold: Any = None
    correct: bool = False
    verified: bool = False
    failure: FailureClass | None = Field(
        None, description="why a wrong item went wrong; None when correct"
    )
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    difficulty: int | None = None
    contaminated: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunInfo(_Record):
    """What a run was: enough to reproduce it and to judge its numbers."""

    run_id: str
    system: str
    tasks: list[str]
    config: dict[str, Any] = Field(default_factory=dict)
    model_hash: str = ""
    model_card: dict[str, Any] | None = None
    data_files: list[dict[str, str]] = Field(
        default_factory=list, description="[{task, split, path, sha256}] evaluated on"
    )
    train_files: list[dict[str, str]] = Field(
        default_factory=list, description="from the model card: [{path, sha256}] trained on"
    )
    git_commit: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    command: str = ""
    shard: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
