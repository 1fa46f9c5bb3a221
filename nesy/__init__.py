"""nesy: a neuro-symbolic reasoning agent runtime.

The public API, re-exported lazily so ``import nesy`` stays cheap:

    >>> from nesy import solve, SolverRequest
    >>> solve(SolverRequest(solver="python", program="ans = 6 * 7")).answer
    42
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Agent": "agent.api",
    "AgentConfig": "agent.config",
    "Answer": "agent.records",
    "Trace": "agent.records",
    "KnowledgeBase": "kb",
    "KnowledgeItem": "kb",
    "SolverRequest": "solvers",
    "SolverResult": "solvers",
    "solve": "solvers",
    "asolve": "solvers",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'nesy' has no attribute {name!r}")
