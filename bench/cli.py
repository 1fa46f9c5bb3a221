"""``nesy bench``: run | report | compare | merge | export | tasks. Imports the harness lazily."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = "nesy-results"


def _modes() -> tuple[str, ...]:
    from agent.modes import MODES

    return MODES


def _results_dir(args: argparse.Namespace) -> str:
    if args.results:
        return str(args.results)
    return str(getattr(args, "paths", {}).get("results", DEFAULT_RESULTS))


def _fail(message: str, code: int = 2) -> int:
    print(f"nesy bench: error: {message}", file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    from bench.results import ResultsError
    from bench.runner import BenchError, RunSpec, run
    from bench.systems import SystemError, parse_agent_args, parse_gen_kwargs
    from bench.tasks import TaskError

    if args.data is None:  # nesy.toml's [paths] data, resolved by the CLI layer
        args.data = getattr(args, "paths", {}).get("data")
    try:
        spec = RunSpec(
            tasks=args.tasks, system=args.system, data=args.data, limit=args.limit,
            limit_per_difficulty=args.limit_per_difficulty, items_of=args.items_of or "",
            seed=args.seed, shard=args.shard or "", out=_results_dir(args), maj_k=args.maj_k,
            mode=args.mode, kb=args.kb, num_fewshot=args.num_fewshot,
            apply_chat_template=args.apply_chat_template,
            gen_kwargs=parse_gen_kwargs(args.gen_kwargs), log_samples=args.log_samples,
            agent_args=parse_agent_args(args.agent_args),
            allow_contaminated=args.allow_contaminated,
            on_bad_line="skip" if args.skip_bad_lines else "stop",
            batch_size=args.batch_size, device=args.device,
            command="nesy bench " + shlex.join(sys.argv[2:] if args.argv is None else args.argv),
        )  # fmt: skip
        summary = run(spec, progress=not args.json, warn=lambda m: print(m, file=sys.stderr))
    except (BenchError, SystemError, TaskError, ResultsError) as exc:
        return _fail(str(exc))
    except RuntimeError as exc:  # a student that cannot load (StudentError) and the like
        return _fail(str(exc), 1)
    if args.json:
        print(json.dumps(summary))
    else:
        _table(summary)
    return 0


def _table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {summary['run']}")
    for col in ("task", "n", "accuracy %", "95% CI", "failures", "tokens/q"):
        table.add_column(col)
    for task, s in summary["results"].items():
        lo, hi = s["ci95"]
        fails = ", ".join(f"{k} {v}" for k, v in sorted(s["failures"].items())) or "-"
        table.add_row(
            task, str(s["n"]), f"{100 * s['accuracy']:.1f}", f"[{100 * lo:.1f}, {100 * hi:.1f}]",
            fails, f"{s['tokens_per_q']:.0f}",
        )  # fmt: skip
    Console().print(table)


def _load_runs(args: argparse.Namespace, ids: list[str]) -> list[Any]:
    """Each run with its records; ``RUN@RESULTS`` reads that run from another results
    directory or file (two code versions run with one command share a run id, so they live
    in two directories)."""
    from bench.results import Results, db_path

    out = []
    for spec in ids:
        run_id, _, where = spec.partition("@")
        with Results(db_path(where or _results_dir(args)), read_only=True) as r:
            info = r.run(run_id)
            out.append((info, r.records(info.run_id)))
    return out


def _one_run(runs: list[Any], prefix: str) -> str:
    """The id of the one reported run that ``prefix`` names (for ``--label``)."""
    from bench.results import ResultsError

    found = {info.run_id for info, _ in runs if info.run_id.startswith(prefix)}
    if len(found) != 1:
        what = "no reported run" if not found else f"{len(found)} reported runs"
        raise ResultsError(f"--label {prefix}: {what} starts with {prefix!r}")
    return found.pop()


def cmd_report(args: argparse.Namespace) -> int:
    from bench import report
    from bench.results import ResultsError

    if not args.runs and not args.all:
        return _fail("name the runs to report (ids or prefixes), or pass --all")
    labels = {}
    for entry in args.label:
        run_id, sep, name = entry.partition("=")
        if not sep or not run_id or not name:
            return _fail(f"--label {entry!r}: expected RUN=NAME")
        labels[run_id] = name
    try:
        if args.all:
            from bench.results import Results, db_path

            with Results(db_path(_results_dir(args)), read_only=True) as r:
                args.runs = sorted({i.run_id for i in r.runs()})
        runs = _load_runs(args, args.runs)
        names = {_one_run(runs, prefix): name for prefix, name in labels.items()}
    except ResultsError as exc:
        return _fail(str(exc))
    if args.html:
        Path(args.html).write_text(report.html_report(runs, names), encoding="utf-8")
        print(f"wrote {args.html}")
    if args.md or not args.html:
        text = report.markdown(runs, names)
        if args.md and args.md != "-":
            Path(args.md).write_text(text, encoding="utf-8")
            print(f"wrote {args.md}")
        else:
            print(text, end="")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench import report
    from bench.results import ResultsError

    try:
        a, b = _load_runs(args, [args.run_a, args.run_b])
        if args.task:  # one task of runs that scored several
            a, b = ((info, [r for r in rs if r.task == args.task]) for info, rs in (a, b))
        result = report.compare(a, b)
    except (ResultsError, ValueError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['n']} paired items | A {result['a']['system']} ({result['a']['run']}): "
        f"{100 * result['a']['accuracy']:.1f}% | B {result['b']['system']} "
        f"({result['b']['run']}): {100 * result['b']['accuracy']:.1f}%"
    )
    print(
        f"both right {result['both_correct']}, neither {result['neither']}, A only "
        f"{len(result['a_only'])}, B only {len(result['b_only'])} | McNemar exact p = "
        f"{result['mcnemar_p']:.4g}"
    )
    for side in ("a_only", "b_only"):
        ids = result[side]
        more = f" (+{len(ids) - 10} more; --json lists all)" if len(ids) > 10 else ""
        print(f"{side.replace('_', ' ').upper()}: {', '.join(ids[:10]) or '-'}{more}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.results import ResultsError, db_path, merge

    try:
        ids = merge(args.sources, db_path(args.out))
    except ResultsError as exc:
        return _fail(str(exc))
    print(f"merged run(s) {', '.join(ids)} into {db_path(args.out)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.results import ResultsError, export

    try:
        ids = export(args.sources, args.out)
    except ResultsError as exc:
        return _fail(str(exc))
    print(f"exported run(s) {', '.join(ids)} to {args.out} (runs and records, as Parquet)")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from bench.tasks import all_tasks

    rows = [
        {"task": t.name, "domain": t.domain, "answer": t.answer_type,
         "mode": t.mode, "file": t.files[t.eval_split], "licence": t.licence,
         "description": t.description}
        for t in all_tasks().values()
    ]  # fmt: skip
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        mode = r["mode"] + (" (no solver yet)" if r["mode"] == "direct" else "")
        print(f"{r['task']:12s} {r['domain']:9s} {r['answer']:7s} {mode:22s} {r['file']}")
    return 0


def add_parser(sub: Any, positive: Any, nonnegative: Any) -> None:
    bench = sub.add_parser("bench", help="benchmarks: run, report, compare, merge, export, tasks")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")

    def results_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--results", "--out", dest="results",
            help=f"results directory or .duckdb file (default: nesy.toml [paths] results, "
            f"else ./{DEFAULT_RESULTS}); --out as in `nesy bench run`",
        )  # fmt: skip

    p = bsub.add_parser("run", help="score a system on tasks (resumes an interrupted run)")
    p.add_argument("tasks", nargs="+", metavar="TASK", help="task names (nesy bench tasks)")
    p.add_argument(
        "--system", required=True,
        help="agent:default|PATH, hf:PATH, ct2:PATH, openai:MODEL@URL, default, replay:FILE",
    )  # fmt: skip
    p.add_argument("--data", help="a data root laid out like ../shared/data, or one file")
    p.add_argument("--limit", type=positive(int), help="the first N items of each task")
    p.add_argument(
        "--limit-per-difficulty",
        type=positive(int),
        help="the first N items of each difficulty (hops, depth) of each task",
    )
    p.add_argument(
        "--items-of",
        metavar="RUN",
        help="only the items run RUN (in --out) scored, e.g. a replay's covered items",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", help="i/n: score every n-th item from the i-th (merge after)")
    p.add_argument("--out", dest="results", help="results directory (alias of --results)")
    p.add_argument("--results", dest="results", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print one JSON line at the end")
    p.add_argument("--maj-k", type=positive(int), default=1, help="self-consistency samples")
    p.add_argument("--mode", choices=list(_modes()))
    p.add_argument("--kb", help="agent KB: a .duckdb path, 'default' or 'none'")
    p.add_argument("--agent-args", help="agent settings, e.g. max_repairs=0,syntax_retries=0")
    p.add_argument("--num-fewshot", type=nonnegative, default=0, help="direct prompting exemplars")
    p.add_argument("--apply-chat-template", action="store_true")
    p.add_argument("--gen-kwargs", help="e.g. temperature=0,max_new_tokens=256")
    p.add_argument("--log-samples", action="store_true", help="keep prompts and outputs")
    p.add_argument(
        "--allow-contaminated",
        action="store_true",
        help="score items the system trained on (marked in the report)",
    )
    p.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="skip malformed dataset lines (reported) instead of stopping",
    )
    p.add_argument("--batch-size", type=positive(int), default=16)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_run, argv=None)

    p = bsub.add_parser("report", help="a report of runs: --md (default) or --html FILE")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids (or unique prefixes)")
    p.add_argument("--all", action="store_true", help="every run in the results database")
    results_flag(p)
    p.add_argument("--html", help="write a self-contained HTML report with plots")
    p.add_argument("--md", nargs="?", const="-", help="Markdown to FILE (default stdout)")
    p.add_argument(
        "--label", action="append", default=[], metavar="RUN=NAME",
        help="name a run's row in the systems-by-task table; runs given one name share a row",
    )  # fmt: skip
    p.set_defaults(func=cmd_report)

    p = bsub.add_parser("compare", help="paired comparison of two runs (McNemar's test)")
    p.add_argument("run_a", metavar="RUN_A", help="a run id (or prefix); RUN@RESULTS: from there")
    p.add_argument("run_b", metavar="RUN_B")
    results_flag(p)
    p.add_argument("--task", help="pair only this task's items (runs that scored several)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    p = bsub.add_parser("merge", help="join shard results into one database")
    p.add_argument("sources", nargs="+", help="shard .duckdb files or directories")
    p.add_argument("--out", required=True, help="the merged results directory or file")
    p.set_defaults(func=cmd_merge)

    p = bsub.add_parser(
        "export", help="runs and records as Parquet files, small enough to commit; read-only"
    )
    p.add_argument("sources", nargs="+", help="results .duckdb files or directories")
    p.add_argument("--out", required=True, help="the folder (every bench command reads it)")
    p.set_defaults(func=cmd_export)

    p = bsub.add_parser("tasks", help="list the tasks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tasks)
