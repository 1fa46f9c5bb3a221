"""A student on CTranslate2: faster decoding than HF ``generate`` on a CPU.

By default it computes in the precision HF uses on the same device (float32 on a CPU,
bfloat16 on CUDA), so its answers agree with HF's (98.4% of 64 agent answers, and 1.6x
faster end to end than HF in the same run, bench/perf/agent.py). ``NESY_CT2_COMPUTE=int8``
decodes faster still, but int8 rounding changes the untuned packaged student's greedy
choices (4.7% and 12.5% of 64 answers agree with HF's); measure it again on a trained
student before relying on it.

The HF directory of a merged student is exported once to ``NESY_HOME/ct2/<name>-<hash>``
(the hash of its safetensors, so a retrained student gets a new export); the tokenizer and
chat template stay the HF ones, so prompts render exactly as ``HFStudent`` renders them.
Stop strings are applied to the decoded text (CTranslate2 stops on token ids only). Greedy
decoding is deterministic; a sampling ``seed`` is passed to ``ctranslate2.set_random_seed``,
but its worker threads do not make sampled text reproducible the way torch does.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.students.base import (
    Generation,
    Interruptible,
    Prompt,
    StudentError,
    check_request,
    render_prompt,
    truncate_at_stop,
)


def export_dir(model_dir: Path, quantization: str) -> Path:
    from solvers.files import nesy_home, weights_hash

    return nesy_home() / "ct2" / f"{model_dir.name}-{weights_hash(model_dir)[:12]}-{quantization}"


def export(model_dir: Path, quantization: str) -> Path:
    """Convert an HF model directory for CTranslate2 once; later calls reuse the export."""
    target = export_dir(model_dir, quantization)
    if (target / "model.bin").exists():
        return target
    return convert(model_dir, target, quantization)


def convert(model_dir: Path, target: Path, quantization: str) -> Path:
    """Convert ``model_dir`` into ``target``, whole or not at all: into a ``.converting``
    sibling, renamed over ``target`` when complete. A failure (a full disk, an unsupported
    architecture) is a ``StudentError`` that names the model and leaves nothing behind."""
    from ctranslate2.converters import TransformersConverter

    tmp = target.with_name(target.name + ".converting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        TransformersConverter(str(model_dir)).convert(str(tmp), quantization=quantization)
        # CTranslate2 refuses null special tokens (a tokenizer without bos/unk); use eos.
        config_file = tmp / "config.json"
        config = json.loads(config_file.read_text())
        for key in ("bos_token", "unk_token"):
            if config.get(key) is None:
                config[key] = config.get("eos_token")
        config_file.write_text(json.dumps(config, indent=2))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except (NotImplementedError, ValueError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StudentError(f"cannot export {model_dir} to CTranslate2: {exc}") from None
    return target


def hf_precision(device: str, supported: set[str]) -> str:
    """The compute type matching ``HFStudent``'s dtype on the device: float32 on a CPU,
    bfloat16 on CUDA (float32 on a GPU without bfloat16)."""
    return "bfloat16" if device == "cuda" and "bfloat16" in supported else "float32"


class CT2Student(Interruptible):
    """Args:
    path: an HF model directory (merged; no adapter).
    device: ``auto`` (CUDA when CTranslate2 sees one), ``cpu`` or ``cuda``.
    compute_type: ``$NESY_CT2_COMPUTE``, else HF's precision on the device
        (``hf_precision``): ``float32`` on a CPU (a float32 export; greedy text matches
        HF's), ``bfloat16`` on CUDA. ``int8`` (CPU) and ``int8_float16`` (CUDA) use an int8
        export.
    threads: intra-op threads; default all cores.
    exporter: ``quantization -> export directory``; by default ``export(path, ...)``. A
        skill passes its own (the base with an adapter merged, exported without keeping
        the merged weights); ``path`` then only gives the tokenizer.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        compute_type: str | None = None,
        threads: int | None = None,
        name: str | None = None,
        exporter: Callable[[str], Path] | None = None,
    ) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise StudentError(f"no Hugging Face model at {path} to run on CTranslate2")
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        # Not int8 by default: its rounding changes an untuned model's greedy choices, so
        # answers would differ from HF's (see the README's agent measurements).
        compute_type = (
            compute_type
            or os.environ.get("NESY_CT2_COMPUTE")
            or hf_precision(device, ctranslate2.get_supported_compute_types(device))
        )
        quantization = "int8" if compute_type.startswith("int8") else "float32"
        self.name = name or f"ct2:{path}"
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        self.export = exporter(quantization) if exporter else export(path, quantization)
        super().__init__()
        self.generator = ctranslate2.Generator(
            str(self.export),
            device=device,
            compute_type=compute_type,
            intra_threads=threads or (os.cpu_count() or 1),
        )

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
            callback=lambda step, flag=self._interrupt, n=self._steps: _step(flag, n),
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


def _step(flag: Any, steps: list[int]) -> bool:
    """CTranslate2's per-step callback: count the step; True (interrupted) stops the decode."""
    steps[0] += 1
    return bool(flag.is_set())
