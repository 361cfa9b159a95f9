"""Pausing Python's garbage collector while a large, acyclic structure is built."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the garbage collector while millions of acyclic records are built.

    Left on, it runs full collections over the growing heap again and again (every
    record is alive, none is garbage), which at a million patients costs more than
    the work itself. Nested pauses leave it to the outermost one to resume.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
