from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb import KBError, KnowledgeItem
from kb.importers import read_items


def write(path, text: str | bytes):
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_import_validates_each_row(kb, tmp_path):
    rows = [
        {"kind": "triple", "head": "ice", "relation": "HasProperty", "tail": "cold"},
        {"kind": "triple", "head": "ice"},
        {"kind": "note", "text": "a note", "tags": ["x"], "critic_score": 0.5},
        {"kind": "rule", "text": "q(X) :- p(X).", "syntax": "cobol"},
        {"kind": "note", "text": "y", "colour": "red"},
        {"kind": "note", "text": "z", "critic_score": "high"},
        {"kind": "note", "text": "w", "verified": "perhaps"},
        {"kind": "spell", "text": "w"},
        {"kind": "note", "text": "t", "tags": "not-a-list"},
        {
            "kind": "exemplar",
            "text": "q",
            "program": "ans = 1",
            "provenance": {"source": "s", "teacher": "gpt-4", "created_at": "2024-05-01T10:00:00"},
        },
    ]
    f = write(
        tmp_path / "items.jsonl",
        "\n".join(json.dumps(r) for r in rows) + '\n\n[1, 2]\n{"kind": "note", "te',
    )
    report = kb.import_file(f)
    assert (report.rows, report.inserted, report.rejected_count) == (13 - 1, 3, 9)
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons == {
        2: "a triple needs non-empty head, relation and tail",
        4: 'a rule needs syntax "prolog" or "asp"',
        5: "unknown field(s): colour",
        6: "critic_score is not a number: high",
        7: "verified is not a boolean: perhaps",
        8: 'unknown kind "spell"',
        9: "tags must be a list of strings",
        12: "not a JSON object",
        13: "invalid JSON (truncated or malformed line)",
    }
    ex = kb.search(None, mode="exact", kinds=["exemplar"])[0].item
    assert ex.provenance.teacher == "gpt-4" and ex.provenance.created_at.year == 2024


def test_duplicates_in_file_and_in_kb_are_skipped(kb, tmp_path):
    kb.add([KnowledgeItem(kind="triple", head="a", relation="r", tail="b")])
    f = write(tmp_path / "t.tsv", "a\tr\tb\nc\tr\td\nC \tr\td\n")
    report = kb.import_file(f, fmt="atomic")
    assert (report.inserted, report.duplicates) == (1, 2)
    assert kb.count() == 2


def test_atomic_tsv_with_exact_line_numbers(kb, tmp_path):
    f = write(
        tmp_path / "atomic.tsv",
        "PersonX pays\txIntent\tto buy\n\nPersonX eats\txNeed\n"
        "PersonX runs\txWant\tnone\nPersonX sings\txAttr\tmusical\n",
    )
    report = kb.import_file(f)
    assert report.inserted == 2
    assert {r.line: r.reason.split(":")[0] for r in report.rejected} == {
        3: "Expected Number of Columns",
        4: 'tail is "none" (no inference)',
    }
    assert {h.item.relation for h in kb.search(None, mode="exact")} == {"xIntent", "xAttr"}


def test_big_file_keeps_line_numbers_and_first_duplicates(kb, tmp_path):
    """DuckDB reads a file this size in parallel; rows still number and dedupe in file order."""
    n = 200_000
    lines = [f"PersonX does {i}\txWant\tto rest {i}" for i in range(n)]
    lines[150_000] = "PersonX naps\txWant\tnone"
    lines[199_000] = "PERSONX DOES 7 \txwant\tTo rest 7"  # same id as line 8, later
    f = write(tmp_path / "big.tsv", "\n".join(lines) + "\n")
    report = kb.import_file(f, fmt="atomic", fts=False)
    assert [(r.line, r.reason) for r in report.rejected] == [
        (150_001, 'tail is "none" (no inference)')
    ]
    assert (report.inserted, report.duplicates) == (n - 2, 1)
    [hit] = kb.search(None, mode="exact", head="PersonX does 7")
    assert hit.item.tail == "to rest 7"


