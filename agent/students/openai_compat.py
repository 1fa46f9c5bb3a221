"""``OpenAIStudent``: an OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI, or
``nesy serve``), so the same agent runs on a big model."""

from __future__ import annotations

import os

from agent.students.base import Generation, Prompt, StudentError


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
