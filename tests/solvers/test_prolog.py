from __future__ import annotations

FAMILY = """
parent(tom, bob). parent(bob, ann). parent(bob, liz).
grandparent(X, Z) :- parent(X, Y), parent(Y, Z).
"""


def test_query_with_one_variable_answers_its_value(run):
    r = run("prolog", FAMILY, query="grandparent(tom, X)")
    assert (r.status, r.answer) == ("ok", "ann")


def test_all_solutions(run):
    r = run("prolog", FAMILY, query="grandparent(tom, X)", max_models=0)
    assert (r.answer, r.answer_type) == (["ann", "liz"], "list")


def test_several_variables_answer_bindings(run):
    r = run("prolog", FAMILY, query="parent(X, Y)", max_models=2)
    assert r.answer == [{"X": "tom", "Y": "bob"}, {"X": "bob", "Y": "ann"}]


def test_ground_query_answers_true_or_false(run):
    assert run("prolog", FAMILY, query="grandparent(tom, ann)").answer is True
    assert run("prolog", FAMILY, query="grandparent(ann, tom)").answer is False


def test_no_solution_is_unsat(run):
    assert run("prolog", FAMILY, query="grandparent(ann, X)").status == "unsat"


def test_default_query_is_answer(run):
    assert run("prolog", "answer(X) :- X is 6 * 7.").answer == 42


def test_syntax_error_names_line_and_column(run):
    r = run("prolog", "parent(tom, bob).\nparent(bob ann).", query="parent(X, Y)")
    assert r.status == "error"
    assert "line 2, column" in r.detail and "syntax error" in r.detail


def test_unknown_predicate_is_reported(run):
    r = run("prolog", FAMILY, query="ancestor(tom, X)")
    assert r.status == "error" and "ancestor" in r.detail


def test_clauses_do_not_leak_between_requests(run):
    assert run("prolog", "secret(42).", query="secret(X)").answer == 42
    for _ in range(4):  # every worker of the pool
        r = run("prolog", "other(1).", query="catch(secret(X), _, fail)")
        assert r.status in ("unsat", "error")


def test_facts_are_loaded_with_the_program(run):
    r = run(
        "prolog",
        "gp(X, Z) :- parent(X, Y), parent(Y, Z).",
        query="gp(tom, X)",
        facts="parent(tom, bob). parent(bob, 'Ann Lee').",
    )
    assert r.answer == "Ann Lee"


def test_directives_other_than_declarations_are_refused(run):
    r = run("prolog", ":- initialization(halt).\np(1).", query="p(X)")
    assert r.status == "error" and "directive not allowed" in r.detail


def test_dynamic_declaration_is_allowed(run):
    r = run("prolog", ":- dynamic seen/1.\np(1).", query="p(X)")
    assert r.answer == 1
