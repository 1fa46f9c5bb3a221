"""``nesy serve``: an OpenAI-compatible server for the student or the whole agent.

    nesy serve --model default --port 8000          # bound to 127.0.0.1 unless --host
    curl http://127.0.0.1:8000/v1/models

Two models are served:
- ``nesy-agent``: the last user message is a question; the reply is the agent's answer
  (with ``grounded`` and the steps in a ``nesy`` field of the response);
- ``nesy-student``: plain chat completion by the student model.

FastAPI + uvicorn (well kept, async, streaming via server-sent events). ``stream=True`` on
``nesy-student`` sends tokens as they are decoded; on ``nesy-agent`` it sends the finished
answer (the steps run first). Limits: request body size, ``max_tokens``, and concurrent
requests (a semaphore, held by a stream until it ends: extra requests get 429).
Malformed requests get a 4xx with an OpenAI-style ``{"error": {...}}`` body.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

AGENT_MODEL = "nesy-agent"
STUDENT_MODEL = "nesy-student"


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send many optional fields

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False


def error_body(
    message: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def create_app(
    agent: Any,
    max_request_bytes: int = 1 << 20,
    max_tokens_cap: int = 2048,
    max_concurrency: int = 4,
) -> Any:
    # FastAPI reads handler annotations at runtime: Request must be a module-level name.
    app = FastAPI(title="nesy", version="0.1")
    slots = asyncio.Semaphore(max_concurrency)

    def fail(status: int, message: str, **kw: Any) -> JSONResponse:
        return JSONResponse(error_body(message, **kw), status_code=status)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        now = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": now, "owned_by": "nesy"}
                for m in (AGENT_MODEL, STUDENT_MODEL)
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.body()
        if len(body) > max_request_bytes:
            return fail(413, f"request body of {len(body)} bytes exceeds {max_request_bytes}")
        try:
            req = ChatRequest.model_validate(json.loads(body or b"null"))
        except json.JSONDecodeError as exc:
            return fail(400, f"request body is not valid JSON: {exc.msg}")
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"])
            return fail(400, f"{param}: {first['msg']}", param=param)
        if req.model not in (AGENT_MODEL, STUDENT_MODEL):
            return fail(
                404,
                f"model {req.model!r} does not exist; serving {AGENT_MODEL}, {STUDENT_MODEL}",
                param="model",
                code="model_not_found",
            )
        max_tokens = req.max_completion_tokens or req.max_tokens or min(256, max_tokens_cap)
        if max_tokens > max_tokens_cap:
            return fail(
                400,
                f"max_tokens {max_tokens} exceeds the server cap {max_tokens_cap}",
                param="max_tokens",
            )
        if slots.locked():
            return fail(
                429, f"server busy: {max_concurrency} requests in flight", kind="rate_limit_error"
            )
        student = getattr(agent.student, "student", agent.student)  # unwrap the batcher
        if req.stream and req.model == STUDENT_MODEL and hasattr(student, "stream"):
            await slots.acquire()  # held until the stream ends (or the client goes away)
            rid = f"chatcmpl-{uuid.uuid4().hex}"
            return StreamingResponse(
                _token_sse(rid, req.model, student, req, max_tokens, slots),
                media_type="text/event-stream",
            )
        async with slots:
            try:
                content, usage, extra = await asyncio.to_thread(_complete, agent, req, max_tokens)
            except ValueError as exc:
                return fail(400, str(exc))
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        if req.stream:
            return StreamingResponse(_sse(rid, req.model, content), media_type="text/event-stream")
        return {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": usage,
            **extra,
        }

    return app


def _complete(agent: Any, req: ChatRequest, max_tokens: int) -> tuple[str, dict[str, int], Any]:
    messages = [m.model_dump() for m in req.messages]
    if req.model == STUDENT_MODEL:
        stop = [req.stop] if isinstance(req.stop, str) else req.stop
        (g,) = agent.student.generate(
            [messages],
            max_new_tokens=max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            stop=stop,
        )
        usage = {
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "total_tokens": g.prompt_tokens + g.completion_tokens,
        }
        return g.text, usage, {}
    question = next((m.content for m in reversed(req.messages) if m.role == "user"), "")
    answer = agent.ask(question)
    mark = "grounded: a solver computed it" if answer.grounded else "not grounded"
    content = f"{answer.answer} ({mark})"
    usage = {
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "total_tokens": answer.usage.prompt_tokens + answer.usage.completion_tokens,
    }
    extra = {
        "nesy": {
            "answer": answer.answer,
            "grounded": answer.grounded,
            "failure": answer.failure.value if answer.failure else None,
            "steps": [s.model_dump(mode="json") for s in answer.steps],
        }
    }
    return content, usage, extra


def _chunk(rid: str, model: str, delta: dict[str, str], finish: str | None = None) -> str:
    data = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


async def _token_sse(
    rid: str, model: str, student: Any, req: ChatRequest, max_tokens: int, slot: Any
) -> AsyncIterator[str]:
    """The student's tokens as they are decoded (``stream=True`` on ``nesy-student``)."""
    from starlette.concurrency import iterate_in_threadpool

    stop = [req.stop] if isinstance(req.stop, str) else req.stop
    pieces = student.stream(
        [m.model_dump() for m in req.messages],
        max_new_tokens=max_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        stop=stop,
    )
    try:
        yield _chunk(rid, model, {"role": "assistant"})
        async for piece in iterate_in_threadpool(pieces):
            yield _chunk(rid, model, {"content": piece})
        yield _chunk(rid, model, {}, "stop")
        yield "data: [DONE]\n\n"
    finally:
        slot.release()


async def _sse(rid: str, model: str, content: str) -> AsyncIterator[str]:
    """A finished answer (the agent's) sent as a stream, for clients that always stream."""

    def chunk(delta: dict[str, str], finish: str | None = None) -> str:
        return _chunk(rid, model, delta, finish)

    yield chunk({"role": "assistant"})
    for start in range(0, len(content), 16):
        yield chunk({"content": content[start : start + 16]})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def serve(agent: Any, host: str = "127.0.0.1", port: int = 8000, **limits: Any) -> None:
    import uvicorn

    uvicorn.run(create_app(agent, **limits), host=host, port=port, log_level="info")
