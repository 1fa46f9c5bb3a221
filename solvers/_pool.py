"""A pool of pre-started, sandboxed worker processes for untrusted programs.

Why not ``multiprocessing.Pool`` or ``concurrent.futures``: neither can kill one task
that overran its wall clock without losing the pool, and neither confines workers.
Here each call takes an idle worker, sends it one request over a pipe, and waits with
a deadline. A worker that times out, runs out of memory or dies is killed and replaced
in the background; the pool stays healthy and the caller gets a ``SolverResult``-shaped
dict, never an exception.

Workers start from the ``forkserver`` context: forking the caller after torch, OpenMP or
pyswip are loaded can deadlock, while the fork server is a clean interpreter that has
preloaded only sympy and clingo, so a new worker costs a fork, not an interpreter start.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing as mp
import multiprocessing.spawn as mp_spawn
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from solvers import _sandbox

_PRELOAD = [
    "json",
    "sympy",
    "clingo",
    "solvers._answer",
    "solvers._restricted",
    "solvers.python",
    "solvers.sympy",
    "solvers.asp",
    "solvers.prolog",
    "solvers._probe",
]
_GRACE_S = 0.25  # the worker enforces its own limit first; the parent kills after this
_ctx_lock = threading.Lock()
_ctx: Any = None


_spawning = threading.local()
_original_preparation = mp_spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """Like multiprocessing's, minus the caller's ``__main__`` for our workers.

    A forkserver child re-imports the parent's main script unless it is guarded by
    ``if __name__ == "__main__"``; a library must not impose that on its users, and the
    worker needs nothing from ``__main__`` (its target lives in this module).
    """
    data: dict[str, Any] = _original_preparation(name)
    if getattr(_spawning, "active", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


def _context() -> Any:
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            mp_spawn.get_preparation_data = _preparation_data
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            _ctx = ctx
        return _ctx


def resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _worker_main(conn: Connection, config: _sandbox.SandboxConfig, init: str | None) -> None:
    """Runs in the child: confine, initialise, then serve one request at a time."""
    try:
        description = _sandbox.enter(config, resolve(init) if init else None)
        conn.send(("ready", description))
    except BaseException as exc:  # report start-up failure instead of a silent exit
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    # Native code (SWI-Prolog, clingo) may print to fd 1/2; the caller's terminal is not theirs.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    while True:
        try:
            handler, payload, memory_mb, cpu_s = conn.recv()
        except (EOFError, OSError):
            return
        try:
            _sandbox.set_call_limits(memory_mb, cpu_s)
            _sandbox.arm_alarm(cpu_s)
            try:
                out = resolve(handler)(payload)
            finally:
                _sandbox.disarm_alarm()
        except _sandbox.CallTimeout:
            out = {"status": "timeout", "detail": f"time limit of {cpu_s:g} s exceeded"}
        except MemoryError:
            out = {"status": "memory", "detail": f"memory limit of {memory_mb} MB exceeded"}
        except RecursionError:
            out = {"status": "error", "detail": "maximum recursion depth exceeded"}
        except BaseException as exc:  # a handler bug must not take the worker down silently
            out = {"status": "error", "detail": f"internal {type(exc).__name__}: {exc}"}
        try:
            conn.send(out)
        except MemoryError:
            conn.send({"status": "memory", "detail": "result too large for the memory limit"})
        if out.get("status") == "memory" or out.get("retire"):
            return  # a worker that hit its memory limit keeps a fragmented heap: retire it


@dataclass
class _Worker:
    process: Any
    conn: Connection
    started: float = field(default_factory=time.monotonic)
    calls: int = 0


class PoolError(RuntimeError):
    """The pool itself could not start a worker (not a bad program)."""


class WorkerPool:
    """``size`` sandboxed workers that run ``module:function`` handlers on plain dicts.

    Example:
        >>> pool = WorkerPool("demo", size=1)
        >>> pool.run("solvers.python:run", {"program": "ans = 1 + 1"}, timeout_s=2)["answer"]
        2
    """

    def __init__(
        self,
        name: str,
        size: int = 2,
        init: str | None = None,
        config: _sandbox.SandboxConfig | None = None,
        max_calls: int = 5000,
    ) -> None:
        if size < 1:
            raise ValueError(f"`size` must be >= 1, got {size}")
        self.name = name
        self.size = size
        self.init = init
        self.config = config or _sandbox.SandboxConfig()
        self.max_calls = max_calls
        self.sandbox = "not started"
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._live = 0
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  # workers killed or retired and replaced (for tests and benches)
        atexit.register(self.close)

    # --- lifecycle -------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=_worker_main,
            args=(child, self.config, self.init),
            daemon=True,
            name=f"nesy-{self.name}-worker",
        )
        _spawning.active = True
        try:
            proc.start()
        except (OSError, EOFError) as exc:  # the fork server itself failed (e.g. preload error)
            raise PoolError(f"cannot start a {self.name} worker: {exc!r}") from exc
        finally:
            _spawning.active = False
            child.close()
        if not parent.poll(60):
            proc.kill()
            raise PoolError(f"{self.name} worker did not start within 60 s")
        try:
            kind, info = parent.recv()
        except EOFError:
            raise PoolError(
                f"{self.name} worker exited during start-up (exit code {proc.exitcode})"
            ) from None
        if kind != "ready":
            proc.join(1)
            raise PoolError(f"{self.name} worker failed to start: {info}")
        self.sandbox = info
        return _Worker(proc, parent)

    def _discard(self, worker: _Worker, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.conn.close()
        worker.process.join(5)
        with self._lock:
            self._live -= 1
            self.replaced += 1
            closed = self._closed
        if not closed:  # refill in the background so the caller returns at once
            threading.Thread(target=self._refill, daemon=True).start()

    def _refill(self) -> None:
        with self._lock:
            if self._closed or self._live >= self.size:
                return
            self._live += 1
        try:
            self._idle.put(self._spawn())
        except Exception:
            with self._lock:
                self._live -= 1

    def _acquire(self) -> _Worker:
        while True:
            with self._lock:
                if self._closed:
                    raise PoolError(f"pool {self.name!r} is closed")
                grow = self._live < self.size and self._idle.empty()
                if grow:
                    self._live += 1
            if grow:
                try:
                    return self._spawn()
                except BaseException:
                    with self._lock:
                        self._live -= 1
                    raise
            worker = self._idle.get()
            if worker.process.is_alive():
                return worker
            self._discard(worker, kill=False)  # died while idle (OOM killer, kill -9)

    def warm(self) -> None:
        """Start every worker now instead of on first use."""
        workers = [self._acquire() for _ in range(self.size)]
        for w in workers:
            self._idle.put(w)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            worker.process.kill()
            worker.conn.close()
            worker.process.join(1)

    # --- one call --------------------------------------------------------------------

    def run(
        self, handler: str, payload: dict[str, Any], timeout_s: float, memory_mb: int = 512
    ) -> dict[str, Any]:
        """Run ``handler(payload)`` in a worker; always returns a result dict."""
        worker = self._acquire()
        worker.calls += 1
        try:
            worker.conn.send((handler, payload, memory_mb, timeout_s))
            ready = worker.conn.poll(timeout_s + _GRACE_S)
            out = worker.conn.recv() if ready else None
        except (EOFError, OSError, BrokenPipeError):
            self._discard(worker, kill=True)
            return _death_result(worker.process.exitcode, memory_mb)
        if out is None:
            self._discard(worker, kill=True)
            return {"status": "timeout", "detail": f"time limit of {timeout_s:g} s exceeded"}
        if out.get("status") == "memory" or out.pop("retire", False):
            self._discard(worker, kill=True)
        elif worker.calls >= self.max_calls:
            self._discard(worker, kill=True)
        else:
            self._idle.put(worker)
        return out


def _death_result(exitcode: int | None, memory_mb: int) -> dict[str, Any]:
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "CPU time limit exceeded (SIGXCPU)"}
        if sig == signal.SIGKILL:
            return {
                "status": "memory",
                "detail": f"worker killed by SIGKILL (likely over {memory_mb} MB)",
            }
        return {"status": "error", "detail": f"solver worker crashed ({sig.name})"}
    return {"status": "error", "detail": f"solver worker exited unexpectedly (code {exitcode})"}
