from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import psutil
import pytest

from solvers import SolverRequest, asolve, get_pool, solve
from solvers._pool import SandboxPool


def _ok(program: str = "ans = 1") -> bool:
    return solve(SolverRequest(solver="python", program=program, timeout_s=5)).status == "ok"


def _settle(pool, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pool._live < pool.size:
        time.sleep(0.05)


@pytest.mark.parametrize("program", ["while True: pass", "ans = sum(range(10**10))"])
def test_a_timeout_kills_the_request_not_the_sandbox(program):
    pool = get_pool("py")
    assert _ok()
    before = pool.replaced
    start = time.monotonic()
    r = solve(SolverRequest(solver="python", program=program, timeout_s=0.5))
    assert r.status == "timeout"
    assert time.monotonic() - start < 1.5
    assert pool.replaced == before  # the template killed its child and stayed
    assert all(_ok(f"ans = {i}") for i in range(5))


def test_sandbox_killed_from_outside_is_replaced():
    pool = get_pool("py")
    pool.warm()
    _settle(pool)
    for box in pool.sandboxes():
        os.kill(box.pid, signal.SIGKILL)
    assert _ok("ans = 41 + 1")
    _settle(pool)
    assert pool._live == pool.size


def test_many_threads_share_the_pool():
    results: dict[int, object] = {}

    def work(i: int) -> None:
        r = solve(SolverRequest(solver="python", program=f"ans = {i} * 2", timeout_s=5))
        results[i] = r.answer

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i * 2 for i in range(40)}


def test_asyncio_tasks_share_the_pool():
    async def main() -> list[object]:
        reqs = [SolverRequest(solver="sympy", program=f"x + {i} = {2 * i}") for i in range(20)]
        return [r.answer for r in await asyncio.gather(*(asolve(q) for q in reqs))]

    assert asyncio.run(main()) == list(range(20))


def test_backends_run_side_by_side_from_threads():
    programs = [
        ("python", "ans = 2"),
        ("sympy", "x = 2"),
        ("asp", "v(2). #show v/1."),
        ("prolog", "answer(2)."),
    ]
    out: dict[str, object] = {}

    def work(name: str, prog: str) -> None:
        out[name] = solve(SolverRequest(solver=name, program=prog, timeout_s=10)).answer

    threads = [threading.Thread(target=work, args=p) for p in programs * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {"python": 2, "sympy": 2, "asp": [["v(2)"]], "prolog": 2}


def test_queue_wait_is_bounded_by_queue_timeout():
    pool = SandboxPool(get_pool("py").template, size=1)
    try:
        pool.warm()
        busy = threading.Thread(
            target=pool.run,
            args=("solvers.python:run", {"program": "while True: pass"}, 3.0),
        )
        busy.start()
        deadline = time.monotonic() + 30
        while not pool._idle.empty():  # until the busy request holds the one sandbox
            assert time.monotonic() < deadline, "the busy request never took the sandbox"
            time.sleep(0.01)
        start = time.monotonic()
        out = pool.run("solvers.python:run", {"program": "ans = 1"}, 2.0, queue_timeout_s=0.2)
        waited = time.monotonic() - start
        busy.join()
    finally:
        pool.close()
    assert out["status"] == "timeout"
    assert "queue timeout" in out["detail"]
    assert waited < 1.0


def _sandbox_processes() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.status() != psutil.STATUS_ZOMBIE and "bwrap" in " ".join(p.cmdline()[:1])
    ]


def test_close_leaves_no_sandbox_behind_even_while_one_is_being_replaced():
    pool = SandboxPool(get_pool("py").template, size=2)
    pool.warm()
    mine = {box.pid for box in pool.sandboxes()}
    # A dead sandbox makes the next call start a replacement in the background.
    os.kill(next(iter(mine)), signal.SIGKILL)
    pool.run("solvers.python:run", {"program": "ans = 1"}, 5.0)
    pool.close()
    alive = {p.pid for p in _sandbox_processes()}
    started = {box.pid for box in pool.sandboxes()} | mine
    assert not (alive & started)
    assert pool.sandboxes() == []


def _alive_in(groups: list[int], within_s: float = 30.0) -> list[int]:
    """Processes still running in the process groups of these sandboxes once they have had
    ``within_s`` to die (a SIGKILL is delivered at once, the teardown is not); zombies
    left to a non-reaping init do not count."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for proc in psutil.process_iter(["status"]):
            try:
                if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) in groups:
                    alive.append(proc.pid)
            except (ProcessLookupError, psutil.Error):
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


_EXIT_WHILE_STARTING = """
import sys, time
from solvers import get_pool
pool = get_pool("py")
pool.warm()
box = pool.sandboxes()[0]
pool._retire(box)  # as after a dead sandbox: a replacement starts in the background
deadline = time.monotonic() + 60
while not pool._spawning and time.monotonic() < deadline:
    time.sleep(0.001)
print(*(b.pid for b in pool._spawning), flush=True)  # their process groups
sys.exit(0)  # mid-start: atexit closes the pool
"""


def test_exit_while_a_sandbox_starts_is_prompt_and_leaves_no_process():
    # The regression: the spawner thread ended before atexit, its bwrap died half-started,
    # the inner half waited forever (an orphan) and close() waited 120 s for the start.
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _EXIT_WHILE_STARTING], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    groups = [int(pid) for pid in out.stdout.split()]
    assert groups, "no sandbox was caught mid-start"
    assert not _alive_in(groups)


def test_close_kills_a_sandbox_mid_start_instead_of_waiting_for_it():
    pool = SandboxPool(get_pool("py").template, size=1)
    errors: list[Exception] = []

    def warm() -> None:
        try:
            pool.warm()
        except Exception as exc:
            errors.append(exc)

    starter = threading.Thread(target=warm, daemon=True)
    starter.start()
    deadline = time.monotonic() + 60
    while not pool._spawning and time.monotonic() < deadline:
        time.sleep(0.001)
    groups = [box.pid for box in pool._spawning]
    assert groups
    pool.close()
    starter.join(30)
    assert not starter.is_alive()
    assert [str(e) for e in errors] == ["pool 'py' is closed"]
    assert pool.sandboxes() == []
    assert not _alive_in(groups)


def test_unknown_solver_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown solver 'z3'; known: asp, prolog, python"):
        solve(SolverRequest(solver="z3", program="x"))
