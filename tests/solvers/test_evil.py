"""Adversarial programs: each ends as the right status within its limit, has no effect
outside its worker, and the next request on the same pool succeeds."""

from __future__ import annotations

import time

import pytest

from solvers import SolverRequest, solve

LIMIT_S = 1.0
SLACK_S = 1.0  # the parent's kill grace plus scheduling on a busy 2-core CI machine

NEXT = {"python": "ans = 1", "asp": "a.", "prolog": "answer(1).", "sympy": "x = 1"}
MARK = "{marker}"  # replaced by a path in the test's tmp dir, which must stay absent

EVIL = [
    # (id, solver, program, extra request fields, expected status)
    ("infinite-loop", "python", "while True:\n    pass", {}, "timeout"),
    ("busy-bigint", "python", "ans = 9 ** 9 ** 9", {}, "timeout"),
    ("busy-c-loop", "python", "ans = sum(range(10 ** 10))", {}, "timeout"),
    ("deep-recursion", "python", "def f(n):\n    return f(n + 1)\nans = f(0)", {}, "error"),
    ("memory-bomb-list", "python", "x = [0] * (10 ** 9)", {}, "memory"),
    ("memory-bomb-str", "python", "x = 'a' * (10 ** 10)", {}, "memory"),
    (
        "memory-bomb-grow",
        "python",
        "x = []\nwhile True:\n    x.append(' ' * 10**6)",
        {"memory_mb": 128},
        "memory",
    ),
    ("fork-bomb", "python", "import os\nwhile True:\n    os.fork()", {}, "error"),
    ("open", "python", f"ans = open('{MARK}', 'w')", {}, "error"),
    ("import-os", "python", f"import os\nos.system('touch {MARK}')", {}, "error"),
    (
        "import-socket",
        "python",
        "import socket\nsocket.create_connection(('1.1.1.1', 80))",
        {},
        "error",
    ),
    (
        "import-subprocess",
        "python",
        f"import subprocess\nsubprocess.run(['touch', '{MARK}'])",
        {},
        "error",
    ),
    ("import-ctypes", "python", "import ctypes\nctypes.CDLL(None).abort()", {}, "error"),
    ("dunder-import", "python", f"__import__('os').system('touch {MARK}')", {}, "error"),
    (
        "subclasses-walk",
        "python",
        "ans = [c for c in ().__class__.__bases__[0].__subclasses__()]",
        {},
        "error",
    ),
    ("type-subclasses", "python", "ans = type.__subclasses__(object)", {}, "error"),
    ("mro-walk", "python", "ans = int.mro()[1]", {}, "error"),
    ("generator-frame", "python", "g = (x for x in [1])\nans = g.gi_frame.f_back", {}, "error"),
    ("getattr-dunder", "python", "ans = getattr(1, '__class__')", {}, "error"),
    (
        "sympy-external",
        "python",
        f"import sympy\nos = sympy.external.import_module('os')\nos.system('touch {MARK}')",
        {},
        "error",
    ),
    ("sympy-external-from", "python", "from sympy.external import import_module", {}, "error"),
    (
        "sympy-lambdify",
        "python",
        "import sympy\nf = sympy.lambdify([], 'open(\"/etc/passwd\").read()')\nans = f()",
        {},
        "error",
    ),
    ("sympy-lambdify-from", "python", "from sympy import lambdify", {}, "error"),
    (
        "sympy-sympify-exec",
        "python",
        f"import sympy\nans = sympy.sympify(\"__import__('os').system('touch {MARK}')\")",
        {},
        "error",
    ),
    (
        "sympy-solve-exec",
        "python",
        f"import sympy\nans = sympy.solve(\"__import__('os').system('touch {MARK}')\")",
        {},
        "error",
    ),
    ("fractions-sys", "python", "import fractions\nans = fractions.sys.modules", {}, "error"),
    ("exec-builtin", "python", f"exec(\"open('{MARK}', 'w')\")", {}, "error"),
    ("huge-output", "python", "while True:\n    print('x' * 1000)", {}, "error"),
    ("non-utf8", "python", "ans = '\udcff'", {}, "error"),
    ("nul-byte", "python", "ans = 1\x00", {}, "error"),
    ("empty", "python", "   \n", {}, "error"),
    ("sympy-text-exec", "sympy", f"x = __import__('os').system('touch {MARK}')", {}, "error"),
    ("sympy-text-hang", "sympy", "x**(10**9) + x = 2", {}, "timeout"),
    ("asp-grounding-explosion", "asp", "n(1..3000). t(X,Y,Z) :- n(X), n(Y), n(Z).", {}, "timeout"),
    (
        "asp-pigeonhole",
        "asp",
        "p(1..13). h(1..12). 1 { in(P,H) : h(H) } 1 :- p(P). :- in(P,H), in(Q,H), P < Q.",
        {},
        "timeout",
    ),
    ("asp-empty", "asp", "", {}, "error"),
    (
        "asp-script",
        "asp",
        f"#script (python)\nimport os\nos.system('touch {MARK}')\n#end.\na.",
        {},
        "error",
    ),
    ("prolog-loop", "prolog", "loop :- loop.", {"query": "loop", "inferences": 10**12}, "timeout"),
    ("prolog-inference-limit", "prolog", "loop :- loop.", {"query": "loop"}, "timeout"),
    (
        "prolog-stack-overflow",
        "prolog",
        "r(X) :- r(s(X)).",
        {"query": "r(a)", "inferences": 10**12, "memory_mb": 64},
        "memory",
    ),
    ("prolog-shell", "prolog", f"p :- shell('touch {MARK}').", {"query": "p"}, "error"),
    (
        "prolog-file-write",
        "prolog",
        f"p :- open('{MARK}', write, S), close(S).",
        {"query": "p"},
        "error",
    ),
    ("prolog-directive", "prolog", f":- shell('touch {MARK}').", {"query": "true"}, "error"),
    ("prolog-foreign-module", "prolog", "lists:append(a, b, c).", {"query": "true"}, "error"),
    ("prolog-syntax-garbage", "prolog", "p(:-)).(", {"query": "p(X)"}, "error"),
]


