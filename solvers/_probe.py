"""A self-test of the OS boundary: trusted code that does what an escaped program would.

It runs in a request child like any program but skips every language-level check (it is
not a program: it imports ``os``, ``ctypes`` and ``socket`` directly), so what it measures
is the sandbox alone. Used by ``nesy doctor`` and the boundary tests: each attempt is one
class of escape seen in a red-team run, and each must come back ``blocked (...)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import decimal
import math
import os
import resource
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import Any

CLONE_NEWUSER = 0x10000000
PTRACE_ATTACH = 16
POISON = "/tmp/nesy-poison"


def _attempt(fn: Callable[[], Any]) -> str:
    try:
        out = fn()
    except BaseException as exc:  # what stopped it is the point
        return f"blocked ({type(exc).__name__}: {str(exc)[:120]})"
    return "ALLOWED" + (f": {str(out)[:80]}" if out is not None else "")


def _libc_call(name: str, *args: Any) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _connect(family: int, address: Any) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        s.connect(address)


def _open_fds() -> list[str]:
    """Every descriptor the child holds beyond /dev/null and its one result pipe."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target != "/dev/null":
                out.append(target)
    return out


def _home_contents(home: str) -> list[str]:
    """What the home directory shows beyond the empty directories bubblewrap made to reach
    bind mounts inside it (``/root/.pyenv`` for an interpreter installed there)."""
    shown = []
    for name in os.listdir(home):
        path = os.path.join(home, name)
        if not any(path == b or b.startswith(path + "/") for b in _bind_points()):
            shown.append(name)
    if not shown:
        raise PermissionError(f"nothing of {home} but the way to bind mounts")
    return shown


def _bind_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def _reach_caller() -> None:
    extra = [t for t in _open_fds() if not t.startswith("/proc/")]
    if len(extra) > 1:  # the result pipe is the one legitimate channel
        raise AssertionError("unexpected")
    raise PermissionError(f"only the result pipe is open ({len(extra)} descriptor)")


def _poison() -> None:
    math.pi = 3.0  # type: ignore[misc]
    decimal.getcontext().prec = 2
    with open(POISON, "w") as f:
        f.write("poisoned")


def _check_clean() -> dict[str, Any]:
    return {
        "math_pi": math.pi,
        "decimal_prec": decimal.getcontext().prec,
        "poison_file": os.path.exists(POISON),
    }


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed in a request child, like a program that escaped the language checks."""
    if p.get("check_clean"):
        return {"status": "ok", "answer": _check_clean(), "answer_type": "dict"}
    attempts: dict[str, Callable[[], Any]] = {
        "read_host_file": lambda: open(p["host_file"]).read(),
        "read_checkout": lambda: open(p["checkout_file"]).read(),
        "list_home": lambda: _home_contents(p["home"]),
        "write_package": lambda: open(os.path.join(p["package_dir"], ".nesy-probe"), "w"),
        "write_tmp": lambda: open(POISON, "w"),
        "write_dev_shm": lambda: open("/dev/shm/nesy-probe", "w"),
        "host_unix_socket": lambda: _connect(socket.AF_UNIX, p["unix_socket"]),
        "host_abstract_socket": lambda: _connect(socket.AF_UNIX, "\0" + p["abstract_socket"]),
        "host_tcp": lambda: _connect(socket.AF_INET, ("127.0.0.1", int(p["port"]))),
        "signal_caller": lambda: os.kill(int(p["caller_pid"]), 0),
        "signal_other_sandbox": lambda: os.kill(int(p["other_pid"]), 0),
        "raise_memory_limit": lambda: resource.setrlimit(
            resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        ),
        "fork": lambda: os.fork() and None,
        "thread": lambda: threading.Thread(target=lambda: None).start(),
        "spawn": lambda: os.posix_spawn("/usr/bin/true", ["true"], {}),
        "ptrace_template": lambda: _libc_call("ptrace", PTRACE_ATTACH, os.getppid(), 0, 0),
        "read_template_memory": lambda: open(f"/proc/{os.getppid()}/mem", "rb").read(1),
        "new_user_namespace": lambda: _libc_call("unshare", CLONE_NEWUSER),
        "mount": lambda: _libc_call("mount", b"none", b"/tmp", b"tmpfs", 0, None),
        "host_environment": lambda: os.environ[p["env_marker"]],
        "reach_caller": _reach_caller,
        "poison_next_request": _poison,
    }
    answer: dict[str, Any] = {name: _attempt(fn) for name, fn in attempts.items()}
    answer["uid"] = os.getuid()
    answer["pid"] = os.getpid()
    return {"status": "ok", "answer": answer, "answer_type": "dict"}


# Attempts that a thread-capable template (clingo, SWI-Prolog) is allowed to make.
ALLOWED_WITH_THREADS = {"thread"}


def report(kinds: tuple[str, ...] = ("py", "sympy", "asp", "prolog")) -> dict[str, Any]:
    """Run the probe in each kind of sandbox; ``contained`` is true when all was blocked."""
    from solvers import _sandbox, get_pool

    out: dict[str, Any] = {"mode": _sandbox.mode(), "layers": _sandbox.layers()}
    secret_env = f"NESY_PROBE_SECRET_{os.getpid()}"
    os.environ[secret_env] = "host-secret"
    with (
        tempfile.TemporaryDirectory(prefix="nesy-probe-") as tmp,
        socket.socket(socket.AF_UNIX) as unix_server,
        socket.socket(socket.AF_UNIX) as abstract_server,
        socket.socket() as tcp_server,
    ):
        host_file = os.path.join(tmp, "secret.txt")
        with open(host_file, "w") as f:
            f.write("host-secret")
        unix_path = os.path.join(tmp, "host.sock")
        unix_server.bind(unix_path)
        unix_server.listen()
        abstract = f"nesy-probe-{os.getpid()}"
        abstract_server.bind("\0" + abstract)
        abstract_server.listen()
        tcp_server.bind(("127.0.0.1", 0))
        tcp_server.listen()
        pools = {kind: get_pool(kind) for kind in kinds}
        contained = True
        for kind, pool in pools.items():
            others = [b.pid for k, p in pools.items() if k != kind for b in p.sandboxes()]
            payload = {
                "host_file": host_file,
                "checkout_file": str(_sandbox.PACKAGE_DIR.parent / "README.md"),
                "home": os.path.expanduser("~"),
                "package_dir": str(_sandbox.PACKAGE_DIR),
                "unix_socket": unix_path,
                "abstract_socket": abstract,
                "port": tcp_server.getsockname()[1],
                "caller_pid": os.getpid(),
                "other_pid": others[0] if others else 1,
                "env_marker": secret_env,
            }
            first = pool.run("solvers._probe:run", payload, timeout_s=10)
            after = pool.run("solvers._probe:run", {"check_clean": True}, timeout_s=10)
            attempts = dict(first.get("answer") or {})
            clean = after.get("answer") or {}
            attempts["poison_survived"] = (
                "ALLOWED"
                if clean != {"math_pi": math.pi, "decimal_prec": 28, "poison_file": False}
                else "blocked (the next request ran in a fresh process)"
            )
            allowed = set(ALLOWED_WITH_THREADS if pool.template.threads else ())
            ok = first.get("status") == "ok" and all(
                str(v).startswith("blocked")
                for k, v in attempts.items()
                if k not in ("uid", "pid", "poison_next_request") and k not in allowed
            )
            out[kind] = {"contained": ok, "attempts": attempts}
            contained = contained and ok
    os.environ.pop(secret_env, None)
    out["contained"] = contained
    return out
