"""Pools of sandboxes, each running one template process that forks a child per request.

A ``Sandbox`` is one bubblewrap process (``_sandbox``) whose template (``_zygote``) has
preloaded one backend. It serves one request at a time over its stdin/stdout as JSON
frames (``_frames``): the request goes in with an id, the answer comes back with the same
id, size-bounded, and is validated before anything uses it. A sandbox that misses its
deadline, answers the wrong id, sends a malformed frame or dies is killed (its whole PID
namespace goes with it) and replaced in the background; the caller gets a result dict,
never an exception.

A ``SandboxPool`` keeps up to ``size`` sandboxes of one template. ``run`` waits at most
``queue_timeout_s`` for an idle one: a flood cannot make a request wait without bound.
"""

from __future__ import annotations

import atexit
import base64
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, get_args

from solvers import _frames, _sandbox
from solvers.base import Status

_GRACE_S = 0.5  # the template kills at the deadline; it must answer within this after
_START_TIMEOUT_S = 120.0
STATUSES = frozenset(get_args(Status))
# A reply (its result dict included) deeper or bigger than this is refused, and its sandbox
# replaced: no solver's answer comes near (an ASP model is a list of atoms: depth 3).
MAX_REPLY_DEPTH = 32
MAX_REPLY_VALUES = 200_000
_RESULT_KEYS = frozenset({"status", "answer", "answer_type", "detail", "stdout"})


class _Spawner:
    """One daemon thread that starts every sandbox process.

    bwrap's ``--die-with-parent`` is ``PR_SET_PDEATHSIG``, which fires when the *thread*
    that started it ends, so that thread must outlive every pool. A
    ``ThreadPoolExecutor``'s worker does not: the interpreter joins it before the
    ``atexit`` handlers run, which killed the outer bwrap of a sandbox still starting and
    left its inner half waiting for a go-ahead that never came (and ``close`` waiting for
    it). A daemon thread runs until the process itself ends, after ``close``."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="nesy-sandbox-spawner", daemon=True
                )
                self._thread.start()
        self._jobs.put((fn, future))
        return future

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


_SPAWNER = _Spawner()


class PoolError(RuntimeError):
    """A sandbox could not be started (not a bad program)."""


def _over_bounds(value: Any) -> str:
    """Why a decoded reply is too deep or too big to hand on (``""`` when it is not): the
    caller's serialisers (pydantic, ``json``) recurse, and a reply is untrusted."""
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_REPLY_VALUES:
            return f"it holds over {MAX_REPLY_VALUES} values"
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= MAX_REPLY_DEPTH:
            return f"it is nested over {MAX_REPLY_DEPTH} levels deep"
        stack.extend((child, depth + 1) for child in children)
    return ""


def _validate(raw: Any) -> dict[str, Any]:
    """Keep only well-formed result fields; anything else becomes a clear error."""
    if not isinstance(raw, dict) or raw.get("status") not in STATUSES:
        return {"status": "error", "detail": "the solver returned a malformed result"}
    out = {k: v for k, v in raw.items() if k in _RESULT_KEYS}
    for key in ("answer_type", "detail", "stdout"):
        if key in out and not isinstance(out[key], str):
            out[key] = str(out[key])
    return out


