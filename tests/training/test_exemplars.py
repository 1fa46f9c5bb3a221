"""The silver:gsm8k converter: programs that carry their computation."""

from __future__ import annotations

import ast
import json
import operator

from tests.conftest import SHARED, needs_shared
from training.exemplars import silver_program

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod,
        ast.FloorDiv: operator.floordiv}  # fmt: skip


def _eval(node: ast.AST, env: dict[str, float]) -> float:
    """Arithmetic only: the programs are generated from annotations, never run here as code."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    raise ValueError(ast.dump(node))


def literals_equal_to_earlier_results(program: str) -> list[tuple[str, float]]:
    """(line, literal) pairs where a literal repeats a value an earlier step computed."""
    env: dict[str, float] = {}
    computed: list[float] = []
    found = []
    for stmt in ast.parse(program).body:
        assert isinstance(stmt, ast.Assign)
        target = stmt.targets[0].id  # type: ignore[attr-defined]
        if target == "ans":
            continue
        for node in ast.walk(stmt.value):
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                v = float(node.value)
                if any(abs(v - c) <= 1e-9 * max(1.0, abs(c)) for c in computed):
                    found.append((ast.unparse(stmt), v))
        try:
            env[target] = _eval(stmt.value, env)
        except (ZeroDivisionError, OverflowError, KeyError, ValueError):
            env[target] = float("nan")
        if not isinstance(stmt.value, ast.Constant):  # a step, not a question quantity
            computed.append(env[target])
    return found


def test_a_result_is_reused_by_name_and_question_numbers_are_named():
    s = silver_program(
        "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast.",
        "She has 16 - 3 = <<16-3=13>>13 eggs left.\n"
        "She sells them: 13 * 2 = <<13*2=26>>26 dollars.",
    )
    assert s is not None
    assert s.program.splitlines() == [
        "eggs_per_day = 16",
        "# She has 16 - 3 = 13 eggs left.",
        "eggs_left = eggs_per_day-3",
        "# She sells them: 13 * 2 = 26 dollars.",
        "dollars = eggs_left*2",
        "ans = dollars",
    ]
    assert (s.question_numbers, s.named) == (2, 1)


@needs_shared
def test_no_converted_program_repeats_an_earlier_result_as_a_literal():
    rows = [json.loads(line) for line in open(SHARED / "gsm8k" / "train.jsonl")]
    bad = []
    converted = 0
    for row in rows:
        s = silver_program(row["question"], row["solution"])
        if s is None:
            continue
        converted += 1
        hits = literals_equal_to_earlier_results(s.program)
        if hits:
            bad.append((row["id"], hits[0]))
    assert converted > 7000
    assert bad == [], f"{len(bad)} programs, e.g. {bad[:3]}"
