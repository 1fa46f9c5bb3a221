"""The records that cross the solver boundary, and the backend protocol.

A backend never raises into the caller for a bad program: failure is a value
(``SolverResult.status``), so the agent graph can route on it (repair, fallback).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from solvers.records import Record

SCHEMA_VERSION = 1

Status = Literal["ok", "unsat", "timeout", "error", "memory"]


class SolverRequest(Record):
    """One program for one solver, with its limits.

    Example:
        >>> SolverRequest(solver="python", program="ans = 3 / 4").timeout_s
        5.0
    """

    solver: str = Field(description="registered backend name: python, sympy, asp, prolog")
    program: str = Field(description="the program text, as the model wrote it")
    timeout_s: float = Field(5.0, gt=0, le=600, description="wall-clock limit for the run")
    queue_timeout_s: float | None = Field(
        None, ge=0, le=600, description="limit on waiting for a free sandbox (default timeout_s)"
    )
    memory_mb: int = Field(512, gt=0, le=16384, description="memory the program may allocate")
    max_output: int = Field(8192, gt=0, le=1 << 20, description="cap on captured stdout, bytes")
    answer_var: str = Field("ans", description="python: variable holding the answer")
    query: str | None = Field(None, description="prolog goal / sympy unknowns, e.g. 'x, y'")
    facts: str = Field("", description="asp/prolog: extra clauses loaded with the program (KB)")
    project: list[str] = Field(default_factory=list, description="asp: predicates to keep")
    max_models: int = Field(1, ge=0, description="asp answer sets / prolog solutions; 0 = all")
    inferences: int = Field(10_000_000, gt=0, description="prolog inference limit")

    @field_validator("answer_var")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not v.isidentifier():
            raise ValueError(f"`answer_var` must be a Python identifier, got {v!r}")
        return v


class SolverResult(Record):
    """What a solver made of a program.

    ``answer`` is JSON-able; exact values stay exact (a rational is ``"3/4"`` with
    ``answer_type="rational"``).
    """

    solver: str
    status: Status
    answer: Any = None
    answer_type: str = "none"
    elapsed_ms: float = 0.0
    detail: str = ""
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Backend(Protocol):
    """A solver backend: one module, registered by name in ``solvers/__init__.py``.

    ``payload`` turns a request into the plain dict the worker receives; ``run`` is
    executed *inside* a sandboxed worker process and returns a plain dict with the
    ``SolverResult`` fields (status, answer, answer_type, detail, stdout).
    """

    NAME: str
    POOL: str

    def payload(self, request: SolverRequest) -> dict[str, Any]: ...

    def run(self, payload: dict[str, Any]) -> dict[str, Any]: ...
