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
import threading
import time
from types import ModuleType
from typing import Any

from solvers._pool import PoolError, WorkerPool
from solvers._sandbox import SandboxConfig
from solvers.base import SCHEMA_VERSION, Backend, SolverRequest, SolverResult, Status

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
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
# One pool per kind of worker. Python programs may not even start a thread (clingo's async
# solve and SWI-Prolog's alarms need a few); each pool has its own uid so the per-uid
# RLIMIT_NPROC counts only its own tasks.
_POOL_SPECS: dict[str, tuple[str, SandboxConfig]] = {
    "py": ("solvers.python:init_worker", SandboxConfig(uid=61001, max_processes=0)),
    "asp": ("solvers.asp:init_worker", SandboxConfig(uid=61002, max_processes=64)),
    "prolog": ("solvers.prolog:init_worker", SandboxConfig(uid=61003, max_processes=64)),
}
_pools: dict[str, WorkerPool] = {}
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


def get_pool(kind: str) -> WorkerPool:
    """The shared pool for a backend's ``POOL`` kind, created on first use."""
    with _lock:
        pool = _pools.get(kind)
        if pool is None:
            init, config = _POOL_SPECS[kind]
            pool = WorkerPool(kind, size=_pool_size(), init=init, config=config)
            _pools[kind] = pool
        return pool


def solve(request: SolverRequest) -> SolverResult:
    """Run one program. Never raises for a bad program; see ``SolverResult.status``."""
    backend = get_backend(request.solver)
    start = time.perf_counter()
    try:
        out: dict[str, Any] = get_pool(backend.POOL).run(
            f"{backend.__name__}:run",
            backend.payload(request),
            timeout_s=request.timeout_s,
            memory_mb=request.memory_mb,
        )
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
