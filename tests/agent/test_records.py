"""The versioned records: one base, migrations of older files, clear errors for newer ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.records import Answer, ModelCard, Trace
from bench.records import BenchRecord
from bench.results import Results
from solvers import SolverRequest, SolverResult
from solvers.records import DataFile


def test_a_v1_trace_calls_solver_computed_answers_grounded_not_verified():
    v1 = {"schema_version": 1, "question": "q", "answer": 3, "verified": True,
          "verdict": "accepted"}  # fmt: skip
    trace = Trace.model_validate(v1)
    assert (trace.schema_version, trace.grounded, trace.verified) == (2, True, None)
    assert trace.verdict == "unknown"  # the agent never had gold to accept it against
    assert Trace.from_jsonl(trace.to_jsonl()) == trace


def test_a_v1_answer_migrates_with_its_trace():
    answer = Answer.model_validate(
        {"schema_version": 1, "answer": 2, "verified": True,
         "trace": {"schema_version": 1, "question": "q", "verified": True}}
    )  # fmt: skip
    assert answer.grounded and answer.trace.grounded and answer.trace.verified is None


@pytest.mark.parametrize("record", [Trace, BenchRecord, SolverResult, SolverRequest])
def test_a_newer_version_is_refused_naming_the_record(record):
    with pytest.raises(ValidationError, match=f"{record.__name__} schema_version 99 is not"):
        record.model_validate({"schema_version": 99})


def test_requests_and_results_carry_a_version():
    request = SolverRequest(solver="python", program="ans = 1")
    assert request.schema_version == 1
    assert SolverRequest.model_validate_json(request.model_dump_json()) == request


def test_one_data_file_model_for_cards_and_runs():
    card = ModelCard(base_model="m", train_files=[{"file": "a.jsonl", "sha256": "ab"}])
    assert card.train_files == [DataFile(path="a.jsonl", sha256="ab")]


def test_a_v1_results_database_is_migrated_on_open(tmp_path):
    path = tmp_path / "results.duckdb"
    record = BenchRecord(run_id="r", task="t", item_id="1", correct=True, grounded=True)
    with Results(path) as r:
        r.add([record])
        # What nesy wrote before `grounded` existed.
        r.con.execute("ALTER TABLE records RENAME COLUMN grounded TO verified")
        r.con.execute("UPDATE records SET schema_version = 1")
        r.con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Results(path, read_only=True) as r:
        (back,) = r.records("r")
    assert (back.grounded, back.correct, back.schema_version) == (True, True, 2)
