from __future__ import annotations

import pytest

from kb import KnowledgeBase, KnowledgeItem


@pytest.fixture
def kb_path(tmp_path):
    return tmp_path / "kb.duckdb"


@pytest.fixture
def kb(kb_path):
    with KnowledgeBase(kb_path) as store:
        yield store


def triple(h: str, r: str, t: str, **kw) -> KnowledgeItem:
    return KnowledgeItem(kind="triple", head=h, relation=r, tail=t, **kw)
