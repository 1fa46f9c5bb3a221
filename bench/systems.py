"""The systems a benchmark scores, by spec.

- ``agent:default`` / ``agent:PATH`` / ``agent:hf:…`` / ``agent:openai:…``: our agent
  (``Agent.ask_many``) with a student; ``--mode`` picks the graph mode (default: the task's).
- ``hf:PATH``, ``openai:MODEL@URL``, ``default``: a model prompted directly, few-shot
  (``--num-fewshot``, ``--apply-chat-template``, ``--gen-kwargs``): the baseline.
- ``replay:FILE``: recorded teacher outputs on the same items. Programs are re-executed with
  the solvers; the file's own correctness flags are never read.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.records import FailureClass, ModelCard
from agent.students import read_card
from agent.verify import vote
from bench.tasks import Item, Task
from bench.tasks.base import jsonl_rows

Prompt = str | list[dict[str, str]]


class SystemError(ValueError):
    """A system spec or option that cannot work; the message says why."""


@dataclass
class Prediction:
    answer: Any
    grounded: bool = False
    failure: FailureClass | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repairs: int = 0
    latency_s: float = 0.0
    prompts: list[Any] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class Options:
    mode: str | None = None
    kb: str | None = None
    maj_k: int = 1
    num_fewshot: int = 0
    apply_chat_template: bool = False
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    data: str | None = None
    device: str = "auto"
    agent_args: dict[str, Any] = field(default_factory=dict)


def parse_agent_args(text: str | None) -> dict[str, Any]:
    """``"max_repairs=0,syntax_retries=0"`` -> AgentConfig overrides (like lm-eval's
    ``--model_args``); unknown names are an error listing the known ones."""
    import dataclasses

    from agent.graph import AgentConfig

    known = {f.name: f.type for f in dataclasses.fields(AgentConfig)}
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in known or key in ("mode", "task"):
            raise SystemError(
                f"bad --agent-args entry {part!r}; use key=value with keys "
                f"{sorted(k for k in known if k not in ('mode', 'task'))} (--mode sets the mode)"
            )
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value.strip()
    return out


def parse_gen_kwargs(text: str | None) -> dict[str, Any]:
    """``"temperature=0.7,max_new_tokens=128"`` -> a dict (numbers parsed), as lm-eval does."""
    allowed = {"temperature", "top_p", "max_new_tokens", "max_gen_toks", "do_sample", "until"}
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in allowed:
            raise SystemError(
                f"bad --gen-kwargs entry {part!r}; use key=value with keys {sorted(allowed)}"
            )
        v: Any = value.strip()
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            pass
        out["max_new_tokens" if key.strip() == "max_gen_toks" else key.strip()] = v
    return out


# --- agent ------------------------------------------------------------------------------------


class AgentSystem:
    def __init__(self, spec: str, opts: Options) -> None:
        from agent.api import Agent

        student = spec.split(":", 1)[1] or "default"
        if student != "default" and not student.startswith(("hf:", "openai:", "ct2:")):
            student = f"hf:{student}"
        self.name = spec
        self.opts = opts
        kb: Any = None if opts.kb in (None, "none") else opts.kb
        self.agent = Agent.load(
            student,
            kb=kb,
            device=opts.device,
            **{"vote_k": opts.maj_k, "seed": opts.seed, **opts.agent_args},
        )
        self.student_spec = student

    def card(self) -> ModelCard | None:
        return read_card(self.student_spec)

    def predict(self, task: Task, items: list[Item]) -> list[Prediction]:
        import dataclasses

        mode = self.opts.mode or task.mode
        self.agent.set_config(dataclasses.replace(self.agent.config, mode=mode, task=task.domain))
        t = time.perf_counter()
        answers = self.agent.ask_many([it.question for it in items], task=task.domain)
        each = (time.perf_counter() - t) / max(1, len(items))
        out = []
        for it, a in zip(items, answers, strict=True):
            answer = a.answer
            if task.labels and isinstance(answer, str) and answer not in task.labels:
                answer = task.extract(answer)  # a direct answer in free text
            out.append(
                Prediction(
                    answer=answer,
                    grounded=a.grounded,
                    failure=a.failure,
                    prompt_tokens=a.usage.prompt_tokens,
                    completion_tokens=a.usage.completion_tokens,
                    repairs=a.usage.repairs,
                    latency_s=a.usage.seconds or each,
                    prompts=[
                        {
                            "question": it.question,
                            "prompt_id": a.trace.prompt_id,
                            "mode": a.trace.mode,
                            # what the solver ran and each step's one line, to read a
                            # wrong answer from the log alone
                            "programs": a.trace.programs,
                            "steps": [f"{s.node}: {s.text}" for s in a.steps],
                        }
                    ],  # fmt: skip
                    outputs=a.trace.raw_outputs,
                )
            )
        return out

    def close(self) -> None:
        kb = getattr(self.agent, "kb", None)
        if kb is not None and hasattr(kb, "close"):
            kb.close()


# --- a model prompted directly ------------------------------------------------------------------

INSTRUCTIONS = {
    "number": 'Solve the problem. End with "The answer is N." where N is a number.',
    "label": 'Answer with one of: {labels}. End with "The answer is X."',
    "yesno": 'Answer yes or no. End with "The answer is yes." or "The answer is no."',
}


class DirectSystem:
    """Few-shot prompting of a model, lm-evaluation-harness style; answers are not grounded."""

    def __init__(self, spec: str, opts: Options, results: Any = None) -> None:
        from agent.students import load_student

        self.name = spec
        self.opts = opts
        self.results = results  # the LM request cache lives in the results database
        self.student = load_student(spec, device=opts.device)
        self.spec = spec

    def card(self) -> ModelCard | None:
        return read_card(self.spec)

    def _exemplars(self, task: Task) -> list[Item]:
        k = self.opts.num_fewshot
        pool = task.fewshot_pool(self.opts.data) if k > 0 else []
        if k > 0 and not pool:
            raise SystemError(f"--num-fewshot {k}: {task.name} has no few-shot exemplars")
        return random.Random(self.opts.seed).sample(pool, min(k, len(pool)))

    def prompt(self, task: Task, item: Item, shots: list[Item]) -> Prompt:
        labels = ", ".join(task.labels)
        instruction = INSTRUCTIONS.get(task.answer_type, "").format(labels=labels)
        if self.opts.apply_chat_template:
            messages = [{"role": "system", "content": instruction}]
            for s in shots:
                messages += [
                    {"role": "user", "content": s.question},
                    {"role": "assistant", "content": task.fewshot_answer(s)},
                ]
            return [*messages, {"role": "user", "content": item.question}]
        blocks = [f"Question: {s.question}\nAnswer: {task.fewshot_answer(s)}" for s in shots]
        return "\n\n".join([instruction, *blocks, f"Question: {item.question}\nAnswer:"])

    def predict(self, task: Task, items: list[Item]) -> list[Prediction]:
        shots = self._exemplars(task)
        prompts = [self.prompt(task, it, shots) for it in items]
        kwargs = {"max_new_tokens": 256, "temperature": 0.0, **self.opts.gen_kwargs}
        k = max(1, self.opts.maj_k)
        if k > 1 and not kwargs["temperature"]:
            kwargs["temperature"] = 0.7
        stop = kwargs.pop("until", None) or (
            None if self.opts.apply_chat_template else ["\n\nQuestion:", "\nQuestion:"]
        )
        kwargs.pop("do_sample", None)
        samples: list[list[Any]] = [[] for _ in items]
        for j in range(k):
            gens = self._generate(prompts, kwargs, stop, seed=self.opts.seed + j)
            for i, g in enumerate(gens):
                samples[i].append(g)
        out = []
        for item_samples, prompt in zip(samples, prompts, strict=True):
            texts = [g[0] for g in item_samples]
            answer, _ = vote([task.extract(t) for t in texts])
            out.append(
                Prediction(
                    answer=answer,
                    failure=FailureClass.parse_error if answer is None else None,
                    prompt_tokens=sum(g[1] for g in item_samples),
                    completion_tokens=sum(g[2] for g in item_samples),
                    latency_s=sum(g[4] for g in item_samples),
                    prompts=[prompt],
                    outputs=texts,
                )
            )
        return out

    def _generate(
        self, prompts: list[Prompt], kwargs: dict[str, Any], stop: list[str] | None, seed: int
    ) -> list[tuple[str, int, int, str, float]]:
        key_args = {**kwargs, "stop": stop, "seed": seed}
        keys = (
            [self.results.cache_key(self.student.name, p, key_args) for p in prompts]
            if (self.results)
            else []
        )
        hit = self.results.cached(keys) if self.results else {}
        todo = [i for i in range(len(prompts)) if not keys or keys[i] not in hit]
        fresh: dict[int, tuple[str, int, int, str, float]] = {}
        if todo:
            t = time.perf_counter()
            gens = self.student.generate([prompts[i] for i in todo], seed=seed, stop=stop, **kwargs)
            each = (time.perf_counter() - t) / len(todo)
            for i, g in zip(todo, gens, strict=True):
                fresh[i] = (g.text, g.prompt_tokens, g.completion_tokens, g.finish_reason, each)
            if self.results:
                self.results.cache([(keys[i], *fresh[i][:4]) for i in todo])
        return [fresh[i] if i in fresh else (*hit[keys[i]], 0.0) for i in range(len(prompts))]

    def close(self) -> None:
        pass


# --- replay of recorded teacher outputs -------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


class ReplaySystem:
    """Re-score a teacher's recorded outputs on the same items, re-executing programs."""

    def __init__(self, spec: str, opts: Options) -> None:
        path = Path(spec.split(":", 1)[1]).expanduser()
        if not path.is_file():
            raise SystemError(f"replay file {path} does not exist")
        self.name = f"replay:{path.name}"
        self.path = path
        self.opts = opts
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_text: dict[str, dict[str, Any]] = {}
        for number, row in jsonl_rows(path):
            if isinstance(row, str):
                raise SystemError(f"{path}:{number}: {row}")
            if "id" in row:
                self.by_id[str(row["id"])] = row
            text = row.get("question") or row.get("input")
            if isinstance(text, str):
                self.by_text.setdefault(_key(text.split("\n\n# solution")[0]), row)
                if "context" in row:
                    self.by_text.setdefault(_key(f"{row['context']}\n{text}"), row)

    def card(self) -> ModelCard | None:
        return None

    def covers(self, item: Item) -> bool:
        """Whether the file holds an output for this item (only those are scored)."""
        return self._find(item) is not None

    def _find(self, item: Item) -> dict[str, Any] | None:
        source_id = item.id.split("/", 1)[1]
        row = self.by_id.get(source_id)
        if row is not None:
            return row
        for text in (item.question, item.meta.get("story") or ""):
            if isinstance(text, str) and text:
                row = self.by_text.get(_key(text))
                if row is not None:
                    return row
        return None

    def predict(self, task: Task, items: list[Item]) -> list[Prediction]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as ex:
            return list(ex.map(lambda it: self._one(task, it), items))

    def _one(self, task: Task, item: Item) -> Prediction:
        t = time.perf_counter()
        row = self._find(item)
        if row is None:
            return Prediction(None, failure=FailureClass.parse_error, outputs=["<no record>"])
        try:
            pred = self._score(task, item, row)
        except (ValueError, KeyError) as exc:
            pred = Prediction(None, failure=FailureClass.parse_error, outputs=[str(exc)])
        pred.latency_s = time.perf_counter() - t
        return pred

    def _score(self, task: Task, item: Item, row: dict[str, Any]) -> Prediction:
        """Re-execute the recorded output through the one verifier (``agent.verify``)."""
        from agent import verify
        from agent.logiclm import ConversionError

        if "program" in row:  # PoT / PAL Python
            programs = verify.pot_programs(row)[: max(1, self.opts.maj_k)]
            return self._from_verdict(verify.run("pad", programs))
        if "raw_logic_programs" in row:  # Logic-LM
            closed = "unknown" not in task.labels
            try:
                facts = verify.logiclm_facts(row["raw_logic_programs"][0], closed_world=closed)
            except ConversionError as exc:
                raise ValueError(f"unconvertible logic program: {exc}") from None
            return self._from_verdict(verify.run("deductive", [facts]))
        if task.name == "clutrr" and isinstance(row.get("output"), str):  # LLM+ASP facts
            facts = verify.llm_asp_facts(row["output"], item.meta["query"])
            return self._from_verdict(verify.run("asp", [facts]))
        if isinstance(row.get("output"), str):  # a direct answer
            answer = task.extract(row["output"])
            return Prediction(
                answer, failure=None if answer is not None else FailureClass.parse_error,
                outputs=[row["output"]],
            )  # fmt: skip
        raise ValueError("record has no program, logic program or output")

    @staticmethod
    def _from_verdict(v: Any) -> Prediction:
        return Prediction(
            v.answer, grounded=v.grounded, failure=v.failure, prompts=[], outputs=v.programs
        )

    def close(self) -> None:
        pass


# --- loading --------------------------------------------------------------------------------


def load_system(spec: str, opts: Options, results: Any = None) -> Any:
    """Build the system a spec names; a bad spec gets a message listing the forms."""
    if spec.startswith("agent:"):
        return AgentSystem(spec, opts)
    if spec.startswith("replay:"):
        return ReplaySystem(spec, opts)
    if spec == "default" or spec.startswith(("hf:", "openai:", "ct2:")):
        return DirectSystem(spec, opts, results)
    raise SystemError(
        f"unknown system {spec!r}; use agent:default|PATH, hf:PATH, ct2:PATH, "
        "openai:MODEL@URL, default or replay:FILE"
    )
