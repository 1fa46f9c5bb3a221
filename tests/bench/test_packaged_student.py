"""Integration: the packaged SmolLM2-135M-Instruct as a directly prompted few-shot baseline."""

from __future__ import annotations

import json

from nesy.cli import main


def test_hf_packaged_student_runs_fewshot_on_a_slice(tmp_path, capsys):
    from agent.students import default_model_dir

    model = default_model_dir()  # converted under NESY_HOME on first use
    argv = ["bench", "run", "gsm8k", "--system", f"hf:{model}", "--num-fewshot", "2",
            "--limit", "3", "--gen-kwargs", "max_new_tokens=48", "--out", str(tmp_path),
            "--log-samples", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    res = out["results"]["gsm8k"]
    assert res["n"] == 3 and res["tokens_per_q"] > 100  # two worked exemplars in each prompt
    from bench.results import Results, db_path

    with Results(db_path(tmp_path), read_only=True) as r:
        info = r.run(out["run"])
        samples = r.samples(out["run"])
    assert len(info.model_hash) == 64  # the weights' hash is recorded with the run
    assert samples[0]["prompts"][0].count("Question:") == 3 and samples[0]["outputs"][0]
