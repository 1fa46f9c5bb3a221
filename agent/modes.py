"""The agent's modes, importable without the graph (the CLI's flag parsers use them).

A mode names the prompt template the student formulates with, the solver that runs what it
writes, the fenced language of its reply, an optional rule library (the student writes
facts, the library reasons), the repair template and the answer type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from agent.normalize import AnswerType

MODES: tuple[str, ...] = (
    "auto", "pad", "socratic", "asp", "spatial", "prolog", "deductive", "direct",
)  # fmt: skip
RULES = Path(__file__).with_name("rules")


@dataclass(frozen=True)
class ModeSpec:
    template: str
    solver: str | None
    language: str  # of the fenced block
    rules: str | None = None
    answer_type: AnswerType = "number"
    repair: str = "repair_python"
    # The student translates the question a unit at a time (``agent.theory``), in one
    # batched call, and the graph assembles the program; else it writes the whole program.
    # "statement": sentences, the last judged true/false/unknown (query lines built from its
    # literal); "line": a unit per line, the question's clause kept as written; "story":
    # sentences grouped until a unit names two people, the question's clause kept as written.
    per_sentence: str = ""


MODE_SPECS: dict[str, ModeSpec] = {
    "pad": ModeSpec("pad", "python", "python"),
    "socratic": ModeSpec("pad", "python", "python"),
    # A family story a few sentences at a time (``agent.theory.story_units``): each unit's
    # rel/3 facts, the question's query/2, for kinship.lp.
    "asp": ModeSpec(
        "asp_kinship",
        "asp",
        "prolog",
        rules="kinship.lp",
        answer_type="label",
        repair="repair_asp",
        per_sentence="story",
    ),
    "spatial": ModeSpec(
        "asp_spatial_line",
        "asp",
        "prolog",
        rules="spatial.lp",
        answer_type="label",
        repair="repair_asp",
        per_sentence="line",
    ),
    "prolog": ModeSpec("prolog", "prolog", "prolog", answer_type="label", repair="repair_prolog"),
    "direct": ModeSpec("direct", None, "", answer_type="number"),
    # Logic-LM's form for ProofWriter/ProntoQA: facts and rules for proofwriter.lp, which
    # answers true/false/unknown (open world) or true/false (closed_world.). Replay and
    # verification of the recorded GPT-4 programs use it; the student writes it a sentence
    # at a time.
    "deductive": ModeSpec(
        "deductive_sentence",
        "asp",
        "prolog",
        rules="proofwriter.lp",
        answer_type="label",
        repair="repair_asp",
        per_sentence="statement",
    ),
}
TASK_MODES = {"math": "pad", "kinship": "asp", "deductive": "deductive", "spatial": "spatial"}
# What a direct (or fallback) answer is read as, by task type; a solver mode's own type wins.
TASK_ANSWER_TYPES: dict[str, AnswerType] = {
    "math": "number", "kinship": "label", "deductive": "label", "spatial": "label",
    "fol": "label", "yesno": "yesno", "other": "text",
}  # fmt: skip


@functools.lru_cache(maxsize=16)
def rule_library(name: str) -> str:
    """A rule library shipped in ``agent/rules/`` (kinship.lp, spatial.lp, proofwriter.lp)."""
    return (RULES / name).read_text()
