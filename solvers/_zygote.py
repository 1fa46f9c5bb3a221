"""The template process inside one sandbox: preload a backend once, fork a child per request.

Started by the pool (``solvers/_pool.py``) as ``python -I -S .../solvers/_zygote.py ROOT``
inside bubblewrap, so it imports nothing of the caller's environment: ``ROOT`` is the
directory holding the ``solvers`` package, and the first frame on stdin says what else to
put on ``sys.path``, what to preload and which seccomp filter each child gets.

Per request (one at a time):

1. a child is forked from this warm template (a zygote: the backend is already imported)
   with the decoded request in its memory;
2. the child closes the channel to the caller, sets *hard* rlimits, loads its seccomp
   filter, runs the handler, writes one JSON frame to its own result pipe and exits;
3. the template reads that frame by the deadline (it kills the child at the deadline,
   whatever the child's code catches) and answers the caller with the request's id and
   the result: plain JSON, never pickle;
4. then it kills every process the request left in the sandbox's PID namespace
   (``kill(-1)``) and reaps them, before it reads another request.

Nothing a request does survives it: monkeypatches, contexts, flags, raised limits, files
in ``/tmp`` (the child's private copy-on-write memory dies with it; files are in a tmpfs
that the caller can wipe by restarting the sandbox). The template itself never runs
untrusted code and is not dumpable, so a child cannot read or write its memory.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import gc
import importlib
import os
import resource
import signal
import struct
import sys
import time
import types
from typing import Any

MAX_RESULT_BYTES = 1 << 20  # one answer, stdout included
MAX_REQUEST_BYTES = 64 << 20
KILL_GRACE_S = 0.05  # backends with their own clock (clingo, Prolog) answer first
EXIT_GRACE_S = 0.5  # a child that answered but does not exit is killed after this

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

frames: Any = None  # solvers._frames, imported in main() once sys.path is set


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)


class Filter:
    """A compiled seccomp-BPF program, laid out in memory by the template, so that a child
    only makes the one ``prctl`` call (``no_new_privs`` is set by bubblewrap).

    Its rules that allow a signal only to the child's own thread group compare with a
    placeholder pid (the ``k`` of those BPF jumps). The template sends the child its pid
    with the byte that opens the gate, and one ``readv`` writes it into those slots: no
    Python work in the child, whose every touched page is a copy-on-write fault."""

    def __init__(self, bpf: bytes, placeholder: int) -> None:
        self._buf = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = _SockFprog(len(bpf) // 8, ctypes.addressof(self._buf))
        self._ref = ctypes.byref(self._prog)
        self._prctl = _libc.prctl
        # struct sock_filter {u16 code; u8 jt, jf; u32 k}: a BPF_JMP|BPF_JEQ|BPF_K (0x15)
        # against the placeholder is a comparison with "self".
        slots = [
            i + 4
            for i in range(0, len(bpf), 8)
            if struct.unpack_from("=HBBI", bpf, i)[0] == 0x15
            and struct.unpack_from("=I", bpf, i + 4)[0] == placeholder
        ]
        if not slots:
            raise ValueError("the request filter has no own-process rule to fill in")
        memory = memoryview(self._buf).cast("B")
        self.slots = len(slots)
        self.gate: list[Any] = [bytearray(1), *(memory[o : o + 4] for o in slots)]
        self.gate_bytes = 1 + 4 * len(slots)

    def opening(self, pid: int) -> bytes:
        """What the template writes to open a child's gate: the byte, then its pid."""
        return b"1" + struct.pack("=I", pid) * self.slots

    def load(self) -> None:
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._ref, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot load the seccomp filter")


_NO_FILTER_GATE = [bytearray(1)]


def _drop_root(uid: int) -> None:
    """A root caller's sandbox starts as host root (mapped so that bubblewrap could build
    the mounts), with CAP_SETUID/CAP_SETGID in its own user namespace only: become ``uid``
    (host ``nobody``) for good, before anything else runs, and prove there is no way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from uid 0, this clears every capability
    try:
        os.setresuid(0, 0, 0)
    except PermissionError:
        return
    os._exit(71)  # never serve as root


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def _limits(base_vm: int, memory_mb: int, timeout_s: float, cfg: dict[str, Any]) -> dict[int, int]:
    """A request's hard limits: a child cannot raise them again (no CAP_SYS_RESOURCE)."""
    mb = 1 << 20
    limits = {
        resource.RLIMIT_AS: base_vm + memory_mb * mb,
        # Whole seconds; the template's clock is the real limit.
        resource.RLIMIT_CPU: int(timeout_s) + 2,
        resource.RLIMIT_FSIZE: int(cfg.get("file_size_mb", 4)) * mb,
        resource.RLIMIT_NOFILE: int(cfg.get("open_files", 64)),
        resource.RLIMIT_CORE: 0,
    }
    if cfg.get("max_processes") is not None and os.getuid() != 0:
        limits[resource.RLIMIT_NPROC] = int(cfg["max_processes"])
    return limits


