"""The SKD critic: a model that predicts whether a teacher's item is correct.

Symbolic Knowledge Distillation keeps only what a critic accepts. The first critic here
embeds an item with the packaged MiniLM and scores it with logistic regression
(scikit-learn), trained on accepted and rejected examples. Its initial labels come from
re-executing real teacher programs with the solvers: a program is accepted when its
*executed* answer matches the gold answer (the files' own correctness flags are not used).

Default training files (under the shared data folder), and why:
- ``teacher_traces/pal_aqua_codex_outputs.jsonl``: PAL programs for AQuA, not one of our
  evaluation sets;
- ``teacher_traces/pot_codex_svamp_fewshot.jsonl``: PoT programs for SVAMP. SVAMP is
  EVAL ONLY, so the card lists the file: a critic trained on it must not filter data for
  an evaluation on SVAMP (the bench's contamination guard reads ``card["train_files"]``).
The GSM8K-test PoT programs are deliberately left out: GSM8K test is our headline eval.

    python -m kb.critic --data ../shared/data --out ~/.cache/nesy/critic   # train + save
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from kb.models import KnowledgeItem

DEFAULT_FILES = (
    "teacher_traces/pal_aqua_codex_outputs.jsonl",
    "teacher_traces/pot_codex_svamp_fewshot.jsonl",
)


class Critic(Protocol):
    """Anything that scores items in [0, 1]: higher means more likely correct."""

    def score(self, items: Sequence[KnowledgeItem]) -> list[float]: ...


def critic_text(item: KnowledgeItem) -> str:
    return item.content


@dataclass
class Example:
    text: str
    label: int
    source: str


class EmbeddingCritic:
    """MiniLM embeddings + logistic regression.

    Example:
        >>> critic = EmbeddingCritic.load("~/.cache/nesy/critic")        # doctest: +SKIP
        >>> critic.score([item])                                          # doctest: +SKIP
        [0.83]
    """

    def __init__(
        self, model: Any = None, card: dict[str, Any] | None = None, embedder: Any = None
    ) -> None:
        self.model = model
        self.card = card or {}
        self._embedder = embedder

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from kb.embed import Embedder

            self._embedder = Embedder()
        return self._embedder

    def fit(self, texts: list[str], labels: list[int], seed: int = 0) -> dict[str, float]:
        """Fit on ``texts``; returns held-out accuracy and AUC from a 5-fold split."""
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict

        if len(set(labels)) < 2:
            raise ValueError("the critic needs both accepted and rejected examples")
        x = self.embedder.encode(texts)
        y = np.asarray(labels)
        clf = LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced", random_state=seed)
        held_out = cross_val_predict(clf, x, y, cv=5, method="predict_proba")[:, 1]
        self.model = clf.fit(x, y)
        from sklearn.metrics import roc_auc_score

        metrics = {
            "n": int(len(y)),
            "accepted_rate": float(y.mean()),
            "cv_accuracy": float(((held_out >= 0.5) == y).mean()),
            "cv_auc": float(roc_auc_score(y, held_out)),
        }
        self.card["metrics"] = metrics
        return metrics

    def score(self, items: Sequence[KnowledgeItem]) -> list[float]:
        if self.model is None:
            raise ValueError("the critic is not trained: call fit() or load()")
        if not items:
            return []
        x = self.embedder.encode([critic_text(i) for i in items])
        return [float(p) for p in self.model.predict_proba(x)[:, 1]]

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "critic.pkl", "wb") as f:
            pickle.dump(self.model, f)
        (directory / "card.json").write_text(json.dumps(self.card, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> EmbeddingCritic:
        directory = Path(directory).expanduser()
        if not (directory / "critic.pkl").exists():
            from kb._duck import KBError

            raise KBError(
                f"no critic at {directory} (expected critic.pkl); train one with "
                "`python -m kb.critic --data ../shared/data --out DIR`"
            )
        # The pickle is one we wrote ourselves (sklearn estimator), never user-supplied data.
        with open(directory / "critic.pkl", "rb") as f:
            model = pickle.load(f)  # noqa: S301
        card = json.loads((directory / "card.json").read_text())
        return cls(model, card)


# --- labels from re-executed teacher programs ------------------------------------------------


def _number(text: str) -> float | None:
    text = text.replace(",", "").replace("$", "").strip()
    m = re.search(r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?", text)
    if not m:
        return None
    try:
        value = float(Fraction(m.group(0).replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        return None
    return value / 100 if "%" in text[m.end() : m.end() + 2] else value


def _choices(question: str) -> dict[str, str]:
    tail = question.rsplit("Answer Choices:", 1)[-1]
    tail = tail.split("# solution", 1)[0].split('"""', 1)[0]
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"\(([a-e])\)\s*(.*?)(?=\([a-e]\)|$)", tail, re.S)
    }


