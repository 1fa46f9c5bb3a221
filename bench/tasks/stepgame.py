"""StepGame (spatial, answer type ``label``; difficulty ``k_hop``).

File: ``stepgame/test_k1-3_first1000.jsonl`` (EVAL ONLY), dev/train ``stepgame/valid_k1-10.jsonl``.
Fields: ``id``, ``story`` (a list of sentences), ``question``, ``label``, ``k_hop``; or the
original release, a JSON object of ``{"0": {"story", "question", "label", "k_hop"}, ...}``.
The question a system sees is the story, one sentence per line, then the question. The
agent's ``spatial`` mode (``auto`` picks it) has the student write ``rel/3`` facts and
``agent/rules/spatial.lp`` place the agents.

``learn_templates`` / ``story_facts``: StepGame's ~200 sentence templates, learned from
1-hop items (the one sentence naming both asked agents carries the label), turn a story into
the facts the rule library reads: a symbolic parser, used as the library's oracle and as a
teacher of verified spatial facts.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tasks.base import Item, Task

LABELS = (
    "left", "right", "above", "below", "lower-left", "lower-right", "upper-left",
    "upper-right", "overlap",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class StepGame(Task):
    def rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
        if path.suffix != ".json":
            yield from super().rows(path)
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield exc.lineno, f"invalid JSON ({exc.msg})"
            return
        for i, (key, row) in enumerate(data.items(), 1):
            ok = isinstance(row, dict)
            yield i, {"id": f"{path.stem}-{key}", **row} if ok else "not a JSON object"

    def parse(self, row: dict[str, Any], line: int) -> Item:
        story = row["story"]
        if not isinstance(story, list):
            raise ValueError("story must be a list of sentences")
        label = str(row["label"]).strip().lower()
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        question = "\n".join(s.strip() for s in story) + "\n" + str(row["question"]).strip()
        sid = str(row["id"])
        return Item(
            id=f"{self.name}/{sid}",
            question=question,
            gold=label,
            difficulty=int(row["k_hop"]),
            group=sid,
            meta={"story": story, "query": row["question"]},
        )


TASK = StepGame(
    name="stepgame",
    domain="spatial",
    answer_type="label",
    files={"test": "stepgame/test_k1-3_first1000.jsonl", "train": "stepgame/valid_k1-10.jsonl"},
    fewshot_split="train",
    bundled_fewshot="stepgame/valid_fewshot.jsonl",
    labels=LABELS,
    licence="MIT",
    description="2-D spatial relations over k-hop stories",
)


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


def learn_templates(items: Iterable[Item]) -> dict[str, str]:
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


def story_facts(item: Item, templates: dict[str, str]) -> tuple[str, int]:
    """ASP facts for ``agent/rules/spatial.lp`` and the number of sentences not understood."""
    lines, unknown = [], 0
    for sentence in item.meta["story"]:
        text, agents = template(sentence)
        relation = templates.get(text)
        if relation is None or len(agents) != 2:
            unknown += 1
            continue
        lines.append(f'rel("{agents[0]}", {relation.replace("-", "_")}, "{agents[1]}").')
    pair = query_agents(item.meta["query"])
    if pair:
        lines.append(f'query("{pair[0]}", "{pair[1]}").')
    return "\n".join(lines) + "\n", unknown
