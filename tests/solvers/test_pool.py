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


def test_unknown_solver_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown solver 'z3'; known: asp, prolog, python"):
        solve(SolverRequest(solver="z3", program="x"))
