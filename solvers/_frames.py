"""Length-prefixed JSON frames: the only thing that crosses a sandbox boundary.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Readers bound
the length before reading and the time before giving up, and ``json.loads`` builds plain
data only, so nothing a sandboxed process writes can run code in its reader (the old pool
unpickled what workers sent). Used on both sides: by the pool in the caller and by the
template process inside each sandbox, which imports nothing else of nesy for it.
"""

from __future__ import annotations

import json
import math
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct(">I")


class FrameError(Exception):
    """A frame was malformed or over its size limit."""


class FrameTimeout(FrameError):
    """No complete frame arrived before the deadline."""


class FrameClosed(FrameError):
    """The other side closed the channel (or died) before a complete frame."""


def encode(obj: Any) -> bytes:
    """``obj`` as one frame. Raises ``ValueError`` for data JSON cannot carry exactly."""
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    raw = data.encode("utf-8", "replace")  # a lone surrogate becomes "?"
    return HEADER.pack(len(raw)) + raw


def write(fd: int, obj: Any) -> None:
    write_bytes(fd, encode(obj))


def write_bytes(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read(fd: int, max_bytes: int, deadline: float | None = None) -> Any:
    """One frame from ``fd`` as plain JSON data.

    Args:
        max_bytes: a larger frame is refused without reading its body.
        deadline: ``time.monotonic()`` value; ``None`` waits for ever.

    Raises:
        FrameTimeout, FrameClosed, FrameError: with what went wrong.
    """
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if size > max_bytes:
        raise FrameError(f"a frame of {size} bytes exceeds the limit of {max_bytes}")
    body = _read_exact(fd, size, deadline)
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:  # bad JSON, huge ints, absurd nesting
        raise FrameError(f"malformed frame: {str(exc)[:200]}") from None


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(math.ceil(left * 1000)):
                raise FrameTimeout(f"no answer within the deadline ({len(buf)} of {n} bytes)")
        try:
            chunk = os.read(fd, n - len(buf))
        except OSError as exc:
            raise FrameClosed(f"channel failed: {exc}") from None
        if not chunk:
            raise FrameClosed("channel closed")
        buf += chunk
    return bytes(buf)
