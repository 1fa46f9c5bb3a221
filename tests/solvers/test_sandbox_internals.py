"""What is inside a sandbox but outside the request: one regression test per attack class.

The second red-team round aimed past the request child, at bubblewrap's init (pid 1), the
template, the sandbox's root filesystem, the host kernel's ``/proc`` interfaces and the
caller's serialisers. As in ``test_boundary``, the probe (``solvers._probe``) stands for a
program that has already escaped the language checks, so each test measures the OS layers
alone; the behavioural tests replay the attacks that got through.
"""

from __future__ import annotations

import json
import math
import os
import time

import pytest

from solvers import SolverRequest, SolverResult, get_pool, solve
from solvers._frames import read as read_frame
from solvers._frames import write as write_frame
from solvers._sandbox import PACKAGE_DIR

KINDS = ["py", "asp"]  # no threads (python) and threads (clingo): the two request policies


@pytest.fixture(scope="module")
def probes() -> dict[str, dict]:
    payload = {
        "host_file": "/nonexistent",
        "checkout_file": "/nonexistent",
        "home": "/nonexistent",
        "package_dir": str(PACKAGE_DIR),
        "unix_socket": "/nonexistent",
        "abstract_socket": "nesy-none",
        "port": 9,
        "caller_pid": os.getpid(),
        "other_pid": 1,
        "env_marker": "NESY_NONE",
    }
    out = {}
    for kind in KINDS:
        result = get_pool(kind).run("solvers._probe:run", payload, timeout_s=20)
        assert result["status"] == "ok", result
        out[kind] = result["answer"]
    return out


def in_every_sandbox(kind: str, source: str) -> list[dict]:
    """Run ``source`` as an escaped program once more than the pool has sandboxes, so that
    every sandbox of it has run the attack (and a later request lands after one)."""
    pool = get_pool(kind)
    return [
        pool.run("solvers._probe:exec_unchecked", {"source": source}, timeout_s=10)
        for _ in range(pool.size + 1)
    ]


def assert_blocked(answer: dict, *names: str) -> None:
    allowed = {n: answer[n] for n in names if not str(answer[n]).startswith("blocked")}
    assert not allowed, allowed


# --- 1. the host kernel -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_host_kernel_settings_are_not_writable(kind, probes):
    assert_blocked(probes[kind], "write_host_sysctl", "write_hostname")


@pytest.mark.parametrize("kind", KINDS)
def test_root_only_kernel_files_are_not_readable(kind, probes):
    assert_blocked(probes[kind], "read_root_only_proc")


@pytest.mark.parametrize("kind", KINDS)
def test_programs_run_as_an_unprivileged_host_uid(kind, probes):
    """On a root caller too: the sandbox's uid is never host root."""
    assert probes[kind]["host_uid"] not in (0, -1)


# --- 2. bubblewrap's init and the channel ----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_no_other_process_descriptors_or_memory(kind, probes):
    assert_blocked(probes[kind], "reach_caller", "other_process_memory")


def test_a_forged_request_frame_cannot_reach_the_template():
    """The round-2 attack: write a request frame that turns off the fork into whatever
    holds the channel, so that later requests run (and answer) in the attacker's process."""
    forge = (
        "import json, os, struct\n"
        "frame = json.dumps({'id': 1, 'handler': 'solvers.python:run', 'fork': False,"
        " 'payload': {'program': 'ans = 666'}, 'timeout_s': 5, 'memory_mb': 64}).encode()\n"
        "hits = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:\n"
        "    for fd in range(3):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/fd/{fd}', 'wb') as f:\n"
        "                f.write(struct.pack('>I', len(frame)) + frame)\n"
        "            hits.append(f'{pid}/{fd}')\n"
        "        except OSError:\n"
        "            pass\n"
        "ans = hits\n"
    )
    pool = get_pool("py")
    result = pool.run("solvers._probe:exec_unchecked", {"source": forge}, timeout_s=10)
    assert result["status"] == "ok" and result["answer"] == [], result
    for _ in range(pool.size + 1):
        assert solve(SolverRequest(solver="python", program="ans = 6 * 7")).answer == 42


def test_the_fork_policy_is_never_read_from_a_frame():
    """Request frames saying ``fork: false`` still run in a fresh child each: what the
    first changes is gone in the second."""
    pool = get_pool("py")
    pool.warm()
    box = pool._idle.get()
    poison = "import math\nmath.pi = 3.0\nans = math.pi"
    check = "import math\nans = math.pi"
    replies = []
    try:
        for source in (poison, check):
            frame = {
                "id": -7,
                "handler": "solvers._probe:exec_unchecked",
                "payload": {"source": source},
                "timeout_s": 10,
                "memory_mb": 256,
                "fork": False,
            }
            write_frame(box._in, frame)
            replies.append(read_frame(box._out, 2 << 20, time.monotonic() + 20))
    finally:
        pool._retire(box)
    assert [r["result"]["answer"] for r in replies] == [3.0, math.pi]


