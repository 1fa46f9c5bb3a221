from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from solvers import SolverRequest, SolverResult, solve


@pytest.fixture
def run() -> Callable[..., SolverResult]:
    """``run(solver, program, **limits)`` with short limits, as CI wants."""

    def _run(solver: str, program: str, **kw: Any) -> SolverResult:
        kw.setdefault("timeout_s", 1.0)
        return solve(SolverRequest(solver=solver, program=program, **kw))

    return _run
