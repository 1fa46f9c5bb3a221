"""Random bytes and random syntax trees never crash the caller or leak a worker."""

from __future__ import annotations

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


def _worker_processes() -> list[psutil.Process]:
    """Live workers: the children of multiprocessing's fork server."""
    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    assert len(servers) == 1
    return [w for w in servers[0].children() if w.status() != psutil.STATUS_ZOMBIE]


def test_pools_are_healthy_after_fuzzing():
    for kind in ("py", "asp", "prolog"):
        _healthy(kind)
    # No orphaned workers: every live process under us belongs to a pool.
    expected = sum(get_pool(kind)._live for kind in ("py", "asp", "prolog"))
    assert 3 <= len(_worker_processes()) <= expected
    assert solve(SolverRequest(solver="python", program="ans = 3")).answer == 3
    assert solve(SolverRequest(solver="prolog", program="answer(3).")).answer == 3