def _run_handler(handler: Any, payload: dict[str, Any], memory_mb: int) -> dict[str, Any]:
    try:
        out = handler(payload)
    except MemoryError:
        return {"status": "memory", "detail": f"memory limit of {memory_mb} MB exceeded"}
    except RecursionError:
        return {"status": "error", "detail": "maximum recursion depth exceeded"}
    except BaseException as exc:  # a handler bug is reported, not a silent exit
        if getattr(exc, "clear", False):
            return {"status": "error", "detail": str(exc)}
        return {"status": "error", "detail": f"internal {type(exc).__name__}: {exc}"}
    if not isinstance(out, dict):
        return {"status": "error", "detail": "internal: handler returned no result"}
    return out


def _child(
    req: dict[str, Any], result_fd: int, gate_fd: int, cfg: dict[str, Any], bpf: Filter | None
) -> None:
    """Runs in the forked child; never returns. Every Python step here copies pages from
    the template (copy-on-write), so it does as little as it can before the handler: the
    template sets its rlimits from outside (``prlimit``) and opens the gate when done."""
    code = 0
    try:
        if not cfg["pidns"]:
            os.setpgid(0, 0)  # without a PID namespace, the group is what gets killed
        # The limits are in place only once the gate opens (with the pid the filter needs).
        gate = _NO_FILTER_GATE if bpf is None else bpf.gate
        if os.readv(gate_fd, gate) != (1 if bpf is None else bpf.gate_bytes) or gate[0] != b"1":
            os._exit(72)
        os.close(gate_fd)
        if bpf is not None:
            bpf.load()
        out = _run_handler(_resolve(req["handler"]), req["payload"], int(req["memory_mb"]))
        try:
            data = frames.encode(out)
        except (ValueError, TypeError, RecursionError, MemoryError) as exc:
            data = frames.encode(
                {"status": "error", "detail": f"the result cannot be returned: {exc}"}
            )
        if len(data) > MAX_RESULT_BYTES + 4:
            data = frames.encode(
                {
                    "status": "error",
                    "detail": f"the result is {len(data)} bytes; at most "
                    f"{MAX_RESULT_BYTES} can be returned",
                }
            )
        frames.write_bytes(result_fd, data)
    except BaseException:
        code = 70
    os._exit(code)


def _death(status: int, memory_mb: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "CPU time limit exceeded (SIGXCPU)"}
        if sig == signal.SIGKILL:
            return {"status": "memory", "detail": f"killed (likely over {memory_mb} MB)"}
        return {"status": "error", "detail": f"the solver crashed ({sig.name})"}
    return {
        "status": "error",
        "detail": f"the solver exited without an answer (exit code {os.WEXITSTATUS(status)})",
    }


def _wait_exit(pid: int, pidfd: int, grace: float) -> int:
    """The child's wait status; SIGKILL it if it has not exited within ``grace``."""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    if not poller.poll(int(grace * 1000)):
        os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _sweep(cfg: dict[str, Any], pid: int) -> None:
    """Kill whatever the request left behind, then reap it."""
    try:
        if cfg["pidns"]:
            os.kill(-1, signal.SIGKILL)  # every process in this sandbox but init and us
        else:
            os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


