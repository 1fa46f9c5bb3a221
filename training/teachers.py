"""Live teachers: ``openai:MODEL@URL``, any OpenAI-compatible server (vLLM, llama.cpp's
server, Ollama, OpenAI, ``nesy serve``) writing programs for the train questions.

Requests go out concurrently (``asyncio``, at most ``concurrency`` in flight) through the
``openai`` client, which retries connection errors, timeouts, 429s and 5xx with exponential
backoff and honours ``Retry-After``. Every answer is appended to an on-disk cache (JSONL,
flushed and fsynced per line) keyed by the model, the messages and the sampling settings
with the sample's index, so a re-run never pays twice and a killed run resumes where it
stopped. A cache line that does not parse (a run killed mid-write) is reported with its
line number and skipped, never reused: that sample is asked again.

    nesy distill verify --teacher openai:qwen2.5-coder@http://127.0.0.1:8000/v1 \\
        --data ../shared/data --limit 64 --samples 4 --temperature 0.7
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solvers.files import nesy_home

MAX_PROGRAM_TOKENS = 512


@dataclass
class LiveSettings:
    """How a live teacher samples (``nesy distill verify/run`` flags)."""

    samples: int = 1
    temperature: float = 0.0
    max_tokens: int = MAX_PROGRAM_TOKENS
    concurrency: int = 8
    retries: int = 4
    timeout_s: float = 120.0
    cache: str = ""  # default: $NESY_HOME/cache/teacher_responses.jsonl

    def check(self) -> None:
        if self.samples < 1 or self.concurrency < 1:
            raise ValueError("--samples and --concurrency must be at least 1")
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError(
                f"{self.samples} samples at temperature {self.temperature:g} are one answer "
                "repeated; give --temperature above 0"
            )

    def cache_path(self) -> Path:
        return Path(self.cache) if self.cache else nesy_home() / "cache" / "teacher_responses.jsonl"


class ResponseCache:
    """Append-only JSONL of answers: ``{"key": ..., "text": ..., "usage": ...}`` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.skipped = 0
        # a run killed mid-write leaves a line without its newline: the next one starts fresh
        self._torn = path.exists() and path.stat().st_size > 0 and _last_byte(path) != b"\n"
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    try:
                        entry = json.loads(line)
                        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                            raise ValueError("not an answer record")
                        self.entries[str(entry["key"])] = entry
                    except (ValueError, KeyError) as exc:
                        self.skipped += 1
                        print(f"{path}:{number}: corrupt cache line skipped ({exc})",
                              file=sys.stderr)  # fmt: skip

    @staticmethod
    def key(model: str, messages: list[dict[str, str]], params: dict[str, Any], index: int) -> str:
        blob = json.dumps([model, messages, params, index], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, text: str, usage: dict[str, int]) -> None:
        entry = {"key": key, "text": text, "usage": usage}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(("\n" if self._torn else "") + json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._torn = False
        self.entries[key] = entry


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


@dataclass
class Sample:
    """One answer, or the error that kept it from coming (never cached)."""

    text: str = ""
    error: str = ""
    cached: bool = False


class LiveTeacher:
    """``openai:MODEL@URL`` with a cache. ``sample`` returns ``samples`` answers per prompt."""

    def __init__(self, model: str, url: str, settings: LiveSettings) -> None:
        settings.check()
        self.model, self.url, self.settings = model, url, settings
        self.cache = ResponseCache(settings.cache_path())
        self.requests = 0  # sent this run (cache misses)

    def _client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self.url,
            api_key=os.environ.get("OPENAI_API_KEY", "not-needed"),
            timeout=self.settings.timeout_s,
            max_retries=self.settings.retries,
        )

    def params(self) -> dict[str, Any]:
        s = self.settings
        return {"temperature": s.temperature, "max_tokens": s.max_tokens}

    def sample(self, prompts: list[list[dict[str, str]]]) -> list[list[Sample]]:
        return asyncio.run(self._sample(prompts))

    async def _sample(self, prompts: list[list[dict[str, str]]]) -> list[list[Sample]]:
        params = self.params()
        out = [[Sample() for _ in range(self.settings.samples)] for _ in prompts]
        todo: dict[str, tuple[list[dict[str, str]], int, list[tuple[int, int]]]] = {}
        for i, messages in enumerate(prompts):
            for j in range(self.settings.samples):
                key = ResponseCache.key(self.model, messages, params, j)
                hit = self.cache.get(key)
                if hit is not None:
                    out[i][j] = Sample(text=hit["text"], cached=True)
                else:  # the same prompt twice is asked once
                    todo.setdefault(key, (messages, j, []))[2].append((i, j))
        if not todo:
            return out
        client = self._client()
        try:
            await self._reachable(client)
            gate = asyncio.Semaphore(self.settings.concurrency)

            async def one(key: str, messages: list[dict[str, str]], j: int, at: list) -> None:
                async with gate:
                    sample = await self._ask(client, key, messages, params, j)
                for i, jj in at:
                    out[i][jj] = sample

            await asyncio.gather(*(one(k, m, j, at) for k, (m, j, at) in todo.items()))
        finally:
            await client.close()
        return out

    async def _reachable(self, client: Any) -> None:
        from training.verify_traces import TeacherError

        try:
            await client.with_options(timeout=10.0, max_retries=1).models.list()
        except Exception as exc:
            raise TeacherError(
                f"teacher {self.url} is not reachable: {type(exc).__name__}: {exc}"
            ) from None

    async def _ask(
        self, client: Any, key: str, messages: list[dict[str, str]], params: dict[str, Any],
        index: int,
    ) -> Sample:  # fmt: skip
        import openai

        self.requests += 1
        try:
            r = await client.chat.completions.create(
                model=self.model, messages=messages, seed=index, **params
            )
            text = r.choices[0].message.content
            if not isinstance(text, str):
                raise ValueError("the answer has no message content")
        except (openai.APIError, ValueError, TypeError, AttributeError, IndexError) as exc:
            return Sample(error=f"{type(exc).__name__}: {str(exc)[:200]}")
        usage = r.usage
        tokens = {
            "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
        }
        self.cache.put(key, text, tokens)
        return Sample(text=text)


