"""Reports over runs: accuracy with a 95% interval, failure classes, accuracy by difficulty,
latency and tokens; Markdown or a self-contained HTML page with matplotlib plots; and the
paired comparison of two runs on the same items (McNemar's exact test)."""

from __future__ import annotations

import base64
import collections
import html
import io
import math
from collections.abc import Sequence
from typing import Any

from bench.records import BenchRecord, RunInfo


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval for k successes in n trials."""
    if n == 0:
        return [0.0, 0.0]
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 4)


def summarize(records: Sequence[BenchRecord]) -> dict[str, Any]:
    n = len(records)
    k = sum(r.correct for r in records)
    by_diff: dict[Any, list[BenchRecord]] = collections.defaultdict(list)
    for r in records:
        by_diff[r.difficulty].append(r)
    return {
        "accuracy": round(k / n, 4) if n else 0.0,
        "n": n,
        "correct": k,
        "ci95": wilson(k, n),
        "grounded": round(sum(r.grounded for r in records) / n, 4) if n else 0.0,
        "failures": dict(collections.Counter(str(r.failure) for r in records if r.failure)),
        "tokens_per_q": round(sum(r.tokens for r in records) / n, 1) if n else 0.0,
        "latency_p50_s": _pct([r.latency_s for r in records], 0.5),
        "latency_p95_s": _pct([r.latency_s for r in records], 0.95),
        "contaminated": sum(r.contaminated for r in records),
        "by_difficulty": {
            d: {"n": len(rs), "accuracy": round(sum(r.correct for r in rs) / len(rs), 4)}
            for d, rs in sorted(by_diff.items(), key=lambda p: (p[0] is None, p[0] or 0))
        },
    }


Runs = list[tuple[RunInfo, list[BenchRecord]]]


def _by_task(runs: Runs) -> dict[str, list[tuple[RunInfo, dict[str, Any]]]]:
    out: dict[str, list[tuple[RunInfo, dict[str, Any]]]] = collections.defaultdict(list)
    for info, records in runs:
        for task in sorted({r.task for r in records}):
            out[task].append((info, summarize([r for r in records if r.task == task])))
    return out


def _header(runs: Runs) -> list[tuple[str, str]]:
    """(label, value) lines naming what was trained on, evaluated on, and the commands."""
    lines = []
    for info, _ in runs:
        evals = ", ".join(f"{f.path} (sha256 {f.sha256[:12]})" for f in info.data_files)
        train = (
            ", ".join(f"{f.path} (sha256 {f.sha256[:12]})" for f in info.train_files)
            or "none recorded (an untuned or external model)"
        )
        lines += [
            (f"run {info.run_id}", info.system),
            ("  command", info.command or "(not recorded)"),
            ("  evaluated on", evals),
            ("  trained on", train),
            ("  model hash", info.model_hash[:16] or "-"),
            ("  git commit", info.git_commit[:12] or "-"),
        ]
    return lines


def _row(task: str, info: RunInfo, s: dict[str, Any]) -> list[str]:
    lo, hi = s["ci95"]
    fails = ", ".join(f"{k} {v}" for k, v in sorted(s["failures"].items())) or "-"
    dirty = f" ({s['contaminated']} contaminated)" if s["contaminated"] else ""
    return [
        task, info.system, f"{info.run_id}", f"{s['n']}{dirty}",
        f"{100 * s['accuracy']:.1f}", f"[{100 * lo:.1f}, {100 * hi:.1f}]",
        f"{100 * s['grounded']:.0f}%", fails, f"{s['tokens_per_q']:.0f}",
        f"{s['latency_p50_s']:.2f} / {s['latency_p95_s']:.2f}",
    ]  # fmt: skip


COLUMNS = [
    "task", "system", "run", "n", "acc %", "95% CI", "grounded", "failures", "tokens/q",
    "latency p50/p95 s",
]  # fmt: skip


def _setting(info: RunInfo) -> str:
    cfg = info.config
    parts = []
    if cfg.get("mode"):
        parts.append(f"--mode {cfg['mode']}")
    if cfg.get("num_fewshot"):
        parts.append(f"{cfg['num_fewshot']}-shot")
    if cfg.get("apply_chat_template"):
        parts.append("chat template")
    if (cfg.get("maj_k") or 1) > 1:
        parts.append(f"maj@{cfg['maj_k']}")
    if cfg.get("kb"):
        parts.append(f"kb {cfg['kb']}")
    agent_args = cfg.get("agent_args") or {}
    parts += [f"{k}={v}" for k, v in sorted(agent_args.items()) if k != "max_new_tokens"]
    return ", ".join(parts)


def headline(
    runs: Runs, names: dict[str, str] | None = None
) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """Systems by tasks, like a paper's results table: one row per system and setting
    (``--mode``, few-shot, ``--agent-args`` but the per-task token budget), one column per
    task, each cell ``accuracy [95% CI] · tokens/q (n)``; rows and columns in the order the
    runs were given. ``names`` (run id -> row name)
    names rows; runs given one name share a row. A second run of one row on one task (another
    item selection) gets a row of its own, labelled with its run id."""
    names = names or {}
    by_task = _by_task(runs)
    order = {info.run_id: i for i, (info, _) in enumerate(runs)}
    cells = sorted(  # rows in the order their runs were named
        ((order[info.run_id], task, info, s) for task, e in by_task.items() for info, s in e),
        key=lambda c: c[0],
    )
    rows: dict[str, dict[str, str]] = {}
    for _, task, info, s in cells:
        lo, hi = s["ci95"]
        tokens = f" · {s['tokens_per_q']:.0f} tok/q" if s["tokens_per_q"] else ""
        cell = f"{100 * s['accuracy']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]{tokens} (n={s['n']})"
        setting = _setting(info)
        label = names.get(info.run_id) or (_system(info) + (f" ({setting})" if setting else ""))
        if task in rows.get(label, {}):
            label = f"{label} [run {info.run_id[:6]}]"
        rows.setdefault(label, {})[task] = cell
    return list(by_task), list(rows.items())


def markdown(runs: Runs, names: dict[str, str] | None = None) -> str:
    lines = ["# nesy bench report", ""]
    lines += [f"- **{k.strip()}**: {v}" if not k.startswith("  ") else f"  - {k.strip()}: {v}"
              for k, v in _header(runs)]  # fmt: skip
    tasks, table = headline(runs, names)
    lines += ["", "## Systems by task (accuracy % [95% CI] · tokens per question)", ""]
    lines += ["| system | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    lines += [f"| {label} | " + " | ".join(cells.get(t, "-") for t in tasks) + " |"
              for label, cells in table]  # fmt: skip
    lines += ["", "## Runs", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    by_task = _by_task(runs)
    for task, entries in by_task.items():
        for info, s in entries:
            lines.append("| " + " | ".join(_row(task, info, s)) + " |")
    lines += ["", "## Accuracy by difficulty", ""]
    for task, entries in by_task.items():
        for info, s in entries:
            cells = ", ".join(
                f"{d}: {100 * v['accuracy']:.0f}% (n={v['n']})"
                for d, v in s["by_difficulty"].items()
            )
            lines.append(f"- {task} / {info.system}: {cells}")
    return "\n".join(lines) + "\n"


def _system(info: RunInfo) -> str:
    """The system, short: a replay's file name without its folder."""
    system = info.system
    return "replay:" + system.rsplit("/", 1)[-1] if system.startswith("replay:") else system


