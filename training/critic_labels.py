"""The critic's training labels: teacher programs re-executed by the one verifier.

An offline data builder (it runs solvers on recorded teacher outputs), so it lives in
training, not in ``kb/``: the critic itself (``kb.critic.EmbeddingCritic``) only loads and
scores. A program is accepted when its *executed* answer matches the gold answer through
``agent.verify`` (the files' own correctness flags are not used).

Default training files (under the shared data folder), and why:
- ``teacher_traces/pal_aqua_codex_outputs.jsonl``: PAL programs for AQuA, not one of our
  evaluation sets;
- ``teacher_traces/pot_codex_svamp_fewshot.jsonl``: PoT programs for SVAMP. SVAMP is
  EVAL ONLY, so the card lists the file: a critic trained on it must not filter data for
  an evaluation on SVAMP (the bench's contamination guard reads ``card["train_files"]``).
The GSM8K-test PoT programs are deliberately left out: GSM8K test is our headline eval.

    python -m training.critic_labels --data ../shared/data --out ~/.cache/nesy/critic
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent import verify
from kb.critic import EmbeddingCritic, Example, critic_text
from kb.models import KnowledgeItem

DEFAULT_FILES = (
    "teacher_traces/pal_aqua_codex_outputs.jsonl",
    "teacher_traces/pot_codex_svamp_fewshot.jsonl",
)


def teacher_labels(
    data: Path, files: Sequence[str] = DEFAULT_FILES, timeout_s: float = 2.0
) -> tuple[list[Example], dict[str, Any]]:
    """Re-execute teacher programs and label each one by its executed answer."""
    examples: list[Example] = []
    for rel in files:
        path = data / rel
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in rows:
            if "generated_answer" in row:  # PAL AQuA: multiple choice, scored PAL's way
                question, program = verify.pal_program(row)
                letter = str(row["answer"]).strip("() ").lower()
                options = verify.choices(row["question"])
                v = verify.run("pad", [program], letter, timeout_s=timeout_s, options=options)
            else:  # PoT
                question, program = row["question"], verify.pot_programs(row)[0]
                v = verify.run("pad", [program], row["answer"], timeout_s=timeout_s)
            ok = bool(v.verified)
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
