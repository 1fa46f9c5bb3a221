"""One answer normaliser, shared by the agent, the bench and training.

>>> normalize("$1,200.50", "number"), normalize("Yes.", "yesno"), normalize(" Aunt ", "label")
(1200.5, 'yes', 'aunt')
>>> matches(0.3333, "1/3", "number")
True
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Literal

AnswerType = Literal["number", "label", "yesno", "text"]
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_YES = {"yes", "true", "1", "correct", "y"}
_NO = {"no", "false", "0", "incorrect", "n"}


def to_number(value: Any) -> float | None:
    """The number a value denotes: ints, floats, ``"3/4"``, ``"$1,200"``, ``"12 apples"``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).strip()
    match = _NUMBER.findall(text.replace("\u2212", "-"))
    if not match:
        return None
    try:
        return float(Fraction(match[-1].replace(",", "").replace(" ", "")))
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


def normalize(value: Any, answer_type: AnswerType) -> Any:
    if answer_type == "number":
        return to_number(value)
    text = "" if value is None else str(value).strip().lower()
    if answer_type == "yesno":
        word = re.sub(r"[^a-z0-9]", " ", text).split()
        if word and word[0] in _YES:
            return "yes"
        if word and word[0] in _NO:
            return "no"
        return None
    if answer_type == "label":
        return re.sub(r"[\s.;:!?\"']+$", "", re.sub(r"^[\s\"']+", "", text)) or None
    return text or None


def matches(prediction: Any, gold: Any, answer_type: AnswerType, rel_tol: float = 1e-4) -> bool:
    """Numbers within a relative tolerance of 1e-4; everything else exactly, after normalising."""
    p, g = normalize(prediction, answer_type), normalize(gold, answer_type)
    if p is None or g is None:
        return False
    if answer_type == "number":
        return math.isclose(p, g, rel_tol=rel_tol, abs_tol=1e-9)
    return bool(p == g)
