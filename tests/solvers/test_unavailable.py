"""Where bubblewrap cannot run, solving is refused with the fix, unless the user opts in."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from solvers import solve, SolverRequest
r = solve(SolverRequest(solver="python", program="ans = 6 * 7"))
print(r.status, r.answer, r.detail)
"""


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_missing_bwrap_refuses_with_the_fix():
    out = _run(NESY_BWRAP="/nonexistent/bwrap")
    assert out.stdout.startswith("error None refused: the solver sandbox is unavailable")
    assert "NESY_SANDBOX=off" in out.stdout
    assert "nesy: ERROR: refused" in out.stderr  # said loudly, once


def test_bwrap_that_cannot_make_namespaces_names_the_sysctl(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = _run(NESY_BWRAP=str(fake))
    assert "refused" in out.stdout and "unprivileged_userns_clone" in out.stdout
    assert "apparmor_restrict_unprivileged_userns" in out.stdout


def test_opting_out_runs_unconfined_with_a_loud_warning():
    out = _run(NESY_SANDBOX="off", NESY_BWRAP="/nonexistent/bwrap")
    assert out.stdout.startswith("ok 42")
    assert "WITHOUT the OS sandbox" in out.stderr


def test_doctor_refuses_loudly_when_the_sandbox_cannot_run():
    out = subprocess.run(
        [sys.executable, "-m", "nesy.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NESY_BWRAP": "/nonexistent/bwrap"},
    )
    assert out.returncode == 1
    assert "REFUSED" in out.stderr and "apt-get install bubblewrap" in out.stderr
