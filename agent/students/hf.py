"""``HFStudent``: any Hugging Face causal LM, optionally with a peft LoRA adapter. Batched,
left-padded generation, greedy or sampled with a seed, stop strings, a max-token cap, and
token counts."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
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
        where, gguf = Path(path), {}
        if where.suffix == ".gguf":  # one GGUF file: transformers dequantises it on load
            where, gguf = where.parent, {"gguf_file": where.name}
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(where, **gguf)
            model: Any = AutoModelForCausalLM.from_pretrained(
                where, dtype=torch.bfloat16 if device == "cuda" else torch.float32, **gguf
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
