"""Train the router (``agent.router``) on the train splits and score it on a shuffled mix
of held-out items of every task.

    python -m training.router --data ../shared/data [--out agent/router.json]

Classes and their training questions (train splits only; an EVAL ONLY file is only ever
scored on):

- ``math``: GSM8K train questions (``gsm8k/train.jsonl``);
- ``spatial``: StepGame stories (``stepgame/valid_k1-10.jsonl``);
- ``kinship``: ``synth:kinship`` stories (``training.kinship``, generated, ours);
- ``deductive``: ProofWriter and ProntoQA dev contexts outside the hold-out share
  (``bench.tasks.deductive.HOLDOUT``), the ones the deductive skill trained on;
- ``other``: StrategyQA questions outside a 20% hold-out (yes/no world knowledge: no
  solver skill fits them; they run ``direct``).

Held out: the first ``--eval-per-task`` items of GSM8K test and SVAMP (math), StepGame
test, CLUTRR test (kinship; its CC BY-NC file is read, never trained on), the ProofWriter
and ProntoQA hold-out parts, and StrategyQA's hold-out share. The report (one JSON line)
gives the accuracy on the mix, per source, and the confusions.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agent.router import OTHER, ROUTER_FILE, Router

OTHER_HOLDOUT = 0.2
TOKENS = r"(?u)\b\w+\b|[^\w\s]"  # words, numbers and each punctuation mark ("?", "'", "$")


def _items(task_name: str, data: Path, split: str | None = None) -> tuple[list[Any], Path]:
    from bench.tasks import get_task

    task = get_task(task_name)
    path = task.resolve(data, split)
    return task.load(path), path


def training_set(data: Path, per_class: int, seed: int = 0) -> tuple[list[str], list[str], list]:
    """(questions, labels, files): at most ``per_class`` questions a class."""
    from bench.tasks import get_task
    from bench.tasks.base import in_holdout
    from training import kinship

    rng = random.Random(seed)
    by_class: dict[str, list[str]] = {}
    files: list[dict[str, str]] = []

    def add(label: str, items: list[Any], path: Path | None) -> None:
        by_class.setdefault(label, []).extend(it.question for it in items)
        if path is not None:
            files.append({"path": _rel(path, data), "class": label})

    for label, name in (("math", "gsm8k"), ("spatial", "stepgame")):
        items, path = _items(name, data, "train")
        add(label, items, path)
    for name in ("proofwriter", "prontoqa"):  # the contexts outside the scored hold-out
        heldout = get_task(f"{name}-heldout")
        add("deductive", heldout.fewshot_pool(data), heldout.resolve(data))
    items, path = _items("strategyqa", data)
    add(OTHER, [it for it in items if not in_holdout(it.id, OTHER_HOLDOUT)], path)
    stories: list[str] = []
    while len(stories) < per_class:
        s = kinship.story(rng, 2 + len(stories) % 9, distractors=rng.randint(0, 2))
        if s:  # half without CLUTRR's [brackets]: a person asking does not write them
            q = kinship.question(s["story"], s["query"])
            stories.append(plain(q) if len(stories) % 2 else q)
    by_class["kinship"] = stories
    files.append({"path": "synth:kinship (training/kinship.py, seed 0)", "class": "kinship"})
    questions, labels = [], []
    for label, qs in sorted(by_class.items()):
        for q in rng.sample(qs, min(per_class, len(qs))):
            questions.append(q)
            labels.append(label)
    return questions, labels, files


Held = tuple[str, str, str, Any]  # question, class, source, gold


def held_out(data: Path, per_task: int, seed: int = 0) -> list[Held]:
    """(question, class, source, gold) of items no class trained on, shuffled."""
    from bench.tasks.base import in_holdout

    mix: list[Held] = []
    for source, label in (("gsm8k", "math"), ("svamp", "math"), ("stepgame", "spatial"),
                          ("clutrr", "kinship"), ("proofwriter-heldout", "deductive"),
                          ("prontoqa-heldout", "deductive")):  # fmt: skip
        items, _ = _items(source, data)
        mix += [(it.question, label, source, it.gold) for it in items[:per_task]]
        if source == "clutrr":  # the same stories as a person would type them
            mix += [(plain(it.question), label, "clutrr-plain", it.gold)
                    for it in items[:per_task]]  # fmt: skip
    items, _ = _items("strategyqa", data)
    held = [it for it in items if in_holdout(it.id, OTHER_HOLDOUT)][:per_task]
    mix += [(it.question, OTHER, "strategyqa-heldout", it.gold) for it in held]
    random.Random(seed).shuffle(mix)
    return mix


def wrong_route_cost(router: Router, mix: list[Held], model: str) -> dict[str, Any]:
    """Every misrouted item asked through ``Agent.load(model)`` in the task ``router``
    picked (as the route step would run it): how each ended (its mode, failure class,
    grounded, right by its own task)."""
    from agent.api import Agent
    from bench.tasks import get_task

    agent = Agent.load(model, kb=None, max_repairs=1, syntax_retries=1, max_new_tokens=256)
    task_of = {"math": "gsm8k", "spatial": "stepgame", "kinship": "clutrr",
               "deductive": "proofwriter", OTHER: "strategyqa"}  # fmt: skip
    ends: Counter[str] = Counter()
    for (q, label, _, gold), r in zip(mix, router.route_many([m[0] for m in mix]), strict=True):
        if r.task == label:
            continue
        a = agent.ask(q, task=r.task)
        right = get_task(task_of[label]).correct(a.answer, gold)
        why = a.failure.value if a.failure else "answered"
        ends[f"{a.trace.mode}: {why}, grounded {a.grounded}, right {right}"] += 1
    return dict(ends.most_common())


def plain(question: str) -> str:
    """A CLUTRR-style question without its name brackets."""
    return question.replace("[", "").replace("]", "")


def fit(questions: list[str], labels: list[str], max_features: int = 6000) -> Router:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, max_features=max_features, token_pattern=TOKENS
    )
    x = vec.fit_transform(questions)
    model = LogisticRegression(C=10.0, max_iter=2000).fit(x, labels)
    return Router(vec, model)


def score(router: Router, mix: list[Held]) -> dict[str, Any]:
    routes = router.route_many([m[0] for m in mix])
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    for (_, label, source, _), r in zip(mix, routes, strict=True):
        seen[source] += 1
        if r.task == label:
            right[source] += 1
        else:
            confusions[f"{source} -> {r.task}"] += 1
    n = len(mix)
    return {
        "items": n,
        "accuracy": round(sum(right.values()) / n, 4),
        "by_source": {s: f"{right[s]}/{seen[s]}" for s in sorted(seen)},
        "confusions": dict(confusions.most_common()),
    }


def _rel(path: Path, data: Path) -> str:
    try:
        return str(path.resolve().relative_to(data.resolve()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    import sklearn

    from solvers.files import sha256_file

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path, help="a data root like ../shared/data")
    p.add_argument("--out", type=Path, default=ROUTER_FILE, help="the router JSON to write")
    p.add_argument("--per-class", type=int, default=1500, help="training questions a class")
    p.add_argument("--eval-per-task", type=int, default=200, help="held-out items a source")
    p.add_argument("--max-features", type=int, default=6000)
    p.add_argument("--cost", metavar="MODEL", help="ask MODEL (e.g. ct2:default) every "
                   "misrouted item and report how each ended")  # fmt: skip
    args = p.parse_args(argv)
    questions, labels, files = training_set(args.data, args.per_class)
    router = fit(questions, labels, args.max_features)
    mix = held_out(args.data, args.eval_per_task)
    report = score(router, mix)
    for f in files:
        path = args.data / f["path"]
        if path.is_file():
            f["sha256"] = sha256_file(path)
    card = {
        "command": "python -m training.router " + " ".join(argv or sys.argv[1:]),
        "train_files": files,
        "train_questions": dict(Counter(labels)),
        "sklearn": sklearn.__version__,
        "held_out": report,
        "licences": "GSM8K, StepGame, ProofWriter/ProntoQA (Logic-LM subset): MIT; "
        "StrategyQA (BIG-bench packaging): Apache-2.0; synth:kinship: ours, Apache-2.0",
    }
    args.out.write_text(json.dumps(router.to_dict(card), separators=(",", ":")) + "\n")
    if args.cost:
        report["wrong_route_cost"] = wrong_route_cost(router, mix, args.cost)
    print(
        f"routing accuracy {report['accuracy']:.1%} on {report['items']} held-out items; "
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)",
        file=sys.stderr,
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
