"""Random bytes and random syntax trees never crash the caller or leak a worker."""

from __future__ import annotations

import threading
import time

import psutil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import SolverRequest, get_pool, solve

STATUSES = {"ok", "unsat", "timeout", "error", "memory"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

NAMES = [
    "x",
    "ans",
    "math",
    "sympy",
    "open",
    "eval",
    "__import__",
    "__builtins__",
    "print",
    "object",
    "type",
    "len",
    "range",
    "exec",
    "getattr",
]
ATTRS = [
    "sqrt",
    "__class__",
    "__subclasses__",
    "__globals__",
    "mro",
    "gi_frame",
    "f_back",
    "external",
    "lambdify",
    "real",
    "append",
    "system",
]

leaf = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(NAMES),
    st.text(max_size=8).map(repr),
)


def _node(children):
    return st.one_of(
        st.tuples(
            children, st.sampled_from(["+", "-", "*", "/", "//", "**", "%", "<<"]), children
        ).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(ATTRS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(children, st.lists(children, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.lists(children, max_size=4).map(lambda xs: f"[{', '.join(xs)}]"),
        st.tuples(children, children).map(lambda t: f"[{t[0]} for x in range(3) if {t[1]}]"),
        children.map(lambda e: f"(lambda x: {e})(1)"),
    )


expressions = st.recursive(leaf, _node, max_leaves=12)
programs = st.tuples(expressions, expressions).map(lambda t: f"x = {t[0]}\nans = {t[1]}")


def _healthy(kind: str) -> None:
    pool = get_pool(kind)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pool._live < pool.size:
        time.sleep(0.05)
    assert pool._live <= pool.size


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_python(data):
    r = solve(
        SolverRequest(
            solver="python", program=data.decode("utf-8", "surrogateescape"), timeout_s=0.5
        )
    )
    assert r.status in STATUSES


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["sympy", "asp", "prolog"]))
def test_random_bytes_for_other_solvers(data, solver):
    r = solve(SolverRequest(solver=solver, program=data.decode("utf-8", "replace"), timeout_s=0.5))
    assert r.status in STATUSES


@FUZZ
@given(programs)
def test_random_syntax_trees(source):
    r = solve(SolverRequest(solver="python", program=source, timeout_s=0.5))
    assert r.status in STATUSES


def _sandboxes() -> list[psutil.Process]:
    """Live sandboxes: bwrap processes started by this process."""
    return [
        p
        for p in psutil.Process().children()
        if p.status() != psutil.STATUS_ZOMBIE and p.name() == "bwrap"
    ]


# Good programs with their answers, and evil ones; sent together from many threads.
GOOD = [(f"ans = {i} * 3", i * 3) for i in range(60)]
EVIL = [
    "while True: pass",
    "ans = sum(range(10 ** 10))",
    "x = [0] * (10 ** 9)",
    "while True:\n    print('x' * 1000)",
    "def f(n):\n    return f(n + 1)\nans = f(0)",
    "import os\nos.fork()",
]
GRACE_S = 2.0  # the template's kill grace plus scheduling on a loaded 2-core machine


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False))
def test_interleaved_requests_each_get_their_own_answer(rnd):
    jobs: list[tuple[str, object]] = [(p, a) for p, a in GOOD[:20]]
    jobs += [(p, None) for p in rnd.sample(EVIL, k=4)]
    rnd.shuffle(jobs)
    results: dict[int, tuple[object, float]] = {}

    def work(i: int, program: str) -> None:
        start = time.monotonic()
        r = solve(SolverRequest(solver="python", program=program, timeout_s=0.5))
        results[i] = (r, time.monotonic() - start)

    threads = [threading.Thread(target=work, args=(i, p)) for i, (p, _) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (_, expected) in enumerate(jobs):
        r, elapsed = results[i]
        if expected is not None:
            # Its own correct answer, or a timeout by its deadline: never another's answer.
            assert (r.status == "ok" and r.answer == expected) or r.status == "timeout", r
        else:
            assert r.status != "ok" or r.answer not in {a for _, a in GOOD}, r
        # Queue wait (default: timeout_s) plus the run plus the grace.
        assert elapsed < 0.5 + 0.5 + GRACE_S


def test_pools_are_healthy_after_fuzzing():
    for kind in ("py", "asp", "prolog"):
        _healthy(kind)
    # No orphaned sandboxes: every live bwrap under us belongs to a pool.
    expected = sum(get_pool(kind)._live for kind in ("py", "sympy", "asp", "prolog"))
    assert 3 <= len(_sandboxes()) <= expected
    assert solve(SolverRequest(solver="python", program="ans = 3")).answer == 3
    assert solve(SolverRequest(solver="prolog", program="answer(3).")).answer == 3
