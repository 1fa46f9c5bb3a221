"""Routing a free question to a skill (``--mode auto`` with no task).

A question with no task is classified into the task it reads like (math, spatial,
kinship, deductive) or ``other``, and runs in that task's mode; ``other`` and a question
no class claims with ``THRESHOLD`` confidence run ``direct``. The classifier is a TF-IDF
(word 1-2 grams) logistic regression from scikit-learn, trained on the train splits only
(``python -m training.router``) and shipped as JSON in ``agent/router.json``: its
vocabulary, IDF weights, coefficients and a card (train files, their sha256, held-out
accuracy). No pickle: the estimators are rebuilt from those arrays, so a file written by
one scikit-learn version loads in another.

    >>> r = default_router()
    >>> r.route("Anna has 3 apples and buys 5 more. How many apples does she have?").task
    'math'
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.modes import TASK_MODES

ROUTER_FILE = Path(__file__).with_name("router.json")
THRESHOLD = 0.5  # below this the question is no skill's: it runs direct
OTHER = "other"
FORMAT = 1


class RouterError(ValueError):
    """A router file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Route:
    task: str  # a TASK_MODES key, or "other"
    mode: str
    confidence: float
    scores: dict[str, float]

    @property
    def why(self) -> str:
        """The step's text: the pick, its probability and the runner-up."""
        ranked = sorted(self.scores.items(), key=lambda kv: -kv[1])
        runner = f"; next {ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
        low = (
            f" (below {THRESHOLD}: no skill fits, answered directly)"
            if self.task == OTHER and ranked[0][0] != OTHER
            else ""
        )
        return f"{self.mode} for {ranked[0][0]} {ranked[0][1]:.2f}{runner}{low}"


class Router:
    """The classifier of a router file (``from_file``) or of fitted estimators."""

    def __init__(self, vectorizer: Any, model: Any, card: dict[str, Any] | None = None):
        self.vectorizer, self.model, self.card = vectorizer, model, card or {}

    @classmethod
    def from_file(cls, path: str | Path) -> Router:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        path = Path(path)
        fix = "rebuild it with `python -m training.router --data ../shared/data`"
        try:
            d = json.loads(path.read_text())
            if d.get("format") != FORMAT:
                raise RouterError(f"{path}: router format {d.get('format')!r}, expected {FORMAT}")
            vec = TfidfVectorizer(**d["vectorizer"], vocabulary=d["vocabulary"])
            vec.idf_ = np.asarray(d["idf"], dtype=np.float64)
            model = LogisticRegression()
            model.classes_ = np.asarray(d["classes"])
            model.coef_ = np.asarray(d["coef"], dtype=np.float64)
            model.intercept_ = np.asarray(d["intercept"], dtype=np.float64)
            if model.coef_.shape != (len(d["classes"]), len(d["vocabulary"])):
                raise ValueError(f"coefficients of shape {model.coef_.shape}")
        except FileNotFoundError:
            raise RouterError(f"no router at {path}; {fix}") from None
        except RouterError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RouterError(f"{path} is not a usable router ({exc}); {fix}") from None
        return cls(vec, model, d.get("card"))

    def to_dict(self, card: dict[str, Any]) -> dict[str, Any]:
        """The JSON form ``from_file`` reads (coefficients rounded to 5 decimals)."""
        keep = ("ngram_range", "sublinear_tf", "lowercase", "token_pattern")
        params = {k: v for k, v in self.vectorizer.get_params().items() if k in keep}
        params["ngram_range"] = list(params["ngram_range"])
        return {
            "format": FORMAT,
            "vectorizer": params,
            "vocabulary": {w: int(i) for w, i in self.vectorizer.vocabulary_.items()},
            "idf": [round(float(x), 5) for x in self.vectorizer.idf_],
            "classes": [str(c) for c in self.model.classes_],
            "coef": [[round(float(x), 5) for x in row] for row in self.model.coef_],
            "intercept": [round(float(x), 5) for x in self.model.intercept_],
            "card": card,
        }

    def route_many(self, questions: list[str]) -> list[Route]:
        probs = self.model.predict_proba(self.vectorizer.transform(questions))
        classes = [str(c) for c in self.model.classes_]
        out = []
        for row in probs:
            scores = {c: round(float(p), 4) for c, p in zip(classes, row, strict=True)}
            best = max(scores, key=lambda c: scores[c])
            task = best if scores[best] >= THRESHOLD else OTHER
            out.append(Route(task, TASK_MODES.get(task, "direct"), scores[best], scores))
        return out

    def route(self, question: str) -> Route:
        return self.route_many([question])[0]


@functools.lru_cache(maxsize=1)
def default_router() -> Router:
    """The shipped router (``agent/router.json``), loaded once."""
    return Router.from_file(ROUTER_FILE)
