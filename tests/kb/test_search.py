from __future__ import annotations

import pytest

from kb import KnowledgeItem

from .conftest import triple

ITEMS = [
    triple("ice", "HasProperty", "cold", domain="physics", tags=["state"]),
    triple("fire", "HasProperty", "hot", domain="physics"),
    triple("PersonX pays the bill", "xIntent", "to settle the debt", domain="social"),
    KnowledgeItem(
        kind="note",
        text="Water boils at 100 degrees Celsius.",
        domain="physics",
        critic_score=0.8,
        verified=True,
    ),
    KnowledgeItem(
        kind="exemplar",
        text="Tom has 3 apples and buys 2 more. How many?",
        program="ans = 3 + 2",
        domain="math",
        critic_score=0.4,
    ),
]


@pytest.fixture
def filled(kb):
    kb.add(ITEMS)
    kb.rebuild_fts()
    return kb


def test_exact_filters(filled):
    hits = filled.search(None, mode="exact", relation="HasProperty", head="ice")
    assert [h.item.tail for h in hits] == ["cold"]
    assert {h.item.domain for h in filled.search(None, mode="exact", domain="physics")} == {
        "physics"
    }
    assert [h.item.kind for h in filled.search(None, mode="exact", tags=["state"])] == ["triple"]
    assert [h.item.kind for h in filled.search(None, mode="exact", verified_only=True)] == ["note"]
    assert len(filled.search(None, mode="exact", min_score=0.5)) == 1
    assert len(filled.search(None, mode="exact", kinds=["note", "exemplar"])) == 2


def test_bm25_ranks_the_matching_item_first_with_a_score(filled):
    hits = filled.search("water boils", mode="bm25")
    assert hits[0].item.kind == "note" and hits[0].score > 0
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_bm25_with_filter(filled):
    assert filled.search("cold hot", mode="bm25", head="fire")[0].item.tail == "hot"


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE items; --",
        'ice" OR 1=1 --',
        "Robert'); DELETE FROM items WHERE ('a' = 'a",
        "%_*?;",
    ],
)
def test_user_text_is_data_not_sql(filled, text):
    n = filled.count()
    filled.search(text, mode="bm25")
    filled.search(None, mode="exact", head=text, domain=text, relation=text, tags=[text])
    filled.add([KnowledgeItem(kind="note", text=text)])
    assert filled.count() == n + 1
    assert filled.search(None, mode="exact", kinds=["note"], head=None)  # table intact


def test_unknown_filter_and_mode_are_named(filled):
    with pytest.raises(ValueError, match="unknown filter.*colour"):
        filled.search("x", mode="bm25", colour="red")
    with pytest.raises(ValueError, match="unknown search mode 'fuzzy'"):
        filled.search("x", mode="fuzzy")
    with pytest.raises(ValueError, match="bm25 search needs a query"):
        filled.search("", mode="bm25")


def test_vector_and_hybrid_use_minilm_embeddings(filled):
    assert filled.embed() == len(ITEMS)
    assert filled.embed() == 0  # nothing left to embed
    hits = filled.search("How hot must water get before it boils?", mode="vector", k=2)
    assert hits[0].item.kind == "note"
    assert 0 < hits[0].score <= 1
    fused = filled.search("apples arithmetic", mode="hybrid", k=3)
    assert fused[0].item.kind == "exemplar"
    assert fused[0].mode == "hybrid" and fused[0].score > fused[-1].score >= 0


def test_fuse_prefers_items_ranked_high_by_both():
    from kb.models import SearchHit
    from kb.search import fuse

    a, b, c = (KnowledgeItem(kind="note", text=t) for t in "abc")
    rank1 = [SearchHit(item=x, score=1, mode="bm25") for x in (a, b, c)]
    rank2 = [SearchHit(item=x, score=1, mode="vector") for x in (b, a, c)]
    fused = fuse([rank1, rank2], k=3)
    assert [h.item.text for h in fused][2] == "c"
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)


def test_vector_candidates_use_the_hnsw_index(filled):
    from kb.search import candidates_sql

    filled.embed()
    vec = filled.embedder.encode(["boiling water"])[0].tolist()
    plan = filled.con.execute("EXPLAIN " + candidates_sql(50), [vec]).fetchall()
    assert "HNSW_INDEX_SCAN" in str(plan)


def test_searches_from_many_threads_get_their_own_results(tmp_path):
    """The agent's ask_many retrieves from a thread per question on one KB."""
    from concurrent.futures import ThreadPoolExecutor

    from kb import KnowledgeBase, KnowledgeItem

    with KnowledgeBase(tmp_path / "t.duckdb") as kb:
        kb.add(
            KnowledgeItem(kind="triple", head=f"h{i}", relation="r", tail=f"t{i}")
            for i in range(50)
        )
        kb.rebuild_fts()

        def one(i: int) -> list[str]:
            return [h.item.tail for h in kb.search(f"h{i}", mode="exact")]

        with ThreadPoolExecutor(8) as ex:
            results = list(ex.map(one, list(range(50)) * 4))
    assert results == [[f"t{i}"] for i in range(50)] * 4
