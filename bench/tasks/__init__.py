"""The task registry: every module in this package that defines ``TASK`` or ``TASKS``.

>>> from bench.tasks import get_task
>>> get_task("gsm8k").answer_type
'number'
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import random
from collections.abc import Sequence

from bench.tasks.base import BadLine, Item, Task, TaskError

__all__ = ["BadLine", "Item", "Task", "TaskError", "all_tasks", "get_task", "split_by_group"]


@functools.cache
def all_tasks() -> dict[str, Task]:
    found: dict[str, Task] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        tasks = getattr(module, "TASKS", None) or [getattr(module, "TASK", None)]
        for task in tasks:
            if isinstance(task, Task):
                if task.name in found:
                    raise RuntimeError(f"task {task.name!r} is defined twice")
                found[task.name] = task
    return dict(sorted(found.items()))


def get_task(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(tasks)}")
    return tasks[name]


def split_by_group(
    items: Sequence[Item], fraction: float, seed: int = 0
) -> tuple[list[Item], list[Item]]:
    """Split into (first, second) with about ``fraction`` of the groups in the first; items
    of one group (a shared context) never straddle the split."""
    groups = sorted({it.group or it.id for it in items})
    random.Random(seed).shuffle(groups)
    first = set(groups[: round(len(groups) * fraction)])
    a = [it for it in items if (it.group or it.id) in first]
    b = [it for it in items if (it.group or it.id) not in first]
    return a, b
