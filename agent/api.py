"""The Python API: ``Agent.load(spec).ask(question)``.

Example:
    >>> from nesy import Agent
    >>> agent = Agent.load("default", mode="pad", kb="default")     # doctest: +SKIP
    >>> a = agent.ask("Tom has 3 apples and buys 4 more. How many apples does he have?")
    >>> a.answer, a.grounded                                         # doctest: +SKIP
    (7.0, True)
    >>> print(a.trace.to_jsonl())                                    # the row training reads
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from agent import verify
from agent.batching import BatchingStudent
from agent.graph import AgentConfig, State, build_graph
from agent.normalize import AnswerType
from agent.records import Answer, Attempt, FailureClass, Step, Trace, Usage
from solvers import SolverResult

MAX_QUESTION_CHARS = 20_000


def check_question(question: Any) -> str:
    if not isinstance(question, str):
        raise ValueError(f"a question must be text, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"the question is too long ({len(question)} > {MAX_QUESTION_CHARS} characters)"
        )
    return question.strip()


# Each step's checkpoint is saved before the next step starts, so a resumed run never redoes
# a step whose checkpoint was still in flight. LangGraph still hands the save to its per-run
# worker pool and waits for it; with one worker per question (``_run_config``) that measured
# cheaper per step than the default "async" (bench/perf/agent.py).
DURABILITY = "sync"


class Agent:
    """A student model driving the reasoning graph over the solvers and a KB.

    Args:
        student: a loaded student (``agent.students.load_student``).
        kb: a ``kb.KnowledgeBase`` (read-only is enough) for exemplars, or ``None``.
        config: ``AgentConfig``; keyword overrides go through ``Agent.load``.
        checkpoint: an SQLite file for LangGraph checkpoints; a run interrupted half-way
            resumes by thread id without redoing finished steps.
    """

    def __init__(
        self,
        student: Any,
        kb: Any = None,
        config: AgentConfig | None = None,
        checkpoint: str | Path | None = None,
        solver: Any = None,
    ) -> None:
        self.config = config or AgentConfig()
        self.solver = solver  # None: solvers.solve; benchmarks pass a timed one
        self.config.resolved_mode()  # validate early
        self.student = student if isinstance(student, BatchingStudent) else BatchingStudent(student)
        self.kb = kb
        self.checkpointer = None
        if checkpoint is not None:
            from langgraph.checkpoint.sqlite import SqliteSaver

            conn = sqlite3.connect(str(checkpoint), check_same_thread=False)
            try:
                # WAL + synchronous=NORMAL: a checkpoint per step without an fsync per step;
                # a crash loses at most the last steps, which a resume then redoes.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self.checkpointer = SqliteSaver(conn)
                self.checkpointer.setup()
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise ValueError(
                    f"checkpoint file {checkpoint} is unusable ({exc}); move it "
                    "away or pass another checkpoint path"
                ) from None
        self.graph = build_graph(self.student, kb, self.config, self.checkpointer, solver)
        # LangGraph's sync durability needs a checkpointer (it fails without one).
        self._durability = DURABILITY if self.checkpointer is not None else None

    @classmethod
    def load(
        cls,
        spec: str = "default",
        kb: Any = None,
        checkpoint: str | Path | None = None,
        device: str = "auto",
        **overrides: Any,
    ) -> Agent:
        """Load a student by spec (``default``, ``hf:PATH[+lora:A]``, ``openai:M@URL``).

        ``kb`` may be a path, ``"default"`` (the shipped KB) or a ``KnowledgeBase``;
        ``overrides`` are ``AgentConfig`` fields (``mode="pad"``, ``vote_k=5``, ...). A
        student trained by ``nesy distill`` runs with the prompt it was trained on: its model
        card's settings (the number of KB exemplars) are the defaults that overrides beat.
        """
        from agent.students import load_student, read_card, trained_settings

        unknown = set(overrides) - {f.name for f in dataclasses.fields(AgentConfig)}
        if unknown:
            raise ValueError(f"unknown agent option(s) {sorted(unknown)}")
        config = AgentConfig(**{**trained_settings(read_card(spec)), **overrides})
        if isinstance(kb, (str, Path)):
            from kb import KnowledgeBase, shipped

            kb = (
                shipped.open_default()
                if str(kb) == "default"
                else KnowledgeBase(kb, read_only=True)
            )
        student = load_student(spec, device=device)
        if "exemplars" in overrides and hasattr(student, "follow_trained_exemplars"):
            student.follow_trained_exemplars = False  # the user's number, for every mode
        return cls(student, kb, config, checkpoint)

    # --- running ---------------------------------------------------------------------------

    def _input(self, question: str, task: str | None) -> State:
        cfg = self.config if task is None else dataclasses.replace(self.config, task=task)
        return {
            "question": check_question(question),
            "task": cfg.task,
            "mode": cfg.resolved_mode(),
            "started": time.time(),
            "repairs": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
        }

    def _run_config(self, thread_id: str | None) -> dict[str, Any]:
        return {
            "recursion_limit": self.config.recursion_limit,
            # One question runs one node at a time; one worker is all LangGraph's background
            # checkpoint saves need (it otherwise starts several threads per run: about
            # 0.2 ms a step, bench/perf/agent.py). ask_many sets its own.
            "max_concurrency": 1,
            "configurable": {"thread_id": thread_id or uuid.uuid4().hex},
        }

    def ask(
        self,
        question: str,
        task: str | None = None,
        thread_id: str | None = None,
        item_id: str = "",
        gold: Any = None,
    ) -> Answer:
        """Answer one question; ``grounded`` is True only when a solver computed the answer
        from a program the student wrote (it says nothing about correctness)."""
        from langgraph.errors import GraphRecursionError

        state = self._input(question, task)
        try:
            final = self.graph.invoke(
                state, self._run_config(thread_id), durability=self._durability
            )
        except GraphRecursionError:
            raise RuntimeError(
                f"the reasoning graph exceeded {self.config.recursion_limit} steps for this "
                "question; raise AgentConfig.recursion_limit or lower max_repairs"
            ) from None
        return self._answer(final, item_id, gold)

    def resume(self, thread_id: str) -> Answer:
        """Finish an interrupted run from its last checkpoint, skipping finished steps."""
        if self.checkpointer is None:
            raise ValueError("resume needs an agent with a checkpoint file")
        final = self.graph.invoke(None, self._run_config(thread_id), durability=self._durability)
        return self._answer(final)

    async def aask(self, question: str, task: str | None = None) -> Answer:
        return await asyncio.to_thread(self.ask, question, task)

    def ask_many(
        self,
        questions: list[str],
        task: str | None = None,
        max_concurrency: int = 16,
        item_ids: list[str] | None = None,
        golds: list[Any] | None = None,
    ) -> list[Answer]:
        """Answer many questions, batching generation across them (the throughput path).
        With ``golds``, each trace's ``verified`` and verdict come from ``agent.verify``."""
        inputs = [self._input(q, task) for q in questions]
        configs = [{**self._run_config(None), "max_concurrency": max_concurrency} for _ in inputs]
        finals = self.graph.batch(inputs, configs, durability=self._durability)
        ids = item_ids or [""] * len(finals)
        gold = golds or [None] * len(finals)
        return [self._answer(f, i, g) for f, i, g in zip(finals, ids, gold, strict=True)]

    def stream(
        self, question: str, task: str | None = None, thread_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield ``{"node": name, "step": {...}}`` as each node finishes, then
        ``{"node": "done", "answer": Answer}``. Closing the iterator stops the run."""
        state = self._input(question, task)
        merged: dict[str, Any] = dict(state)
        run = self._run_config(thread_id)
        for update in self.graph.stream(
            state, run, stream_mode="updates", durability=self._durability
        ):
            for node, delta in update.items():
                for key, value in (delta or {}).items():
                    if key in ("steps", "raw_outputs", "attempts"):
                        merged[key] = merged.get(key, []) + value
                    elif key in ("prompt_tokens", "completion_tokens"):
                        merged[key] = merged.get(key, 0) + value
                    else:
                        merged[key] = value
                for step in (delta or {}).get("steps", []):
                    yield {"node": node, "step": step}
        yield {"node": "done", "answer": self._answer(merged)}

    def set_config(self, config: AgentConfig) -> None:
        """Switch mode or limits; the graph is rebuilt, the student and KB are kept."""
        config.resolved_mode()
        self.config = config
        self.graph = build_graph(self.student, self.kb, config, self.checkpointer, self.solver)

    def thread_ids(self) -> list[str]:
        """Thread ids with checkpoints, newest first (empty without a checkpoint file)."""
        if self.checkpointer is None:
            return []
        seen: dict[str, None] = {}
        for item in self.checkpointer.list(None):
            seen.setdefault(item.config["configurable"]["thread_id"], None)
        return list(seen)

    def draw_mermaid(self) -> str:
        return str(self.graph.get_graph().draw_mermaid())

    # --- records -----------------------------------------------------------------------------

    def _answer(self, final: dict[str, Any], item_id: str = "", gold: Any = None) -> Answer:
        steps = [Step.model_validate(s) for s in final.get("steps", [])]
        results = [SolverResult.model_validate(r) for r in final.get("results", [])]
        failure = final.get("failure")
        grounded = bool(final.get("grounded"))
        verified: bool | None = None
        verdict: Literal["accepted", "rejected", "unknown"] = "unknown"
        reason = FailureClass(failure) if failure else None
        if gold is not None:  # training's question, answered by the one verifier
            answer_type: AnswerType = final.get("answer_type") or "number"
            verified, reason = verify.against_gold(
                final.get("answer"), grounded, gold, answer_type, reason
            )
            verdict = "accepted" if verified else "rejected"
        trace = Trace(
            task=final.get("task", ""),
            item_id=item_id,
            gold=gold,
            question=final["question"],
            attempts=[Attempt.model_validate(a) for a in final.get("attempts", [])],
            model=self.student.name,
            prompt_id=final.get("prompt_id", ""),
            mode=final.get("mode", ""),
            raw_outputs=final.get("raw_outputs", []),
            programs=final.get("programs", []),
            sub_questions=final.get("sub_questions", []),
            results=results,
            answer=final.get("answer"),
            grounded=grounded,
            verified=verified,
            verdict=verdict,
            rejection_reason=reason,
        )
        usage = Usage(
            prompt_tokens=final.get("prompt_tokens", 0),
            completion_tokens=final.get("completion_tokens", 0),
            seconds=time.time() - final.get("started", time.time()),
            repairs=final.get("repairs", 0),
            solver_calls=sum(1 for s in steps if s.node == "solve"),
        )
        return Answer(
            answer=final.get("answer"),
            answer_type=final.get("answer_type", "none"),
            grounded=bool(final.get("grounded")),
            steps=steps,
            trace=trace,
            usage=usage,
            failure=FailureClass(failure) if failure else None,
        )