def _label(info: RunInfo) -> str:
    """A short legend label: the system and the run id."""
    return f"{_system(info)} ({info.run_id[:6]})"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def plots(runs: Runs) -> dict[str, str]:
    """Base64 PNGs: accuracy against difficulty per task, and accuracy against cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for task, entries in _by_task(runs).items():
        diffs = [e for e in entries if any(d is not None for d in e[1]["by_difficulty"])]
        if not diffs:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for info, s in diffs:
            points = [(d, v["accuracy"]) for d, v in s["by_difficulty"].items() if d is not None]
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o",
                    label=_label(info))  # fmt: skip
        ax.set(xlabel="difficulty", ylabel="accuracy %", title=f"{task}: accuracy by difficulty",
               ylim=(0, 100))  # fmt: skip
        ax.legend(fontsize=7)
        out[f"{task}-difficulty"] = _png(fig)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for task, entries in _by_task(runs).items():
        for info, s in entries:
            ax.scatter(s["tokens_per_q"], 100 * s["accuracy"])
            ax.annotate(f"{task}\n{_label(info)}", (s["tokens_per_q"], 100 * s["accuracy"]),
                        fontsize=6)  # fmt: skip
    ax.set(xlabel="tokens per question", ylabel="accuracy %", title="accuracy against cost",
           ylim=(0, 100))  # fmt: skip
    out["cost"] = _png(fig)
    plt.close(fig)
    return out


def html_report(runs: Runs, names: dict[str, str] | None = None) -> str:
    esc = html.escape
    head = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _header(runs))
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _row(task, info, s)) + "</tr>"
        for task, entries in _by_task(runs).items()
        for info, s in entries
    )
    tasks, table = headline(runs, names)
    pivot = (
        "<table class='headline'><tr><th>system</th>"
        + "".join(f"<th>{esc(t)}</th>" for t in tasks)
        + "</tr>"
        + "".join(
            f"<tr><th>{esc(label)}</th>"
            + "".join(f"<td>{esc(cells.get(t, '-'))}</td>" for t in tasks)
            + "</tr>"
            for label, cells in table
        )
        + "</table>"
    )
    columns = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    images = "".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}"/>'
        f"<figcaption>{esc(name)}</figcaption></figure>"
        for name, data in plots(runs).items()
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:4px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}"
        "figure{display:inline-block;margin:0 1em 1em 0}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>nesy bench report</title>"
        f"<style>{style}</style></head><body><h1>nesy bench report</h1>"
        f"<h2>Systems by task: accuracy % [95% CI] · tokens per question</h2>{pivot}"
        f"<h2>Runs</h2><table class='results'><tr>{columns}</tr>{rows}</table>{images}"
        f"<h2>What each run was</h2><table class='meta'>{head}</table></body></html>"
    )


def compare(a: tuple[RunInfo, list[BenchRecord]], b: tuple[RunInfo, list[BenchRecord]]) -> dict:
    """Paired comparison on the items both runs scored, with McNemar's exact test."""
    from scipy.stats import binomtest

    ra = {(r.task, r.item_id): r for r in a[1]}
    rb = {(r.task, r.item_id): r for r in b[1]}
    common = sorted(ra.keys() & rb.keys())
    if not common:
        raise ValueError(f"runs {a[0].run_id} and {b[0].run_id} share no items")
    a_only = [
        f"{t}/{i.split('/', 1)[-1]}" for t, i in common if ra[t, i].correct and not rb[t, i].correct
    ]
    b_only = [
        f"{t}/{i.split('/', 1)[-1]}" for t, i in common if rb[t, i].correct and not ra[t, i].correct
    ]
    both = sum(ra[k].correct and rb[k].correct for k in common)
    discordant = len(a_only) + len(b_only)
    p = binomtest(len(a_only), discordant, 0.5).pvalue if discordant else 1.0
    return {
        "a": {"run": a[0].run_id, "system": a[0].system,
              "accuracy": round(sum(ra[k].correct for k in common) / len(common), 4)},
        "b": {"run": b[0].run_id, "system": b[0].system,
              "accuracy": round(sum(rb[k].correct for k in common) / len(common), 4)},
        "n": len(common),
        "both_correct": both,
        "neither": len(common) - both - discordant,
        "a_only": a_only,
        "b_only": b_only,
        "mcnemar_p": float(f"{p:.4g}"),  # significant digits: a tiny p is not 0
    }  # fmt: skip
