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


def _modes() -> tuple[str, ...]:
    from agent.modes import MODES

    return MODES


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
    facts: str | None = ""
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


def _open_kb(args: argparse.Namespace, read_only: bool) -> Any:
    from kb import KnowledgeBase, shipped

    if args.kb is None:
        path = shipped.default_kb_path()
        if not path.exists():
            print(f"building the shipped KB at {path} ...", file=sys.stderr)
            shipped.install(path)
        return KnowledgeBase(path, read_only=read_only)
    return KnowledgeBase(args.kb, read_only=read_only)


def _kb_guard(fn: Any) -> Any:
    """KB errors a user can act on become one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        from kb import KBError

        try:
            return int(fn(args))
        except KBError as exc:
            print(f"nesy kb: error: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"nesy kb: error: {exc}", file=sys.stderr)
            return 2

    return run


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@_kb_guard
def cmd_kb_import(args: argparse.Namespace) -> int:
    with _open_kb(args, read_only=False) as kb:
        if args.critic:
            from kb.critic import EmbeddingCritic
            from kb.importers import read_items

            items, report = read_items(kb, Path(args.file), fmt=args.format, domain=args.domain)
            out = kb.admit(items, EmbeddingCritic.load(args.critic), threshold=args.threshold)
            report_d = {**report.model_dump(), **out}
        else:
            report = kb.import_file(
                args.file,
                fmt=args.format,
                domain=args.domain,
                embed=args.embed,
                progress=sys.stderr.isatty(),
            )
            report_d = report.model_dump()
    if args.json:
        _print_json(report_d)
    else:
        print(
            f"{report_d['file']}: {report_d['rows']} rows, {report_d.get('inserted', 0)} "
            f"inserted, {report_d.get('duplicates', 0)} duplicates, "
            f"{report_d['rejected_count']} rejected ({report_d['seconds']:.2f} s)"
        )
        if "admitted" in report_d:
            print(f"critic: {report_d['admitted']} admitted, {report_d['quarantined']} quarantined")
        for r in report_d["rejected"][:20]:
            print(f"  {r['where']} {r['line']}: {r['reason']}")
        if report_d["rejected_count"] > 20:
            print(f"  ... and {report_d['rejected_count'] - 20} more (see --json)")
    return 0


@_kb_guard
def cmd_kb_search(args: argparse.Namespace) -> int:
    filters = {
        k: v
        for k, v in {
            "domain": args.domain,
            "relation": args.relation,
            "head": args.head,
            "kinds": args.kind,
            "tags": args.tag,
            "min_score": args.min_score,
            "verified_only": args.verified_only,
        }.items()
        if v not in (None, [], False)
    }
    with _open_kb(args, read_only=True) as kb:
        hits = kb.search(args.query, mode=args.mode, k=args.k, **filters)
    if args.json:
        _print_json([h.model_dump(mode="json") for h in hits])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.mode} search: {args.query!r}", show_lines=False)
    for col in ("score", "kind", "domain", "content", "id"):
        table.add_column(col, overflow="fold")
    for h in hits:
        table.add_row(
            f"{h.score:.4f}",
            h.item.kind,
            h.item.domain,
            h.item.content.replace("\n", " ")[:120],
            h.item.id,
        )
    Console().print(table)
    return 0


@_kb_guard
def cmd_kb_stats(args: argparse.Namespace) -> int:
    with _open_kb(args, read_only=args.kb is not None and not args.migrate) as kb:
        stats = kb.stats()
    if args.json:
        _print_json(stats)
    else:
        for key, value in stats.items():
            print(f"{key:15s} {value}")
    return 0


@_kb_guard
def cmd_kb_export(args: argparse.Namespace) -> int:
    from kb.export import export

    filters = {
        k: v
        for k, v in {"domain": args.domain, "relation": args.relation, "kinds": args.kind}.items()
        if v
    }
    with _open_kb(args, read_only=True) as kb:
        hits = kb.search(
            args.query, mode="exact" if not args.query else "bm25", k=args.limit, **filters
        )
    print(export(hits, args.format))
    return 0


@_kb_guard
def cmd_kb_show(args: argparse.Namespace) -> int:
    with _open_kb(args, read_only=True) as kb:
        item = kb.get(args.id)
    if item is None:
        print(f"nesy kb: error: no item with id {args.id!r}", file=sys.stderr)
        return 1
    _print_json(item.model_dump(mode="json"))
    return 0


def _load_agent(args: argparse.Namespace, checkpoint: Path | None = None) -> Any:
    """The agent the shared agent flags describe (``nesy ask|chat|serve``)."""
    from agent.api import Agent

    return Agent.load(
        args.model,
        kb=None if args.no_kb else (args.kb or "default"),
        device=args.device,
        checkpoint=checkpoint,
        mode=args.mode,
        task=args.task,
        max_repairs=args.max_repairs,
        vote_k=args.vote_k,
        resample_k=args.resample_k,
        max_new_tokens=args.max_new_tokens,
    )


def cmd_ask(args: argparse.Namespace) -> int:
    from agent.display import show_answer, show_step
    from agent.students import StudentError

    try:
        agent = _load_agent(args)
        if args.json:
            answer = agent.ask(args.question)
            print(answer.model_dump_json(indent=2))
            return 0
        from rich.console import Console

        console = Console()
        final = None
        for event in agent.stream(args.question):
            if event["node"] == "done":
                final = event["answer"]
                continue
            show_step(console, event["node"], event["step"])
    except (ValueError, StudentError) as exc:
        print(f"nesy ask: error: {exc}", file=sys.stderr)
        return 2
    assert final is not None
    show_answer(console, final)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agent.repl import Chat
    from agent.students import StudentError, nesy_home

    checkpoint = args.checkpoint or nesy_home() / "chat.sqlite"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    try:
        agent = _load_agent(args, checkpoint)
    except (ValueError, StudentError) as exc:
        print(f"nesy chat: error: {exc}", file=sys.stderr)
        return 2
    return Chat(agent, Console(highlight=False), history=nesy_home() / "chat_history").run()


def cmd_serve(args: argparse.Namespace) -> int:
    from agent.server import serve
    from agent.students import StudentError

    try:
        agent = _load_agent(args)
    except (ValueError, StudentError) as exc:
        print(f"nesy serve: error: {exc}", file=sys.stderr)
        return 2
    serve(
        agent,
        host=args.host,
        port=args.port,
        max_concurrency=args.max_concurrency,
        max_tokens_cap=args.max_tokens_cap,
        max_request_bytes=args.max_request_bytes,
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from solvers import SandboxUnavailable
    from solvers._probe import report

    try:
        out = report()
    except SandboxUnavailable as exc:
        print(f"nesy doctor: REFUSED: the solver sandbox cannot run here: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["contained"] else 1
    kinds = [k for k in ("py", "sympy", "asp", "prolog") if k in out]
    print(f"solver sandbox: mode {out['mode']}")
    print("layers (what each enforces):")
    for name, value in out["layers"].items():
        if isinstance(value, dict):
            value = "; ".join(f"{k}: {', '.join(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(value)
        print(f"  {name:<17} {value}")
    print("escape attempts by a probe that skips the language checks:")
    print(
        f"  {'class':<22} "
        + " ".join(f"{k:<8}" for k in kinds)
        + "  how the python sandbox refused it"
    )
    for attempt, detail in out[kinds[0]]["attempts"].items():
        if attempt in ("uid", "pid", "host_uid"):
            continue
        marks = []
        for k in kinds:
            value = str(out[k]["attempts"].get(attempt, "?"))
            marks.append("blocked" if value.startswith("blocked") else value.split(":")[0])
        why = str(detail).removeprefix("blocked (").removesuffix(")")
        print(f"  {attempt:<22} " + " ".join(f"{m:<8}" for m in marks) + f"  {why[:70]}")
    print(
        "  (clingo and SWI-Prolog sandboxes may start threads, never processes; "
        "poison_next_request changes only its own process)"
    )
    print(f"contained: {'yes' if out['contained'] else 'NO'}")
    return 0 if out["contained"] else 1


def _number(kind: type, low: float | None = None, high: float | None = None) -> Any:
    """An argparse type: a number of ``kind`` within [low, high], or a clear usage error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low:g}, got {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high:g}, got {text}")
        return value

    return parse


