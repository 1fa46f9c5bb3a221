"""Verified traces as training data: the on-disk record, the filters (exact and
near-duplicate questions, length), the split by group key, and the SFT example rendered by
the agent's own renderer (``agent.render``), so the student trains on exactly the prompt
inference shows it.

    traces = read_traces("run/traces.jsonl")
    train, dev, dropped = select(traces, tokenizer, max_tokens=1024, dev_fraction=0.05)
    prompt, completion = render_example(train[0], tokenizer)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent import render, theory
from agent.modes import MODE_SPECS
from solvers.files import atomic_write
from solvers.records import Record

NEAR_DUPLICATE = 0.9  # cosine of word 1-3-gram counts between two questions


class Provenance(BaseModel):
    """Where a trace came from: the teacher, the file it read, that file's sha256, and the
    file's licence (from ``../shared/data/README.md``)."""

    model_config = ConfigDict(extra="forbid")

    teacher: str
    file: str
    sha256: str
    licence: str


class Trace(Record):
    """One teacher output after verification: kept, or rejected with a reason."""

    source: str
    task: str
    item_id: str
    group: str  # items sharing a group never straddle train and dev
    mode: str
    question: str
    program: str
    gold: Any = None
    answer: Any = None
    kept: bool
    reason: str | None = None
    provenance: Provenance
    split: str = ""  # train / dev once selected
    steps: list[str] = []  # socratic: the plan the decomposer is trained to emit
    difficulty: int | None = None  # the task's difficulty: hops, chain length, depth
    note: str = ""  # why the teacher's conversion failed, in its words


class DataError(ValueError):
    """A traces file that cannot be read; the message names the file and line."""


def write_traces(path: str | Path, traces: Iterable[Trace]) -> int:
    """Write traces as JSONL, atomically; returns how many."""
    n = 0
    with atomic_write(path) as f:
        for t in traces:
            f.write(t.model_dump_json() + "\n")
            n += 1
    return n


def read_traces(path: str | Path) -> list[Trace]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no traces file at {path}")
    out = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(Trace.model_validate_json(line))
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise DataError(f"{path}:{number}: not a trace record ({first})") from None
    return out


# --- rendering --------------------------------------------------------------------------------


def messages(trace: Trace, exemplars: str = "") -> render.Messages:
    """The prompt the agent's formulate node renders for this trace's question."""
    return render.formulate_messages(trace.mode, trace.question, exemplars=exemplars)


def without_comments(program: str, language: str) -> str:
    """The program less its whole-line comments (GSM8K's silver programs carry each human
    sentence, results included, as a comment; the student should compute, not recite)."""
    mark = {"python": "#", "asp": "%", "prolog": "%"}.get(language)
    if not mark:
        return program
    lines = [ln for ln in program.splitlines() if not ln.lstrip().startswith(mark)]
    return "\n".join(lines) + "\n"


def turns(
    trace: Trace, exemplars: str = "", strip_comments: bool = False
) -> list[tuple[render.Messages, str, str]]:
    """What the student learns from a trace, as (messages, prefill, reply) per graph node:
    the formulate node's program; for a Socratic trace also the decompose node's plan (its
    ``Step:`` lines), and the program written from that plan. A per-sentence mode's trace
    (``deductive``) teaches one example per sentence its program's comments name."""
    language = MODE_SPECS[trace.mode].language
    fence = f"```{language}\n"
    if MODE_SPECS[trace.mode].per_sentence:  # one example per sentence (agent.theory)
        return [
            (render.formulate_messages(trace.mode, sentence, exemplars), fence, f"{fence}{c}\n```")
            for sentence, c in theory.pairs(trace.program)
        ]
    program = without_comments(trace.program, language) if strip_comments else trace.program
    reply = f"{fence}{program.strip()}\n```"
    if trace.mode == "socratic" and trace.steps:
        return [
            (render.decompose_messages(trace.question), "", render.steps_text(trace.steps)),
            (
                render.formulate_messages(trace.mode, trace.question, exemplars, trace.steps),
                fence,
                reply,
            ),
        ]
    return [(messages(trace, exemplars), fence, reply)]


def _pair(tokenizer: Any, msgs: render.Messages, prefill: str, reply: str) -> tuple[str, str]:
    from agent.students.base import render_prompt

    shown = [*msgs, {"role": "assistant", "content": prefill}] if prefill else msgs
    prompt = render_prompt(tokenizer, shown)
    if tokenizer.chat_template:  # the whole turn, closed as the template closes it
        full = tokenizer.apply_chat_template(
            [*msgs, {"role": "assistant", "content": reply}], tokenize=False
        )
    else:
        full = prompt + reply[len(prefill) :] + (tokenizer.eos_token or "")
    if not full.startswith(prompt):
        raise DataError("the chat template does not extend the prompt the student sees")
    return prompt, full[len(prompt) :]


def render_examples(
    trace: Trace, tokenizer: Any, exemplars: str = "", strip_comments: bool = False
) -> list[tuple[str, str]]:
    """(prompt, completion) texts: the prompt exactly as the student runtime renders it
    (chat template, the graph's prefilled code fence), the completion the reply and the
    end-of-turn token."""
    return [_pair(tokenizer, *t) for t in turns(trace, exemplars, strip_comments)]


def render_example(
    trace: Trace, tokenizer: Any, exemplars: str = "", strip_comments: bool = False
) -> tuple[str, str]:
    """The formulate node's (prompt, completion): the last of ``render_examples``."""
    return render_examples(trace, tokenizer, exemplars, strip_comments)[-1]