class Sandbox:
    """One bubblewrap sandbox around one template process."""

    _ids = itertools.count(1)

    def __init__(
        self,
        template: _sandbox.Template,
        fork: bool = True,
        on_spawn: Callable[[Sandbox], None] | None = None,
    ) -> None:
        """``on_spawn(self)`` runs once the process exists, before the start handshake:
        a pool records the sandbox there, so that ``close`` can kill one still starting."""
        self.template = template
        self.mode = _sandbox.mode()
        self.calls = 0
        extra_path, binds = _sandbox.python_paths(template.preload)
        env = _sandbox.environment(template.env)
        root = str(_sandbox.PACKAGE_DIR.parent)
        command = [sys.executable, "-I", "-S", str(_sandbox.PACKAGE_DIR / "_zygote.py"), root]
        child_bpf: str | None = None
        pass_fds: tuple[int, ...] = ()
        mine: list[int] = []  # descriptors of ours that bwrap inherits: closed here after
        userns: tuple[int, int] | None = None
        as_root = _sandbox.root_caller() and self.mode == "bwrap"
        if self.mode == "bwrap":
            base_bpf, child = _sandbox.seccomp_filters(template.threads)
            child_bpf = base64.b64encode(child).decode()
            seccomp_file = os.memfd_create("nesy-seccomp", 0)
            _frames.write_bytes(seccomp_file, base_bpf)
            os.lseek(seccomp_file, 0, os.SEEK_SET)
            mine.append(seccomp_file)
            if as_root:
                block_r, block_w = os.pipe()
                info_r, info_w = os.pipe()
                userns = (block_r, info_w)
                mine += [block_r, info_w]
            pass_fds = tuple(mine)
            argv = _sandbox.bwrap_argv(binds, env, seccomp_file, userns) + ["--", *command]
            popen_env: dict[str, str] | None = {}
        else:
            _warn_unconfined()
            argv, popen_env = command, env
        try:
            # Started from the one spawner thread (see _Spawner), never from a caller's
            # short-lived thread; its own session, so that kill() reaches the whole group.
            self.proc = _SPAWNER.submit(
                lambda: subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=pass_fds,
                    env=popen_env,
                    cwd="/",
                    start_new_session=True,
                    extra_groups=[] if as_root else None,  # no supplementary groups of root's
                )
            ).result()
        except OSError as exc:
            if userns is not None:
                for fd in (block_w, info_r):
                    os.close(fd)
            raise _sandbox.SandboxUnavailable(_sandbox.fix_for(str(exc))) from None
        finally:
            for fd in mine:
                os.close(fd)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if on_spawn is not None:
            on_spawn(self)
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        if userns is not None:
            try:
                _sandbox.map_root_caller(block_w, info_r, _START_TIMEOUT_S)
            except OSError as exc:
                stderr = self._stderr()
                self.kill()
                raise _sandbox.SandboxUnavailable(
                    _sandbox.fix_for(stderr or f"cannot map the sandbox's user namespace: {exc}")
                ) from None
            finally:
                os.close(block_w)
                os.close(info_r)
        config = {
            "sys_path": extra_path,
            "preload": list(template.preload),
            "init": template.init,
            "handlers": list(template.handlers),
            "child_bpf": child_bpf,
            "pidns": self.mode == "bwrap",
            "uid": _sandbox.SANDBOX_UID,
            "self_pid": _sandbox.SELF_PID,
            # Benchmarks only: run each request in the template itself (trusted code). Fixed
            # for the sandbox's life; a request frame never says how it is run.
            "fork": fork,
            "max_processes": None if template.threads else 0,
            "file_size_mb": template.file_size_mb,
            "open_files": template.open_files,
        }
        try:
            _frames.write(self._in, config)
            hello = _frames.read(self._out, 1 << 16, time.monotonic() + _START_TIMEOUT_S)
        except (_frames.FrameError, OSError) as exc:
            stderr = self._stderr()
            self.kill()
            if self.mode == "bwrap" and stderr.startswith("bwrap"):
                raise _sandbox.SandboxUnavailable(_sandbox.fix_for(stderr)) from None
            raise PoolError(
                f"{template.kind} sandbox did not start ({exc}): {stderr or 'no message'}"
            ) from None
        if not isinstance(hello, dict) or "ready" not in hello:
            self.kill()
            failed = hello.get("failed") if isinstance(hello, dict) else hello
            raise PoolError(f"{template.kind} sandbox failed to start: {failed}")
        self.template_pid = int(hello["ready"])

    def _stderr(self) -> str:
        try:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        except (OSError, ValueError, subprocess.SubprocessError):  # ValueError: closed by kill()
            return ""
        return (err or b"").decode("utf-8", "replace").strip()[-2000:]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the sandbox: bwrap's PID namespace takes every process in it along. The
        process group too: until bwrap's inner half has its go-ahead it has not yet armed
        its own death signal, and would outlive the outer one waiting for it."""
        if self.proc.returncode is None:  # not reaped: the group id is still ours
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def call(
        self, handler: str, payload: dict[str, Any], timeout_s: float, memory_mb: int
    ) -> tuple[dict[str, Any], str]:
        """(result, state): state ``ok``; ``dead`` (the sandbox failed: the request may not
        have run), ``stuck`` (no answer by the deadline) or ``bad`` (an answer over the
        bounds) mean the sandbox must go."""
        self.calls += 1
        request_id = next(self._ids)
        request = {
            "id": request_id,
            "handler": handler,
            "payload": payload,
            "timeout_s": timeout_s,
            "memory_mb": memory_mb,
        }
        deadline = time.monotonic() + timeout_s + _GRACE_S
        try:
            _frames.write(self._in, request)
            reply = _frames.read(self._out, 2 << 20, deadline)
        except _frames.FrameTimeout:
            return {
                "status": "timeout",
                "detail": f"time limit of {timeout_s:g} s exceeded",
            }, "stuck"
        except (_frames.FrameError, OSError) as exc:
            return {"status": "error", "detail": f"the solver sandbox failed: {exc}"}, "dead"
        if not isinstance(reply, dict) or reply.get("id") != request_id:
            return {"status": "error", "detail": "the solver sandbox answered out of turn"}, "dead"
        problem = _over_bounds(reply.get("result"))
        if problem:
            return {
                "status": "error",
                "detail": f"the solver's answer was refused: {problem}",
            }, "bad"
        return _validate(reply.get("result")), "ok"


def _warn_unconfined() -> None:
    message = (
        f"{_sandbox.ENV_MODE}=off: solver programs run WITHOUT the OS sandbox (rlimits and "
        "a fresh process per request only). Run only programs you trust."
    )
    if _sandbox.say_once("WARNING", message):
        warnings.warn(message, RuntimeWarning, stacklevel=3)


class SandboxPool:
    """Up to ``size`` sandboxes of one template.

    Example:
        >>> from solvers import get_pool
        >>> get_pool("py").run("solvers.python:run", {"program": "ans = 1 + 1"}, 2)["answer"]
        2
    """

    def __init__(self, template: _sandbox.Template, size: int = 2, max_calls: int = 10_000):
        if size < 1:
            raise ValueError(f"`size` must be >= 1, got {size}")
        self.template = template
        self.name = template.kind
        self.size = size
        self.max_calls = max_calls
        self._fork = True  # False only in benchmarks: reuse the template process
        self._idle: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
        self._all: set[Sandbox] = set()
        self._live = 0  # started or starting
        self._lock = threading.Lock()
        self._closed = False
        self._starting: set[threading.Thread] = set()
        self._spawning: set[Sandbox] = set()  # processes still in their start handshake
        self.replaced = 0  # sandboxes killed and replaced (for tests and benchmarks)
        atexit.register(self.close)

    @property
    def fork_per_request(self) -> bool:
        return self._fork

    @fork_per_request.setter
    def fork_per_request(self, value: bool) -> None:
        """Benchmarks only. A sandbox's policy is fixed when it starts, so the idle
        sandboxes are replaced by ones started with the new policy."""
        with self._lock:
            self._fork = value
        while True:
            try:
                box = self._idle.get_nowait()
            except queue.Empty:
                return
            self._retire(box)

    # --- lifecycle -------------------------------------------------------------------

    def _start(self) -> Sandbox:
        mine: list[Sandbox] = []

        def spawned(box: Sandbox) -> None:
            mine.append(box)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._spawning.add(box)
            if closed:
                box.kill()  # its handshake then fails at once

        try:
            box = Sandbox(self.template, self._fork, on_spawn=spawned)
        except Exception:
            if self._closed:  # killed mid-start by close(): that, not bwrap's complaint
                raise PoolError(f"pool {self.name!r} is closed") from None
            raise
        finally:
            with self._lock:
                self._spawning.difference_update(mine)
        with self._lock:
            if self._closed:
                box.kill()
                raise PoolError(f"pool {self.name!r} is closed")
            self._all.add(box)
        return box

    def _retire(self, box: Sandbox) -> None:
        box.kill()
        with self._lock:
            self._all.discard(box)
            self._live -= 1
            self.replaced += 1
            if self._closed:
                return
            thread = threading.Thread(target=self._refill, daemon=True)
            self._starting.add(thread)
        thread.start()

    def _refill(self) -> None:
        try:
            with self._lock:
                if self._closed or self._live >= self.size:
                    return
                self._live += 1
            try:
                self._idle.put(self._start())
            except Exception:
                with self._lock:
                    self._live -= 1
        finally:
            with self._lock:
                self._starting.discard(threading.current_thread())

    def _acquire(self, deadline: float) -> Sandbox:
        while True:
            with self._lock:
                if self._closed:
                    raise PoolError(f"pool {self.name!r} is closed")
                grow = self._live < self.size and self._idle.empty()
                if grow:
                    self._live += 1
            if grow:
                try:
                    return self._start()
                except BaseException:
                    with self._lock:
                        self._live -= 1
                    raise
            try:
                box = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError from None
            if box.alive():
                return box
            self._retire(box)  # died while idle (killed from outside)

    def warm(self) -> None:
        """Start every sandbox now instead of on first use."""
        boxes = [self._acquire(time.monotonic() + _START_TIMEOUT_S) for _ in range(self.size)]
        for box in boxes:
            self._idle.put(box)

    def sandboxes(self) -> list[Sandbox]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            starting = list(self._starting)
            spawning = list(self._spawning)
        for box in spawning:  # a sandbox mid-start: kill it rather than wait for it
            box.kill()
        for thread in starting:  # a replacement being started must not outlive the pool
            thread.join(_START_TIMEOUT_S)
        with self._lock:
            boxes = list(self._all)
            self._all.clear()
        for box in boxes:
            box.kill()

    # --- one call --------------------------------------------------------------------

    def run(
        self,
        handler: str,
        payload: dict[str, Any],
        timeout_s: float,
        memory_mb: int = 512,
        queue_timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Run ``handler(payload)`` in a fresh child of a sandbox; always a result dict.

        ``queue_timeout_s`` bounds the wait for an idle sandbox (default: ``timeout_s``).
        """
        wait = timeout_s if queue_timeout_s is None else queue_timeout_s
        deadline = time.monotonic() + wait
        for _ in range(2):  # a sandbox that died under a request: once more, elsewhere
            try:
                box = self._acquire(deadline)
            except TimeoutError:
                return {
                    "status": "timeout",
                    "detail": f"no {self.name} solver was free within {wait:g} s (queue timeout)",
                }
            result, state = box.call(handler, payload, timeout_s, memory_mb)
            if state != "ok" or not box.alive() or box.calls >= self.max_calls:
                self._retire(box)
            else:
                self._idle.put(box)
            if state != "dead":
                break
        return result