def gsm8k_candidates(
    teacher: str, path: Path, limit: int | None, settings: LiveSettings
) -> Iterator[Any]:
    """Programs the live teacher writes for GSM8K train questions (the agent's own ``pad``
    prompt), ``settings.samples`` per question, each a candidate for the one verifier."""
    from agent import render
    from agent.spec import parse_spec
    from training.data import Provenance
    from training.verify_traces import Candidate, _row, sha256_file

    spec = parse_spec(teacher)
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                break
            rows.append((number, _row(path, number, line)))
    live = LiveTeacher(spec.name, str(spec.url), settings)
    prompts = [render.formulate_messages("pad", str(row.get("question", ""))) for _, row in rows]
    answers = live.sample(prompts)
    prov = Provenance(
        teacher=teacher, file=str(path), sha256=sha256_file(path),
        licence=f"MIT (openai/grade-school-math questions); programs by {spec.name}",
    )  # fmt: skip
    for (number, row), samples in zip(rows, answers, strict=True):
        item_id = str(row.get("id", f"gsm8k-train-{number - 1}"))
        for j, s in enumerate(samples):
            yield Candidate(
                source=teacher, task="gsm8k", item_id=item_id, mode="pad",
                program=render.extract_program(s.text, "python") if s.text else "",
                gold=row.get("answer"), reason="teacher_error" if s.error else None,
                question=str(row.get("question", "")), group=item_id, provenance=prov,
                note=s.error or (f"sample {j}" if len(samples) > 1 else ""),
            )  # fmt: skip
    cached = sum(s.cached for ss in answers for s in ss)
    print(f"{teacher}: {live.requests} requests sent, {cached} answers from the cache "
          f"({live.cache.path})", file=sys.stderr)  # fmt: skip
