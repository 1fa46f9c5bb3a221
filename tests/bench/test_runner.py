"""The harness end to end on 20-item slices: real solvers, a tiny model, the results DB."""

from __future__ import annotations

import base64
import json
import re

import pytest

from agent.records import ModelCard
from bench import report
from bench.results import Results, ResultsError, db_path, merge
from bench.runner import BenchError, RunSpec, run
from nesy.cli import main
from tests.bench.conftest import SHARED, needs_shared

POT = SHARED / "teacher_traces" / "pot_codex_gsm8k_test_fewshot.jsonl"


def cli_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def lying_replay(tmp_path, n: int = 20):
    """The teacher's file, with every program replaced by one that computes 0 but whose
    flags claim the gold answer: a harness that trusts flags would score 100%."""
    from bench.tasks import get_task

    items = get_task("gsm8k").load(SHARED / "gsm8k/test.jsonl")[:n]
    f = tmp_path / "lying.jsonl"
    with open(f, "w") as out:
        for i, it in enumerate(items):
            program = "ans = 0" if i % 2 else f"ans = {it.gold!r}"
            out.write(
                json.dumps(
                    {
                        "id": f"x-{i}",
                        "question": it.question,
                        "program": [program],
                        "executed": it.gold,
                        "answer": it.gold,
                        "correct": True,
                    }
                )
                + "\n"
            )
    return f


@needs_shared
def test_replay_reexecutes_programs_and_ignores_the_files_flags(tmp_path, capsys, results_dir):
    f = lying_replay(tmp_path)
    out = cli_json(
        capsys,
        "bench",
        "run",
        "gsm8k",
        "--system",
        f"replay:{f}",
        "--data",
        str(SHARED),
        "--limit",
        "20",
        "--out",
        str(results_dir),
        "--json",
    )
    res = out["results"]["gsm8k"]
    assert (res["n"], res["accuracy"]) == (20, 0.5)
    assert res["failures"] == {"wrong_answer": 10}
    lo, hi = res["ci95"]
    assert lo < 0.5 < hi


@needs_shared
def test_replay_of_codex_pot_matches_the_published_score(capsys, results_dir):
    """PoT reports 71.6% for Codex on GSM8K; we re-execute every program ourselves."""
    out = cli_json(
        capsys,
        "bench",
        "run",
        "gsm8k",
        "--system",
        f"replay:{POT}",
        "--data",
        str(SHARED),
        "--out",
        str(results_dir),
        "--json",
    )
    res = out["results"]["gsm8k"]
    assert res["n"] >= 1318
    assert abs(100 * res["accuracy"] - 71.6) <= 1.0, res


@needs_shared
def test_interrupted_run_resumes_without_redoing_items(tmp_path, results_dir):
    spec = RunSpec(
        tasks=["gsm8k"],
        system=f"replay:{lying_replay(tmp_path)}",
        data=str(SHARED),
        limit=20,
        out=str(results_dir),
        batch_size=4,
    )
    first = run(spec, progress=False)
    run_id = first["run"]
    with Results(db_path(results_dir)) as r:
        before = {x.item_id: x.latency_s for x in r.records(run_id)}
        r.con.execute(
            "DELETE FROM records WHERE item_id IN ('gsm8k/gsm8k-test-3', 'gsm8k/gsm8k-test-4')"
        )
    again = run(spec, progress=False)
    assert again == first  # the same run id and the same scores
    with Results(db_path(results_dir)) as r:
        after = {x.item_id: x.latency_s for x in r.records(run_id)}
    assert after.keys() == before.keys()
    kept = set(before) - {"gsm8k/gsm8k-test-3", "gsm8k/gsm8k-test-4"}
    assert all(after[k] == before[k] for k in kept)  # finished items were not redone


