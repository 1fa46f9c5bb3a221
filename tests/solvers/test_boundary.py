"""Properties of the OS boundary, one per test.

Each test assumes a program has *already* escaped the language checks: the probe
(``solvers._probe``) runs in a request child like any program but skips every AST and
import check, so what these tests measure is the sandbox alone (bubblewrap namespaces,
mounts, seccomp, hard rlimits, a fresh process per request, a JSON-only channel).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from solvers import SolverRequest, get_pool, solve
from solvers._sandbox import PACKAGE_DIR

SECRET = "host-secret-7f3a"
KINDS = ["py", "asp"]  # the two request policies: no threads (python), threads (clingo)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """Things on the host a program must not reach: a file, sockets, an env variable."""
    tmp = tmp_path_factory.mktemp("host")
    (tmp / "secret.txt").write_text(SECRET)
    unix, abstract, tcp = (
        socket.socket(socket.AF_UNIX),
        socket.socket(socket.AF_UNIX),
        socket.socket(),
    )
    unix.bind(str(tmp / "host.sock"))
    abstract.bind(f"\0nesy-test-{os.getpid()}")
    tcp.bind(("127.0.0.1", 0))
    for s in (unix, abstract, tcp):
        s.listen()
    marker = f"NESY_TEST_SECRET_{os.getpid()}"
    os.environ[marker] = SECRET
    others = [b.pid for b in get_pool("prolog").sandboxes()] or [1]
    yield {
        "host_file": str(tmp / "secret.txt"),
        "checkout_file": str(PACKAGE_DIR.parent / "pyproject.toml"),
        "home": os.path.expanduser("~"),
        "package_dir": str(PACKAGE_DIR),
        "unix_socket": str(tmp / "host.sock"),
        "abstract_socket": f"nesy-test-{os.getpid()}",
        "port": tcp.getsockname()[1],
        "caller_pid": os.getpid(),
        "other_pid": others[0],
        "env_marker": marker,
    }
    os.environ.pop(marker, None)
    for s in (unix, abstract, tcp):
        s.close()


_cache: dict[str, dict] = {}


def probe(kind: str, host: dict) -> dict:
    if kind not in _cache:
        get_pool("prolog").warm()  # another sandbox to try to signal
        host = {**host, "other_pid": get_pool("prolog").sandboxes()[0].pid}
        out = get_pool(kind).run("solvers._probe:run", host, timeout_s=10)
        assert out["status"] == "ok", out
        _cache[kind] = out["answer"]
    return _cache[kind]


def blocked(value: str) -> bool:
    return value.startswith("blocked") and SECRET not in value


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_read_a_host_file(kind, host):
    assert blocked(probe(kind, host)["read_host_file"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_read_the_rest_of_the_checkout(kind, host):
    assert blocked(probe(kind, host)["read_checkout"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_list_the_home_directory(kind, host):
    assert blocked(probe(kind, host)["list_home"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_write_anywhere(kind, host):
    answer = probe(kind, host)
    assert all(blocked(answer[k]) for k in ("write_package", "write_tmp", "write_dev_shm"))
    assert not (PACKAGE_DIR / ".nesy-probe").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_reach_host_unix_sockets(kind, host):
    answer = probe(kind, host)
    assert blocked(answer["host_unix_socket"]) and blocked(answer["host_abstract_socket"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_reach_the_host_network(kind, host):
    assert blocked(probe(kind, host)["host_tcp"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_signal_the_caller_or_another_sandbox(kind, host):
    answer = probe(kind, host)
    assert blocked(answer["signal_caller"]) and blocked(answer["signal_other_sandbox"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_raise_its_limits(kind, host):
    assert blocked(probe(kind, host)["raise_memory_limit"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_start_a_process(kind, host):
    answer = probe(kind, host)
    assert blocked(answer["fork"]) and blocked(answer["spawn"])


def test_python_programs_cannot_start_a_thread(host):
    assert blocked(probe("py", host)["thread"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_trace_or_read_the_template(kind, host):
    answer = probe(kind, host)
    assert blocked(answer["ptrace_template"]) and blocked(answer["read_template_memory"])


@pytest.mark.parametrize("kind", KINDS)
def test_cannot_create_namespaces_or_mount(kind, host):
    answer = probe(kind, host)
    assert blocked(answer["new_user_namespace"]) and blocked(answer["mount"])


@pytest.mark.parametrize("kind", KINDS)
def test_sees_no_host_environment(kind, host):
    assert blocked(probe(kind, host)["host_environment"])


@pytest.mark.parametrize("kind", KINDS)
def test_no_descriptor_leads_to_the_caller(kind, host):
    assert blocked(probe(kind, host)["reach_caller"])


@pytest.mark.parametrize("kind", ["py", "sympy", "asp", "prolog"])
def test_nothing_a_request_changes_survives_it(kind, host):
    pool = get_pool(kind)
    for _ in range(pool.size + 1):  # whichever sandbox the next request lands in
        pool.run("solvers._probe:run", host, timeout_s=10)
    after = pool.run("solvers._probe:run", {"check_clean": True}, timeout_s=10)["answer"]
    assert after == {"math_pi": math.pi, "decimal_prec": 28, "poison_file": False}


# --- the same properties through real programs (language-level bypasses) --------------------

POISON = [
    (
        "python",
        "import collections\ncollections.Counter.most_common = lambda self, n=None: [('z', 0)]\n"
        "ans = 1",
        "import collections\nans = collections.Counter('aab').most_common(1)",
        [["a", 2]],
    ),
    (
        "python",
        "import decimal\ndecimal.getcontext().prec = 2\nans = 1",
        "from decimal import Decimal\nans = str(Decimal(1) / Decimal(3))",
        "0.3333333333333333333333333333",
    ),
    (
        "python",
        "import sympy\nsympy.Poly.total_degree = lambda self: 5\nans = 1",
        "import sympy\nx = sympy.Symbol('x')\nans = sympy.Poly(x + 1).total_degree()",
        1,
    ),
]


@pytest.mark.parametrize("solver,poison,check,expected", POISON)
def test_a_program_cannot_poison_later_requests(solver, poison, check, expected):
    for _ in range(6):
        assert solve(SolverRequest(solver=solver, program=poison)).status == "ok"
    assert solve(SolverRequest(solver=solver, program=check)).answer == expected


def test_a_prolog_flag_set_by_one_request_is_gone_in_the_next():
    for _ in range(6):
        solve(
            SolverRequest(
                solver="prolog", program="p.", query="set_prolog_flag(occurs_check, error)"
            )
        )
    r = solve(
        SolverRequest(solver="prolog", program="p.", query="current_prolog_flag(occurs_check, X)")
    )
    assert r.answer == "false"


def test_a_stale_answer_is_never_delivered():
    """An extra reply left on a sandbox's channel is refused, not given to the next caller."""
    pool = get_pool("py")
    pool.warm()
    box = pool._idle.get()
    from solvers import _frames

    # A request the pool never made: its reply will be waiting when the next call reads.
    _frames.write(
        box._in,
        {
            "id": -1,
            "handler": "solvers.python:run",
            "payload": {"program": "ans = 'stale'"},
            "timeout_s": 5,
            "memory_mb": 256,
            "fork": True,
        },
    )
    result, state = box.call("solvers.python:run", {"program": "ans = 'fresh'"}, 5, 256)
    assert state == "dead" and "out of turn" in result["detail"]
    pool._retire(box)
    assert solve(SolverRequest(solver="python", program="ans = 'fresh'")).answer == "fresh"


