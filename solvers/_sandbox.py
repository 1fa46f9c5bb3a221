"""The OS boundary around solver programs: bubblewrap, seccomp and hard rlimits.

Every program a solver runs is treated as arbitrary native code running as the sandbox's
user. The language checks (``_restricted``, the Prolog runner's ``safe_goal``) only give
clear errors for honest mistakes; this module is what contains the rest. Each sandbox is
one ``bwrap`` process (the tool Flatpak uses; Debian package ``bubblewrap``) with:

- new user, PID, IPC, UTS, cgroup and network namespaces; no capabilities; no nested user
  namespaces; a new session (no terminal to inject into); it dies with the caller;
- an unprivileged host uid: the caller's own, or, for a root caller, the host's ``nobody``
  (65534) through a user namespace whose map this module writes (``--userns-block-fd``);
  the template drops from root to it before it reads anything;
- the template as PID 1 (``--as-pid-1``): no bubblewrap init holding the channel, and the
  kernel drops every signal sent to PID 1 from inside its namespace for which it has no
  handler (SIGKILL and SIGSTOP included);
- a read-only filesystem, every tmpfs bounded: the root itself, ``/usr`` (the system
  libraries the backends load: libc, libswipl, libseccomp, ...), the interpreter's prefix,
  the virtual environment, the site-packages roots of the preloaded modules and the
  ``solvers`` package directory, each at its own path wherever it is installed (under
  ``/tmp`` too); an empty ``/tmp`` as working directory; a minimal ``/dev``; nothing else of
  the host (no home, no rest of the checkout, no ``/etc``, no ``/run``, no sockets);
- a private ``/proc`` hardened like runc's: ``/proc/sys``, ``/proc/sysrq-trigger``,
  ``/proc/irq``, ``/proc/bus`` and ``/proc/fs`` read-only; the kernel's root-only files
  (``kcore``, ``keys``, ``timer_list``, ``slabinfo``, ``kpageflags``, ...) masked;
- a clean environment (a few fixed variables);
- a seccomp filter for the whole sandbox (no ``ptrace``, ``mount``, ``bpf``, ``keyctl``,
  new namespaces, kernel modules, host names, ...) and a stricter one per request child:
  no ``exec``, no sockets, no new processes (Python programs may not even start a thread),
  and nothing aimed at another process: signals (``tgkill`` only to its own thread group;
  no ``kill``, ``tkill``, ``pidfd_*``, ``F_SETOWN``), limits (``prlimit64`` only on itself),
  priority, scheduling and CPU affinity only of itself;
- per request, in a fresh child forked from the template: hard ``RLIMIT_AS``,
  ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE`` and no core files (``_zygote``).

Where bubblewrap cannot run, solving is refused with the reason and its fix, unless the
user opts in to running unconfined with ``NESY_SANDBOX=off`` (rlimits and a fresh
process per request only, and a loud warning).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
SANDBOX_UID = 65534  # the uid seen inside; outside, bubblewrap maps it to the caller's
ENV_MODE = "NESY_SANDBOX"  # "bwrap" (default) or "off" (opt in to running unconfined)
ENV_BWRAP = "NESY_BWRAP"  # the bwrap binary (default: from PATH)

# Syscalls no solver needs, denied (EPERM) for everything in the sandbox.
DENY_ALWAYS = (
    "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd "
    "mount umount2 pivot_root chroot fsopen fsconfig fsmount fspick move_mount open_tree "
    "mount_setattr unshare setns bpf perf_event_open userfaultfd keyctl add_key request_key "
    "kexec_load kexec_file_load init_module finit_module delete_module reboot swapon swapoff "
    "syslog acct quotactl ioperm iopl open_by_handle_at name_to_handle_at lookup_dcookie "
    "settimeofday clock_settime clock_adjtime adjtimex personality io_uring_setup "
    "io_uring_enter io_uring_register fanotify_init mbind migrate_pages move_pages "
    "set_mempolicy sethostname setdomainname"
).split()
# Denied in every request child on top: no programs, no network, no new processes.
# System V and POSIX IPC objects would outlive a request inside its sandbox's IPC namespace.
DENY_CHILD = (
    "execve execveat socket socketpair fork vfork kill shmget semget msgget mq_open "
    "tkill rt_sigqueueinfo pidfd_open pidfd_send_signal process_madvise process_mrelease"
).split()
# Allowed in a request child only when aimed at itself: the first argument (a pid, or for
# setpriority/ioprio_set the "which" selector and the id) must be 0, i.e. "this process".
SELF_ONLY = {
    "prlimit64": ((0, 0),),
    "sched_setaffinity": ((0, 0),),
    "sched_setscheduler": ((0, 0),),
    "sched_setparam": ((0, 0),),
    "sched_setattr": ((0, 0),),
    "setpriority": ((0, 0), (1, 0)),  # PRIO_PROCESS, who = 0
    "ioprio_set": ((0, 1), (1, 0)),  # IOPRIO_WHO_PROCESS, who = 0
}
# Signals only to its own thread group: a placeholder the child replaces with its own pid
# before it loads the filter (``_zygote.Filter``); libc's raise() and abort() use tgkill.
SELF_PID = 0x7E5E1F00
SIGNAL_SELF = ("tgkill", "rt_tgsigqueueinfo")
# fcntl/ioctl commands that make I/O signal another process (F_SETOWN, F_SETOWN_EX,
# F_SETSIG; FIOSETOWN, SIOCSPGRP), compared on the low 32 bits the kernel reads.
DENY_FCNTL = (8, 15, 10)
DENY_IOCTL = (0x8901, 0x8902)
# /proc as runc leaves it: read-only where the host kernel is tuned, masked where it leaks.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROC_MASKED = (
    "kcore keys key-users timer_list timer_stats sched_debug latency_stats slabinfo "
    "kpageflags kpagecount kpagecgroup kallsyms kmsg mtrr vmallocinfo pagetypeinfo iomem "
    "ioports config.gz bootconfig acpi scsi asound sysvipc"
).split()
TMPFS_BYTES = 1 << 20  # what any tmpfs in the sandbox may hold (all are read-only anyway)
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)


class SandboxUnavailable(RuntimeError):
    """The OS boundary cannot be built here; ``str()`` names the reason and the fix."""


@dataclass(frozen=True)
class Template:
    """What one kind of sandbox preloads and how its request children are confined."""

    kind: str
    preload: tuple[str, ...]
    init: str | None = None
    handlers: tuple[str, ...] = ()
    threads: bool = False  # may request children start threads (clingo, SWI-Prolog)?
    env: dict[str, str] = field(default_factory=dict)
    file_size_mb: int = 4
    open_files: int = 64


def mode() -> str:
    value = os.environ.get(ENV_MODE, "bwrap").strip().lower() or "bwrap"
    if value not in ("bwrap", "off"):
        raise SandboxUnavailable(f"{ENV_MODE}={value!r} is not a sandbox mode; use bwrap or off")
    return value


def bwrap_path() -> str | None:
    return os.environ.get(ENV_BWRAP) or shutil.which("bwrap")


# --- seccomp -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def seccomp_filters(threads: bool) -> tuple[bytes, bytes]:
    """The compiled (sandbox-wide, per-child) seccomp-BPF programs, built with libseccomp."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # the library, or libseccomp.so.2, is missing
        raise SandboxUnavailable(
            f"seccomp is unavailable ({exc}); fix: install libseccomp2 (Debian/Ubuntu: "
            f"apt-get install libseccomp2) and the pyseccomp package"
        ) from None

    def add(flt: Any, action: int, name: str, *args: Any) -> None:
        try:
            flt.add_rule(action, name, *args)
        except (OSError, ValueError, RuntimeError):
            pass  # a syscall this kernel/architecture does not have

    eperm = sc.ERRNO(errno.EPERM)
    base = sc.SyscallFilter(sc.ALLOW)
    for name in DENY_ALWAYS:
        add(base, eperm, name)
    for flag in CLONE_NAMESPACES:
        add(base, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory that seccomp cannot read: make libc fall back to clone.
    add(base, sc.ERRNO(errno.ENOSYS), "clone3")

    child = sc.SyscallFilter(sc.ALLOW)
    for name in DENY_CHILD:
        add(child, eperm, name)
    for name, args in SELF_ONLY.items():
        for index, value in args:  # each argument that is not "self" is refused on its own
            add(child, eperm, name, sc.Arg(index, sc.NE, value))
    for name in SIGNAL_SELF:
        add(child, eperm, name, sc.Arg(0, sc.NE, SELF_PID))
    for cmd in DENY_FCNTL:
        add(child, eperm, "fcntl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, cmd))
    for cmd in DENY_IOCTL:
        add(child, eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, cmd))
    if threads:
        add(child, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    else:
        add(child, eperm, "clone")
    add(child, sc.ERRNO(errno.ENOSYS), "clone3")
    return _bpf(base, sc), _bpf(child, sc)


def _bpf(flt: Any, sc: Any) -> bytes:
    # A binary search over syscall numbers, not a linear scan: every syscall of a request
    # runs both filters (libseccomp >= 2.5; older versions keep the linear one).
    with contextlib.suppress(Exception):
        flt.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()


# --- the filesystem --------------------------------------------------------------------------


def _module_root(name: str) -> str | None:
    """The ``sys.path`` entry a top-level module is imported from."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return str(Path(list(spec.submodule_search_locations)[0]).resolve().parent)
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return str(Path(spec.origin).resolve().parent)
    return None


@functools.lru_cache(maxsize=16)
def python_paths(preload: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(extra ``sys.path`` entries for the template, read-only binds) for ``preload``."""
    roots: list[str] = []
    for name in preload:
        top = name.split(".")[0]
        if top == "solvers":
            continue
        root = _module_root(top)
        if root and root not in roots:
            roots.append(root)
    binds = [
        "/usr",
        str(Path(sys.base_prefix).resolve()),
        str(Path(sys.prefix).resolve()),
        sys.prefix,
        str(PACKAGE_DIR),
        *roots,
    ]
    if Path(sys.executable).parent.exists():
        binds.append(str(Path(sys.executable).parent))
    return roots, _outermost(binds)


def _outermost(paths: list[str]) -> list[str]:
    """Existing paths, without any that lies inside another (bound once, at the top)."""
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in paths if os.path.exists(p)}, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def root_caller() -> bool:
    """A root caller's sandbox maps to host ``nobody``, not to itself (``map_root_caller``)."""
    return os.geteuid() == 0


def bwrap_argv(
    binds: list[str], env: dict[str, str], seccomp_fd: int, userns_fds: tuple[int, int] | None
) -> list[str]:
    """The bubblewrap command line for one sandbox (the program to run follows it).

    ``userns_fds`` (block, info) is for a root caller: bubblewrap then waits until
    ``map_root_caller`` has written its user namespace's map, and keeps CAP_SETUID and
    CAP_SETGID (in that namespace only) for the template to drop to the sandbox uid."""
    bwrap = bwrap_path()
    if not bwrap or not os.access(bwrap, os.X_OK):
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap or 'bwrap'}) is not installed; fix: apt-get install bubblewrap "
            f"(or set {ENV_BWRAP}=/path/to/bwrap), or opt in to running programs unconfined "
            f"with {ENV_MODE}=off"
        )
    argv = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net"]
    argv += ["--unshare-uts", "--unshare-cgroup-try", "--as-pid-1"]
    if userns_fds is None:  # bwrap maps the sandbox uid to the caller's own
        argv += ["--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        argv += ["--cap-drop", "ALL"]
    else:  # the seccomp filter refuses nested user namespaces (--disable-userns cannot)
        block, info = userns_fds
        argv += ["--userns-block-fd", str(block), "--info-fd", str(info)]
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    argv += ["--hostname", "nesy-sandbox", "--die-with-parent", "--new-session", "--clearenv"]
    argv += ["--proc", "/proc", *_proc_hardening(), "--dev", "/dev"]
    argv += ["--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link) and link not in binds:
            argv += ["--ro-bind", link, link]
    files = ["/etc/ld.so.cache"] if os.path.exists("/etc/ld.so.cache") else []  # no secrets
    # bubblewrap makes a bind's missing parents 0700, which only a sandbox running as the
    # caller could cross: make them first, searchable by the sandbox's own uid.
    for parent in _parents([*binds, *files]):
        argv += ["--perms", "0755", "--dir", parent]
    for path in [*files, *binds]:  # how the loader finds libraries, then the trees
        argv += ["--ro-bind", path, path]
    argv += ["--remount-ro", "/tmp", "--remount-ro", "/dev"]  # devices stay usable
    argv += ["--remount-ro", "/"]  # the root tmpfs (bwrap's), last: nothing is writable
    argv += ["--chdir", "/tmp", "--seccomp", str(seccomp_fd)]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor directory of ``paths`` but ``/``, outermost first, once each."""
    out: list[str] = []
    for path in paths:
        for parent in reversed(Path(path).parents[:-1]):
            if str(parent) not in out:
                out.append(str(parent))
    return out


def _proc_hardening() -> list[str]:
    """bwrap arguments that make /proc's host-wide files read-only or empty. A fresh procfs
    has what the host's has (one kernel), so only paths present here are named."""
    argv: list[str] = []
    for name in PROC_READ_ONLY:
        if os.path.exists(f"/proc/{name}"):
            argv += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    for name in PROC_MASKED:
        path = f"/proc/{name}"
        if os.path.isdir(path):
            argv += ["--size", str(TMPFS_BYTES), "--tmpfs", path, "--remount-ro", path]
        elif os.path.exists(path):
            argv += ["--ro-bind", "/dev/null", path]
    return argv


def map_root_caller(block_fd: int, info_fd: int, deadline_s: float) -> None:
    """For a root caller: map the sandbox's user namespace so that its uid 65534 is host
    ``nobody``, then let bubblewrap go on. Host root is mapped too (as uid 0) only so that
    bubblewrap can build the mounts; the template drops from it before it runs anything,
    and with no capability left and ``no_new_privs`` nothing can return to it.

    ``info_fd`` carries bubblewrap's JSON with its child's pid; a byte on ``block_fd``
    lets it go on."""
    import json
    import select
    import time

    buf = b""
    poller = select.poll()
    poller.register(info_fd, select.POLLIN | select.POLLHUP)
    deadline = time.monotonic() + deadline_s
    while not buf.rstrip().endswith(b"}"):
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(int(left * 1000)):
            raise OSError(errno.ETIMEDOUT, "bwrap did not report its namespace in time")
        chunk = os.read(info_fd, 4096)
        if not chunk:
            raise OSError(errno.EPIPE, "bwrap exited before it reported its namespace")
        buf += chunk
    pid = int(json.loads(buf)["child-pid"])
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n"
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(mapping)  # one write(2), as the kernel requires
    os.write(block_fd, b"1")


def environment(extra: dict[str, str]) -> dict[str, str]:
    """The whole environment a sandbox gets: fixed values, never the caller's variables."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # A template must stay single-threaded: fork copies only the calling thread.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # CPU quirks, not secrets
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra)
    return env


@functools.lru_cache(maxsize=1)
def swipl_env() -> dict[str, str]:
    """Where libswipl lives, resolved once outside (pyswip would run ``swipl`` inside)."""
    swipl = shutil.which("swipl")
    if not swipl:
        return {}
    try:
        out = subprocess.run(
            [swipl, "--dump-runtime-variables"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        found[key.strip()] = value.strip().rstrip(";").strip('"')
    env = {}
    if found.get("PLBASE"):
        env["SWI_HOME_DIR"] = found["PLBASE"]
    if found.get("PLLIBSWIPL"):
        env["LIBSWIPL_PATH"] = found["PLLIBSWIPL"]
    return env


_said: set[str] = set()


def say_once(kind: str, message: str) -> bool:
    """Print ``nesy: KIND: message`` to stderr once per process and kind (True when it did):
    a refusal or an unconfined mode concerns every later solve, so it is said loudly, but
    not each time."""
    if kind in _said:
        return False
    _said.add(kind)
    print(f"nesy: {kind}: {message}", file=sys.stderr)
    return True


def fix_for(stderr: str) -> str:
    """A start-up failure of bwrap, with the fix for the usual causes."""
    text = stderr.strip() or "bwrap failed without a message"
    lowered = text.lower()
    if any(
        s in lowered
        for s in ("no permissions to create", "operation not permitted", "uid map", "userns")
    ):
        return (
            f"{text}; user namespaces are not available to this process. Fix: allow them "
            "(Debian: sysctl -w kernel.unprivileged_userns_clone=1; Ubuntu 24.04: sysctl -w "
            "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for bwrap; "
            "Docker: run with --security-opt seccomp=unconfined --security-opt "
            f"apparmor=unconfined), or opt in to running programs unconfined with {ENV_MODE}=off"
        )
    return f"{text}; or opt in to running programs unconfined with {ENV_MODE}=off"


def layers() -> dict[str, Any]:
    """What each layer enforces on this machine, for ``nesy doctor``."""
    current = mode()
    bwrap = bwrap_path()
    version = ""
    if bwrap:
        try:
            version = subprocess.run(
                [bwrap, "--version"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            version = "unknown version"
    _, binds = python_paths(("numpy", "sympy", "clingo", "pyswip"))
    boundary = current == "bwrap"
    return {
        "boundary": (version or "bwrap not found") if boundary else f"NONE ({ENV_MODE}=off)",
        "namespaces": "user, pid, ipc, uts, net, cgroup (no nested user namespaces)"
        if boundary
        else "none",
        "filesystem": {
            "read_only": binds + ["/etc/ld.so.cache"],
            "private": ["/proc", "/dev (minimal, read-only)", "/tmp (empty, read-only)"],
        }
        if boundary
        else "the host's, as the caller sees it",
        "capabilities": "none" if boundary else "the caller's",
        "environment": sorted(environment({})) if boundary else "cleared for the template",
        "seccomp_sandbox": f"EPERM for {len(DENY_ALWAYS)} syscalls and namespace clones "
        "(ptrace, mount, bpf, keyctl, unshare, ...)"
        if boundary
        else "none",
        "seccomp_request": "EPERM for " + ", ".join(DENY_CHILD) + "; clone: threads only for "
        "asp/prolog, none for python"
        if boundary
        else "none",
        "rlimits_request": "hard: address space (memory_mb above the template), CPU "
        "(timeout + 2 s), file size 4 MB, 64 open files, no core files",
        "process": "a fresh child of a preloaded template per request; everything it leaves "
        "is killed (PID namespace) before the next",
        "channel": "size-bounded JSON frames with the request's id; never unpickled",
    }
