from __future__ import annotations

import decimal
import fractions

import pytest
import sympy

from solvers._answer import encode


@pytest.mark.parametrize(
    "value,expected",
    [
        (True, (True, "bool")),
        (3, (3, "integer")),
        (fractions.Fraction(3, 4), ("3/4", "rational")),
        (fractions.Fraction(8, 4), (2, "integer")),
        (sympy.Rational(3, 4), ("3/4", "rational")),
        (sympy.Integer(5), (5, "integer")),
        (0.5, (0.5, "number")),
        (float("nan"), ("nan", "number")),
        (decimal.Decimal("1.10"), ("1.10", "decimal")),
        (sympy.sqrt(2) / 2, ("sqrt(2)/2", "expression")),
        (sympy.true, (True, "bool")),
        ({3, 1}, ([1, 3], "list")),
        ({"a": fractions.Fraction(1, 2)}, ({"a": "1/2"}, "dict")),
        (None, (None, "none")),
    ],
)
def test_encode(value, expected):
    assert encode(value) == expected