def _help(name: str) -> str:
    """An AgentConfig field's help text, with its default (the CLI repeats neither)."""
    from agent.config import default, help_text

    return f"{help_text(name)} (default {default(name)})"


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = _number(kind)(text)
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
        type=_number(int, 0),
        default=1,
        help="asp answer sets / prolog solutions (0 = all; default 1)",
    )
    p.add_argument("--answer-var", default="ans", help="python: answer variable (default ans)")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    p.set_defaults(func=cmd_solve)

    kb_parser = sub.add_parser("kb", help="the knowledge base: import, search, stats, export, show")
    kb_sub = kb_parser.add_subparsers(dest="kb_command", required=True, metavar="COMMAND")

    def kb_command(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        q = kb_sub.add_parser(name, help=help)
        q.add_argument("--kb", type=Path, help="KB file (default: the shipped KB in $NESY_HOME)")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(func=func)
        return q

    q = kb_command("import", "import JSONL, CSV, TSV, ATOMIC TSV or Parquet", cmd_kb_import)
    q.add_argument("file", metavar="FILE")
    q.add_argument(
        "--format",
        choices=["jsonl", "csv", "tsv", "atomic", "parquet"],
        help="default: from the extension",
    )
    q.add_argument("--domain", default="general", help="domain for rows that name none")
    q.add_argument("--embed", action="store_true", help="compute MiniLM embeddings too")
    q.add_argument("--critic", type=Path, help="admit through this critic (dir with critic.pkl)")
    q.add_argument(
        "--threshold", type=_number(float, 0, 1), default=0.5, help="critic admission threshold"
    )

    q = kb_command("search", "retrieve items (exact, bm25, vector or hybrid)", cmd_kb_search)
    q.add_argument("query", nargs="?", help="search text (exact mode: a head to match)")
    q.add_argument("--mode", choices=["exact", "bm25", "vector", "hybrid"], default="hybrid")
    q.add_argument("-k", type=_positive(int), default=10, help="how many results (default 10)")
    q.add_argument("--domain")
    q.add_argument("--relation")
    q.add_argument("--head")
    q.add_argument("--kind", action="append", help="repeatable: triple, fact, rule, ...")
    q.add_argument("--tag", action="append", help="repeatable; items must have every tag")
    q.add_argument("--min-score", type=_number(float, 0, 1), help="minimum critic score")
    q.add_argument("--verified-only", action="store_true")

    q = kb_command("stats", "counts by kind and domain, index state, size", cmd_kb_stats)
    q.add_argument(
        "--migrate",
        action="store_true",
        help="open read-write, migrating an older schema (a backup is kept)",
    )

    q = kb_command("export", "print items as Prolog clauses, ASP facts or JSONL", cmd_kb_export)
    q.add_argument("--format", choices=["prolog", "asp", "jsonl"], default="prolog")
    q.add_argument("--query", help="BM25 query selecting the items (default: all, by filter)")
    q.add_argument("--domain")
    q.add_argument("--relation")
    q.add_argument("--kind", action="append")
    q.add_argument("--limit", type=_positive(int), default=1000)

    q = kb_command("show", "one item, in full", cmd_kb_show)
    q.add_argument("id")

    def agent_command(name: str, help: str, func: Any) -> argparse.ArgumentParser:
        # Defaults are None here and filled from nesy.toml, then AGENT_DEFAULTS (see main).
        q = sub.add_parser(name, help=help)
        q.add_argument("--model", help="default | hf:PATH[+lora:ADAPTER] | openai:MODEL@URL")
        q.add_argument("--mode", choices=list(_modes()), help=_help("mode"))
        q.add_argument("--task", help=_help("task"))
        q.add_argument("--kb", type=Path, help="KB for exemplars (default: the shipped KB)")
        q.add_argument("--no-kb", action="store_true", help="no retrieval")
        q.add_argument("--max-repairs", type=_number(int, 0), help=_help("max_repairs"))
        q.add_argument("--vote-k", type=_positive(int), help=_help("vote_k"))
        q.add_argument("--resample-k", type=_number(int, 0), help=_help("resample_k"))
        q.add_argument("--max-new-tokens", type=_positive(int), help=_help("max_new_tokens"))
        q.add_argument("--device", choices=["auto", "cpu", "cuda"])
        q.set_defaults(func=func, agent_flags=True)
        return q

    p = agent_command("ask", "answer one question with the agent, showing its steps", cmd_ask)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer record as JSON")

    p = agent_command("chat", "interactive questions with live steps (/help inside)", cmd_chat)
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="SQLite file for resumable threads (default $NESY_HOME/chat.sqlite)",
    )

    p = agent_command(
        "serve", "OpenAI-compatible /v1/chat/completions for the agent and the student", cmd_serve
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_number(int, 0, 65535), default=8000)
    p.add_argument(
        "--max-concurrency", type=_positive(int), default=4, help="requests in flight; more get 429"
    )
    p.add_argument("--max-tokens-cap", type=_positive(int), default=2048)
    p.add_argument("--max-request-bytes", type=_positive(int), default=1 << 20)

    from training.cli import add_parser as add_distill

    add_distill(sub, _positive)

    p = sub.add_parser("doctor", help="check what the solver sandbox enforces on this machine")
    p.add_argument("--json", action="store_true", help="the whole report as JSON")
    p.set_defaults(func=cmd_doctor)

    from bench.cli import add_parser as add_bench

    add_bench(sub, _positive, _number(int, 0))
    return parser


# The agent's flags that AgentConfig defines (nesy.config.CONFIG_FLAGS) take their defaults
# from it; these are the CLI's own: which student, which KB, which device, which checkpoint.
AGENT_DEFAULTS: dict[str, Any] = {
    "model": "default",
    "kb": None,
    "device": "auto",
    "checkpoint": None,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":  # resolved here: lower layers never import nesy.config
        from nesy.config import load_config

        try:
            args.paths = load_config().get("paths", {})
        except ValueError as exc:
            print(f"nesy: error: {exc}", file=sys.stderr)
            return 2
    if getattr(args, "agent_flags", False):
        from nesy.config import CONFIG_FLAGS, apply, load_config

        try:
            from agent.config import default

            defaults = {**AGENT_DEFAULTS, **{k: default(k) for k in CONFIG_FLAGS}}
            apply(args, load_config(), defaults)
        except ValueError as exc:
            print(f"nesy: error: {exc}", file=sys.stderr)
            return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
