"""``AgentConfig``: the knobs of one agent, in one place, each with its help text (the TRL
config style). The CLI's flags, ``nesy.toml``'s ``[agent]`` keys and their defaults are
read from here; nothing else repeats them.

Example:
    >>> AgentConfig(mode="pad").resolved_mode(), help_text("vote_k")[:22]
    ('pad', 'self-consistency sampl')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from agent.modes import MODES, TASK_MODES


@dataclass(frozen=True)
class AgentConfig:
    """Knobs of one agent; every field can be overridden per call or from ``nesy.toml``."""

    mode: str = field(
        default="auto",
        metadata={"help": "pad, socratic, asp, spatial, prolog, deductive, direct, or auto"},
    )
    task: str = field(
        default="auto",
        metadata={
            "help": "math, kinship, deductive, spatial (picks auto's mode); auto: the router "
            "reads the question"
        },
    )
    max_repairs: int = field(
        default=2, metadata={"help": "times a failed program goes back with its error"}
    )
    vote_k: int = field(
        default=1, metadata={"help": "self-consistency samples; the solver answers vote"}
    )
    vote_temperature: float = field(
        default=0.7, metadata={"help": "sampling temperature when vote_k > 1"}
    )
    resample_k: int = field(
        default=0,
        metadata={
            "help": "programs sampled again (at vote_temperature) when no math answer is a "
            "whole, non-negative number, as counts are (GSM8K's); the whole answers vote. "
            "0: off"
        },
    )
    max_new_tokens: int = field(default=256, metadata={"help": "tokens per model reply"})
    syntax_retries: int = field(
        default=2, metadata={"help": "resamples of a program that does not parse"}
    )
    exemplars: int = field(default=2, metadata={"help": "KB exemplars shown in the prompt"})
    solver_timeout_s: float = field(default=5.0, metadata={"help": "limit per solver call, s"})
    question_timeout_s: float = field(
        default=120.0, metadata={"help": "no repairs are started after this, s"}
    )
    token_budget: int = field(
        default=4096, metadata={"help": "no repairs are started past these tokens"}
    )
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    recursion_limit: int = field(default=40, metadata={"help": "LangGraph steps per question"})

    def resolved_mode(self) -> str:
        """The mode a question runs in: ``mode``, or for ``auto`` the task's; "auto" when
        both are auto (the graph's ``route`` node picks per question)."""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; known: {', '.join(MODES)}")
        if self.mode != "auto":
            return self.mode
        return "auto" if self.task == "auto" else TASK_MODES.get(self.task, "direct")


FIELDS = {f.name: f for f in dataclasses.fields(AgentConfig)}


def help_text(name: str) -> str:
    return str(FIELDS[name].metadata.get("help", ""))


def default(name: str) -> object:
    return FIELDS[name].default
