from __future__ import annotations

import pytest
from pydantic import ValidationError

from kb import KnowledgeItem, item_id


def test_id_is_stable_and_ignores_case_and_outer_spaces():
    a = KnowledgeItem(kind="triple", head="Ice", relation="HasProperty", tail="cold ")
    b = KnowledgeItem(kind="triple", head="ice", relation="hasproperty", tail="cold")
    assert a.id == b.id == item_id("triple", "general", "ice", "hasproperty", "cold")
    assert a.id.startswith("t-")


def test_domain_is_part_of_identity():
    a = KnowledgeItem(kind="note", text="x", domain="math")
    b = KnowledgeItem(kind="note", text="x", domain="physics")
    assert a.id != b.id


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"kind": "triple", "head": "a", "relation": "r"}, "head, relation and tail"),
        ({"kind": "note", "text": "  "}, "non-empty `text`"),
        ({"kind": "fact", "text": "p(1).", "syntax": "python"}, "'prolog' or 'asp'"),
        ({"kind": "exemplar", "text": "q?"}, "verified `program`"),
        ({"kind": "note", "text": "x", "colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_items_are_rejected_with_a_reason(kw, message):
    with pytest.raises(ValidationError, match=message):
        KnowledgeItem(**kw)
