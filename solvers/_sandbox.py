"""OS-level confinement of a solver worker process, applied once when it starts.

Language-level checks (``_restricted``) reject what is plainly forbidden, but an AST
filter alone is escapable; this module is the real boundary. In order:

1. as root: a private mount namespace with fresh tmpfs over /tmp, /var/tmp and /dev/shm
   (so nothing the program writes survives the worker) and an empty network namespace
   (no interface but a down loopback);
2. an empty working directory;
3. rlimits: address space, file size, no new processes, no core files, few files;
4. as root: drop to an unprivileged uid/gid (``nobody``), ``no_new_privs``;
5. a parent-death signal, so a worker never outlives its pool.

Where namespaces are not permitted (non-root without user namespaces), sockets are
blocked in-process instead, and ``describe()`` says so.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
NOBODY = 65534

_libc = ctypes.CDLL(None, use_errno=True)
_state: dict[str, str] = {}


@dataclass(frozen=True)
class SandboxConfig:
    """How a pool confines its workers. Frozen so it pickles to the worker unchanged."""

    memory_ceiling_mb: int = 4096  # hard RLIMIT_AS above the worker's baseline
    file_size_mb: int = 4
    open_files: int = 256
    max_processes: int = 0  # RLIMIT_NPROC for the unprivileged uid: 0 = no fork, no threads
    uid: int = NOBODY  # one uid per pool, so RLIMIT_NPROC counts only that pool's tasks
    isolate: bool = True  # namespaces + uid drop; False only for debugging


def _unshare_and_mount() -> str:
    if _libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        return f"unshare failed: {os.strerror(ctypes.get_errno())}"
    # Keep our mounts out of the host's namespace, then hide the shared writable dirs.
    _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for path in (b"/tmp", b"/var/tmp", b"/dev/shm"):
        if os.path.isdir(path):
            _libc.mount(b"tmpfs", path, b"tmpfs", 0, b"size=16m,mode=1777")
    return "namespaces"


def _block_sockets() -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("network access is disabled in the solver sandbox")

    socket.socket = refuse  # type: ignore[assignment,misc]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.socketpair = refuse  # type: ignore[assignment]


def enter(config: SandboxConfig, init: Callable[[], None] | None = None) -> str:
    """Confine the current process. Returns a one-line description of what applied.

    ``init`` runs after the namespaces exist but before the uid drop: everything a handler
    will import must be imported there, since the unprivileged uid may not be able to read
    the interpreter's own files (``/root/.pyenv`` is mode 0700).
    """
    mode = "none"
    is_root = os.geteuid() == 0
    if config.isolate and is_root:
        mode = _unshare_and_mount()
    workdir = "/tmp/nesy-work" if mode == "namespaces" else None
    if workdir is None:
        import tempfile

        workdir = tempfile.mkdtemp(prefix="nesy-work-")
    os.makedirs(workdir, exist_ok=True)
    if is_root and config.isolate:
        os.chown(workdir, config.uid, config.uid)
    os.chdir(workdir)
    # The program must not import files planted in its working directory.
    sys.path[:] = [p for p in sys.path if p not in ("", ".", workdir)]
    if init is not None:
        init()

    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (config.file_size_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (config.open_files,) * 2)
    hard_as = baseline_bytes() + config.memory_ceiling_mb * mb
    resource.setrlimit(resource.RLIMIT_AS, (hard_as, hard_as))

    if config.isolate and is_root:
        os.setgroups([])
        os.setgid(config.uid)
        os.setuid(config.uid)
        # RLIMIT_NPROC is not enforced for root, so it only means something after the drop.
        resource.setrlimit(resource.RLIMIT_NPROC, (config.max_processes,) * 2)
        user = f"uid {config.uid}"
    else:
        user = f"uid {os.getuid()} (not root: no uid drop)"
        if config.max_processes == 0:
            # Counts all of this user's processes, so only the no-fork setting is safe here.
            resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # Must follow the uid change, which clears the parent-death signal.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if mode != "namespaces":
        _block_sockets()
        mode = f"sockets blocked in-process ({mode})"
    _state["description"] = f"{mode}; {user}; cwd {workdir}"
    return _state["description"]


def baseline_bytes() -> int:
    """The process's current virtual size, the base the per-call memory limit adds to."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def set_call_limits(memory_mb: int, cpu_s: float) -> None:
    """Per-call soft limits: memory on top of the current size, CPU on top of CPU used."""
    soft_as = baseline_bytes() + memory_mb * 1024 * 1024
    hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (min(soft_as, hard_as), hard_as))
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    # RLIMIT_CPU has whole-second resolution: it is the backstop to the parent's wall clock.
    resource.setrlimit(resource.RLIMIT_CPU, (int(spent + cpu_s) + 2, resource.RLIM_INFINITY))


class CallTimeout(BaseException):
    """Raised in the worker by SIGALRM when a call overruns its wall clock."""


def _on_alarm(_signum: int, _frame: object) -> None:
    raise CallTimeout()


def arm_alarm(seconds: float) -> None:
    """Interrupt Python code after ``seconds``; C code that ignores it is killed by the parent."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def disarm_alarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def describe() -> str:
    return _state.get("description", "not sandboxed")
