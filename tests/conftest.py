from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Two workers per pool, whatever the machine, so pool-size assertions are stable.
os.environ.setdefault("NESY_SOLVER_WORKERS", "2")