# --- 3. signals, limits, priority, CPUs and OOM score of the template -------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_other_processes_cannot_be_signalled(kind, probes):
    assert_blocked(probes[kind], "signal_other_process", "signal_via_fcntl_owner")


@pytest.mark.parametrize("kind", KINDS)
def test_other_processes_cannot_be_retuned(kind, probes):
    assert_blocked(probes[kind], "retune_other_process", "retune_own_group")


def test_a_request_that_tries_to_stop_the_template_leaves_later_requests_working():
    stop = (
        "import ctypes, os, signal\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "ans = [libc.syscall(234, int(p), int(p), signal.SIGSTOP)\n"
        "       for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
    )
    for out in in_every_sandbox("py", stop):
        assert out["status"] == "ok" and all(r == -1 for r in out["answer"]), out
    assert solve(SolverRequest(solver="python", program="ans = 6 * 7", timeout_s=2)).answer == 42


def test_a_program_may_still_signal_and_limit_itself():
    own = (
        "import os, resource, signal\n"
        "signal.signal(signal.SIGUSR1, lambda *a: None)\n"
        "signal.raise_signal(signal.SIGUSR1)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))\n"
        # lower its own priority (a niced test run may already be past 5: raising it back
        # needs CAP_SYS_NICE, which nothing in the sandbox has)
        "os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + 1))\n"
        "ans = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
    )
    out = get_pool("py").run("solvers._probe:exec_unchecked", {"source": own}, timeout_s=10)
    assert out["status"] == "ok" and out["answer"] == 32, out


# --- 4. the sandbox's filesystem ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_in_the_sandbox_is_writable(kind, probes):
    assert_blocked(probes[kind], "write_root_filesystem", "write_import_path")


def test_a_planted_module_cannot_shadow_the_standard_library():
    """The round-2 attack: a ``statistics.py`` on the template's import path."""
    plant = (
        "import os, sys\n"
        "ans = []\n"
        "for d in sys.path:\n"
        "    try:\n"
        "        with open(os.path.join(d or '.', 'statistics.py'), 'w') as f:\n"
        "            f.write('def mean(xs):\\n    return 666\\n')\n"
        "        ans.append(d)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    for out in in_every_sandbox("sympy", plant):
        assert out["status"] == "ok" and out["answer"] == [], out
    check = "import statistics\nans = statistics.mean([1, 2, 3])"
    assert solve(SolverRequest(solver="python", program=check)).answer == 2


# --- 5. replies that break their reader --------------------------------------------------


@pytest.mark.parametrize("depth", [40, 900])
def test_a_reply_nested_too_deep_is_refused_and_its_sandbox_replaced(depth):
    pool = get_pool("py")
    before = pool.replaced
    out = pool.run("solvers._probe:deep", {"depth": depth}, timeout_s=10)
    assert out["status"] == "error" and "nested" in out["detail"], out
    assert pool.replaced == before + 1
    json.loads(
        SolverResult(solver="python", **out).model_dump_json()
    )  # the caller can serialise it


def test_a_reply_within_the_bounds_is_returned():
    out = get_pool("py").run("solvers._probe:deep", {"depth": 10}, timeout_s=10)
    assert out["status"] == "ok"
    json.loads(SolverResult(solver="python", **out).model_dump_json())


# --- 6. the truth about memory -----------------------------------------------------------


def test_a_tabling_memory_bomb_in_prolog_is_memory():
    program = (
        ":- table p/2.\n"
        "p(X, Y) :- between(1, 3000, X), between(1, 3000, Y).\n"
        "answer(N) :- aggregate_all(count, p(_, _), N).\n"
    )
    r = solve(SolverRequest(solver="prolog", program=program, timeout_s=20, memory_mb=128))
    assert r.status == "memory", r
    assert "table" in r.detail


# --- nesy doctor ------------------------------------------------------------------------------

NEW_PROBES = (
    "reach_caller",
    "other_process_memory",
    "signal_other_process",
    "signal_via_fcntl_owner",
    "retune_other_process",
    "retune_own_group",
    "write_root_filesystem",
    "write_import_path",
    "write_host_sysctl",
    "write_hostname",
    "read_root_only_proc",
    "reply_too_deep",
)


def test_doctor_reports_each_new_probe_blocked_with_the_layer_that_refused_it():
    from solvers._probe import report

    out = report(("py", "prolog"))
    assert out["contained"], out
    for kind in ("py", "prolog"):
        attempts = out[kind]["attempts"]
        without_layer = {
            n: attempts[n] for n in NEW_PROBES if not attempts[n].startswith("blocked (by ")
        }
        assert not without_layer, without_layer
