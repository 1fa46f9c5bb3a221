from __future__ import annotations

import json

from kb import shipped


def test_shipped_exemplars_are_verified_programs():
    from solvers import SolverRequest, solve

    rows = [json.loads(line) for line in shipped.EXEMPLARS.read_text().splitlines()]
    assert len(rows) >= 500
    assert all(r["verified"] and r["domain"] == "math" for r in rows)
    for row in rows[:20]:  # the programs really run and produce a number
        r = solve(SolverRequest(solver="python", program=row["program"]))
        assert r.ok and r.answer_type in ("integer", "number", "rational")


def test_solution_to_program():
    from training.exemplars import solution_to_program

    program = solution_to_program(
        "She sold 48/2 = <<48/2=24>>24 clips.\nIn all 48+24 = <<48+24=72>>72."
    )
    # The second line reuses the first line's result by name, not as the literal 24.
    assert program.splitlines()[-3:] == ["# In all 48+24 = 72.", "step2 = 48+clips", "ans = step2"]


def test_default_kb_is_built_on_first_use_under_nesy_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NESY_HOME", str(tmp_path))
    with shipped.open_default() as kb:
        stats = kb.stats()
        assert stats["path"] == str(tmp_path / "kb" / "default.duckdb")
        assert stats["items"] == stats["embedded"] == stats["verified"] >= 500
        hits = kb.search("Natalia sold clips to her friends in April and May", mode="hybrid", k=3)
        assert hits[0].item.text.startswith("Natalia sold clips")
    with shipped.open_default() as kb:  # second open reuses the file
        assert kb.count() == stats["items"]