@needs_shared
def test_shards_merge_into_the_unsharded_result(tmp_path, results_dir):
    system = f"replay:{lying_replay(tmp_path)}"
    base = RunSpec(tasks=["gsm8k"], system=system, data=str(SHARED), limit=20)
    whole = run(RunSpec(**{**base.__dict__, "out": str(tmp_path / "whole")}), progress=False)
    for i in range(3):
        run(
            RunSpec(**{**base.__dict__, "shard": f"{i}/3", "out": str(results_dir)}), progress=False
        )
    shard_files = sorted(results_dir.glob("results.shard-*.duckdb"))
    assert len(shard_files) == 3
    with pytest.raises(ResultsError, match="shard\\(s\\) 2/3 missing"):
        merge(shard_files[:2], tmp_path / "partial")
    [run_id] = merge([results_dir], tmp_path / "merged")
    assert run_id == whole["run"]
    with Results(db_path(tmp_path / "merged"), read_only=True) as r:
        merged = r.records(run_id)
        assert r.run(run_id).shard == ""
    with Results(db_path(tmp_path / "whole"), read_only=True) as r:
        assert [(x.item_id, x.correct) for x in merged] == [
            (x.item_id, x.correct) for x in r.records(run_id)
        ]


@needs_shared
def test_an_export_reads_like_its_database_and_is_read_only(tmp_path, results_dir, capsys):
    # Two runs, exported to Parquet (what docs/headline commits): report and compare read
    # the folder as they read the database, and nothing can write to it.
    spec = {"tasks": ["gsm8k"], "data": str(SHARED), "limit": 20, "out": str(results_dir)}
    a = run(RunSpec(system=f"replay:{POT}", log_samples=True, **spec), progress=False)["run"]
    b = run(RunSpec(system=f"replay:{lying_replay(tmp_path)}", **spec), progress=False)["run"]
    folder = tmp_path / "headline"
    assert main(["bench", "export", str(results_dir), "--out", str(folder)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("exported run(s)") and a in said and b in said
    assert sorted(p.name for p in folder.iterdir()) == [
        "meta.parquet", "records.parquet", "runs.parquet"
    ]  # fmt: skip
    for where in (results_dir, folder):
        assert main(["bench", "report", a, b, "--results", str(where), "--md", "-"]) == 0
        table = capsys.readouterr().out
        assert (
            cli_json(capsys, "bench", "compare", a, b, "--results", str(where), "--json")["n"] == 20
        )
        if where == results_dir:
            from_db = table
    assert table == from_db  # the same report from the export as from the database
    with Results(db_path(folder), read_only=True) as r:
        assert r.samples(a) == []  # the prompts and outputs stay behind
    with pytest.raises(ResultsError, match="exported results folder \\(read-only\\)"):
        Results(db_path(folder))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["bench", "export", str(results_dir), "--out", str(tmp_path / "busy")]) == 2
    assert "holds other files" in capsys.readouterr().err


def test_bad_shard_and_maj_k_are_named(results_dir):
    with pytest.raises(BenchError, match="--shard '3/2'"):
        run(RunSpec(tasks=["gsm8k"], system="replay:x", shard="3/2", out=str(results_dir)))


def test_direct_fewshot_with_a_tiny_model_caches_lm_requests(tiny_model_dir, results_dir, capsys):
    argv = [
        "bench",
        "run",
        "gsm8k",
        "--system",
        f"hf:{tiny_model_dir}",
        "--limit",
        "20",
        "--num-fewshot",
        "2",
        "--apply-chat-template",
        "--gen-kwargs",
        "max_new_tokens=8",
        "--out",
        str(results_dir),
        "--log-samples",
        "--json",
    ]
    out = cli_json(capsys, *argv)
    res = out["results"]["gsm8k"]
    assert res["n"] == 20 and res["tokens_per_q"] > 0
    with Results(db_path(results_dir)) as r:
        cached = r.con.execute("SELECT count(*) FROM lm_cache").fetchone()[0]
        samples = r.samples(out["run"])
        r.con.execute("DELETE FROM records")
    assert cached == 20
    prompt = samples[0]["prompts"][0]
    assert [m["role"] for m in prompt] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert "The answer is" in prompt[2]["content"]  # a worked exemplar from the train split
    again = cli_json(capsys, *argv)  # answered from the LM cache: same outputs
    assert again == out
    with Results(db_path(results_dir)) as r:
        assert r.con.execute("SELECT count(*) FROM lm_cache").fetchone()[0] == 20


def test_agent_on_a_slice_with_real_solvers(tiny_model_dir, results_dir, capsys):
    out = cli_json(
        capsys,
        "bench",
        "run",
        "gsm8k",
        "--system",
        f"agent:{tiny_model_dir}",
        "--mode",
        "pad",
        "--limit",
        "20",
        "--out",
        str(results_dir),
        "--kb",
        "none",
        "--log-samples",
        "--json",
    )
    res = out["results"]["gsm8k"]
    assert res["n"] == 20
    # Every item is classified: a correct one has no failure class, a wrong one has one.
    from bench.results import Results, db_path

    with Results(db_path(results_dir), read_only=True) as r:
        rows = r.con.execute("SELECT correct, failure FROM records").fetchall()
        logged = r.samples(out["run"])[0]["prompts"][0]
    assert len(rows) == 20
    # the log keeps what the solver ran and the steps, to read an answer from it alone
    assert logged["mode"] == "pad" and logged["programs"]
    assert logged["steps"][0].startswith("formulate: ") and logged["steps"][-1]
    assert all((failure is None) == bool(correct) for correct, failure in rows)
    assert sum(res["failures"].values()) == sum(1 for correct, _ in rows if not correct)
    assert set(res["failures"]) <= {
        "parse_error",
        "solver_error",
        "timeout",
        "fallback_used",
        "wrong_answer",
    }


def test_contamination_guard_refuses_then_marks(tiny_model_dir, tmp_path, results_dir, capsys):
    import shutil

    model = tmp_path / "student"
    shutil.copytree(tiny_model_dir, model)
    card = ModelCard(
        base_model="tiny",
        train_item_ids=["gsm8k/gsm8k-test-1"],
        train_files=[{"path": "gsm8k/test.jsonl", "sha256": "ab" * 32}],
    )
    (model / "model_card.json").write_text(card.model_dump_json())
    argv = [
        "bench",
        "run",
        "gsm8k",
        "--system",
        f"hf:{model}",
        "--limit",
        "3",
        "--gen-kwargs",
        "max_new_tokens=4",
        "--out",
        str(results_dir),
    ]
    assert main(argv) == 2
    assert "1 item(s) are in the system's training data" in capsys.readouterr().err
    out = cli_json(capsys, *argv, "--allow-contaminated", "--json")
    with Results(db_path(results_dir), read_only=True) as r:
        runs = [(r.run(out["run"]), r.records(out["run"]))]
    assert [x.item_id for x in runs[0][1] if x.contaminated] == ["gsm8k/gsm8k-test-1"]
    text = report.markdown(runs)
    assert "3 (1 contaminated)" in text
    assert "gsm8k/test.jsonl (sha256 abababababab)" in text  # the train files are named


@needs_shared
def test_report_and_compare(tmp_path, results_dir, capsys):
    a = run(
        RunSpec(
            tasks=["gsm8k"],
            system=f"replay:{POT}",
            data=str(SHARED),
            limit=20,
            out=str(results_dir),
        ),
        progress=False,
    )["run"]
    b = run(
        RunSpec(
            tasks=["gsm8k"],
            system=f"replay:{lying_replay(tmp_path)}",
            data=str(SHARED),
            limit=20,
            out=str(results_dir),
        ),
        progress=False,
    )["run"]
    html_file = tmp_path / "r.html"
    assert (
        main(["bench", "report", a, b, "--results", str(results_dir), "--html", str(html_file)])
        == 0
    )
    page = html_file.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2  # accuracy by difficulty (gsm8k steps) and against cost
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "evaluated on" in page and "gsm8k/test.jsonl" in page and "nesy bench run" not in page
    capsys.readouterr()
    out = cli_json(capsys, "bench", "compare", a, b, "--results", str(results_dir), "--json")
    assert out["n"] == 20
    assert len(out["a_only"]) + out["both_correct"] == round(out["a"]["accuracy"] * 20)
    assert 0 < out["mcnemar_p"] <= 1
    one = ["bench", "compare", a, b, "--results", str(results_dir), "--json", "--task"]
    assert cli_json(capsys, *one, "gsm8k") == out  # the runs' one task: the same pairs
    assert main([*one, "svamp"]) == 2  # a task neither run scored pairs nothing
    assert "share no items" in capsys.readouterr().err
    assert main(["bench", "report", "nope", "--results", str(results_dir)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    named = ["bench", "report", a, b, "--results", str(results_dir), "--md", "-"]
    assert main([*named, "--label", f"{a}=Codex PoT"]) == 0
    assert "| Codex PoT | " in capsys.readouterr().out
    assert main([*named, "--label", "zzz=Codex"]) == 2
    assert "--label zzz: no reported run starts with 'zzz'" in capsys.readouterr().err
    assert main([*named, "--label", "Codex"]) == 2
    assert "expected RUN=NAME" in capsys.readouterr().err
    # one command run twice (two code versions) has one run id: RUN@RESULTS pairs them
    other = tmp_path / "other"
    again = run(
        RunSpec(tasks=["gsm8k"], system=f"replay:{POT}", data=str(SHARED), limit=20,
                out=str(other)),
        progress=False,
    )["run"]  # fmt: skip
    assert again == a
    out = cli_json(capsys, "bench", "compare", f"{a}@{results_dir}", f"{a}@{other}", "--json")
    assert (out["n"], out["a_only"], out["b_only"], out["mcnemar_p"]) == (20, [], [], 1.0)
    assert (
        main(["bench", "compare", a, f"{a}@{tmp_path / 'none'}", "--results", str(results_dir)])
        == 2
    )


def test_cli_errors_are_named(tmp_path, capsys):
    assert main(["bench", "run", "gsm9k", "--system", "default"]) == 2
    assert "known tasks: asdiv" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "1?", "answer": 1}\n{oops\n')
    assert (
        main(
            [
                "bench",
                "run",
                "gsm8k",
                "--system",
                "replay:x",
                "--data",
                str(bad),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "bad.jsonl:2: invalid JSON" in capsys.readouterr().err
    assert (
        main(
            [
                "bench",
                "run",
                "gsm8k",
                "--system",
                "openai:m@http://127.0.0.1:9/v1",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "cannot reach http://127.0.0.1:9/v1" in capsys.readouterr().err
    assert main(["bench", "run", "gsm8k", "--system", "gpt4", "--out", str(tmp_path)]) == 2
    assert "unknown system 'gpt4'" in capsys.readouterr().err


def test_gen_kwargs_and_agent_args_are_parsed_and_checked():
    from bench.systems import SystemError, parse_agent_args, parse_gen_kwargs

    assert parse_gen_kwargs("temperature=0.7,max_gen_toks=64") == {
        "temperature": 0.7,
        "max_new_tokens": 64,
    }
    assert parse_agent_args("max_repairs=0, syntax_retries=1") == {
        "max_repairs": 0,
        "syntax_retries": 1,
    }
    with pytest.raises(SystemError, match="bad --gen-kwargs entry 'beam=4'"):
        parse_gen_kwargs("beam=4")
    with pytest.raises(SystemError, match="keys .*max_repairs"):
        parse_agent_args("repairs=3")
    with pytest.raises(SystemError, match="--mode sets the mode"):
        parse_agent_args("mode=pad")


def test_limit_per_difficulty_takes_the_first_n_of_each_level():
    from bench.runner import load_items

    spec = RunSpec(tasks=["stepgame"], system="replay:none", limit_per_difficulty=3)
    _, items, _ = load_items(spec)
    hops = [it.difficulty for it in items["stepgame"]]
    assert hops == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    base = RunSpec(tasks=["stepgame"], system="replay:none")
    files = [{"sha256": "x"}]
    assert spec.fingerprint(files) != base.fingerprint(files)


def test_new_weights_are_a_new_run_not_a_resumed_one(tmp_path, monkeypatch):
    """The run id covers the weights that answer: a re-run after an adapter changed must not
    resume (and keep) the old adapter's records."""
    from agent.students import skills
    from bench.runner import model_hash

    a, b = tmp_path / "a", tmp_path / "b"
    for d, blob in ((a, b"one"), (b, b"two")):
        d.mkdir()
        (d / "model.safetensors").write_bytes(blob)
    assert model_hash(f"agent:hf:{a}", None) != model_hash(f"agent:hf:{b}", None)
    assert model_hash(f"hf:{a}+lora:{b}", None) != model_hash(f"hf:{a}", None)
    monkeypatch.setattr(skills, "shipped", lambda root=None: {"asp": a})
    before = model_hash("agent:ct2:default", None)
    monkeypatch.setattr(skills, "shipped", lambda root=None: {"asp": b})
    after = model_hash("agent:ct2:default", None)
    assert len(before) == 64 and before != after
    spec, files = RunSpec(tasks=["gsm8k"], system="agent:ct2:default"), [{"sha256": "x"}]
    assert spec.fingerprint(files, before) != spec.fingerprint(files, after)
    assert spec.fingerprint(files, before) == spec.fingerprint(files, before)


@needs_shared
def test_items_of_scores_exactly_the_items_another_run_covered(tmp_path, results_dir):
    """A replay covers some items; a second system run with ``items_of`` scores those and no
    others, so the two pair on every item."""
    covering = run(
        RunSpec(
            tasks=["gsm8k"],
            system=f"replay:{lying_replay(tmp_path, 6)}",
            data=str(SHARED),
            out=str(results_dir),
        ),
        progress=False,
    )
    assert covering["results"]["gsm8k"]["n"] == 6
    spec = RunSpec(
        tasks=["gsm8k"], system=f"replay:{POT}", data=str(SHARED), out=str(results_dir),
        items_of=covering["run"][:6],
    )  # fmt: skip
    second = run(spec, progress=False)
    assert second["results"]["gsm8k"]["n"] == 6
    assert spec.items_of == covering["run"]  # the prefix resolved: the same run id as the full
    with Results(db_path(results_dir)) as res:
        ids = [{r.item_id for r in res.records(x["run"])} for x in (covering, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 6
    plain = RunSpec(tasks=["gsm8k"], system=f"replay:{POT}", data=str(SHARED))
    assert spec.fingerprint([{"sha256": "x"}]) != plain.fingerprint([{"sha256": "x"}])
    with pytest.raises(BenchError, match="no run 'nosuch'"):
        run(RunSpec(tasks=["gsm8k"], system=f"replay:{POT}", data=str(SHARED),
                    out=str(results_dir), items_of="nosuch"), progress=False)  # fmt: skip
    with pytest.raises(BenchError, match="scored no svamp item"):
        run(RunSpec(tasks=["svamp"], system=f"replay:{POT}", data=str(SHARED),
                    out=str(results_dir), items_of=covering["run"]), progress=False)  # fmt: skip


def test_the_systems_by_task_table_merges_runs_of_one_system_and_named_rows():
    from bench.records import BenchRecord, RunInfo

    def one(run_id, system, task, right, config=None):
        info = RunInfo(run_id=run_id, system=system, tasks=[task], config=config or {})
        records = [
            BenchRecord(run_id=run_id, task=task, item_id=f"{task}/{i}", correct=i < right,
                        prompt_tokens=90 if system.startswith("agent") else 0,
                        completion_tokens=10 if system.startswith("agent") else 0)
            for i in range(10)
        ]  # fmt: skip
        return info, records

    default = {"agent_args": {"max_repairs": 1, "max_new_tokens": 256}}
    runs = [
        one("aaa1", "agent:default", "svamp", 4, default),
        one("aaa2", "agent:default", "stepgame", 9, {"agent_args": {"max_repairs": 1}}),
        one("aaa3", "agent:default", "stepgame", 1, {"mode": "direct"}),
        one("bbb1", "replay:/x/pot.jsonl", "svamp", 8),
        one("bbb2", "replay:/x/steps.jsonl", "stepgame", 5),
    ]
    tasks, table = report.headline(runs)
    assert tasks == ["svamp", "stepgame"]
    rows = dict(table)
    assert list(rows)[0] == "agent:default (max_repairs=1)"  # the order the runs were named
    _, backwards = report.headline(runs[::-1])
    assert [label for label, _ in backwards][0] == "replay:steps.jsonl"
    # another token budget per task is still the same system: one row
    assert rows["agent:default (max_repairs=1)"] == {
        "svamp": "40.0 [16.8, 68.7] · 100 tok/q (n=10)",
        "stepgame": "90.0 [59.6, 98.2] · 100 tok/q (n=10)",
    }
    assert rows["agent:default (--mode direct)"] == {
        "stepgame": "10.0 [1.8, 40.4] · 100 tok/q (n=10)"
    }
    assert rows["replay:pot.jsonl"] == {"svamp": "80.0 [49.0, 94.3] (n=10)"}  # no tokens: none
    _, named = report.headline(runs, {"bbb1": "large model", "bbb2": "large model"})
    assert dict(named)["large model"] == {
        "svamp": "80.0 [49.0, 94.3] (n=10)",
        "stepgame": "50.0 [23.7, 76.3] (n=10)",
    }
    again = runs + [one("aaa4", "agent:default", "svamp", 5, default)]  # another selection
    assert dict(report.headline(again)[1])["agent:default (max_repairs=1) [run aaa4]"]
    assert "| agent:default (--mode direct) | - | 10.0 [1.8, 40.4]" in report.markdown(runs)
