"""Symbolic solvers behind one interface: ``solve(SolverRequest) -> SolverResult``.

Backends (one module each, registered by name): ``python`` (PaD/PoT/PAL programs),
``sympy`` (equations and expressions), ``asp`` (clingo), ``prolog`` (SWI-Prolog).
Every backend runs in sandboxed worker processes; a bad program is a result with
``status`` in {error, timeout, memory, unsat}, never an exception.

Example:
    >>> from solvers import solve, SolverRequest
    >>> r = solve(SolverRequest(solver="sympy", program="2*x + 3 = 7"))
    >>> r.status, r.answer
    ('ok', 2)

Thread- and asyncio-safe: ``solve`` blocks the calling thread only; ``asolve`` awaits.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import threading
import time
from types import ModuleType
from typing import Any

from solvers import _sandbox
from solvers._pool import PoolError, SandboxPool
from solvers._sandbox import SandboxUnavailable, Template
from solvers.base import SCHEMA_VERSION, Backend, SolverRequest, SolverResult, Status

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
    "SandboxUnavailable",
    "SolverRequest",
    "SolverResult",
    "Status",
    "asolve",
    "available",
    "get_backend",
    "get_pool",
    "register",
    "shutdown",
    "solve",
]

_REGISTRY: dict[str, str] = {
    "python": "solvers.python",
    "sympy": "solvers.sympy",
    "asp": "solvers.asp",
    "prolog": "solvers.prolog",
}
_PROBE = "solvers._probe:run"
_DEEP = "solvers._probe:deep"
_EXEC = "solvers._probe:exec_unchecked"


def _templates() -> dict[str, Template]:
    """One sandbox template per kind, each as lean as its backend allows."""
    base = (
        "solvers._frames",
        "solvers._answer",
        "solvers._restricted",
        "solvers.python",
        "fractions",
    )
    return {
        # PoT/PAL programs: the standard library allow-list (a fork copies little).
        "py": Template(
            "py",
            base,
            init="solvers.python:init_template",
            handlers=("solvers.python:run", _PROBE, _DEEP, _EXEC),
        ),
        # The sympy backend, and Python programs that name sympy or numpy.
        "sympy": Template(
            "sympy",
            (*base, "numpy", "sympy", "solvers._sympy_text", "solvers.sympy"),
            init="solvers.sympy:init_template",
            handlers=("solvers.python:run", "solvers.sympy:run", _PROBE, _DEEP, _EXEC),
        ),
        # clingo and SWI-Prolog need a few threads (async solve, alarms): threads, no processes.
        "asp": Template(
            "asp",
            ("solvers._frames", "solvers._answer", "clingo", "solvers.asp"),
            init="solvers.asp:init_template",
            handlers=("solvers.asp:run", _PROBE, _DEEP, _EXEC),
            threads=True,
        ),
        "prolog": Template(
            "prolog",
            ("solvers._frames", "pyswip", "solvers.prolog"),
            init="solvers.prolog:init_template",
            handlers=("solvers.prolog:run", _PROBE, _DEEP, _EXEC),
            threads=True,
            env=_sandbox.swipl_env(),
        ),
    }


_pools: dict[str, SandboxPool] = {}
_lock = threading.Lock()


def register(name: str, module: str) -> None:
    """Register a backend module (dotted path) under ``name``."""
    _REGISTRY[name] = module


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_backend(name: str) -> ModuleType:
    try:
        return importlib.import_module(_REGISTRY[name])
    except KeyError:
        raise ValueError(f"unknown solver {name!r}; known: {', '.join(available())}") from None


def _pool_size() -> int:
    env = os.environ.get("NESY_SOLVER_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


def get_pool(kind: str) -> SandboxPool:
    """The shared pool of sandboxes for one template kind (py, sympy, asp, prolog)."""
    with _lock:
        pool = _pools.get(kind)
        if pool is None:
            pool = SandboxPool(_templates()[kind], size=_pool_size())
            _pools[kind] = pool
        return pool


_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def _refuse_text(request: SolverRequest) -> str | None:
    """A NUL byte or a lone surrogate: text no backend can take as it is."""
    for label, text in (
        ("program", request.program),
        ("facts", request.facts),
        ("query", request.query or ""),
    ):
        match = _BAD_TEXT.search(text)
        if match:
            i, ch = match.start(), match.group()
            line = text.count("\n", 0, i) + 1
            col = i - (text.rfind("\n", 0, i) + 1) + 1
            what = "a NUL byte" if ch == "\x00" else f"a lone surrogate (U+{ord(ch):04X})"
            return f"{label} line {line}, column {col}: {what} is not valid program text"
    return None


def solve(request: SolverRequest) -> SolverResult:
    """Run one program. Never raises for a bad program; see ``SolverResult.status``."""
    backend = get_backend(request.solver)
    start = time.perf_counter()
    refused = _refuse_text(request)
    kind = backend.pool_for(request) if hasattr(backend, "pool_for") else backend.POOL
    try:
        payload = {} if refused else backend.payload(request)
        refused = refused or payload.get("rejected")
        if refused:  # a clear error before any sandbox is involved
            out: dict[str, Any] = {"status": "error", "detail": refused}
        else:
            out = get_pool(kind).run(
                f"{backend.__name__}:run",
                payload,
                timeout_s=request.timeout_s,
                memory_mb=request.memory_mb,
                queue_timeout_s=request.queue_timeout_s,
            )
    except SandboxUnavailable as exc:
        out = {"status": "error", "detail": f"refused: the solver sandbox is unavailable: {exc}"}
        _sandbox.say_once("ERROR", out["detail"])  # every solve is refused until fixed
    except PoolError as exc:
        out = {"status": "error", "detail": f"solver unavailable: {exc}"}
    stdout = out.get("stdout") or ""
    if len(stdout) > request.max_output:
        stdout = stdout[: request.max_output] + "\n[... output truncated]"
    return SolverResult(
        solver=request.solver,
        status=out.get("status", "error"),
        answer=out.get("answer"),
        answer_type=out.get("answer_type", "none"),
        elapsed_ms=(time.perf_counter() - start) * 1000,
        detail=out.get("detail", ""),
        stdout=stdout,
    )


async def asolve(request: SolverRequest) -> SolverResult:
    """``solve`` for asyncio: the wait happens in a thread, the loop stays free."""
    return await asyncio.to_thread(solve, request)


def shutdown() -> None:
    """Stop every worker (also done at interpreter exit)."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
