"""What running an engine inside the caller's process needs: a scoped environment, and a
cheap exit.

Tasks under `dag.test()` (and notebooks) share one process, so an engine's environment
variables are set for its block only. SQLMesh, dbt and Airflow together leave millions of
objects in such a process, and the interpreter's final garbage collections walk all of
them (about 2 s at exit, measured in benchmarks/run_overhead.py). Nothing an engine left
needs collecting then: the heap is frozen from an atexit hook, which runs before those
collections. (Airflow's own task processes end with `os._exit()` and never get there.)
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_exit_hook = False


@contextmanager
def temporary_environ(values: Mapping[str, object]) -> Iterator[None]:
    """`values` in os.environ for the block, the previous values restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update({key: str(value) for key, value in values.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def freeze_heap_at_exit() -> None:
    """Register (once per process) the atexit hook that spares the final collections."""
    global _exit_hook
    if not _exit_hook:
        atexit.register(gc.freeze)
        _exit_hook = True