@pytest.mark.parametrize(
    "solver,program,extra,expected", [e[1:] for e in EVIL], ids=[e[0] for e in EVIL]
)
def test_evil_program_is_contained(tmp_path, solver, program, extra, expected):
    marker = tmp_path / "pwned"
    program = program.replace(MARK, str(marker))
    start = time.monotonic()
    r = solve(SolverRequest(solver=solver, program=program, timeout_s=LIMIT_S, **extra))
    elapsed = time.monotonic() - start
    assert r.status == expected, r.detail
    assert r.detail  # every failure says why
    assert elapsed < LIMIT_S + SLACK_S
    assert not marker.exists()
    follow = solve(SolverRequest(solver=solver, program=NEXT[solver], timeout_s=5))
    assert follow.status == "ok", follow.detail


def test_evil_text_never_reaches_eval():
    r = solve(
        SolverRequest(
            solver="python",
            timeout_s=2,
            program="import sympy\nans = str(sympy.sympify('open(\"/etc/passwd\").read()'))",
        )
    )
    assert "root:" not in str(r.answer) + r.detail + r.stdout


def test_os_boundary_contains_an_escaped_program(tmp_path):
    """The probe skips the AST filter: what it measures is the sandbox alone."""
    import socket

    from solvers._probe import report

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        out = report(outside_dir=str(tmp_path), port=server.getsockname()[1])
    assert out["uid"] != 0
    assert out["write_outside"].startswith("blocked")
    assert out["connect"].startswith("blocked")
    assert out["fork"].startswith("blocked")
    assert out["tmp_visible_outside"] is False
    assert out["contained"] is True
    assert list(tmp_path.iterdir()) == []
