"""``nesy bench run``: score systems on tasks, resumably, shardably, with the results in DuckDB.

>>> # nesy bench run gsm8k --system replay:pot_codex_gsm8k_test_fewshot.jsonl --data ../shared/data
"""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from agent.records import FailureClass
from bench.records import BenchRecord, RunInfo
from bench.results import Results, db_path
from bench.systems import Options, Prediction, load_system
from bench.tasks import BadLine, Item, Task, TaskError, get_task
from solvers.files import combine_hashes, sha256_file, weights_hash

PACKAGES = ("nesy", "torch", "transformers", "peft", "langgraph", "clingo", "duckdb", "pyswip")


class BenchError(RuntimeError):
    """A run that must not go ahead; the message says why and what to do."""


@dataclass
class RunSpec:
    tasks: list[str]
    system: str
    data: str | None = None
    limit: int | None = None
    limit_per_difficulty: int | None = None
    items_of: str = ""
    seed: int = 0
    shard: str = ""
    out: str = "nesy-results"
    maj_k: int = 1
    mode: str | None = None
    kb: str | None = None
    num_fewshot: int = 0
    apply_chat_template: bool = False
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    agent_args: dict[str, Any] = field(default_factory=dict)
    log_samples: bool = False
    allow_contaminated: bool = False
    on_bad_line: str = "stop"
    batch_size: int = 16
    device: str = "auto"
    command: str = ""

    def fingerprint(self, data_files: list[dict[str, str]], model: str = "") -> str:
        """The run id: the same command on the same data with the same weights (``model``,
        ``model_hash``) is the same run (so it resumes); new weights are a new run."""
        key = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("shard", "out", "log_samples", "batch_size", "device", "command", "data",
                         "on_bad_line", "allow_contaminated")
        }  # fmt: skip
        if key.get("limit_per_difficulty") is None:  # run ids from before the flag stay
            key.pop("limit_per_difficulty", None)
        if not key.get("items_of"):
            key.pop("items_of", None)
        key["data"] = sorted(f["sha256"] for f in data_files)
        if model:
            key["model"] = model
        blob = json.dumps(key, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BenchError(f"--shard {text!r}: use i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise BenchError(f"--shard {text!r}: i must be in 0..n-1")
    return i, n


def load_items(
    spec: RunSpec, warn: Any = None
) -> tuple[dict[str, Task], dict[str, list[Item]], list[dict[str, str]]]:
    tasks = {name: get_task(name) for name in spec.tasks}
    shard = parse_shard(spec.shard)
    items: dict[str, list[Item]] = {}
    files = []
    for name, task in tasks.items():
        path = task.resolve(spec.data)
        bad: list[BadLine] = []
        loaded = task.load(path, on_bad_line=spec.on_bad_line, bad=bad)
        for b in bad:
            if warn:
                warn(f"skipped {b}")
        if spec.limit is not None:
            loaded = loaded[: spec.limit]
        if spec.limit_per_difficulty is not None:
            taken: collections.Counter[Any] = collections.Counter()
            kept = []
            for it in loaded:  # the first N of each hop count / depth, in file order
                if taken[it.difficulty] < spec.limit_per_difficulty:
                    taken[it.difficulty] += 1
                    kept.append(it)
            loaded = kept
        if spec.items_of:
            loaded = _same_items(spec, name, loaded)
        if shard:
            loaded = loaded[shard[0] :: shard[1]]
        items[name] = loaded
        files.append(
            {"task": name, "split": task.eval_split, "path": str(path), "sha256": sha256_file(path)}
        )
    return tasks, items, files


def _same_items(spec: RunSpec, task: str, loaded: list[Item]) -> list[Item]:
    """The items of ``loaded`` that run ``spec.items_of`` (in the results directory) scored
    for ``task``, in file order: a second system on exactly a replay's covered items, so
    ``nesy bench compare`` pairs all of them."""
    from bench.results import ResultsError

    path = db_path(spec.out)
    if not path.exists():
        raise BenchError(f"--items-of {spec.items_of}: no results at {path}; pass its --out")
    try:
        with Results(path, read_only=True) as results:
            other = results.run(spec.items_of)
            ids = {r.item_id for r in results.records(other.run_id, task)}
    except ResultsError as exc:
        raise BenchError(f"--items-of: {exc}") from None
    spec.items_of = other.run_id  # a prefix and the full id are one selection, one run id
    kept = [it for it in loaded if it.id in ids]
    if not kept:
        raise BenchError(
            f"--items-of {spec.items_of}: run {other.run_id} ({other.system}) scored no "
            f"{task} item of this file"
        )
    return kept


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def package_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def to_record(run_id: str, task: Task, item: Item, pred: Prediction, dirty: bool) -> BenchRecord:
    correct = task.correct(pred.answer, item.gold)
    failure = None if correct else (pred.failure or FailureClass.wrong_answer)
    return BenchRecord(
        run_id=run_id,
        task=task.name,
        item_id=item.id,
        prediction=_jsonable(pred.answer),
        gold=_jsonable(item.gold),
        correct=correct,
        grounded=pred.grounded,
        failure=failure,
        repairs=pred.repairs,
        prompt_tokens=pred.prompt_tokens,
        completion_tokens=pred.completion_tokens,
        latency_s=round(pred.latency_s, 4),
        difficulty=item.difficulty,
        contaminated=dirty,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def run(spec: RunSpec, progress: bool = True, warn: Any = None) -> dict[str, Any]:
    """Run (or resume) one benchmark run; returns the ``--json`` summary."""
    from bench.report import summarize

    if spec.maj_k < 1:
        raise BenchError("--maj-k must be at least 1")
    tasks, items, files = load_items(spec, warn)
    weights = model_hash(spec.system, None)
    run_id = spec.fingerprint(files, weights)
    with Results(db_path(spec.out, spec.shard)) as results:
        opts = Options(
            mode=spec.mode, kb=spec.kb, maj_k=spec.maj_k, num_fewshot=spec.num_fewshot,
            apply_chat_template=spec.apply_chat_template, gen_kwargs=spec.gen_kwargs,
            seed=spec.seed, data=spec.data, device=spec.device, agent_args=spec.agent_args,
        )  # fmt: skip
        system = load_system(spec.system, opts, results)
        try:
            card = system.card()
            trained = set(card.train_item_ids) if card else set()
            dirty = {it.id for its in items.values() for it in its if it.id in trained}
            if dirty and not spec.allow_contaminated:
                example = sorted(dirty)[0]
                raise BenchError(
                    f"{len(dirty)} item(s) are in the system's training data (its ModelCard "
                    f"lists them), e.g. {example}; scoring them would inflate the result. "
                    "Pass --allow-contaminated to score them anyway (the report marks them)."
                )
            info = RunInfo(
                run_id=run_id,
                system=spec.system,
                tasks=spec.tasks,
                config={
                    k: v for k, v in asdict(spec).items() if k not in ("tasks", "system", "command")
                },
                model_hash=weights or model_hash(spec.system, card),
                model_card=card.model_dump(mode="json") if card else None,
                data_files=files,
                train_files=card.train_files if card else [],
                git_commit=git_commit(),
                packages=package_versions(),
                command=spec.command,
                shard=spec.shard,
            )
            covers = getattr(system, "covers", None)
            if covers is not None:  # a replay file scores only the items it recorded
                for name, its in items.items():
                    kept = [it for it in its if covers(it)]
                    if len(kept) < len(its) and warn:
                        warn(
                            f"{name}: {len(its) - len(kept)} of {len(its)} items have no "
                            f"record in {spec.system}; scoring the {len(kept)} it covers"
                        )
                    items[name] = kept
            results.save_run(info)
            done = results.done(run_id)
            for name, task in tasks.items():
                _run_task(results, system, run_id, task, items[name], done, dirty, spec, progress)
            summary = {
                name: summarize(_scored(results, run_id, name, items[name])) for name in tasks
            }
        finally:
            system.close()
    return {
        "run": run_id,
        "results": {
            name: {k: s[k] for k in ("accuracy", "n", "ci95", "failures", "tokens_per_q")}
            for name, s in summary.items()
        },
    }


def _scored(results: Results, run_id: str, task: str, items: list[Item]) -> list[BenchRecord]:
    """The run's records for this invocation's items (a shard or a --limit sees only its own)."""
    ids = {it.id for it in items}
    return [r for r in results.records(run_id, task) if r.item_id in ids]


def _run_task(
    results: Results,
    system: Any,
    run_id: str,
    task: Task,
    items: list[Item],
    done: set[tuple[str, str]],
    dirty: set[str],
    spec: RunSpec,
    progress: bool,
) -> None:
    from tqdm import tqdm

    todo = [it for it in items if (task.name, it.id) not in done]
    previous = _scored(results, run_id, task.name, items)
    right, seen = sum(r.correct for r in previous), len(previous)
    bar = tqdm(
        total=len(items), initial=len(items) - len(todo), desc=task.name, unit="q",
        disable=not progress, dynamic_ncols=True,
    )  # fmt: skip
    try:
        for start in range(0, len(todo), spec.batch_size):
            chunk = todo[start : start + spec.batch_size]
            preds = system.predict(task, chunk)
            records = [
                to_record(run_id, task, it, p, it.id in dirty)
                for it, p in zip(chunk, preds, strict=True)
            ]
            samples = (
                [
                    {
                        "run_id": run_id,
                        "task": task.name,
                        "item_id": it.id,
                        "prompts": _jsonable(p.prompts),
                        "outputs": p.outputs,
                    }
                    for it, p in zip(chunk, preds, strict=True)
                ]  # fmt: skip
                if spec.log_samples
                else []
            )
            results.add(records, samples)
            right += sum(r.correct for r in records)
            seen += len(records)
            bar.set_postfix(acc=f"{right / max(1, seen):.3f}")
            bar.update(len(chunk))
    finally:
        bar.close()


def model_hash(system: str, card: Any) -> str:
    """A hash of what answers: the weights (the packaged default: its base and every
    shipped adapter; a directory and its ``+lora:`` adapter), the replayed file, else the
    card's base hash."""
    kind, _, rest = system.partition(":")
    if kind == "agent":
        kind, _, rest = rest.partition(":") if ":" in rest else ("hf", "", rest)
    if kind == "replay":
        path = Path(rest).expanduser()
        return sha256_file(path) if path.is_file() else ""
    if kind in ("default", "") or rest == "default":
        from agent.students import StudentError
        from agent.students.packaged import default_gguf
        from agent.students.skills import shipped

        try:  # the packaged GGUF: known before its first conversion, so a first run resumes
            base = sha256_file(default_gguf())
        except StudentError:
            return ""  # loading the system names the missing package
        return combine_hashes([base, *(weights_hash(d) for d in shipped().values())])
    dirs = [Path(p).expanduser() for p in rest.split("+lora:")]
    found = combine_hashes(weights_hash(d) for d in dirs if d.is_dir())
    if found:
        return found
    return str(card.base_model_sha256) if card is not None and card.base_model_sha256 else ""


__all__ = ["BenchError", "RunSpec", "TaskError", "run"]
