"""The ``nesy`` command line.

Each subcommand imports its package inside its handler, so ``nesy solve`` never pays
for torch, and a broken optional component cannot stop the others from working.

    nesy solve --solver asp examples/solve/kinship.lp
    nesy solve examples/solve/pot_gsm8k.py          # backend from the file extension
    echo "ans = 2 ** 10" | nesy solve --solver python -
    nesy doctor                                       # what the solver sandbox enforces
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXTENSIONS = {".py": "python", ".sympy": "sympy", ".lp": "asp", ".pl": "prolog"}


def _read_program(path: str) -> tuple[str | None, str]:
    """Return ``(text, problem)``; exactly one is set. Bad bytes are a result, not a crash."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(f"nesy solve: error: cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        where = "stdin" if path == "-" else path
        return None, (
            f"{where} is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
        )


def cmd_solve(args: argparse.Namespace) -> int:
    from solvers import SolverRequest, SolverResult, available, solve

    name = args.solver or EXTENSIONS.get(Path(args.file).suffix)
    if name is None:
        raise SystemExit(
            f"nesy solve: error: cannot tell the solver from {args.file!r}; "
            f"pass --solver ({', '.join(available())})"
        )
    if name not in available():
        raise SystemExit(
            f"nesy solve: error: unknown solver {name!r}; known: {', '.join(available())}"
        )
    text, problem = _read_program(args.file)
    facts = ""
    if args.facts:
        facts, fact_problem = _read_program(args.facts)
        problem = problem or fact_problem
    if text is None or facts is None:
        result = SolverResult(solver=name, status="error", detail=problem)
    else:
        options: dict[str, Any] = {
            "solver": name,
            "program": text,
            "timeout_s": args.timeout,
            "memory_mb": args.memory_mb,
            "facts": facts,
            "max_models": args.models,
            "answer_var": args.answer_var,
        }
        if args.query:
            options["query"] = args.query
        if args.project:
            options["project"] = [p.strip() for p in args.project.split(",") if p.strip()]
        result = solve(SolverRequest(**options))
    indent = None if args.compact else 2
    print(json.dumps(result.model_dump(), indent=indent, ensure_ascii=False))
    return 0 if result.ok else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from solvers._probe import report

    out = report()
    print(json.dumps(out, indent=2))
    return 0 if out["contained"] else 1


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nesy", description="Neuro-symbolic reasoning: a small student, solvers and a KB."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("solve", help="run one program with a solver; print a SolverResult as JSON")
    p.add_argument("file", metavar="FILE", help="program file, or - for standard input")
    p.add_argument("--solver", help="python, sympy, asp or prolog (default: from the extension)")
    p.add_argument(
        "--timeout", type=_positive(float), default=5.0, help="wall-clock limit, s (default 5)"
    )
    p.add_argument(
        "--memory-mb", type=_positive(int), default=512, help="memory limit, MB (default 512)"
    )
    p.add_argument("--query", help="prolog goal (default answer(X)); sympy unknowns, e.g. 'x, y'")
    p.add_argument(
        "--facts", help="file of extra facts/rules loaded with the program (asp, prolog)"
    )
    p.add_argument("--project", help="asp: comma-separated predicates to keep")
    p.add_argument(
        "--models",
        type=int,
        default=1,
        help="asp answer sets / prolog solutions (0 = all; default 1)",
    )
    p.add_argument("--answer-var", default="ans", help="python: answer variable (default ans)")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("doctor", help="check what the solver sandbox enforces on this machine")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