def tokenize_examples(
    trace: Trace, tokenizer: Any, exemplars: str = "", strip_comments: bool = False
) -> list[dict[str, list[int]]]:
    """``input_ids`` and ``labels`` (-100 over the prompt: loss on the completion only).
    Prompt and completion are tokenized apart, as inference sees the prompt."""
    out = []
    for prompt, completion in render_examples(trace, tokenizer, exemplars, strip_comments):
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"]
        out.append({"input_ids": p + c, "labels": [-100] * len(p) + c})
    return out


def tokenize_example(
    trace: Trace, tokenizer: Any, exemplars: str = "", strip_comments: bool = False
) -> dict[str, list[int]]:
    """The formulate node's example (see ``tokenize_examples``)."""
    return tokenize_examples(trace, tokenizer, exemplars, strip_comments)[-1]


# --- selection --------------------------------------------------------------------------------


def near_duplicates(
    texts: Sequence[str], threshold: float = NEAR_DUPLICATE, keys: Sequence[str] | None = None
) -> list[int | None]:
    """For each text, the index of an earlier text it nearly duplicates (cosine of word
    1-3-gram counts >= ``threshold``, and the same ``keys`` entry when keys are given), else
    None. Sparse, so 10k texts take seconds."""
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer

    if not texts:
        return []
    vec = HashingVectorizer(ngram_range=(1, 3), n_features=1 << 20, norm="l2", alternate_sign=False)
    m = vec.transform(texts)
    out: list[int | None] = [None] * len(texts)
    block = 2048
    for start in range(0, len(texts), block):
        sims = (m[start : start + block] @ m.T).tocsr()
        for row in range(sims.shape[0]):
            i = start + row
            lo, hi = sims.indptr[row], sims.indptr[row + 1]
            cols, vals = sims.indices[lo:hi], sims.data[lo:hi]
            earlier = cols[(cols < i) & (vals >= threshold)]
            if keys is not None:
                earlier = earlier[[keys[int(j)] == keys[i] for j in earlier]]
            if earlier.size:
                out[i] = int(np.min(earlier))
    return out


def dev_bucket(group: str, fraction: float) -> bool:
    """Whether a group key falls in the dev split: a hash, so stable across runs and files
    (the bench's hold-out tasks use the same one, ``bench.tasks.base.in_holdout``)."""
    from bench.tasks.base import in_holdout

    return in_holdout(group, fraction)


def select(
    traces: Sequence[Trace],
    tokenizer: Any = None,
    max_tokens: int = 1024,
    dev_fraction: float = 0.05,
    exemplars: str = "",
) -> tuple[list[Trace], list[Trace], list[Trace]]:
    """Kept traces -> (train, dev, dropped). Dropped ones get ``reason`` ``duplicate`` (an
    earlier question nearly the same, within a task, *and* the same program: questions on
    one context share most of their words yet ask different things, which their programs
    tell apart) or ``too_long`` (the rendered example over ``max_tokens``); the split is by
    group key."""
    kept = [t for t in traces if t.kept]
    dropped: list[Trace] = []
    survivors: list[Trace] = []
    by_task: dict[str, list[Trace]] = {}
    for t in kept:
        by_task.setdefault(t.task, []).append(t)
    for group in by_task.values():
        dup = near_duplicates(
            [" ".join(t.question.lower().split()) for t in group],
            keys=[" ".join(t.program.split()) for t in group],
        )
        for t, d in zip(group, dup, strict=True):
            if d is None:
                survivors.append(t)
            else:
                dropped.append(t.model_copy(update={"kept": False, "reason": "duplicate"}))
    train, dev = [], []
    for t in survivors:
        if (
            tokenizer is not None
            and max(len(ex["input_ids"]) for ex in tokenize_examples(t, tokenizer, exemplars))
            > max_tokens
        ):
            dropped.append(t.model_copy(update={"kept": False, "reason": "too_long"}))
            continue
        if dev_bucket(t.group, dev_fraction):
            dev.append(t.model_copy(update={"split": "dev"}))
        else:
            train.append(t.model_copy(update={"split": "train"}))
    return train, dev, dropped


# --- NesyCD: verified traces as KB exemplars ------------------------------------------------

DOMAINS = {"gsm8k": "math", "aqua": "math", "proofwriter": "deductive", "prontoqa": "deductive"}


def to_items(traces: Iterable[Trace]) -> list[Any]:
    """Kept *train-split* traces (or unsplit ones) as KB exemplar items; dev items never
    enter a KB, so no dev example can retrieve itself or a neighbour from dev."""
    from kb.models import KnowledgeItem
    from kb.models import Provenance as KBProvenance

    out = []
    for t in traces:
        if not t.kept or t.split == "dev":
            continue
        out.append(
            KnowledgeItem(
                kind="exemplar",
                text=t.question,
                program=t.program,
                syntax=MODE_SPECS[t.mode].language,
                domain=DOMAINS.get(t.task, t.task),
                tags=[t.task, t.source, "verified-trace"],
                verified=True,
                provenance=KBProvenance(
                    source=f"{t.provenance.file}#{t.item_id}", teacher=t.provenance.teacher
                ),
            )
        )
    return out


def to_kb(traces: Iterable[Trace], kb_path: str | Path) -> int:
    """Add verified traces to a KB as exemplars (``nesy distill verify --to-kb``)."""
    from kb.store import KnowledgeBase

    with KnowledgeBase(Path(kb_path)) as kb:
        return kb.add(to_items(traces))


def shots_for(trace: Trace, pool: Sequence[Any], k: int, exclude: set[str]) -> list[Any]:
    """``k`` exemplars for rendering ``trace``: never its own item, never a dev item
    (``exclude`` holds the dev ids), matched by the ``#item_id`` of the item's source."""
    out = []
    for item in pool:
        ref = item.provenance.source.rpartition("#")[2]
        if ref == trace.item_id or ref in exclude:
            continue
        out.append(item)
        if len(out) == k:
            break
    return out
