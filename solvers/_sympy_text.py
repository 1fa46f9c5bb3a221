"""SymPy expressions from text without ``eval``.

``sympy.parse_expr`` always ends in ``eval`` (``evaluate=False`` included), so text that a
model wrote could run code. Here sympy's own tokenizer transformations still turn ``2x``,
``x^2`` and ``3!`` into Python syntax (``stringify_expr`` only rewrites tokens), and then
the result is parsed with ``ast`` and built node by node over an allow-list: arithmetic,
comparisons, tuples, numbers, and calls of a fixed set of sympy constructors and functions.
Anything else (attributes, subscripts, lambdas, strings outside ``Symbol('x')``, unknown
callables) is a ``ValueError`` that names it.

``install()`` routes every string ``sympify`` in the process through ``parse``, implicit
ones included (``sympy.simplify("...")`` reaches the parser).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

import sympy
from sympy.parsing import sympy_parser

MAX_DEPTH = 100  # brackets nested deeper than this are refused before parsing
MAX_NODES = 5_000

CALLABLES = (
    "Integer Float Rational Symbol Function Eq Ne Lt Le Gt Ge Abs sqrt cbrt root exp log ln "
    "sin cos tan cot sec csc asin acos atan atan2 acot sinh cosh tanh asinh acosh atanh floor "
    "ceiling factorial binomial gcd lcm igcd ilcm Max Min Mod re im arg sign conjugate "
    "Piecewise And Or Not Xor Implies Matrix Tuple Add Mul Pow Sum Product Integral "
    "Derivative diff integrate limit summation product expand factor simplify nsimplify "
    "totient isprime prime deg rad"
).split()
CONSTANTS = "pi E I oo zoo nan true false EulerGamma GoldenRatio".split()
_STRING_ARGS = {"Symbol", "Function", "Float", "Integer", "Rational"}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: sympy.Lt,
    ast.LtE: sympy.Le,
    ast.Gt: sympy.Gt,
    ast.GtE: sympy.Ge,
    ast.Eq: sympy.Eq,
    ast.NotEq: sympy.Ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
    ast.Not: sympy.Not,
}
NAMES: dict[str, Any] = {n: getattr(sympy, n) for n in CALLABLES + CONSTANTS if hasattr(sympy, n)}
NAMES["ln"] = sympy.log
_GLOBALS: dict[str, Any] = dict(NAMES)  # what sympy's name transformations see
_original_parse_expr = sympy_parser.parse_expr


def check_depth(text: str) -> None:
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise ValueError(f"brackets nested {deepest} deep; at most {MAX_DEPTH} are allowed")


def parse(
    text: str,
    local_dict: dict[str, Any] | None = None,
    transformations: Any = None,
    global_dict: Any = None,
    evaluate: bool = True,
) -> Any:
    """``parse_expr``'s signature and results, with no ``eval``. ``global_dict`` is ignored."""
    if not isinstance(text, str):
        raise TypeError(f"expected text, got {type(text).__name__}")
    check_depth(text)
    if transformations is None:
        transformations = sympy_parser.standard_transformations
    names = dict(_GLOBALS)
    names.update(local_dict or {})
    code = sympy_parser.stringify_expr(text, dict(local_dict or {}), names, transformations)
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError as exc:
        raise SyntaxError(f"cannot parse {text[:80]!r}: {exc.msg}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ValueError(f"expression too large (> {MAX_NODES} syntax nodes)")
    builder = _Builder(names)
    if evaluate:
        return builder.build(tree.body)
    with sympy.core.parameters.evaluate(False):
        return builder.build(tree.body)


class _Builder:
    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def build(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)):
            return sympy.sympify(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            raise ValueError(f"unknown name {node.id!r}")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self.build(node.operand))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            left, right = self.build(node.left), self.build(node.comparators[0])
            return _COMPARE[type(node.ops[0])](left, right)
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.build(e) for e in node.elts)
        if isinstance(node, ast.Call) and not node.keywords:
            return self.call(node)
        if isinstance(node, ast.Attribute):
            raise ValueError(f"attribute access (.{node.attr}) is not allowed in an expression")
        raise ValueError(f"{type(node).__name__} is not allowed in an expression")

    def call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Call):  # Function('f')(x)
            func = self.call(node.func)
            if not isinstance(func, sympy.core.function.UndefinedFunction):
                raise ValueError("only an undefined function may be applied to arguments")
            return func(*(self.build(a) for a in node.args))
        if isinstance(node.func, ast.Attribute):
            raise ValueError(
                f"attribute access (.{node.func.attr}) is not allowed in an expression"
            )
        if not isinstance(node.func, ast.Name) or node.func.id not in self.names:
            what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
            raise ValueError(f"call of {what!r} is not allowed in an expression")
        name = node.func.id
        func = self.names[name]
        if not callable(func):
            raise ValueError(f"{name!r} is not a function")
        args = []
        for a in node.args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                if name not in _STRING_ARGS:
                    raise ValueError(f"a string argument is not allowed for {name!r}")
                args.append(a.value)
            else:
                args.append(self.build(a))
        return func(*args)


def install() -> None:
    """Route every string sympify in this process through ``parse`` (idempotent)."""
    sympy_parser.parse_expr = parse
    sympy.parse_expr = parse
    sympy.parsing.parse_expr = parse
