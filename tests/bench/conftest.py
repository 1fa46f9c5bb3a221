from __future__ import annotations

import pytest

from tests.conftest import SHARED, needs_shared

__all__ = ["SHARED", "needs_shared"]


@pytest.fixture
def results_dir(tmp_path):
    return tmp_path / "results"
