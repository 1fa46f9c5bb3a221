"""Encode a solver's answer as JSON-able data plus an ``answer_type``, keeping exact values exact.

| value                         | answer            | answer_type  |
|-------------------------------|-------------------|--------------|
| ``True``                      | ``True``          | ``bool``     |
| ``3`` / ``sympy.Integer(3)``  | ``3``             | ``integer``  |
| ``Fraction(3, 4)`` / Rational | ``"3/4"``         | ``rational`` |
| ``0.75`` / ``sympy.Float``    | ``0.75``          | ``number``   |
| ``float('nan')``              | ``"nan"``         | ``number``   |
| ``Decimal('1.10')``           | ``"1.10"``        | ``decimal``  |
| other sympy expression        | ``"sqrt(2)/2"``   | ``expression`` |
| ``"abc"``                     | ``"abc"``         | ``string``   |
| list / tuple / set            | list of encoded   | ``list``     |
| dict                          | str keys, encoded | ``dict``     |
"""

from __future__ import annotations

import math
import sys
from typing import Any

MAX_ITEMS = 1000
MAX_INT_DIGITS = 4000  # Python refuses to print ints of more than 4300 digits


class AnswerTooLarge(ValueError):
    """The value cannot be returned as an answer; ``str()`` says why."""

    clear = True  # the sandbox template reports ``str()`` as it is, not as an internal error


def _check_int(value: int) -> int:
    if value.bit_length() > MAX_INT_DIGITS * 3.33:  # about 4000 decimal digits
        digits = int(value.bit_length() * 0.30103) + 1
        raise AnswerTooLarge(
            f"the answer is an integer of about {digits} digits; at most {MAX_INT_DIGITS} "
            "can be returned"
        )
    return value


def encode(value: Any, depth: int = 0) -> tuple[Any, str]:
    """Return ``(answer, answer_type)`` for a Python or sympy value."""
    if depth > 20:
        return repr(value)[:200], "repr"
    if value is None:
        return None, "none"
    if isinstance(value, bool):
        return value, "bool"
    if isinstance(value, int):
        return _check_int(value), "integer"
    if isinstance(value, float):
        return (value if math.isfinite(value) else repr(value)), "number"
    fractions, decimal = sys.modules.get("fractions"), sys.modules.get("decimal")
    if fractions is not None and isinstance(value, fractions.Fraction):
        _check_int(value.numerator)
        _check_int(value.denominator)
        if value.denominator == 1:
            return value.numerator, "integer"
        return f"{value.numerator}/{value.denominator}", "rational"
    if decimal is not None and isinstance(value, decimal.Decimal):
        return str(value), "decimal"
    if isinstance(value, str):
        return value, "string"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)[:MAX_ITEMS]
        if isinstance(value, (set, frozenset)):
            items.sort(key=repr)
        return [encode(v, depth + 1)[0] for v in items], "list"
    if isinstance(value, dict):
        return {str(k): encode(v, depth + 1)[0] for k, v in list(value.items())[:MAX_ITEMS]}, "dict"
    sym = _encode_sympy(value)
    if sym is not None:
        return sym
    if (type(value).__module__ or "").startswith("numpy"):
        if hasattr(value, "tolist"):  # numpy scalars and arrays become Python values
            return encode(value.tolist(), depth + 1)
    if isinstance(value, complex):
        return str(value), "complex"
    return repr(value)[:1000], "repr"


def _encode_sympy(value: Any) -> tuple[Any, str] | None:
    module = type(value).__module__ or ""
    if not module.startswith("sympy"):
        return None
    import sympy

    if value is sympy.true or value is sympy.false:
        return bool(value), "bool"
    if isinstance(value, sympy.Integer):
        return _check_int(int(value)), "integer"
    if isinstance(value, sympy.Rational):
        return f"{_check_int(value.p)}/{_check_int(value.q)}", "rational"
    if isinstance(value, sympy.Float):
        return float(value), "number"
    if isinstance(value, sympy.Basic):
        return str(value), "expression"
    if isinstance(value, sympy.MatrixBase):
        return [encode(v, 1)[0] for v in value.tolist()], "list"
    return None
