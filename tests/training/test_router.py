"""Training the router (``training.router``) on the train splits, scored on held-out items."""

from __future__ import annotations

import json

from agent.router import Router
from tests.conftest import SHARED, needs_shared
from training import router as tr


@needs_shared
def test_the_router_trains_on_train_splits_and_routes_held_out_items(tmp_path, capsys):
    out = tmp_path / "router.json"
    assert tr.main(["--data", str(SHARED), "--out", str(out), "--per-class", "300",
                    "--eval-per-task", "30"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["items"] == 8 * 30 and report["accuracy"] >= 0.9
    loaded = Router.from_file(out)
    card = loaded.card
    assert card["train_questions"] == {
        c: 300 for c in ("deductive", "kinship", "math", "other", "spatial")
    }
    assert all(len(f.get("sha256", "")) == 64 for f in card["train_files"] if ":" not in f["path"])
    # the JSON round trip routes exactly as the fitted estimators did
    questions, labels, _ = tr.training_set(SHARED, 40, seed=1)
    fitted = tr.fit(questions, labels)
    again = Router.from_file(_write(tmp_path, fitted))
    for a, b in zip(fitted.route_many(questions), again.route_many(questions), strict=True):
        assert a.task == b.task and abs(a.confidence - b.confidence) < 1e-3


def _write(tmp_path, router):
    path = tmp_path / "fitted.json"
    path.write_text(json.dumps(router.to_dict({})))
    return path
