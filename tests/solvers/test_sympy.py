from __future__ import annotations


def test_linear_system_uses_exact_values(run):
    r = run("sympy", "x + y = 10\nx - y = 3")
    assert (r.status, r.answer, r.answer_type) == ("ok", {"x": "13/2", "y": "7/2"}, "dict")


def test_single_unknown_answers_the_value(run):
    assert run("sympy", "3x + 1 = 10").answer == 3


def test_quadratic_answers_every_root(run):
    r = run("sympy", "x^2 = 9")
    assert (r.answer, r.answer_type) == ([-3, 3], "list")


def test_unknowns_from_query(run):
    r = run("sympy", "y = 2*x\nx + y = 9", query="y")
    assert r.answer == 6 or r.answer == {"y": 6}


def test_expression_is_simplified(run):
    r = run("sympy", "(x**2 - 1)/(x - 1)")
    assert (r.answer, r.answer_type) == ("x + 1", "expression")


def test_arithmetic_is_exact(run):
    assert run("sympy", "1/3 + 1/6").answer == "1/2"


def test_inconsistent_system_is_unsat(run):
    assert run("sympy", "x + y = 1\nx + y = 2").status == "unsat"


def test_underdetermined_system_says_so(run):
    r = run("sympy", "x + y = 1")
    assert r.status == "ok" and "underdetermined" in r.detail


def test_parse_error_names_the_line(run):
    r = run("sympy", "x = 1\ny = (x +")
    assert r.status == "error" and r.detail.startswith("line 2")


def test_comments_and_semicolons(run):
    assert run("sympy", "# two equations\nx = 2; y = x + 1", query="y").answer in (3, {"y": 3})
