"""What every layer shares about files, without importing any of them: the cache root
(``NESY_HOME``), a file's sha256, and a model's identity (the hash of its weights).

Example:
    >>> nesy_home().name in ("nesy", "") or True
    True
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO


def nesy_home() -> Path:
    """The cache root: converted models, CT2 exports, the built default KB."""
    return Path(os.environ.get("NESY_HOME", "~/.cache/nesy")).expanduser()


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def weights_hash(model_dir: str | Path) -> str:
    """A model directory's identity: the sha256 over its safetensors files' sha256s, in name
    order ("" when it has none). The ModelCard, the bench and the CT2 export use it."""
    return combine_hashes(sha256_file(f) for f in sorted(Path(model_dir).glob("*.safetensors")))


def combine_hashes(file_sha256s: Iterable[str]) -> str:
    """``weights_hash`` from the files' sha256s already known (in name order)."""
    h = hashlib.sha256()
    empty = True
    for sha in file_sha256s:
        h.update(sha.encode())
        empty = False
    return "" if empty else h.hexdigest()


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[str]]:
    """Write ``path`` whole or not at all: a temporary file beside it, flushed and fsynced,
    then renamed over it. A failure (a full disk, a kill) leaves the old file as it was and
    no temporary behind; a full disk is an ``OSError`` that names the file.

        >>> import tempfile; d = tempfile.mkdtemp()
        >>> with atomic_write(d + "/x.txt") as f: _ = f.write("ok")
        >>> open(d + "/x.txt").read()
        'ok'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            message = f"disk full while writing {path}; nothing was changed"
            raise OSError(exc.errno, message) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
