from __future__ import annotations


def test_answer_set_projected_to_predicates(run):
    r = run("asp", "p(1). p(2). q(X) :- p(X), X > 1.", project=["q"])
    assert (r.status, r.answer, r.answer_type) == ("ok", [["q(2)"]], "answer_sets")


def test_show_directive_is_respected(run):
    r = run("asp", "a. b. #show a/0.")
    assert r.answer == [["a"]]


def test_all_models_with_limit_zero(run):
    r = run("asp", "{a; b}. :- a, b. :- not a, not b.", max_models=0)
    assert sorted(r.answer) == [["a"], ["b"]]


def test_model_limit(run):
    r = run("asp", "{p(1..5)}.", max_models=3)
    assert len(r.answer) == 3


def test_optimum(run):
    r = run("asp", "{x(1..5)}. :- not x(2), not x(4). #minimize{X: x(X)}.")
    assert r.answer_type == "optimum"
    assert r.answer == {"atoms": ["x(2)"], "cost": [2], "optimal": True}


def test_unsat(run):
    r = run("asp", "a. :- a.")
    assert r.status == "unsat"


def test_syntax_error_has_clingo_location(run):
    r = run("asp", "p(1).\np(2) q(X) :- p(X).")
    assert r.status == "error"
    assert "<block>:2:" in r.detail and "syntax error" in r.detail


def test_unsafe_variable_is_reported(run):
    r = run("asp", "p(X) :- not q(X).")
    assert r.status == "error" and "unsafe" in r.detail


def test_facts_load_alongside_program(run):
    r = run(
        "asp",
        "gp(X, Z) :- parent(X, Y), parent(Y, Z). #show gp/2.",
        facts='parent(tom, bob). parent(bob, "Ann Lee").',
    )
    assert r.answer == [['gp(tom,"Ann Lee")']]
