"""Micro-batching: concurrent ``generate`` calls from many graph runs become one batch.

``Agent.ask_many`` runs one graph per question in a thread pool (LangGraph's ``batch``).
Each formulate/repair node calls ``generate`` with one prompt; this wrapper collects the
calls that arrive within a few milliseconds, groups those with the same decoding
parameters, and runs each group as one left-padded batch on the model. That is where the
throughput comes from: on a CPU, a batch of 16 costs little more than one sequence.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any


@dataclass
class _Request:
    prompts: list[Any]
    kwargs: dict[str, Any]
    future: Future[list[Any]] = field(default_factory=Future)

    def key(self) -> tuple[tuple[str, Any], ...]:
        return tuple(
            sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self.kwargs.items())
        )


class BatchingStudent:
    """Wraps a student; ``generate`` is thread-safe and batches across threads."""

    def __init__(self, student: Any, max_batch: int = 16, wait_s: float = 0.01) -> None:
        self.student = student
        self.name = student.name
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.batches: list[int] = []  # sizes of the batches run (for tests and benches)
        self._active = 0  # callers blocked in generate()
        self._lock = threading.Lock()
        self._queue: SimpleQueue[_Request] = SimpleQueue()
        self._worker = threading.Thread(target=self._loop, daemon=True, name="nesy-batcher")
        self._worker.start()

    def __getattr__(self, name: str) -> Any:
        """What the wrapper does not define is the wrapped student's (``uses_skills``,
        ``trained_exemplars``, ``tokenizer``, ...)."""
        if name == "student":  # not set yet (during __init__): no recursion
            raise AttributeError(name)
        return getattr(self.student, name)

    def interrupt(self) -> None:
        """Stop the wrapped student's decode in flight (when it supports that)."""
        if hasattr(self.student, "interrupt"):
            self.student.interrupt()

    def clear_interrupt(self) -> None:
        if hasattr(self.student, "clear_interrupt"):
            self.student.clear_interrupt()

    @property
    def decode_steps(self) -> int:
        """The wrapped student's decode steps so far (0 when it does not count them)."""
        return int(getattr(self.student, "decode_steps", 0))

    def generate(self, prompts: list[Any], **kwargs: Any) -> list[Any]:
        request = _Request(list(prompts), kwargs)
        with self._lock:
            self._active += 1
        try:
            self._queue.put(request)
            return request.future.result()
        finally:
            with self._lock:
                self._active -= 1

    def _loop(self) -> None:
        while True:
            pending = [self._queue.get()]
            size = len(pending[0].prompts)
            # Wait for company only when other callers are inside generate() too: a lone
            # caller (one ask, a chat) must not pay the batching window on every step.
            while size < self.max_batch and self._active > len(pending):
                try:
                    nxt = self._queue.get(timeout=self.wait_s)
                except Empty:
                    break
                pending.append(nxt)
                size += len(nxt.prompts)
            groups: dict[Any, list[_Request]] = {}
            for r in pending:
                groups.setdefault(r.key(), []).append(r)
            for group in groups.values():
                self._run(group)

    def _run(self, group: list[_Request]) -> None:
        prompts = [p for r in group for p in r.prompts]
        try:
            out = self.student.generate(prompts, **group[0].kwargs)
        except BaseException as exc:  # hand the error to every waiting caller
            for r in group:
                r.future.set_exception(exc)
            return
        self.batches.append(len(prompts))
        start = 0
        for r in group:
            r.future.set_result(out[start : start + len(r.prompts)])
            start += len(r.prompts)
