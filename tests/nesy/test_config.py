from __future__ import annotations

import json
import subprocess
import sys


def run(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "nesy.cli", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_nesy_toml_sets_defaults_and_flags_override(tmp_path, tiny_model_dir):
    (tmp_path / "nesy.toml").write_text(
        f'[agent]\nmodel = "hf:{tiny_model_dir}"\nmode = "direct"\nmax_new_tokens = 4\n'
    )
    out = run(tmp_path, "ask", "--no-kb", "--json", "What is 1 + 1?")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["trace"]["mode"] == "direct"
    out = run(
        tmp_path,
        "ask",
        "--no-kb",
        "--json",
        "--mode",
        "pad",
        "--max-repairs",
        "0",
        "What is 1 + 1?",
    )
    assert json.loads(out.stdout)["trace"]["mode"] == "pad"


def test_bad_config_is_named(tmp_path):
    (tmp_path / "nesy.toml").write_text("[agent]\ncolour = 'red'\n")
    out = run(tmp_path, "ask", "hi")
    assert out.returncode == 2 and "unknown key(s) ['colour'] in [agent]" in out.stderr
    (tmp_path / "nesy.toml").write_text("[agent\n")
    out = run(tmp_path, "ask", "hi")
    assert out.returncode == 2 and "not valid TOML" in out.stderr
