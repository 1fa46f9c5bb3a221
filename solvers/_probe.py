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
import errno
import math
import os
import resource
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any

CLONE_NEWUSER = 0x10000000
PTRACE_ATTACH = 16
POISON = "/tmp/nesy-poison"
F_SETOWN = 8
SYS_TGKILL = 234  # x86_64
SYS_TKILL = 200
SYS_PIDFD_OPEN = 434
# Kernel files only root may read (the host's memory layout, its timers and slabs).
ROOT_ONLY_PROC = (
    "slabinfo kpageflags kpagecount kpagecgroup timer_list sched_debug pagetypeinfo "
    "vmallocinfo keys"
).split()
# How each refusal reads, by errno: which layer said no.
LAYER = {
    errno.EPERM: "seccomp / no capability",
    errno.ENOSYS: "seccomp",
    errno.EACCES: "file permissions (unprivileged uid, non-dumpable template)",
    errno.EROFS: "read-only mount",
    errno.ENOENT: "not in the sandbox",
    errno.ESRCH: "PID namespace",
    errno.ENETUNREACH: "network namespace",
    errno.ECONNREFUSED: "network namespace",
}


def _attempt(fn: Callable[[], Any]) -> str:
    try:
        out = fn()
    except BaseException as exc:  # what stopped it is the point
        layer = LAYER.get(getattr(exc, "errno", None) or 0)
        by = f"by {layer}: " if layer else ""
        return f"blocked ({by}{type(exc).__name__}: {str(exc)[:120]})"
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


def _reach_caller() -> str:
    """The channel to the caller, through this process's descriptors or any other's."""
    extra = [t for t in _open_fds() if not t.startswith("/proc/")]
    if len(extra) > 1:  # the result pipe is the one legitimate channel
        return f"this process holds {extra}"
    return _each_other_process(lambda pid: os.listdir(f"/proc/{pid}/fd"))


def _each_other_process(action: Callable[[int], Any]) -> str:
    """``action(pid)`` on every other process this one can see (the template, bubblewrap's
    init, anything a request left): the first that it works on is the escape."""
    me = os.getpid()
    pids = sorted(int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) != me)
    first: BaseException | None = None
    for pid in pids:
        try:
            out = action(pid)
        except OSError as exc:
            first = first or exc
            continue
        return f"pid {pid}" + (f": {out}" if out else "")
    if first is None:
        raise ProcessLookupError(errno.ESRCH, "no other process is visible")
    raise first


def _syscall(number: int, *args: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    out = int(libc.syscall(number, *args))
    if out < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return out


def _signal(pid: int) -> None:
    """SIGCONT (harmless if it arrives) by every route but kill(2), which is denied outright."""
    routes = [
        lambda: _syscall(SYS_TGKILL, pid, pid, signal.SIGCONT),
        lambda: _syscall(SYS_TKILL, pid, signal.SIGCONT),
        lambda: os.close(_syscall(SYS_PIDFD_OPEN, pid, 0)),
    ]
    refused = [_attempt(route) for route in routes]
    allowed = [r for r in refused if not r.startswith("blocked")]
    if allowed:
        return
    raise PermissionError(errno.EPERM, "; ".join(refused))


def _fcntl_owner(pid: int) -> None:
    import fcntl

    r, w = os.pipe()
    try:
        fcntl.fcntl(r, F_SETOWN, pid)  # SIGIO/SIGURG of this pipe would go to ``pid``
    finally:
        os.close(r)
        os.close(w)


def _retune(pid: int) -> str:
    """Set another process's limits, priority and CPUs to what they are already (so that
    an unconfined run changes nothing): any one of them that goes through is the escape."""
    routes = {
        "prlimit": lambda: resource.prlimit(
            pid, resource.RLIMIT_NOFILE, resource.prlimit(pid, resource.RLIMIT_NOFILE)
        ),
        "setpriority": lambda: os.setpriority(
            os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid)
        ),
        "sched_setaffinity": lambda: os.sched_setaffinity(pid, os.sched_getaffinity(pid)),
        "sched_setscheduler": lambda: os.sched_setscheduler(
            pid, os.sched_getscheduler(pid), os.sched_getparam(pid)
        ),
        "oom_score_adj": lambda: _rewrite(f"/proc/{pid}/oom_score_adj"),
        "autogroup": lambda: os.close(os.open(f"/proc/{pid}/autogroup", os.O_WRONLY)),
    }
    done = {name: _attempt(fn) for name, fn in routes.items()}
    allowed = [name for name, r in done.items() if not r.startswith("blocked")]
    if allowed:
        return ", ".join(allowed)
    raise PermissionError(errno.EPERM, "; ".join(f"{k}: {v}" for k, v in done.items()))


