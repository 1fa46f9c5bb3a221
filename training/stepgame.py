"""``silver:stepgame``: StepGame stories as the ``rel/3`` facts ``agent/rules/spatial.lp``
reads, by a symbolic parser of StepGame's sentence templates; kept only when the rule
library, given those facts, answers the item's gold label.

The parser: StepGame's ~200 sentence templates are learned from its 1-hop items (the one
sentence naming both asked agents carries the label), then each story sentence is matched
to its template. A sentence it does not know makes the item a ``parse_error`` that names
the sentence. Read from ``stepgame/valid_k1-10.jsonl`` only; the test file is EVAL ONLY.

    nesy distill verify --teacher silver:stepgame --data ../shared/data
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from agent import theory

SOURCE = "stepgame/valid_k1-10.jsonl"
TEST_FILE = "test_k1-3_first1000.jsonl"

_AGENT = re.compile(r"\b[A-Z]\b")
_QUERY = re.compile(r"agent (\w+) to the agent (\w+)")
INVERSE = {
    "left": "right", "right": "left", "above": "below", "below": "above",
    "upper-left": "lower-right", "lower-right": "upper-left", "upper-right": "lower-left",
    "lower-left": "upper-right", "overlap": "overlap",
}  # fmt: skip


def template(sentence: str) -> tuple[str, list[str]]:
    """``"K is left of D."`` -> ``("{0} is left of {1}.", ["K", "D"])`` (agents in order)."""
    agents: list[str] = []
    for a in _AGENT.findall(sentence):
        if a not in agents:
            agents.append(a)
    text = _AGENT.sub(lambda m: "{" + str(agents.index(m.group(0))) + "}", sentence.strip())
    return text, agents


def query_agents(question: str) -> tuple[str, str] | None:
    m = _QUERY.search(question)
    return (m.group(1), m.group(2)) if m else None


def learn_templates(items: Iterable[Any]) -> dict[str, str]:
    """Template -> the relation of its first agent to its second, by majority over 1-hop
    items (whose one sentence naming both asked agents carries the label)."""
    votes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for it in items:
        pair = query_agents(it.meta["query"])
        if it.difficulty != 1 or pair is None:
            continue
        naming = [template(s) for s in it.meta["story"]]
        naming = [(text, agents) for text, agents in naming if set(agents) == set(pair)]
        if len(naming) != 1:  # the label is only that sentence's when it is the only one
            continue
        text, agents = naming[0]
        votes[text][it.gold if agents[0] == pair[0] else INVERSE[it.gold]] += 1
    return {t: c.most_common(1)[0][0] for t, c in votes.items()}


def parse_story(item: Any, templates: dict[str, str]) -> tuple[str, list[str]]:
    """ASP facts for ``agent/rules/spatial.lp``, each with its story line as a comment (the
    per-line student trains on those pairs, ``agent.theory``), and the templates of the
    sentences not understood."""
    lines, unknown = [], []
    for sentence in item.meta["story"]:
        text, agents = template(sentence)
        relation = templates.get(text)
        if relation is None or len(agents) != 2:
            unknown.append(text)
            continue
        fact = f'rel("{agents[0]}", {relation.replace("-", "_")}, "{agents[1]}").'
        lines.append(theory.comment(fact, sentence))
    pair = query_agents(item.meta["query"])
    if pair:
        lines.append(theory.comment(f'query("{pair[0]}", "{pair[1]}").', item.meta["query"]))
    return "\n".join(lines) + "\n", unknown


def story_facts(item: Any, templates: dict[str, str]) -> tuple[str, int]:
    """ASP facts and the number of sentences not understood (the rule library's oracle)."""
    facts, unknown = parse_story(item, templates)
    return facts, len(unknown)


def interleaved(items: list[Any]) -> list[Any]:
    """Items taken one hop count at a time (k=1, 2, ..., 10, then again), so that the first
    N records of the teacher cover every hop count."""
    by_hop: dict[int, list[Any]] = collections.defaultdict(list)
    for it in items:
        by_hop[int(it.difficulty)].append(it)
    out: list[Any] = []
    queues = [by_hop[k] for k in sorted(by_hop)]
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def candidates(data: Path, limit: int | None, provenance: Any) -> Iterator[dict[str, Any]]:
    """The teacher's records, as keyword arguments of ``training.verify_traces.Candidate``."""
    from bench.tasks.stepgame import TASK

    items = TASK.load(data / SOURCE)
    templates = learn_templates(items)
    for n, it in enumerate(interleaved(items)):
        if limit is not None and n >= limit:
            return
        facts, unknown = parse_story(it, templates)
        yield {
            "source": "silver:stepgame",
            "task": "stepgame",
            "item_id": it.group,  # the id in the file: the bench names the item stepgame/ID
            "mode": "spatial",
            "program": facts,
            "gold": it.gold,
            "reason": "parse_error" if unknown else None,
            "question": it.question,
            "group": it.group,
            "provenance": provenance,
            "difficulty": int(it.difficulty),
            "note": f"unknown sentence: {unknown[0]}" if unknown else "",
        }