def pal_program(record: dict[str, Any]) -> tuple[str, str]:
    """(question, program) of a PAL AQuA record: the last prompt question and its solution()."""
    prompt = record["question"]
    question = prompt.rsplit("Question:", 1)[-1].split("# solution", 1)[0].strip()
    text = prompt.rsplit("# solution using Python:", 1)[-1] + record["generated_answer"]
    start = text.find("def solution():")
    body = text[start:] if start >= 0 else text
    cut = min(
        (
            i
            for i in (body.find("\n\n\n"), body.find("\nQuestion:"), body.find("\n# Question"))
            if i > 0
        ),
        default=len(body),
    )
    return question, body[:cut].rstrip() + "\n"


def choose(value: Any, choices: dict[str, str]) -> str | None:
    """The option whose number is closest to ``value`` (PAL's AQuA scoring)."""
    try:
        v = float(Fraction(value)) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    best, best_d = None, math.inf
    for letter, text in choices.items():
        n = _number(text)
        if n is not None and abs(n - v) < best_d:
            best, best_d = letter, abs(n - v)
    return best


def teacher_labels(
    data: Path, files: Sequence[str] = DEFAULT_FILES, timeout_s: float = 2.0
) -> tuple[list[Example], dict[str, Any]]:
    """Re-execute teacher programs and label each one by its executed answer."""
    from solvers import SolverRequest, solve

    examples: list[Example] = []
    for rel in files:
        path = data / rel
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            if "generated_answer" in row:  # PAL AQuA
                question, program = pal_program(row)
                r = solve(SolverRequest(solver="python", program=program, timeout_s=timeout_s))
                gold = str(row["answer"]).strip("() ").lower()
                ok = r.ok and choose(r.answer, _choices(row["question"])) == gold
            else:  # PoT
                question, program = row["question"], row["program"][0]
                r = solve(SolverRequest(solver="python", program=program, timeout_s=timeout_s))
                try:
                    got = (
                        float(Fraction(r.answer))
                        if r.answer_type == "rational"
                        else float(r.answer)
                    )
                    ok = r.ok and math.isclose(got, float(row["answer"]), rel_tol=1e-4)
                except (TypeError, ValueError, ZeroDivisionError):
                    ok = False
            item = KnowledgeItem(kind="exemplar", text=question, program=program, domain="math")
            examples.append(Example(critic_text(item), int(ok), rel))
    card = {
        "critic": "minilm+logreg",
        "embed_model": "sentence-transformers/all-MiniLM-L6-v2",
        "train_files": [
            {"path": rel, "sha256": hashlib.sha256((data / rel).read_bytes()).hexdigest()}
            for rel in files
        ],
        "labels": "re-executed with solvers.python; accepted = executed answer matches gold",
        "n_examples": len(examples),
    }
    return examples, card


def train(data: Path, out: Path, files: Sequence[str] = DEFAULT_FILES) -> EmbeddingCritic:
    examples, card = teacher_labels(data, files)
    critic = EmbeddingCritic(card=card)
    critic.fit([e.text for e in examples], [e.label for e in examples])
    critic.save(out)
    return critic


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="Train the MiniLM + logistic-regression critic.")
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--out", type=Path, required=True, help="directory to save the critic in")
    p.add_argument(
        "--files",
        nargs="*",
        default=list(DEFAULT_FILES),
        help="teacher trace files relative to --data",
    )
    args = p.parse_args()
    critic = train(args.data, args.out, args.files)
    print(json.dumps(critic.card, indent=2))


if __name__ == "__main__":
    main()
