"""Live teachers writing programs for the train questions: ``openai:MODEL@URL``, any
OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, OpenAI, ``nesy serve``), or a
local model, ``hf:PATH`` (a GGUF file loads through transformers' ``gguf_file``) or
``ct2:PATH``, batched on the CPU or a GPU with the agent's own prompt and prefill.

Requests go out concurrently (``asyncio``, at most ``concurrency`` in flight) through the
``openai`` client, which retries connection errors, timeouts, 429s and 5xx with exponential
backoff and honours ``Retry-After``. Every answer is appended to an on-disk cache (JSONL,
flushed and fsynced per line) keyed by the model, the messages and the sampling settings
with the sample's index (its seed), so a re-run never pays twice and a killed run resumes where it
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
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
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
    usage: dict[str, int] = field(default_factory=dict)


Todo = dict[str, tuple[list[dict[str, str]], int, list[tuple[int, int]]]]
Deliver = Callable[[str, Sample], None]


class CachedTeacher:
    """Cache lookups shared by the backends: ``sample`` returns ``samples`` answers per
    prompt, asking the backend (``_answer``) only for what the cache lacks, each distinct
    (prompt, sample index) once."""

    def __init__(self, name: str, settings: LiveSettings) -> None:
        settings.check()
        self.name, self.settings = name, settings
        self.cache = ResponseCache(settings.cache_path())
        self.requests = 0  # answers asked for this run (cache misses)

    def params(self) -> dict[str, Any]:
        s = self.settings
        return {"temperature": s.temperature, "max_tokens": s.max_tokens}

    def sample(self, prompts: list[list[dict[str, str]]]) -> list[list[Sample]]:
        params = self.params()
        out = [[Sample() for _ in range(self.settings.samples)] for _ in prompts]
        todo: Todo = {}
        for i, messages in enumerate(prompts):
            for j in range(self.settings.samples):
                key = ResponseCache.key(self.name, messages, params, j)
                hit = self.cache.get(key)
                if hit is not None:
                    out[i][j] = Sample(text=hit["text"], cached=True)
                else:  # the same prompt twice is asked once
                    todo.setdefault(key, (messages, j, []))[2].append((i, j))
        if todo:
            self.requests += len(todo)

            def deliver(key: str, sample: Sample) -> None:
                """Cached as it comes, so a run killed midway keeps what it was answered."""
                if not sample.error:
                    self.cache.put(key, sample.text, sample.usage)
                for i, j in todo[key][2]:
                    out[i][j] = sample

            self._answer(todo, params, deliver)
        return out

    def _answer(self, todo: Todo, params: dict[str, Any], deliver: Deliver) -> None:
        """Answer every key of ``todo``, handing each answer to ``deliver`` as it comes."""
        raise NotImplementedError


class LocalTeacher(CachedTeacher):
    """``hf:PATH`` or ``ct2:PATH`` (GGUF through ``hf:``): a local model, batched, on the CPU
    or a GPU; the reply continues the prefilled code fence, as the student's does."""

    def __init__(self, spec: str, settings: LiveSettings, batch_size: int = 8) -> None:
        super().__init__(spec, settings)
        self.batch_size = batch_size
        self._student: Any = None

    def _answer(self, todo: Todo, params: dict[str, Any], deliver: Deliver) -> None:
        from agent import render
        from agent.students import load_student

        if self._student is None:
            self._student = load_student(self.name)
        keys = sorted(todo, key=lambda k: todo[k][1])  # one seed (the sample index) a batch
        for start in range(0, len(keys), self.batch_size):
            batch = keys[start : start + self.batch_size]
            for j in sorted({todo[k][1] for k in batch}):
                part = [k for k in batch if todo[k][1] == j]
                gens = self._student.generate(
                    [render.with_prefill(todo[k][0], "python") for k in part],
                    max_new_tokens=params["max_tokens"], temperature=params["temperature"],
                    seed=j, stop=render.STOP,
                )  # fmt: skip
                for k, g in zip(part, gens, strict=True):
                    usage = {"prompt_tokens": g.prompt_tokens,
                             "completion_tokens": g.completion_tokens}  # fmt: skip
                    deliver(k, Sample(text=f"```python\n{g.text}\n```", usage=usage))


class LiveTeacher(CachedTeacher):
    """``openai:MODEL@URL``: requests in flight at once up to ``concurrency``."""

    def __init__(self, model: str, url: str, settings: LiveSettings) -> None:
        super().__init__(model, settings)
        self.model, self.url = model, url

    def _client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self.url,
            api_key=os.environ.get("OPENAI_API_KEY", "not-needed"),
            timeout=self.settings.timeout_s,
            max_retries=self.settings.retries,
        )

    def _answer(self, todo: Todo, params: dict[str, Any], deliver: Deliver) -> None:
        asyncio.run(self._answer_all(todo, params, deliver))

    async def _answer_all(self, todo: Todo, params: dict[str, Any], deliver: Deliver) -> None:
        client = self._client()
        try:
            await self._reachable(client)
            gate = asyncio.Semaphore(self.settings.concurrency)

            async def one(key: str, messages: list[dict[str, str]], j: int) -> None:
                async with gate:
                    deliver(key, await self._ask(client, messages, params, j))

            await asyncio.gather(*(one(k, m, j) for k, (m, j, _) in todo.items()))
        finally:
            await client.close()

    async def _reachable(self, client: Any) -> None:
        from training.verify_traces import TeacherError

        try:
            await client.with_options(timeout=10.0, max_retries=1).models.list()
        except Exception as exc:
            raise TeacherError(
                f"teacher {self.url} is not reachable: {type(exc).__name__}: {exc}"
            ) from None

    async def _ask(
        self, client: Any, messages: list[dict[str, str]], params: dict[str, Any], index: int
    ) -> Sample:
        import openai

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
        return Sample(text=text, usage=tokens)


def gsm8k_candidates(
    teacher: str, path: Path, limit: int | None, settings: LiveSettings,
    pick: Collection[int] | None = None,
) -> Iterator[Any]:  # fmt: skip
    """Programs the live teacher writes for GSM8K train questions (the agent's own ``pad``
    prompt), ``settings.samples`` per question, each a candidate for the one verifier.
    ``pick``: only these (1-based) lines of the file."""
    from agent import render
    from agent.spec import parse_spec
    from training.verify_traces import Candidate, _row, provenance

    spec = parse_spec(teacher)
    live: CachedTeacher = (
        LiveTeacher(spec.name, str(spec.url), settings)
        if spec.kind == "openai"
        else LocalTeacher(teacher, settings)
    )
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                break
            if pick is None or number in pick:
                rows.append((number, _row(path, number, line)))
    prompts = [render.formulate_messages("pad", str(row.get("question", ""))) for _, row in rows]
    answers = live.sample(prompts)
    prov = provenance(teacher, path).model_copy(
        update={"licence": f"MIT (openai/grade-school-math questions); programs by {spec}"}
    )
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
    print(f"{teacher}: {live.requests} answers asked for, {cached} from the cache "
          f"({live.cache.path})", file=sys.stderr)  # fmt: skip
