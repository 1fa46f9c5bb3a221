from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

from solvers import SolverRequest, asolve, get_pool, solve


def _ok(program: str = "ans = 1") -> bool:
    return solve(SolverRequest(solver="python", program=program, timeout_s=5)).status == "ok"


def _settle(pool, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pool._live < pool.size:
        time.sleep(0.05)


def test_timed_out_worker_is_replaced_and_pool_recovers():
    pool = get_pool("py")
    assert _ok()
    before = pool.replaced
    # A C loop that never checks for signals: only the parent's kill can stop it.
    r = solve(SolverRequest(solver="python", program="ans = sum(range(10**10))", timeout_s=0.5))
    assert r.status == "timeout"
    assert pool.replaced == before + 1
    _settle(pool)
    assert pool._live == pool.size
    assert all(_ok(f"ans = {i}") for i in range(10))


def test_python_timeout_interrupts_without_killing_the_worker():
    pool = get_pool("py")
    assert _ok()
    before = pool.replaced
    r = solve(SolverRequest(solver="python", program="while True: pass", timeout_s=0.3))
    assert r.status == "timeout"
    assert pool.replaced == before  # SIGALRM stopped it; no respawn needed


def test_worker_killed_from_outside_is_replaced():
    pool = get_pool("py")
    assert _ok()
    pool.warm()
    _settle(pool)
    idle = []
    while not pool._idle.empty():
        idle.append(pool._idle.get())
    for w in idle:
        os.kill(w.process.pid, signal.SIGKILL)
        w.process.join(5)
        pool._idle.put(w)
    assert _ok("ans = 41 + 1")


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


def test_unknown_solver_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="unknown solver 'z3'; known: asp, prolog, python"):
        solve(SolverRequest(solver="z3", program="x"))
