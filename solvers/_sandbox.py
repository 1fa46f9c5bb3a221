"""The OS boundary around solver programs: bubblewrap, seccomp and hard rlimits.

Every program a solver runs is treated as arbitrary native code running as the sandbox's
user. The language checks (``_restricted``, the Prolog runner's ``safe_goal``) only give
clear errors for honest mistakes; this module is what contains the rest. Each sandbox is
one ``bwrap`` process (the tool Flatpak uses; Debian package ``bubblewrap``) with:

- new user, PID, IPC, UTS, cgroup and network namespaces; no capabilities; no nested user
  namespaces; a new session (no terminal to inject into); it dies with the caller;
- a minimal, read-only filesystem: ``/usr`` (the system libraries the backends load: libc,
  libswipl, libseccomp, ...), the interpreter's prefix, the virtual environment, the
  site-packages roots of the preloaded modules and the ``solvers`` package directory,
  each at its own path wherever it is installed (under ``/tmp`` too); an empty read-only
  ``/tmp`` as working directory; a private ``/proc`` and minimal ``/dev``; nothing else
  of the host (no home, no rest of the checkout, no ``/etc``, no ``/run``, no sockets);
- a clean environment (a few fixed variables);
- a seccomp filter for the whole sandbox (no ``ptrace``, ``mount``, ``bpf``, ``keyctl``,
  new namespaces, kernel modules, ...) and a stricter one per request child (no ``exec``,
  no sockets, no new processes: Python programs may not even start a thread);
- per request, in a fresh child forked from the template: hard ``RLIMIT_AS``,
  ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ``RLIMIT_NOFILE`` and no core files (``_zygote``).

Where bubblewrap cannot run, solving is refused with the reason and its fix, unless the
user opts in to running unconfined with ``NESY_SANDBOX=off`` (rlimits and a fresh
process per request only, and a loud warning).
"""

from __future__ import annotations

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
    "set_mempolicy"
).split()
# Denied in every request child on top: no programs, no network, no new processes.
# System V and POSIX IPC objects would outlive a request inside its sandbox's IPC namespace.
DENY_CHILD = (
    "execve execveat socket socketpair fork vfork kill shmget semget msgget mq_open"
).split()
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
    if threads:
        add(child, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    else:
        add(child, eperm, "clone")
    add(child, sc.ERRNO(errno.ENOSYS), "clone3")
    return _bpf(base), _bpf(child)


def _bpf(flt: Any) -> bytes:
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


def bwrap_argv(binds: list[str], env: dict[str, str], seccomp_fd: int) -> list[str]:
    """The bubblewrap command line for one sandbox (the program to run follows it)."""
    bwrap = bwrap_path()
    if not bwrap or not os.access(bwrap, os.X_OK):
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap or 'bwrap'}) is not installed; fix: apt-get install bubblewrap "
            f"(or set {ENV_BWRAP}=/path/to/bwrap), or opt in to running programs unconfined "
            f"with {ENV_MODE}=off"
        )
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "nesy-sandbox",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link) and link not in binds:
            argv += ["--ro-bind", link, link]
    if os.path.exists("/etc/ld.so.cache"):  # how the loader finds libraries; no secrets
        argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for path in binds:
        argv += ["--ro-bind", path, path]
    argv += ["--remount-ro", "/tmp", "--remount-ro", "/dev"]  # devices stay usable
    argv += ["--chdir", "/tmp", "--seccomp", str(seccomp_fd)]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


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
