from __future__ import annotations

import pytest

from kb import KnowledgeItem
from kb.export import asp_term, export, predicate_name, prolog_term, to_asp, to_prolog
from solvers import SolverRequest, solve

from .conftest import triple

NASTY = [
    "Bob",
    "ann lee",
    "O'Neil",
    'say "hi"',
    "Émile 日本",
    "back\\slash",
    "_x",
    "42",
    "is",
    "line\nbreak",
]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("bob", "bob"),
        ("Bob", "'Bob'"),
        ("ann lee", "'ann lee'"),
        ("O'Neil", "'O\\'Neil'"),
        ("42", "42"),
        ("_x", "'_x'"),
        ("is", "'is'"),
    ],
)
def test_prolog_quoting(value, expected):
    assert prolog_term(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("bob", "bob"),
        ("Bob", '"Bob"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("42", "42"),
        ("_x", "_x"),
        ("not", '"not"'),
    ],
)
def test_asp_quoting(value, expected):
    assert asp_term(value) == expected


@pytest.mark.parametrize(
    "relation,expected",
    [
        ("HasProperty", "hasProperty"),
        ("is a", "is_a"),
        ("xIntent", "xIntent"),
        ("2nd", "r_2nd"),
    ],
)
def test_predicate_names(relation, expected):
    assert predicate_name(relation) == expected


@pytest.mark.parametrize("value", NASTY)
def test_prolog_round_trip_through_the_solver(value):
    facts = to_prolog([triple(value, "likes", "tea")])
    r = solve(
        SolverRequest(solver="prolog", program="q(X) :- likes(X, tea).", facts=facts, query="q(X)")
    )
    assert r.status == "ok" and str(r.answer) == value, (facts, r.detail)  # 42 stays a number


@pytest.mark.parametrize("value", NASTY)
def test_asp_round_trip_through_the_solver(value):
    facts = to_asp([triple(value, "likes", "tea")])
    r = solve(SolverRequest(solver="asp", program="q(X) :- likes(X, tea). #show q/1.", facts=facts))
    assert r.status == "ok", (facts, r.detail)
    (atom,) = r.answer[0]
    assert atom == f"q({asp_term(value)})"


def test_rules_pass_through_in_their_own_syntax_only():
    items = [
        KnowledgeItem(kind="rule", text="p(X) :- q(X).", syntax="prolog"),
        KnowledgeItem(kind="rule", text="p(X) :- q(X), not r(X).", syntax="asp"),
        KnowledgeItem(kind="note", text="not solver input"),
    ]
    assert to_prolog(items) == "p(X) :- q(X)."
    assert to_asp(items) == "p(X) :- q(X), not r(X)."
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        export(items, "xml")


def test_retrieved_subset_feeds_the_solvers(kb):
    kb.add(
        [
            triple("tom", "parent", "bob"),
            triple("bob", "parent", "Ann Lee"),
            triple("ice", "HasProperty", "cold"),
        ]
    )
    hits = kb.search(None, mode="exact", relation="parent")
    r = solve(
        SolverRequest(
            solver="prolog",
            program="gp(X, Z) :- parent(X, Y), parent(Y, Z).",
            facts=export(hits, "prolog"),
            query="gp(tom, Z)",
        )
    )
    assert r.answer == "Ann Lee"
    r = solve(
        SolverRequest(
            solver="asp",
            program="gp(X,Z) :- parent(X,Y), parent(Y,Z). #show gp/2.",
            facts=export(hits, "asp"),
        )
    )
    assert r.answer == [['gp(tom,"Ann Lee")']]
