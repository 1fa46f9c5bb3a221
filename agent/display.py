"""Rich rendering of graph steps, shared by ``nesy ask`` and ``nesy chat``."""

from __future__ import annotations

from typing import Any


def show_step(console: Any, node: str, step: dict[str, Any]) -> None:
    from rich.syntax import Syntax

    result = step.get("result")
    if node in ("formulate", "repair") and step.get("program") is not None:
        title = "program" if node == "formulate" else f"repair {step.get('repair')}"
        console.print(f"[cyan]{title}[/]")
        console.print(Syntax(step["program"].rstrip() or "(empty)", "python", theme="ansi_dark"))
    elif node == "solve" and result:
        colour = "green" if result["status"] == "ok" else "red"
        value = result["answer"] if result["status"] == "ok" else ""
        detail = f" {result['detail'][:200]}" if result["detail"] else ""
        console.print(f"[{colour}]{step.get('solver')}: {result['status']}[/] {value}{detail}")
        if step.get("text"):
            console.print(f"[dim]{step['text'][:300]}[/]")
    elif node == "route":
        console.print(f"[cyan]route[/] {step.get('text', '')}")
    elif node == "decompose":
        console.print(f"[cyan]sub-questions[/]\n{step.get('text', '')}")
    else:
        console.print(f"[dim]{node}: {step.get('text', '')[:300]}[/]")


def show_answer(console: Any, answer: Any) -> None:
    mark = "[green]grounded[/]" if answer.grounded else "[yellow]not grounded[/]"
    why = f" ({answer.failure.value})" if answer.failure else ""
    console.print(
        f"[bold]answer:[/] {answer.answer}  {mark}{why}  "
        f"[dim]{answer.usage.prompt_tokens}+{answer.usage.completion_tokens} tokens, "
        f"{answer.usage.seconds:.1f} s[/]"
    )
