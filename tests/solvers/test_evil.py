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
SECRET = "{secret}"  # replaced by a host file holding SECRET_TEXT, which must never come back
SECRET_TEXT = "host-secret-51c2"

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
    # Red-team classes that went through the language checks (issue 10). The OS boundary
    # holds whatever they reach; where a check exists, the status names the problem.
    (
        "dunder-by-attrgetter",
        "python",
        "import operator\nb = operator.attrgetter('__func__.__globals__')(print)['builtins']\n"
        f"ans = b.open('{SECRET}').read()",
        {},
        "error",
    ),
    (
        "dunder-by-formatter",
        "python",
        "import string\n"
        "b = string.Formatter().get_field('0.__func__.__globals__[builtins]', [print], {})[0]\n"
        f"ans = b.open('{SECRET}').read()",
        {},
        "error",
    ),
    (
        "dunder-by-match-class",
        "python",
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    match e:\n"
        "        case ZeroDivisionError(__traceback__=tb):\n            ans = str(tb)[:1]",
        {},
        "ok",
    ),
    (
        "sympify-parse-expr",
        "python",
        "import sympy\nans = str(sympy.sympify("
        f"\"parse_expr('open(\\\\'{SECRET}\\\\').read()')\"))",
        {},
        "error",
    ),
    (
        "sympify-implicit-open",
        "python",
        f"import sympy\nans = str(sympy.simplify(\"open('{SECRET}').read()\"))",
        {},
        "error",
    ),
    ("sympy-text-open", "sympy", f"x = int(open('{SECRET}').read())", {}, "error"),
    ("sympy-text-deep", "sympy", "x = " + "(" * 5000 + "1" + ")" * 5000, {}, "error"),
    ("asp-include", "asp", f'#include "{SECRET}".\na.', {}, "error"),
    ("asp-nul", "asp", "a.\x00 b :- a.", {}, "error"),
    (
        "prolog-moded-tabling",
        "prolog",
        f":- table e(lattice(join/3)).\njoin(A, _, A) :- shell('touch {MARK}').\ne(a).\ne(b).",
        {"query": "e(X)"},
        "error",
    ),
    ("prolog-missing-predicate", "prolog", "answer(X) :- nowhere(X).", {}, "error"),
    (
        "bare-except-swallows-timeout",
        "python",
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        {},
        "timeout",
    ),
    ("huge-int-answer", "python", "ans = 7 ** 200000", {}, "error"),
]

# What the detail must say, where a check gives a clear error.
DETAIL = {
    "sympy-text-deep": "nested",
    "asp-include": "#include is not allowed",
    "asp-nul": "NUL byte",
    "prolog-moded-tabling": "only plain tabling",
    "prolog-missing-predicate": "unknown procedure nowhere/1",
    "huge-int-answer": "digits",
    "nul-byte": "NUL byte",
}


@pytest.mark.parametrize("name,solver,program,extra,expected", EVIL, ids=[e[0] for e in EVIL])
def test_evil_program_is_contained(tmp_path, name, solver, program, extra, expected):
    marker = tmp_path / "pwned"
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_TEXT)
    program = program.replace(MARK, str(marker)).replace(SECRET, str(secret))
    start = time.monotonic()
    r = solve(SolverRequest(solver=solver, program=program, timeout_s=LIMIT_S, **extra))
    elapsed = time.monotonic() - start
    assert r.status == expected, r.detail
    assert r.detail or r.status == "ok"  # every failure says why
    assert DETAIL.get(name, "") in r.detail
    assert SECRET_TEXT not in f"{r.answer} {r.detail} {r.stdout}"
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
