"""Answer-set programs with clingo (LLM+ASP: parse to facts, then solve with a rule library).

The answer is the list of answer sets (each a sorted list of atoms), projected to
``request.project`` predicates when given, at most ``max_models`` of them (0 = all).
A program with ``#minimize``/``#maximize`` returns its best model instead:
``{"atoms": [...], "cost": [...], "optimal": bool}``.

Solving is bounded inside the worker by ``solve(async_=True)`` + ``wait`` + ``cancel``;
grounding cannot be interrupted, so a grounding blow-up is bounded by the worker's
wall-clock kill (a ``timeout``) and its address-space limit (``memory``).

Example:
    >>> from solvers import solve, SolverRequest
    >>> solve(SolverRequest(solver="asp", program="p(1). p(2). q(X) :- p(X), X > 1.",
    ...                     project=["q"])).answer
    [['q(2)']]
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox template imports this module without pydantic
    from solvers.base import SolverRequest

NAME = "asp"
POOL = "asp"
MAX_ATOMS = 10_000  # per answer set
MAX_MODELS = 1_000  # returned, whatever max_models asks for (0 = all)
_OPTIMIZE = ("#minimize", "#maximize", "#minimise", "#maximise", ":~")


def payload(request: SolverRequest) -> dict[str, Any]:
    return {
        "program": request.program,
        "facts": request.facts,
        "project": list(request.project),
        "max_models": request.max_models,
        "timeout_s": request.timeout_s,
    }


# One token at a time: a string, a block or line comment, a directive name, anything else.
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|%\*.*?\*%|%[^\n]*|#[A-Za-z_]\w*|[^"%#]+|.', re.S)
_REFUSED = {
    "#include": "#include reads files; put the clauses in the program or in `facts`",
    "#script": "#script embeds Python or Lua code; write the logic in ASP",
}


def refused_directive(text: str, label: str = "program") -> str | None:
    """The first ``#include``/``#script`` outside strings and comments, with its place.

    Checked before clingo parses anything: clingo's parser follows ``#include`` itself.
    """
    for match in _TOKENS.finditer(text):
        reason = _REFUSED.get(match.group())
        if reason:
            line = text.count("\n", 0, match.start()) + 1
            col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            return f"{label} line {line}, column {col}: {match.group()} is not allowed: {reason}"
    return None


def init_template() -> None:
    """Warm clingo's lazily loaded parts before the worker drops privileges."""
    run(
        {
            "program": "a. {b}. #minimize{1: b}.",
            "facts": "",
            "project": [],
            "max_models": 0,
            "timeout_s": 5.0,
        }
    )


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed inside a worker."""
    import clingo

    start = time.monotonic()
    messages: list[str] = []

    def logger(code: clingo.MessageCode, message: str) -> None:
        if len(messages) < 20:
            messages.append(message.strip())

    project = set(p.get("project") or [])
    program = p["program"]
    for text, label in ((program, "program"), (p.get("facts") or "", "facts")):
        refused = refused_directive(text, label)
        if refused:
            return {"status": "error", "detail": refused}
    # Optimisation must see every improving model to prove the optimum.
    optimize = any(tok in program or tok in p.get("facts", "") for tok in _OPTIMIZE)
    models_arg = 0 if optimize else int(p.get("max_models", 1))
    control = clingo.Control([f"--models={models_arg}"], logger=logger)
    if not program.strip():
        return {"status": "error", "detail": "empty program"}
    try:
        if p.get("facts"):
            control.add("base", [], p["facts"])
        control.add("base", [], program)
        control.ground([("base", [])])
    except RuntimeError as exc:
        detail = "\n".join(m for m in messages if "error" in m) or "\n".join(messages) or str(exc)
        return {"status": "error", "detail": f"clingo: {detail}"}
    except MemoryError:
        return {"status": "memory", "detail": "memory limit exceeded while grounding"}

    models: list[list[str]] = []
    best: dict[str, Any] = {}
    truncated = False

    def on_model(model: clingo.Model) -> bool:
        nonlocal truncated
        if not model.cost and len(models) >= MAX_MODELS:
            truncated = True
            return False  # stop the search: the caller cannot use more
        atoms = sorted(
            str(s) for s in model.symbols(shown=True) if not project or s.name in project
        )[:MAX_ATOMS]
        if model.cost:
            best.update(atoms=atoms, cost=list(model.cost), optimal=model.optimality_proven)
        else:
            models.append(atoms)
        return True

    remaining = max(0.01, float(p["timeout_s"]) - (time.monotonic() - start) - 0.02)
    with control.solve(on_model=on_model, async_=True) as handle:
        if not handle.wait(remaining):
            handle.cancel()
            return {
                "status": "timeout",
                "detail": f"clingo did not finish within {p['timeout_s']:g} s "
                f"({len(models)} answer sets found)",
            }
        result = handle.get()
    if result.unsatisfiable:
        return {"status": "unsat", "detail": "the program has no answer set"}
    warnings = "\n".join(messages)
    if truncated:
        warnings = f"stopped after {MAX_MODELS} answer sets\n{warnings}".strip()
    if best:
        if result.exhausted:
            best["optimal"] = True
        return {"status": "ok", "answer": best, "answer_type": "optimum", "detail": warnings}
    return {"status": "ok", "answer": models, "answer_type": "answer_sets", "detail": warnings}
