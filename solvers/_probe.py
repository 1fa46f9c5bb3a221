"""A self-test of the worker sandbox: trusted code that tries what an escaped program would.

The AST filter stops these before they run; the probe skips it on purpose, so what it
measures is the OS boundary alone. Used by ``nesy doctor`` and the evil-program tests.
"""

from __future__ import annotations

import os
import socket
from typing import Any


def _attempt(fn: Any) -> str:
    try:
        fn()
    except Exception as exc:
        return f"blocked ({type(exc).__name__}: {exc})"
    return "ALLOWED"


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed inside a worker, like a program that escaped the language-level checks."""

    def write_outside() -> None:
        with open(p["outside_file"], "w") as f:
            f.write("escaped")

    def connect() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", int(p["port"])))

    def fork() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    def tmp_marker() -> None:
        # Lands in the worker's private tmpfs: "allowed" inside, invisible outside.
        with open(p["tmp_file"], "w") as f:
            f.write("private")

    return {
        "status": "ok",
        "answer_type": "dict",
        "answer": {
            "uid": os.getuid(),
            "write_outside": _attempt(write_outside),
            "connect": _attempt(connect),
            "fork": _attempt(fork),
            "tmp_write": _attempt(tmp_marker),
        },
    }


def report(outside_dir: str | None = None, port: int = 9) -> dict[str, Any]:
    """Run the probe in the python pool and say whether every escape was contained."""
    from solvers import get_pool

    outside = outside_dir or os.path.dirname(os.path.abspath(__file__))
    tmp_file = f"/tmp/nesy-probe-{os.getpid()}"
    pool = get_pool("py")
    out = pool.run(
        "solvers._probe:run",
        {
            "outside_file": os.path.join(outside, ".nesy-probe"),
            "port": port,
            "tmp_file": tmp_file,
        },
        timeout_s=5,
    )
    result = dict(out.get("answer") or {})
    leaked_tmp = os.path.exists(tmp_file)
    if leaked_tmp:
        os.unlink(tmp_file)
    result["tmp_visible_outside"] = leaked_tmp
    result["sandbox"] = pool.sandbox
    result["contained"] = (
        result.get("uid", 0) != 0
        and all(
            str(result.get(k, "")).startswith("blocked")
            for k in ("write_outside", "connect", "fork")
        )
        and not leaked_tmp
    )
    return result