def _group_priority() -> None:
    """The priority of this process's group, which the template shares (PRIO_USER, which
    it shares too, is not probed: unconfined, it would renice every process of the user)."""
    os.setpriority(os.PRIO_PGRP, 0, os.getpriority(os.PRIO_PGRP, 0))


def _rewrite(path: str) -> None:
    with open(path, "r+") as f:
        value = f.read()
        f.seek(0)
        f.write(value)


def _open_for_writing(path: str) -> None:
    """Opening is the permission check; nothing is written, so an unconfined run is safe."""
    os.close(os.open(path, os.O_WRONLY))


def _read_root_only_proc() -> str:
    readable = []
    for name in ROOT_ONLY_PROC:
        with contextlib.suppress(OSError):
            fd = os.open(f"/proc/{name}", os.O_RDONLY | os.O_NONBLOCK)
            try:
                if os.read(fd, 64):
                    readable.append(name)
            finally:
                os.close(fd)
    if readable:
        return ", ".join(readable)
    raise PermissionError(errno.EACCES, "none readable (masked, or not root on the host)")


def _create_in(dirs: list[str]) -> str:
    """Create a file in any of ``dirs`` (removed again at once)."""
    refused: OSError | None = None
    for d in dirs:
        path = os.path.join(d or ".", f".nesy-probe-{os.getpid()}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            refused = refused or exc
            continue
        os.unlink(path)
        return d
    assert refused is not None
    raise refused


def _host_uid() -> int:
    """The host uid this process runs as: its uid through the user namespace's map."""
    uid = os.getuid()
    with open("/proc/self/uid_map") as f:
        for line in f:
            inside, outside, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return outside + uid - inside
    return -1


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


def deep(p: dict[str, Any]) -> dict[str, Any]:
    """An answer nested ``depth`` lists deep: valid JSON that breaks serialisers."""
    answer: list[Any] = []
    for _ in range(int(p["depth"])):
        answer = [answer]
    return {"status": "ok", "answer": answer, "answer_type": "list"}


def exec_unchecked(p: dict[str, Any]) -> dict[str, Any]:
    """Trusted test code run as an escaped program would run: no AST or import checks, its
    ``ans`` returned (the attacks of a red-team round, replayed in the regression tests)."""
    scope: dict[str, Any] = {}
    exec(p["source"], scope)  # noqa: S102 - the point: only the OS boundary contains it
    return {"status": "ok", "answer": scope.get("ans"), "answer_type": "json"}


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
        # What is inside the sandbox but outside the request: other processes, the root
        # filesystem, the import path, the host kernel's settings.
        "other_process_memory": lambda: _each_other_process(
            lambda pid: open(f"/proc/{pid}/mem", "rb").close()
        ),
        "signal_other_process": lambda: _each_other_process(_signal),
        "signal_via_fcntl_owner": lambda: _each_other_process(_fcntl_owner),
        "retune_other_process": lambda: _each_other_process(_retune),
        "retune_own_group": _group_priority,
        "write_root_filesystem": lambda: _create_in(["/", "/etc", str(p["package_dir"])]),
        "write_import_path": lambda: _create_in(list(sys.path)),
        "write_host_sysctl": lambda: _open_for_writing("/proc/sys/kernel/core_pattern"),
        "write_hostname": lambda: _open_for_writing("/proc/sys/kernel/hostname"),
        "read_root_only_proc": _read_root_only_proc,
    }
    answer: dict[str, Any] = {name: _attempt(fn) for name, fn in attempts.items()}
    answer["uid"] = os.getuid()
    answer["pid"] = os.getpid()
    answer["host_uid"] = _host_uid()
    return {"status": "ok", "answer": answer, "answer_type": "dict"}


# What the probe reports beside its attempts.
NOT_ATTEMPTS = frozenset({"uid", "pid", "host_uid", "poison_next_request"})
DEEP = 900  # list levels: valid JSON that pydantic's and json's serialisers refuse


def _deep_reply(pool: Any) -> str:
    """A reply nested too deep for the caller's serialisers must be refused by the pool,
    and the sandbox that sent it replaced."""
    before = pool.replaced
    out = pool.run("solvers._probe:deep", {"depth": DEEP}, timeout_s=10)
    if out.get("status") == "error" and pool.replaced > before:
        return f"blocked (by the pool's reply bounds: {out.get('detail')}; sandbox replaced)"
    return f"ALLOWED: {str(out)[:80]}"


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
            attempts["reply_too_deep"] = _deep_reply(pool)
            allowed = set(ALLOWED_WITH_THREADS if pool.template.threads else ())
            ok = first.get("status") == "ok" and all(
                str(v).startswith("blocked")
                for k, v in attempts.items()
                if k not in NOT_ATTEMPTS and k not in allowed
            )
            out[kind] = {"contained": ok, "attempts": attempts}
            contained = contained and ok
    os.environ.pop(secret_env, None)
    out["contained"] = contained
    return out
