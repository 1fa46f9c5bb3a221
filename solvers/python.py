"""PaD / PoT / PAL programs: Python that computes an answer.

The answer is the value of ``answer_var`` (default ``ans``, as in Program-of-Thoughts), or
the return value of ``solution()`` (PAL) when the program defines one and sets no ``ans``.
Programs run in a sandboxed worker (``_pool``) with the namespace from ``_restricted``.

Example:
    >>> from solvers import solve, SolverRequest
    >>> solve(SolverRequest(solver="python", program="from fractions import Fraction\\n"
    ...                     "ans = Fraction(3, 4)")).answer
    '3/4'
"""

from __future__ import annotations

import base64
import marshal
import re
import warnings
from types import CodeType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox template imports this module without pydantic
    from solvers.base import SolverRequest

NAME = "python"
POOL = "py"
FILENAME = "<program>"
# compile() in the caller warns about the program's own oddities ("'int' object is not
# callable"): those are the program's business, not the caller's log's.
warnings.filterwarnings("ignore", category=SyntaxWarning, module=re.escape(FILENAME))
_NAMES_SCIENCE = re.compile(r"\b(?:sympy|numpy)\b")


def pool_for(request: SolverRequest) -> str:
    """Programs that name sympy or numpy go to the template that preloaded them (``sympy``);
    the rest to the lean one, whose forks copy less."""
    return "sympy" if _NAMES_SCIENCE.search(request.program) else POOL


def payload(request: SolverRequest) -> dict[str, Any]:
    """Runs in the caller: the language check and the compilation happen here, where they
    cost no copy-on-write faults, and the sandbox gets the code object (``marshal``, same
    interpreter). Parsing and compiling never execute the program; a rejected program is
    answered without a sandbox at all (``rejected``)."""
    p: dict[str, Any] = {"answer_var": request.answer_var, "max_output": request.max_output}
    code = _compile(request.program)
    if isinstance(code, str):
        p["rejected"] = code
    else:  # the code object alone: the sandbox never needs the source again
        p["code"] = base64.b64encode(marshal.dumps(code)).decode("ascii")
    return p


def _compile(source: str) -> CodeType | str:
    """The program's code object, or why it cannot run.

    Most programs import nothing and use no suspicious name: for them the names the
    compiler collected are enough, and the AST walk (which names line and column) is
    skipped. Anything else gets the full check."""
    from solvers import _restricted

    if source.strip() and len(source) <= _restricted.MAX_SOURCE_CHARS and "import" not in source:
        try:
            code = compile(source, FILENAME, "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            code = None  # the full check below says where
        if code is not None and not _suspicious(code, _restricted):
            return code
    try:
        return compile(_restricted.check_program(source, FILENAME), FILENAME, "exec")
    except _restricted.ProgramRejected as exc:
        return str(exc)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"cannot compile program: {exc}"


def _suspicious(code: CodeType, restricted: Any) -> bool:
    """Whether any name a code object (or one nested in it) uses is one the check refuses."""
    forbidden = restricted.FORBIDDEN_NAMES | restricted.FORBIDDEN_ATTRS
    stack = [code]
    while stack:
        c = stack.pop()
        for name in (*c.co_names, *c.co_varnames, *c.co_cellvars, *c.co_freevars):
            if name.startswith("_") or name in forbidden:
                return True
        stack.extend(k for k in c.co_consts if isinstance(k, CodeType))
    return False


def _located(exc: BaseException) -> str:
    """``line N: Type: message``, with N the last program line on the traceback."""
    import traceback  # only on errors: the template stays small

    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == FILENAME:
            line = frame.lineno
    where = f"line {line}: " if line else ""
    return f"{where}{type(exc).__name__}: {exc}"


def init_template() -> None:
    """Warm the lean template: run one program, so the child starts with everything loaded."""
    run({"program": "import math\nans = math.floor(7 / 2)", "max_output": 10})


def run(p: dict[str, Any]) -> dict[str, Any]:
    """Executed inside a worker."""
    from solvers import _restricted
    from solvers._answer import AnswerTooLarge, encode

    output = _restricted.CappedOutput(int(p.get("max_output", 8192)))
    if p.get("rejected"):
        return {"status": "error", "detail": p["rejected"]}
    code = marshal.loads(base64.b64decode(p["code"])) if p.get("code") else _compile(p["program"])
    if isinstance(code, str):
        return {"status": "error", "detail": code}

    ns = _restricted.namespace(output)
    var = p.get("answer_var", "ans")
    try:
        exec(code, ns)
        if var in ns:
            value = ns[var]
        elif callable(ns.get("solution")):
            value = ns["solution"]()
        else:
            return {
                "status": "error",
                "detail": f"program did not set `{var}` and defines no `solution()`",
                "stdout": output.text(),
            }
        answer, answer_type = encode(value)
    except AnswerTooLarge as exc:
        return {"status": "error", "detail": str(exc), "stdout": output.text()}
    except _restricted.OutputLimitExceeded as exc:
        return {"status": "error", "detail": str(exc), "stdout": output.text()}
    except MemoryError:
        return {"status": "memory", "detail": "memory limit exceeded", "stdout": output.text()}
    except RecursionError:
        return {
            "status": "error",
            "detail": "RecursionError: maximum recursion depth exceeded",
            "stdout": output.text(),
        }
    except BaseException as exc:  # the program's own error is data for the repair step
        return {"status": "error", "detail": _located(exc), "stdout": output.text()}
    return {"status": "ok", "answer": answer, "answer_type": answer_type, "stdout": output.text()}
