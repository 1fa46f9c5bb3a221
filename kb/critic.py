"""The SKD critic: a model that predicts whether a teacher's item is correct.

Symbolic Knowledge Distillation keeps only what a critic accepts. The first critic here
embeds an item with the packaged MiniLM and scores it with logistic regression
(scikit-learn), trained on accepted and rejected examples. Its labels come from
re-executing real teacher programs with the one verifier (``training.critic_labels``, an
offline builder); this module loads, fits and scores.

    python -m training.critic_labels --data ../shared/data --out ~/.cache/nesy/critic
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kb.models import KnowledgeItem


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
