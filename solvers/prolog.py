"""Prolog programs with SWI-Prolog (Logic-LM style: facts and rules, then a query).

pyswip embeds one global, non-thread-safe engine per process, so it runs only inside
sandboxed workers of its own pool (``POOL = "prolog"``), never in the caller. The
per-request logic lives in ``prolog_runner.pl``: clauses are read (not consulted) so
syntax errors come back with line and column; each request gets a temporary module;
goals must pass ``library(sandbox)``; time, inference and stack limits bound the run.

The query defaults to ``answer(X)``. A query with variables answers the list of
solutions (``{"X": value}``; a single variable answers its values directly, one
solution its value); no solution is ``unsat``. A ground query answers ``True``/``False``.

Example:
    >>> from solvers import solve, SolverRequest
    >>> solve(SolverRequest(solver="prolog", program="p(a). p(b).", query="p(X)",
    ...                     max_models=0)).answer
    ['a', 'b']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox template imports this module without pydantic
    from solvers.base import SolverRequest

NAME = "prolog"
POOL = "prolog"
DEFAULT_QUERY = "answer(X)"
RUNNER = Path(__file__).with_name("prolog_runner.pl")
_TMP_MODULE = re.compile(r"'?tmp-\d+-\d+'?:")


def payload(request: SolverRequest) -> dict[str, Any]:
    return {
        "program": request.program,
        "facts": request.facts,
        "query": (request.query or DEFAULT_QUERY).strip().rstrip("."),
        "timeout_s": request.timeout_s,
        "inferences": request.inferences,
        "max_solutions": request.max_models,
        "stack_mb": request.memory_mb,
    }


def init_template() -> None:
    """Start the embedded engine once per sandbox; each request runs in a fork of it."""
    from pyswip import Prolog

    Prolog.consult(str(RUNNER))
    # Autoload what requests use while the files are still readable (see _sandbox.enter).
    run(
        {
            "program": "p(1). q(X) :- p(X), X > 0.",
            "facts": "",
            "query": "q(X), format(atom(_), '~w', [X])",
            "timeout_s": 5.0,
            "inferences": 100000,
            "max_solutions": 0,
            "stack_mb": 256,
        }
    )


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed inside a worker."""
    from pyswip import Functor, Query, Variable

    # pyswip's Query methods are set as class attributes, which confuses mypy: go via Any.
    Q: Any = Query

    if not p["program"].strip():
        return {"status": "error", "detail": "empty program"}
    # Both of SWI-Prolog's memory pools get a bound inside the request's address space, so
    # that running out is a resource error (status ``memory``), not a failed malloc that
    # aborts the process: the stacks, and the tables (``table_space``, 1 GB by default).
    budget = max(8, int(p["stack_mb"])) * 1024 * 1024
    for name, value in (("stack_limit", budget), ("table_space", budget // 4)):
        flag = Q(Functor("set_prolog_flag", 2)(name, value))
        try:
            flag.nextSolution()
        finally:
            flag.closeQuery()  # pyswip allows one open query at a time
    out = Variable()
    query = Q(
        Functor("nesy_run", 7)(
            _text(p["program"]),
            _text(p["facts"]),
            _text(p["query"]),
            int(float(p["timeout_s"]) * 1000),
            int(p["inferences"]),
            int(p["max_solutions"]),
            out,
        )
    )
    try:
        found = query.nextSolution()
        raw = out.value
    finally:
        query.closeQuery()
    if not found:
        return {"status": "error", "detail": "internal: the Prolog runner failed"}
    data = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    data["detail"] = _TMP_MODULE.sub("", data.get("detail", ""))
    if data["status"] != "ok":
        return data
    return {**_answer(p["query"], data.pop("solutions")), "detail": data["detail"]}


def _text(s: str) -> str:
    # pyswip passes str as an atom of UTF-8 bytes (decoded by the runner); NUL cannot cross
    # the C boundary, and lone surrogates cannot be encoded.
    return s.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _answer(query: str, solutions: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({k for sol in solutions for k in sol})
    if not solutions:
        if _has_variables(query):
            return {"status": "unsat", "detail": "the query has no solution"}
        return {"status": "ok", "answer": False, "answer_type": "bool"}
    if not names:
        return {"status": "ok", "answer": True, "answer_type": "bool"}
    if len(names) == 1:
        values = [sol.get(names[0]) for sol in solutions]
        if len(values) == 1:
            return {"status": "ok", "answer": values[0], "answer_type": _type(values[0])}
        return {"status": "ok", "answer": values, "answer_type": "list"}
    return {"status": "ok", "answer": solutions, "answer_type": "bindings"}


def _has_variables(query: str) -> bool:
    no_quotes = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "", query)
    return re.search(r"(?<![\w])[A-Z_]\w*", no_quotes) is not None


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "list"
    return "term"
