from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "solve"


def nesy(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "nesy.cli", *args], input=stdin, capture_output=True, timeout=120
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


@pytest.mark.parametrize(
    "name,answer",
    [
        ("pot_gsm8k.py", 3),
        ("system.sympy", {"a": 3, "c": 7}),
        ("kinship.lp", [["aunt(cara,ben)", "grandfather(dan,ben)"]]),
        ("family.pl", "bob"),
    ],
)
def test_solve_examples(name, answer):
    out = nesy("solve", str(EXAMPLES / name))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "ok" and result["answer"] == answer


def test_failing_program_prints_result_and_exits_1():
    out = nesy("solve", "--compact", str(EXAMPLES / "broken.pl"))
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["status"] == "error" and "line 3, column" in result["detail"]


def test_reads_stdin():
    out = nesy("solve", "--solver", "python", "-", stdin=b"ans = 2 ** 10")
    assert json.loads(out.stdout)["answer"] == 1024


def test_non_utf8_input_is_a_result_naming_the_byte(tmp_path):
    f = tmp_path / "bad.py"
    f.write_bytes(b"ans = 1\n\xff\xfe")
    out = nesy("solve", str(f))
    assert out.returncode == 1
    assert "not valid UTF-8: byte 0xff at offset 8" in json.loads(out.stdout)["detail"]


def test_unknown_solver_lists_known_ones(tmp_path):
    out = nesy("solve", "--solver", "z3", str(EXAMPLES / "family.pl"))
    assert out.returncode != 0 and "known: asp, prolog, python, sympy" in out.stderr


def test_missing_file_is_named():
    out = nesy("solve", "/nonexistent/x.py")
    assert out.returncode != 0 and "cannot read /nonexistent/x.py" in out.stderr


def test_bad_flag_value_is_named():
    out = nesy("solve", "--timeout", "-1", str(EXAMPLES / "family.pl"))
    assert out.returncode == 2 and "--timeout: must be > 0" in out.stderr


def test_solve_does_not_import_torch():
    code = (
        "import sys; from nesy.cli import main; main(['solve', '--compact', "
        f"{str(EXAMPLES / 'pot_gsm8k.py')!r}]); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("False")


@pytest.mark.parametrize(
    "args,message",
    [
        (["serve", "--port", "99999"], "argument --port: must be <= 65535, got 99999"),
        (["serve", "--max-concurrency", "0"], "argument --max-concurrency: must be > 0"),
        (["ask", "--max-repairs", "-1", "q"], "argument --max-repairs: must be >= 0, got -1"),
        (["ask", "--resample-k", "-2", "q"], "argument --resample-k: must be >= 0, got -2"),
        (["kb", "search", "-k", "0", "x"], "argument -k: must be > 0, got 0"),
        (["kb", "import", "--threshold", "2", "f"], "argument --threshold: must be <= 1"),
        (["solve", "--models", "-3", "f.py"], "argument --models: must be >= 0, got -3"),
        (["bench", "run", "gsm8k", "--num-fewshot", "x"], "expected a number, got 'x'"),
    ],
)
def test_numeric_flags_are_checked_with_a_clear_error(args, message):
    out = nesy(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
