from __future__ import annotations

import pytest


def test_pot_program_answers_ans(run):
    r = run("python", "eggs = 16 - 3 - 4\nans = eggs * 2")
    assert (r.status, r.answer, r.answer_type) == ("ok", 18, "integer")


def test_pal_program_answers_solution_return(run):
    r = run("python", "def solution():\n    speed = 20\n    return speed * 2.5\n")
    assert (r.status, r.answer, r.answer_type) == ("ok", 50.0, "number")


def test_fraction_stays_exact(run):
    r = run("python", "from fractions import Fraction\nans = Fraction(3, 4)")
    assert (r.answer, r.answer_type) == ("3/4", "rational")


def test_sympy_rational_stays_exact(run):
    r = run("python", "from sympy import Rational\nans = Rational(6, 8)")
    assert (r.answer, r.answer_type) == ("3/4", "rational")


def test_custom_answer_variable(run):
    assert run("python", "result = 7", answer_var="result").answer == 7


def test_math_is_available_without_import(run):
    assert run("python", "ans = math.floor(7.9)").answer == 7


def test_curated_sympy_solves(run):
    prog = "from sympy import symbols, solve, Eq\nx = symbols('x')\nans = solve(Eq(2*x, 3), x)[0]"
    assert run("python", prog).answer == "3/2"


def test_missing_answer_is_an_error_naming_the_variable(run):
    r = run("python", "x = 1")
    assert r.status == "error" and "`ans`" in r.detail


def test_runtime_error_names_the_line(run):
    r = run("python", "a = 1\nb = 0\nans = a / b")
    assert r.status == "error"
    assert r.detail.startswith("line 3: ZeroDivisionError")


def test_syntax_error_names_line_and_column(run):
    r = run("python", "ans = (1 +\n")
    assert r.status == "error" and "SyntaxError at line 1" in r.detail


def test_stdout_is_captured(run):
    r = run("python", "print('step', 1)\nans = 2")
    assert r.stdout == "step 1\n" and r.answer == 2


def test_stdout_is_truncated_to_max_output(run):
    r = run("python", "for i in range(100):\n    print('x' * 50)\nans = 1", max_output=200)
    assert r.status == "error" and "output exceeded 200" in r.detail
    assert len(r.stdout) <= 200 + len("\n[... output truncated]")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("True", (True, "bool")),
        ("[1, 2.5]", ([1, 2.5], "list")),
        ("{'a': 1}", ({"a": 1}, "dict")),
        ("'yes'", ("yes", "string")),
        ("float('inf')", ("inf", "number")),
    ],
)
def test_answers_are_json_encoded(run, value, expected):
    r = run("python", f"ans = {value}")
    assert (r.answer, r.answer_type) == expected


@pytest.mark.parametrize(
    "program,expected",
    [
        ("import numpy as np\nans = np.mean([1, 2, 3])", (2.0, "number")),
        ("import numpy as np\nans = np.int64(7) * 6", (42, "integer")),
        (
            "import numpy as np\nans = np.linalg.solve([[2, 1], [1, 3]], [3, 5])",
            ([0.8, 1.4], "list"),
        ),
        (
            "import math\nimport datetime\n"
            "ans = (datetime.date(2024, 3, 1) - datetime.date(2024, 2, 1)).days",
            (29, "integer"),
        ),
    ],
)
def test_teacher_imports_run(run, program, expected):
    """Codex PoT zero-shot programs begin `import math` / `import numpy as np`."""
    r = run("python", program, timeout_s=5)
    assert r.status == "ok", r.detail
    answer = [round(x, 9) for x in r.answer] if isinstance(r.answer, list) else r.answer
    assert (answer, r.answer_type) == expected


def test_a_refused_import_lists_what_is_allowed(run):
    r = run("python", "import os")
    assert r.status == "error" and "import of 'os' is not allowed" in r.detail
