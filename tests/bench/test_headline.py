"""The README's headline table is the committed records (``docs/headline``): every number in
its rows is what ``nesy bench report`` computes from them, so the table and its report
cannot drift apart, and a cell without its run fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.report import summarize
from bench.results import Results, db_path, is_export

ROOT = Path(__file__).resolve().parents[2]
HEADLINE = ROOT / "docs" / "headline"
COLUMNS = {  # README column -> task
    "GSM8K test": "gsm8k",
    "SVAMP test": "svamp",
    "StepGame test k=1..3": "stepgame",
    "CLUTRR test": "clutrr",
    "ProofWriter dev hold-out": "proofwriter-heldout",
    "ProntoQA dev hold-out": "prontoqa-heldout",
}
ROWS = {  # README row (its start) -> the system that ran it
    "**nesy default, 135M**": "agent:ct2:default",
    "Codex PoT programs": "pot_codex_",
    "GPT-3 175B fine-tuned + verifier": "gpt3-175b-verifier100",
    "GPT-3 175B fine-tuned (replay)": "gpt3-175b-finetuned",
    "GPT-3 6B fine-tuned + verifier": "gpt3-6b-verifier100",
    "GPT-3 6B fine-tuned (replay)": "gpt3-6b-finetuned",
    "GPT-4 Logic-LM programs": "logiclm_",
    "text-davinci-003 (replay)": "stepgame_davinci003_direct",
}
CELL = re.compile(
    r"\**(\d+(?:\.\d+)?)\**\s*\[(\d+(?:\.\d+)?), (\d+(?:\.\d+)?)\]\s*(?:· (\d+)\s*)?\((\d+)"
)


def readme_table(header: str = "| system | GSM8K test") -> list[dict[str, str]]:
    """The README table whose header line starts with ``header``, as rows of column -> cell."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    names = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(names, (c.strip() for c in line.strip("|").split("|")), strict=False)))
    return rows


def measured() -> dict[tuple[str, str], dict]:
    """(system, task) -> the summary of its run in the committed records."""
    out: dict[tuple[str, str], dict] = {}
    with Results(db_path(HEADLINE), read_only=True) as r:
        for info in r.runs():
            for task in info.tasks:
                records = r.records(info.run_id, task)
                if records:  # a run's task can be left out of the export (a re-run replaced it)
                    out[(info.system, task)] = summarize(records)
    return out


def check_cells(
    rows: list[dict[str, str]], systems: dict[str, str], columns: dict[str, str]
) -> int:
    """Every cell written as ``acc [lo, hi] · tokens (n...`` in ``rows`` against its run in the
    committed records; returns how many were checked."""
    runs, checked = measured(), 0
    for row in rows:
        system = next((s for start, s in systems.items() if row["system"].startswith(start)), None)
        if system is None:
            continue
        for column, task in columns.items():
            cell = row.get(column, "")
            m = CELL.match(cell)
            if not m:
                continue
            found = [s for (name, t), s in runs.items() if system in name and t == task]
            assert found, f"README {row['system'][:30]!r} / {column}: no run in {HEADLINE}"
            s = found[0]
            acc, lo, hi, n = float(m[1]), float(m[2]), float(m[3]), int(m[5])
            assert n == s["n"], (row["system"], column)
            if m[4]:  # tokens per question, rounded
                assert abs(int(m[4]) - s["tokens_per_q"]) <= 0.5, (row["system"], column)
            assert abs(acc - 100 * s["accuracy"]) < 0.051, (row["system"], column, s["accuracy"])
            assert abs(lo - 100 * s["ci95"][0]) < 0.051 and abs(hi - 100 * s["ci95"][1]) < 0.051
            checked += 1
    return checked


@pytest.mark.skipif(not is_export(HEADLINE), reason="no committed headline records")
def test_every_headline_number_is_its_committed_run():
    checked = check_cells(readme_table(), ROWS, COLUMNS)
    assert checked >= 14  # the default's six cells and the replays' eight


@pytest.mark.skipif(not is_export(HEADLINE), reason="no committed headline records")
def test_the_ablations_on_whole_sets_are_their_committed_runs():
    """The ablation rows' cells that give an interval (the untuned base with the solvers on
    the whole deductive hold-outs) are committed runs too."""
    rows = readme_table("| system | GSM8K | SVAMP")
    systems = {"the untuned base with the solvers": "models/smollm2-135m-instruct"}
    columns = {"ProofWriter": "proofwriter-heldout", "ProntoQA": "prontoqa-heldout"}
    assert check_cells(rows, systems, columns) == 2