class Child:
    """One request's process, forked from the template once the request has arrived, so it
    inherits the decoded request (no second JSON decode: in a fork every allocation costs
    copy-on-write page faults, the main cost of a request on a small VM)."""

    def __init__(
        self,
        req: dict[str, Any],
        cfg: dict[str, Any],
        bpf: Filter | None,
        channel: tuple[int, int],
    ) -> None:
        self.result_r, result_w = os.pipe()
        gate_r, gate_w = os.pipe()
        limits = _limits(_vm_bytes(), int(req["memory_mb"]), float(req["timeout_s"]), cfg)
        self.start = time.monotonic()
        self.pid = os.fork()
        if self.pid == 0:
            for fd in (self.result_r, gate_w, *channel):
                os.close(fd)
            _child(req, result_w, gate_r, cfg, bpf)
        os.close(result_w)
        os.close(gate_r)
        self.pidfd = os.pidfd_open(self.pid)
        try:
            for which, value in limits.items():
                resource.prlimit(self.pid, which, (value, value))
            os.write(gate_w, b"1" if bpf is None else bpf.opening(self.pid))
        except OSError:
            self.kill()  # a child without its limits never runs the request
            self.close()
            raise
        finally:
            os.close(gate_w)

    def result(self, req: dict[str, Any]) -> dict[str, Any]:
        """The child's result, or why there is none, by the deadline."""
        memory_mb = int(req["memory_mb"])
        timeout_s = float(req["timeout_s"])
        deadline = self.start + timeout_s + KILL_GRACE_S
        try:
            result = frames.read(self.result_r, MAX_RESULT_BYTES, deadline)
            if not isinstance(result, dict):
                result = {"status": "error", "detail": "the solver returned malformed output"}
        except frames.FrameTimeout:
            self.kill()
            result = {"status": "timeout", "detail": f"time limit of {timeout_s:g} s exceeded"}
        except frames.FrameClosed:
            result = _death(self.wait(), memory_mb)
        except frames.FrameError as exc:
            self.kill()
            result = {"status": "error", "detail": f"the solver returned malformed output: {exc}"}
        return result

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        """The child's wait status; SIGKILL it if it has not exited within the grace."""
        if self.pid == 0:
            return 0
        status = _wait_exit(self.pid, self.pidfd, EXIT_GRACE_S)
        self.pid = 0
        return status

    def close(self) -> None:
        """Reap the child; release its pipe."""
        if self.pid:
            self.wait()
        for fd in (self.result_r, self.pidfd):
            with contextlib.suppress(OSError):
                os.close(fd)


def main() -> None:
    global frames
    root = sys.argv[1]
    # The package without its __init__ (which imports pydantic and the pool): the template
    # stays as lean as its backend, and a fork copies less.
    package = types.ModuleType("solvers")
    package.__path__ = [os.path.join(root, "solvers")]
    sys.modules["solvers"] = package
    sys.path.insert(0, root)
    import solvers._frames as frames_module

    frames = frames_module
    # No process in the sandbox may read or write this one's memory or descriptors; and as
    # PID 1 of its namespace, with no handler, no signal from inside reaches it.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.closerange(3, 1 << 16)  # what bubblewrap left open (its --userns-block-fd pipe)
    # The channel moves off fds 0/1, which become /dev/null: nothing else writes to it.
    channel_in, channel_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    cfg = frames.read(channel_in, MAX_REQUEST_BYTES)
    try:
        if os.getuid() == 0 and cfg["pidns"]:
            _drop_root(int(cfg["uid"]))
        sys.path[1:1] = cfg["sys_path"]
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        for name in cfg["preload"]:
            importlib.import_module(name)
        if cfg.get("init"):
            _resolve(cfg["init"])()
        bpf = (
            Filter(base64.b64decode(cfg["child_bpf"]), int(cfg["self_pid"]))
            if cfg.get("child_bpf")
            else None
        )
        fork = bool(cfg.get("fork", True))
        allowed = set(cfg["handlers"])
        gc.collect()
        gc.freeze()  # a child's collections never walk (and so copy) the template's objects
    except BaseException as exc:
        frames.write(channel_out, {"failed": f"{type(exc).__name__}: {exc}"})
        return
    os.dup2(devnull, 2)  # native code may print; nobody reads it
    frames.write(channel_out, {"ready": os.getpid()})
    channel = (channel_in, channel_out)
    while True:
        try:
            req = frames.read(channel_in, MAX_REQUEST_BYTES)
        except frames.FrameError:
            return  # the caller went away
        child = None
        if req.get("handler") not in allowed:
            result = {
                "status": "error",
                "detail": f"internal: unknown handler {req.get('handler')!r}",
            }
        elif not fork:  # benchmark-only, fixed at start: reuse this process (trusted code)
            result = _run_handler(_resolve(req["handler"]), req["payload"], int(req["memory_mb"]))
        else:
            try:
                child = Child(req, cfg, bpf, channel)
                result = child.result(req)
            except OSError as exc:  # fork or pipe failed: say so, keep serving
                result = {"status": "error", "detail": f"cannot start the request: {exc}"}
        # Answer first, clean up after: the caller goes on while this sandbox tidies up.
        frames.write(channel_out, {"id": req.get("id"), "result": result})
        if child is not None:
            pid = child.pid
            child.close()
            _sweep(cfg, pid)


if __name__ == "__main__":
    main()