# --- installs the old sandbox hid --------------------------------------------------------------


def _can_unshare_mounts() -> bool:
    if not shutil.which("unshare"):
        return False
    args = ["unshare", "--mount", "true"] if os.geteuid() == 0 else ["unshare", "-rm", "true"]
    return subprocess.run(args, capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare_mounts(), reason="no private mount namespace here")
def test_solvers_work_with_the_venv_and_checkout_under_tmp(tmp_path):
    """A fresh clone under /tmp: the venv and the package there must be visible inside."""
    root = Path("/tmp") / f"nesy-clone-{os.getpid()}"
    script = f"""
set -e
mkdir -p {root}/venv {root}/src
mount --bind {sys.prefix} {root}/venv
cp -r {PACKAGE_DIR} {root}/src/solvers
{root}/venv/bin/python - <<'EOF'
import sys
sys.path.insert(0, "{root}/src")
import solvers
assert solvers.__file__.startswith("{root}/src"), solvers.__file__
assert sys.prefix.startswith("{root}"), sys.prefix
from solvers import solve, SolverRequest
print(solve(SolverRequest(solver="sympy", program="x**2 = 4")).answer)
print(solve(SolverRequest(solver="python", program="ans = 6 * 7")).answer)
EOF
"""
    args = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-rm"]
    try:
        out = subprocess.run(
            [*args, "bash", "-c", script], capture_output=True, text=True, timeout=300
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[-2,", "2]", "42"]
