"""Prompt rendering, in one place: the messages the graph sends the student, rebuilt the
same way by training, so an SFT example is exactly the prompt inference will show.

Every function returns chat messages (``[{"role", "content"}]``) from a versioned template
(``agent/prompts/``); ``with_prefill`` adds the opening code fence that the graph prefills
(the reply is then the program alone, up to ``STOP``). ``extract_program`` and ``syntax_ok``
read a reply back.

Example:
    >>> m = formulate_messages("pad", "What is 2 + 3?")
    >>> m[-1]["content"]
    'Question: What is 2 + 3?'
    >>> with_prefill(m, "python")[-1]
    {'role': 'assistant', 'content': '```python\\n'}
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from typing import Any

from agent import prompts
from agent.modes import MODE_SPECS

Messages = list[dict[str, str]]
STOP = ["```"]
_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)(?:```|$)", re.S)


def exemplar_block(items: Iterable[Any], language: str) -> str:
    """KB exemplars (objects with ``text`` and ``program``) as few-shot examples."""
    return "".join(
        f"Question: {it.text}\n```{language}\n{it.program.strip()}\n```\n\n" for it in items
    )


_PLAN_LINE = re.compile(r"^\s*(?:Step\s*\d*:|Q:|-)\s*(.+?)\s*$")


def plan_steps(text: str) -> list[str]:
    """The decomposer's steps: lines starting ``Step:`` (``socratic@v2``; ``Q:`` of v1 and
    ``-`` bullets are read too)."""
    return [m.group(1) for line in text.splitlines() if (m := _PLAN_LINE.match(line))]


def steps_text(steps: Sequence[str]) -> str:
    """What the decomposer is trained to emit: one ``Step:`` line per step."""
    return "".join(f"Step: {s}\n" for s in steps)


def sub_question_suffix(sub_questions: Sequence[str]) -> str:
    if not sub_questions:
        return ""
    return "\nSteps:\n" + "\n".join(f"- {q}" for q in sub_questions)


def template_id(mode: str, node: str = "formulate") -> str:
    """The ``name@vN`` of the template a node renders for ``mode``."""
    spec = MODE_SPECS[mode]
    name = {"formulate": spec.template, "repair": spec.repair, "decompose": "socratic"}.get(
        node, "direct"
    )
    return prompts.load(name).id


def formulate_messages(
    mode: str, question: str, exemplars: str = "", sub_questions: Sequence[str] = ()
) -> Messages:
    tpl = prompts.load(MODE_SPECS[mode].template)
    return tpl.messages(question=question + sub_question_suffix(sub_questions), exemplars=exemplars)


def decompose_messages(question: str) -> Messages:
    return prompts.load("socratic").messages(question=question, exemplars="")


def repair_messages(mode: str, question: str, program: str, error: str) -> Messages:
    """The failed program and the solver's error, in the repair template of its language."""
    tpl = prompts.load(MODE_SPECS[mode].repair)
    return tpl.messages(question=question, program=program.strip(), error=error)


def direct_messages(question: str) -> Messages:
    return prompts.load("direct").messages(question=question, exemplars="")


def with_prefill(messages: Messages, language: str, text: str = "") -> Messages:
    """The opening fence, then ``text``, as the start of the assistant's turn (generation
    continues it)."""
    return [*messages, {"role": "assistant", "content": f"```{language}\n{text}"}]


def extract_program(text: str, language: str) -> str:
    """The first fenced block, else the whole reply (small models often drop the fence)."""
    blocks = _FENCE.findall(text)
    return (blocks[0] if blocks else text).strip() + "\n"


def syntax_ok(program: str, language: str) -> bool:
    if language == "python":
        try:
            ast.parse(program)
        except (SyntaxError, ValueError):
            return False
        return True
    return program.strip().endswith(".")  # Prolog/ASP clauses end with a full stop
