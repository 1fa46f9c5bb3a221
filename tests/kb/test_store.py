from __future__ import annotations

import shutil

import duckdb
import pytest

from kb import KBError, KnowledgeBase, KnowledgeItem, schema
from kb.models import Provenance

from .conftest import triple


def test_add_deduplicates_by_id(kb):
    assert kb.add([triple("ice", "HasProperty", "cold")]) == 1
    assert (
        kb.add([triple("Ice ", "HasProperty", "cold"), triple("fire", "HasProperty", "hot")]) == 1
    )
    assert kb.count() == 2


def test_round_trip_keeps_every_field(kb):
    item = KnowledgeItem(
        kind="exemplar",
        text="What is 2+3?",
        program="ans = 2 + 3",
        syntax="python",
        domain="math",
        tags=["pot", "easy"],
        critic_score=0.9,
        verified=True,
        provenance=Provenance(source="unit", teacher="gpt-4", prompt_hash="abc"),
    )
    kb.add([item])
    back = kb.get(item.id)
    assert back is not None
    assert back.model_dump(exclude={"provenance": {"created_at"}}) == item.model_dump(
        exclude={"provenance": {"created_at"}}
    )


def test_read_only_reader_sees_committed_items(kb_path):
    with KnowledgeBase(kb_path) as kb:
        kb.add([triple("ice", "HasProperty", "cold")])
    with KnowledgeBase(kb_path, read_only=True) as reader:
        assert reader.count() == 1
        with pytest.raises(KBError, match="read-only"):
            reader.add([triple("a", "b", "c")])


def test_missing_kb_read_only_names_the_fix(tmp_path):
    with pytest.raises(KBError, match="no KB at .*nesy kb import"):
        KnowledgeBase(tmp_path / "nope.duckdb", read_only=True)


def test_delete_removes_item_and_embedding(kb):
    kb.add([triple("ice", "HasProperty", "cold")])
    (item,) = [h.item for h in kb.search(None, mode="exact")]
    assert kb.delete([item.id]) == 1
    assert kb.get(item.id) is None


def test_older_schema_is_migrated_after_a_backup(kb_path):
    con = duckdb.connect(str(kb_path))
    for ddl in schema.V1_DDL:
        con.execute(ddl)
    con.execute(
        "INSERT INTO items (id, kind, head, relation, tail, domain, created_at, content) "
        "VALUES ('t-1', 'triple', 'a', 'r', 'b', 'general', TIMESTAMP '2024-01-01', 'a r b')"
    )
    con.close()
    with KnowledgeBase(kb_path) as kb:
        assert kb.migrated_from == 1
        assert kb.stats()["schema_version"] == schema.SCHEMA_VERSION
        assert kb.get("t-1").head == "a"
        assert kb.get("t-1").critic_score is None
    backup = kb_path.with_name(kb_path.name + ".v1.bak")
    assert backup.exists()
    con = duckdb.connect(str(backup), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    con.close()


def test_older_schema_read_only_asks_for_a_migration(kb_path):
    con = duckdb.connect(str(kb_path))
    for ddl in schema.V1_DDL:
        con.execute(ddl)
    con.close()
    with pytest.raises(KBError, match="schema v1; open it once read-write"):
        KnowledgeBase(kb_path, read_only=True)


def test_newer_schema_is_refused(kb_path):
    with KnowledgeBase(kb_path) as kb:
        kb._set_meta("schema_version", "99")
    with pytest.raises(KBError, match="schema v99, newer than this nesy"):
        KnowledgeBase(kb_path)


def test_not_a_kb_file_is_named(tmp_path):
    bad = tmp_path / "junk.duckdb"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KBError, match="junk.duckdb"):
        KnowledgeBase(bad)


def test_admit_uses_threshold_and_solver_verdict_overrides(kb):
    class FixedCritic:
        def score(self, items):
            return [0.9 if "good" in i.text else 0.1 for i in items]

    items = [
        KnowledgeItem(kind="note", text="good note"),
        KnowledgeItem(kind="note", text="bad note"),
        KnowledgeItem(kind="note", text="bad but verified", verified=True),
        KnowledgeItem(kind="note", text="good but refuted", verified=False),
    ]
    out = kb.admit(items, FixedCritic(), threshold=0.5)
    assert out == {"admitted": 2, "quarantined": 2}
    kept = {h.item.text for h in kb.search(None, mode="exact", k=10)}
    assert kept == {"good note", "bad but verified"}
    reasons = dict(kb.con.execute("SELECT text, reason FROM quarantine").fetchall())
    assert reasons == {
        "bad note": "critic score 0.100 < 0.5",
        "good but refuted": "refuted by a solver",
    }
    assert kb.get(items[0].id).critic_score == pytest.approx(0.9)


def test_backup_copy_is_a_working_kb(kb_path, tmp_path):
    with KnowledgeBase(kb_path) as kb:
        kb.add([triple("ice", "HasProperty", "cold")])
    copy = tmp_path / "copy.duckdb"
    shutil.copy2(kb_path, copy)
    with KnowledgeBase(copy, read_only=True) as kb:
        assert kb.count() == 1


def test_v2_kb_with_indexes_migrates_to_generated_content(kb_path):
    """v2 stored `content`; v3 generates it. Data, indexes and BM25 survive the rebuild."""
    con = duckdb.connect(str(kb_path))
    for ddl in [*schema.V1_DDL, *schema.MIGRATIONS[1], *schema.INDEXES.values()]:
        con.execute(ddl)
    con.execute(
        "INSERT INTO items (id, kind, head, relation, tail, domain, created_at, content, "
        "critic_score) VALUES ('t-1', 'triple', 'PersonX bakes', 'xWant', 'to eat cake', "
        "'general', TIMESTAMP '2024-01-01', 'PersonX bakes xWant to eat cake', 0.75)"
    )
    con.close()
    with KnowledgeBase(kb_path) as kb:
        assert kb.migrated_from == 2
        assert kb.get("t-1").critic_score == 0.75
        assert kb.con.execute("SELECT content FROM items").fetchone() == (
            "PersonX bakes xWant to eat cake",
        )
        names = {r[0] for r in kb.con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert set(schema.INDEXES) <= names
        kb.rebuild_fts()
        assert [h.item.id for h in kb.search("cake", mode="bm25")] == ["t-1"]
    assert kb_path.with_name(kb_path.name + ".v2.bak").exists()
