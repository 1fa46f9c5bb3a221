"""The harness's records: one ``BenchRecord`` per scored item and one ``RunInfo`` per run.

Both are pydantic (``extra="forbid"``) with a ``schema_version``; the results database
(``bench.results``) stores them as rows and reads them back through these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from agent.records import FailureClass
from solvers.records import DataFile, Record

SCHEMA_VERSION = 2  # of the results database and its records; 2: `verified` -> `grounded`


class BenchRecord(Record):
    """One item's outcome in one run."""

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION

    run_id: str
    task: str
    item_id: str
    prediction: Any = None
    gold: Any = None
    correct: bool = Field(False, description="the prediction matches gold")
    grounded: bool = Field(False, description="a solver computed the prediction")
    failure: FailureClass | None = Field(
        None, description="why a wrong item went wrong; None when correct"
    )
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    difficulty: int | None = None
    contaminated: bool = False

    @classmethod
    def migrate(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        data["grounded"] = bool(data.pop("verified", False))
        return data

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RunInfo(Record):
    """What a run was: enough to reproduce it and to judge its numbers."""

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION

    run_id: str
    system: str
    tasks: list[str]
    config: dict[str, Any] = Field(default_factory=dict)
    model_hash: str = ""
    model_card: dict[str, Any] | None = None
    data_files: list[DataFile] = Field(default_factory=list, description="evaluated on")
    train_files: list[DataFile] = Field(
        default_factory=list, description="trained on (from the model card)"
    )
    git_commit: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    command: str = ""
    shard: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
