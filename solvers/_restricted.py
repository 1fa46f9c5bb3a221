"""Language-level restrictions for model-written Python: the first, cheap line of defence.

An AST filter alone is escapable (CPython offers many paths from any object to ``os``, and
every red-team escape went through one), so this is *not* the defence: it rejects what is
plainly forbidden, with a clear message the model can repair from. The OS sandbox
(``_sandbox``) contains whatever gets past it.

What a program gets:
- a curated set of builtins (no ``open``, ``eval``, ``exec``, ``getattr``, ``__import__``);
- ``import`` of an allow-list of modules, each seen through a read-only proxy of its
  public names (so ``fractions.sys`` is not a path to ``sys.modules``);
- numpy, and a curated part of sympy (no ``lambdify``, ``external``, ``parsing``); text
  given to sympy is parsed without ``eval`` (``_sympy_text``).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import math
import types
from typing import Any

MAX_SOURCE_CHARS = 200_000
MAX_AST_NODES = 50_000

FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "exit",
        "quit",
        "__import__",
        "__builtins__",
        "__loader__",
        "__spec__",
    }
)

# Non-underscore attributes that still walk from an object to frames, code and globals.
FORBIDDEN_ATTRS = frozenset(
    {
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "ag_code",
        "tb_frame",
        "tb_next",
        "co_code",
        "func_globals",
        "mro",
        "format_map",
    }
)

SAFE_BUILTINS = (
    "abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate "
    "filter float format frozenset hash hex int isinstance issubclass iter len list map max "
    "min next oct ord pow range repr reversed round set slice sorted str sum tuple zip "
    "ArithmeticError AssertionError AttributeError Exception IndexError KeyError LookupError "
    "NameError NotImplementedError OverflowError RuntimeError StopIteration TypeError "
    "ValueError ZeroDivisionError True False None"
).split()

SYMPY_NAMES = (
    "Abs Add Eq Float Function Ge Gt Integer Interval Le Lt Matrix Max Min Mod Mul Ne Pow "
    "Rational S Sum Symbol Union acos acosh asin asinh atan atan2 atanh binomial ceiling "
    "collect cos cosh cot diff divisors E exp expand factor factorial factorint floor "
    "gcd I igcd ilcm im integrate isprime lcm limit linsolve log N nonlinsolve nsimplify "
    "nsolve oo pi prime primefactors primerange product Poly rad re roots sec series "
    "simplify sin sinh solve solveset sqrt summation symbols sympify tan tanh trigsimp "
    "zoo deg cbrt root Piecewise And Or Not true false nextprime totient mod_inverse "
    "Reals Integers FiniteSet EmptySet latex"
).split()


class ProgramRejected(Exception):
    """The program was rejected before it ran; ``str()`` is the reason."""


class OutputLimitExceeded(BaseException):
    """Raised by ``print`` past the output cap. BaseException so ``except Exception`` in the
    program cannot swallow it."""


# --- module proxies --------------------------------------------------------------------


class ModuleProxy(types.SimpleNamespace):
    """The public, non-module names of a module, and nothing that leads back to ``sys``."""

    def __init__(self, name: str, names: dict[str, Any]) -> None:
        super().__init__(**names)
        object.__setattr__(self, "_nesy_name", name)

    def __getattr__(self, attr: str) -> Any:
        raise AttributeError(f"{self._nesy_name}.{attr} is not available in the solver sandbox")

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"{self._nesy_name} is read-only in the solver sandbox")

    def __repr__(self) -> str:
        return f"<module {self._nesy_name!r} (sandboxed)>"


def _public(module: types.ModuleType) -> dict[str, Any]:
    return {
        k: v
        for k, v in vars(module).items()
        if not k.startswith("_") and not isinstance(v, types.ModuleType)
    }


# The standard library that PoT/PAL programs use. Imported when a program asks (most import
# nothing), so the template stays small: every MB it holds costs time in each fork here.
STDLIB = (
    "cmath collections datetime decimal fractions functools heapq itertools math operator "
    "random re statistics string"
).split()
MODULES: dict[str, ModuleProxy] = {"math": ModuleProxy("math", _public(math))}
# numpy keeps its public submodules (np.linalg, np.random): with the OS as the boundary the
# proxies are for clear errors, not containment. numpy and sympy are preloaded by the
# ``sympy`` template, where the python backend sends programs that name them.
NUMPY_SUBMODULES = ("linalg", "random", "fft", "polynomial")
ALLOWED_IMPORTS = frozenset({*STDLIB, "numpy", "sympy"})


def _lazy_module(name: str) -> ModuleProxy:
    if name not in MODULES:
        module = importlib.import_module(name)
        names = _public(module)
        if name == "sympy":
            names = {n: getattr(module, n) for n in SYMPY_NAMES if hasattr(module, n)}
        elif name == "numpy":
            names.update({n: getattr(module, n) for n in NUMPY_SUBMODULES})
        MODULES[name] = ModuleProxy(name, names)
    return MODULES[name]


def guarded_import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> ModuleProxy:
    if level != 0 or name not in ALLOWED_IMPORTS:
        allowed = ", ".join(sorted(ALLOWED_IMPORTS))
        raise ImportError(
            f"import of {name!r} is not allowed in the solver sandbox (allowed: {allowed})"
        )
    return _lazy_module(name)


# --- the AST check -----------------------------------------------------------------------


def check_program(source: str, filename: str = "<program>") -> ast.Module:
    """Parse ``source`` and reject plainly forbidden constructs.

    Raises:
        ProgramRejected: with the line and column of the first problem.
    """
    if not source.strip():
        raise ProgramRejected("empty program")
    if len(source) > MAX_SOURCE_CHARS:
        raise ProgramRejected(f"program too long ({len(source)} > {MAX_SOURCE_CHARS} chars)")
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else "unknown position"
        text = (exc.text or "").rstrip("\n")
        raise ProgramRejected(
            f"SyntaxError at {where}: {exc.msg}" + (f"\n    {text}" if text else "")
        ) from None
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, absurd nesting
        raise ProgramRejected(f"cannot parse program: {exc}") from None
    for count, node in enumerate(ast.walk(tree)):
        if count > MAX_AST_NODES:
            raise ProgramRejected(f"program too large (> {MAX_AST_NODES} syntax nodes)")
        problem = _problem(node)
        if problem:
            line = getattr(node, "lineno", "?")
            col = getattr(node, "col_offset", -1) + 1
            raise ProgramRejected(f"line {line}, column {col}: {problem}")
    return tree


def _problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in ALLOWED_IMPORTS:
                return f"import of {alias.name!r} is not allowed"
    elif isinstance(node, ast.ImportFrom):
        if node.level or node.module not in ALLOWED_IMPORTS:
            return f"import from {node.module!r} is not allowed"
        if any(a.name == "*" for a in node.names):
            return "`from ... import *` is not allowed"
    elif isinstance(node, ast.Name):
        if node.id in FORBIDDEN_NAMES:
            return f"use of {node.id!r} is not allowed"
        if node.id.startswith("__"):
            return f"dunder name {node.id!r} is not allowed"
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            return f"access to private attribute {node.attr!r} is not allowed"
        if node.attr in FORBIDDEN_ATTRS:
            return f"access to attribute {node.attr!r} is not allowed"
    elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.arg)):
        name = node.arg if isinstance(node, ast.arg) else node.name
        if name.startswith("__"):
            return f"dunder name {name!r} is not allowed"
    return None


# --- the namespace a program runs in ------------------------------------------------------


class CappedOutput:
    """A ``print`` that keeps at most ``limit`` characters, then stops the program."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    def print(self, *args: Any, sep: str | None = " ", end: str | None = "\n", **_: Any) -> None:
        text = (" " if sep is None else sep).join(str(a) for a in args)
        text += "\n" if end is None else end
        room = self.limit - self.size
        self.parts.append(text[: max(room, 0)])
        self.size += len(text)
        if self.size > self.limit:
            raise OutputLimitExceeded(f"output exceeded {self.limit} characters")

    def text(self) -> str:
        return "".join(self.parts)


_SAFE: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTINS}


def namespace(output: CappedOutput) -> dict[str, Any]:
    safe = dict(_SAFE)  # one copy: every allocation in a forked child costs page faults
    safe["print"] = output.print
    safe["__import__"] = guarded_import
    # PoT/PAL programs use math (and sometimes sympy names) without importing them.
    ns: dict[str, Any] = {"__builtins__": safe, "__name__": "__nesy_program__"}
    ns["math"] = MODULES["math"]
    return ns
