"""Model specs: one grammar for every package, parsed here and nowhere else.

    default                          the packaged SmolLM2-135M-Instruct student
    hf:PATH_OR_NAME                  any Hugging Face causal LM (local path, or the hub online)
    hf:PATH_OR_NAME+lora:ADAPTER     the same with a peft LoRA adapter
    openai:MODEL@URL                 an OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...)
    ct2:PATH | ct2:default           a merged HF model on CTranslate2 (fast CPU decoding),
                                     exported once under NESY_HOME

Example:
    >>> parse_spec("hf:./out/student+lora:./out/adapter")
    ModelSpec(kind='hf', name='./out/student', adapter='./out/adapter', url=None)
    >>> parse_spec("openai:qwen2.5-7b@http://127.0.0.1:8000/v1").url
    'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GRAMMAR = "default | hf:PATH_OR_NAME[+lora:ADAPTER] | openai:MODEL@URL | ct2:PATH|default"


@dataclass(frozen=True)
class ModelSpec:
    kind: Literal["default", "hf", "openai", "ct2"]
    name: str = ""
    adapter: str | None = None
    url: str | None = None

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "openai":
            return f"openai:{self.name}@{self.url}"
        if self.kind == "ct2":
            return f"ct2:{self.name}"
        return f"hf:{self.name}" + (f"+lora:{self.adapter}" if self.adapter else "")


def parse_spec(text: str) -> ModelSpec:
    """Parse a model spec; a malformed one is a ``ValueError`` that shows the grammar."""
    spec = (text or "").strip()
    if spec == "default":
        return ModelSpec("default")
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ValueError(f"bad model spec {text!r}; expected {GRAMMAR}")
    if kind == "hf":
        name, plus, adapter = rest.partition("+")
        if plus:
            tag, colon, path = adapter.partition(":")
            if tag != "lora" or not colon or not path:
                raise ValueError(f"bad adapter in {text!r}; expected hf:MODEL+lora:ADAPTER")
            return ModelSpec("hf", name, adapter=path)
        return ModelSpec("hf", name)
    if kind == "openai":
        model, at, url = rest.rpartition("@")
        if not at or not model or not url.startswith(("http://", "https://")):
            raise ValueError(f"bad model spec {text!r}; expected openai:MODEL@http(s)://HOST/v1")
        return ModelSpec("openai", model, url=url)
    if kind == "ct2":
        if "+lora:" in rest:
            raise ValueError(f"{text!r}: CTranslate2 needs a merged model; merge the adapter first")
        return ModelSpec("ct2", rest)
    raise ValueError(f"unknown model kind {kind!r} in {text!r}; expected {GRAMMAR}")
