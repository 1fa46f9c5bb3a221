"""A student on CTranslate2: int8 weights, several times faster decoding on a CPU.

The HF directory of a merged student is exported once to ``NESY_HOME/ct2/<name>-<hash>``
(the hash of its safetensors, so a retrained student gets a new export); the tokenizer and
chat template stay the HF ones, so prompts render exactly as ``HFStudent`` renders them.
Stop strings are applied to the decoded text (CTranslate2 stops on token ids only). Greedy
decoding is deterministic; a sampling ``seed`` is passed to ``ctranslate2.set_random_seed``,
but its worker threads do not make sampled text reproducible the way torch does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from agent.student import (
    Generation,
    Prompt,
    StudentError,
    check_request,
    render_prompt,
    sha256_file,
    truncate_at_stop,
)


def export_dir(model_dir: Path, quantization: str) -> Path:
    from kb.shipped import nesy_home

    h = hashlib.sha256()
    for f in sorted(model_dir.glob("*.safetensors")):
        h.update(sha256_file(f).encode())
    return nesy_home() / "ct2" / f"{model_dir.name}-{h.hexdigest()[:12]}-{quantization}"


def export(model_dir: Path, quantization: str = "int8") -> Path:
    """Convert an HF model directory for CTranslate2 once; later calls reuse the export."""
    target = export_dir(model_dir, quantization)
    if (target / "model.bin").exists():
        return target
    from ctranslate2.converters import TransformersConverter

    tmp = target.with_name(target.name + ".converting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        TransformersConverter(str(model_dir)).convert(str(tmp), quantization=quantization)
    except (NotImplementedError, ValueError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StudentError(f"cannot export {model_dir} to CTranslate2: {exc}") from None
    # CTranslate2 refuses null special tokens (a tokenizer without bos/unk); use eos there.
    config_file = tmp / "config.json"
    config = json.loads(config_file.read_text())
    for key in ("bos_token", "unk_token"):
        if config.get(key) is None:
            config[key] = config.get("eos_token")
    config_file.write_text(json.dumps(config, indent=2))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


class CT2Student:
    """Args:
    path: an HF model directory (merged; no adapter).
    device: ``auto`` (CUDA when CTranslate2 sees one), ``cpu`` or ``cuda``.
    compute_type: ``int8`` on CPU by default (``$NESY_CT2_COMPUTE`` overrides it);
        ``float32`` uses a float32 export and matches HF's float32 greedy output;
        ``int8_float16`` / ``float16`` on CUDA.
    threads: intra-op threads; default all cores.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        compute_type: str | None = None,
        threads: int | None = None,
        name: str | None = None,
    ) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise StudentError(f"no Hugging Face model at {path} to run on CTranslate2")
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        # NESY_CT2_COMPUTE=float32 trades int8's speed for answers identical to HF float32
        # (int8 rounding changes an untuned model's greedy choices; see README).
        compute_type = (
            compute_type
            or os.environ.get("NESY_CT2_COMPUTE")
            or ("int8" if device == "cpu" else "int8_float16")
        )
        quantization = "float32" if compute_type == "float32" else "int8"
        self.name = name or f"ct2:{path}"
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        self.export = export(path, quantization)
        self._interrupt = threading.Event()
        self.generator = ctranslate2.Generator(
            str(self.export),
            device=device,
            compute_type=compute_type,
            intra_threads=threads or (os.cpu_count() or 1),
        )

    def interrupt(self) -> None:
        """Stop the decode in flight after its current step (Ctrl-C in ``nesy chat``)."""
        self._interrupt.set()

    def clear_interrupt(self) -> None:
        self._interrupt.clear()

    def generate(
        self,
        prompts: list[Prompt],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        if not check_request(prompts, max_new_tokens):
            return []
        ids = [
            self.tokenizer(render_prompt(self.tokenizer, p), add_special_tokens=False)["input_ids"]
            for p in prompts
        ]
        tokens = [self.tokenizer.convert_ids_to_tokens(x) for x in ids]
        sample = temperature > 0
        if seed is not None:
            import ctranslate2

            ctranslate2.set_random_seed(seed)
        results = self.generator.generate_batch(
            tokens,
            max_length=max_new_tokens,
            sampling_topk=0 if sample else 1,
            sampling_topp=top_p if sample else 1.0,
            sampling_temperature=temperature if sample else 1.0,
            include_prompt_in_result=False,
            end_token=self.tokenizer.eos_token,
            # True stops the decode. The callback must not hold `self`: CTranslate2 drops it
            # on a worker thread, and a last reference to the generator dropped there makes
            # the generator join its own thread (std::terminate, "Resource deadlock").
            callback=lambda step, flag=self._interrupt: flag.is_set(),
        )
        out = []
        for prompt_ids, r in zip(ids, results, strict=True):
            new = r.sequences_ids[0]
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            text, hit_stop = truncate_at_stop(text, stop)
            finished = hit_stop or len(new) < max_new_tokens
            out.append(
                Generation(text, len(prompt_ids), len(new), "stop" if finished else "length")
            )
        return out
