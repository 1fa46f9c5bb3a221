"""The agent: student runtime, reasoning graph, records and the Python API.

Imports are lazy so ``import agent.records`` stays light (no torch, no LangGraph).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Agent", "AgentConfig", "Answer", "FailureClass", "ModelCard", "Step", "Trace"]


def __getattr__(name: str) -> Any:
    if name == "Agent":
        from agent.api import Agent

        return Agent
    if name == "AgentConfig":
        from agent.config import AgentConfig

        return AgentConfig
    if name in ("Answer", "FailureClass", "ModelCard", "Step", "Trace"):
        from agent import records

        return getattr(records, name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
