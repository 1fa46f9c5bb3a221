"""Equations or expressions as text, solved or simplified exactly with SymPy.

The program is one statement per line (or ``;``-separated); ``#`` starts a comment.
A line ``lhs = rhs`` is an equation. With equations, the unknowns are ``request.query``
(``"x, y"``) or else every free symbol; a linear system goes to ``linsolve``, anything
else to ``solve``. With no equations, the last expression is simplified. Implicit
multiplication (``2x``) and ``^`` for powers are accepted, since models write them.

Example:
    >>> from solvers import solve, SolverRequest
    >>> solve(SolverRequest(solver="sympy", program="x + y = 10\\nx - y = 2")).answer
    {'x': 6, 'y': 4}
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox template imports this module without pydantic
    from solvers.base import SolverRequest

NAME = "sympy"
POOL = "sympy"
_EQUATION = re.compile(r"(?<![<>=!])=(?!=)")


def payload(request: SolverRequest) -> dict[str, Any]:
    return {"program": request.program, "unknowns": request.query}


def init_template() -> None:
    """Harden sympy's parser and warm the template (runs once per sandbox)."""
    from solvers import _sympy_text, python

    _sympy_text.install()
    python.run({"program": "import sympy\nans = sympy.solve(sympy.Symbol('x') - 1)"})
    python.run({"program": "import numpy as np\nans = float(np.linalg.solve([[2]], [4])[0])"})
    run({"program": "2x + y = 3\nx - y = 0\nx**2 = 4", "unknowns": None})
    run({"program": "(x**2 - 1)/(x - 1)", "unknowns": None})


def _statements(program: str) -> list[tuple[int, str]]:
    out = []
    for lineno, line in enumerate(program.splitlines(), 1):
        for part in line.split("#", 1)[0].split(";"):
            if part.strip():
                out.append((lineno, part.strip()))
    return out


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed inside a worker."""
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        standard_transformations,
    )

    from solvers._answer import encode
    from solvers._sympy_text import parse as safe_parse_expr

    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)

    def parse(lineno: int, text: str) -> Any:
        try:
            return safe_parse_expr(text, transformations=transformations)
        except Exception as exc:  # sympy raises many types for bad text
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ValueError(
                f"line {lineno}: cannot parse {shown!r}: {type(exc).__name__}: {exc}"
            ) from None

    statements = _statements(p["program"])
    if not statements:
        return {"status": "error", "detail": "empty program"}
    equations: list[Any] = []
    expressions: list[Any] = []
    try:
        for lineno, text in statements:
            sides = _EQUATION.split(text)
            if len(sides) > 2:
                return {
                    "status": "error",
                    "detail": f"line {lineno}: more than one '=' in {text!r}",
                }
            if len(sides) == 2:
                equations.append(sympy.Eq(parse(lineno, sides[0]), parse(lineno, sides[1])))
            else:
                value = parse(lineno, text)
                (equations if isinstance(value, sympy.Equality) else expressions).append(value)
    except ValueError as exc:
        return {"status": "error", "detail": str(exc)}

    if not equations:
        answer, answer_type = encode(sympy.simplify(expressions[-1]))
        return {"status": "ok", "answer": answer, "answer_type": answer_type}
    equations = [e for e in equations if e is not sympy.true]
    if any(e is sympy.false for e in equations):
        return {"status": "unsat", "detail": "an equation is false for every value"}

    # Solve for every free symbol; report the requested unknowns (default: all of them).
    symbols = sorted(set().union(*(e.free_symbols for e in equations)), key=str)
    if p.get("unknowns"):
        names = [n.strip() for n in p["unknowns"].split(",") if n.strip()]
        wanted = [sympy.Symbol(n) for n in names]
        symbols += [s for s in wanted if s not in symbols]
    else:
        wanted = symbols
    unknowns = symbols
    if not unknowns:
        return {"status": "error", "detail": "no unknowns to solve for"}

    try:
        linear = all(sympy.Poly(e.lhs - e.rhs, *unknowns).total_degree() <= 1 for e in equations)
    except sympy.PolynomialError:
        linear = False
    if linear:
        solutions = [
            dict(zip(unknowns, sol, strict=True)) for sol in sympy.linsolve(equations, unknowns)
        ]
    else:
        solutions = sympy.solve(equations, unknowns, dict=True)
    if not solutions:
        return {"status": "unsat", "detail": "the equations have no solution"}

    def pack(sol: dict[Any, Any]) -> Any:
        if len(wanted) == 1 and wanted[0] in sol:
            return sol[wanted[0]]
        return {str(k): v for k, v in sol.items() if k in wanted}

    values = [pack(s) for s in solutions]
    answer, answer_type = encode(values[0] if len(values) == 1 else values)
    free = set().union(*(sympy.sympify(solutions[0].get(w, w)).free_symbols for w in wanted))
    detail = f"underdetermined: free in {sorted(map(str, free))}" if free else ""
    return {"status": "ok", "answer": answer, "answer_type": answer_type, "detail": detail}