def test_csv_and_tsv_with_headers(kb, tmp_path):
    csv = write(
        tmp_path / "k.csv", 'kind,text,domain,tags\nnote,"hello, world",demo,a|b\nnote,,demo,\n'
    )
    report = kb.import_file(csv)
    assert report.inserted == 1
    assert [(r.line, r.reason) for r in report.rejected] == [(3, "a note needs non-empty text")]
    assert kb.search(None, mode="exact", tags=["a", "b"])[0].item.text == "hello, world"
    tsv = write(tmp_path / "k.tsv", "kind\thead\trelation\ttail\ntriple\tx\ty\tz\n")
    assert kb.import_file(tsv).inserted == 1


def test_parquet_import(kb, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "kind": ["triple", "triple"],
            "head": ["a", None],
            "relation": ["r", "r"],
            "tail": ["b", "c"],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    report = kb.import_file(tmp_path / "t.parquet")
    assert report.inserted == 1
    assert str(report.rejected[0]) == "row 2: a triple needs non-empty head, relation and tail"


def test_invalid_utf8_names_file_line_and_column(kb, tmp_path):
    f = write(tmp_path / "bad.jsonl", b'{"kind": "note", "text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(
        KBError,
        match=r"bad.jsonl: not valid UTF-8 at line 2, column 14 "
        r"\(byte 0xe9\)",
    ):
        kb.import_file(f)
    assert kb.count() == 0


def test_truncated_parquet_is_a_clear_error(kb, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"kind": ["note"] * 100, "text": ["x"] * 100}), tmp_path / "p.parquet")
    data = (tmp_path / "p.parquet").read_bytes()
    write(tmp_path / "cut.parquet", data[: len(data) // 2])
    with pytest.raises(KBError, match="cut.parquet: cannot read as parquet"):
        kb.import_file(tmp_path / "cut.parquet")


def test_unknown_csv_column_and_missing_file(kb, tmp_path):
    with pytest.raises(KBError, match=r"unknown column\(s\) \['colour'\]"):
        kb.import_file(write(tmp_path / "c.csv", "kind,text,colour\nnote,x,red\n"))
    with pytest.raises(KBError, match="no such file"):
        kb.import_file(tmp_path / "absent.jsonl")
    with pytest.raises(KBError, match="cannot tell the format"):
        kb.import_file(write(tmp_path / "x.xml", "<a/>"))


def test_read_items_validates_without_inserting(kb, tmp_path):
    f = write(tmp_path / "a.jsonl", '{"kind": "note", "text": "x"}\n{"kind": "note"}\n')
    items, report = read_items(kb, f)
    assert [i.text for i in items] == ["x"] and report.rejected_count == 1
    assert kb.count() == 0


@settings(max_examples=40, deadline=None)
@given(
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
    st.text(min_size=1, max_size=20),
)
def test_sql_ids_match_python_ids(tmp_path_factory, head, relation, tail):
    from kb import KnowledgeBase

    clean = [
        x.replace("\t", " ").replace("\n", " ").replace("\r", " ") for x in (head, relation, tail)
    ]
    if any(not c.strip(" ") or c.strip().lower() == "none" for c in clean):
        return
    d = tmp_path_factory.mktemp("ids")
    (d / "one.tsv").write_text("\t".join(clean) + "\n", encoding="utf-8")
    with KnowledgeBase(d / "kb.duckdb") as kb:
        report = kb.import_file(d / "one.tsv", fmt="atomic", fts=False)
        if report.inserted:
            expected = KnowledgeItem(
                kind="triple",
                head=clean[0].strip(" "),
                relation=clean[1].strip(" "),
                tail=clean[2].strip(" "),
            )
            assert kb.get(expected.id) is not None


def test_jsonl_rows_carry_a_supported_schema_version(tmp_path):
    from kb import KnowledgeBase

    f = tmp_path / "items.jsonl"
    f.write_text(
        '{"schema_version": 1, "kind": "note", "text": "kept"}\n'
        '{"schema_version": 7, "kind": "note", "text": "from the future"}\n'
    )
    with KnowledgeBase(tmp_path / "kb.duckdb") as kb:
        report = kb.import_file(f, fmt="jsonl")
    assert report.inserted == 1
    assert [r.line for r in report.rejected] == [2]
    assert "schema_version 7 is not supported" in report.rejected[0].reason
