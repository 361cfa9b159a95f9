"""One pinned clock for a test and the processes it starts.

In-process code takes `now` from its caller or reads `config.runtime.now()`, which
time-machine moves. A real process (`flask scheduler run`, a dispatcher, gunicorn)
reads the clock itself, as APScheduler does: `process_env` starts it with its wall
clock shifted to the same instant (tests/dates/sitecustomize.py), so what it does
does not depend on the machine's date either.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import time_machine

SHIFT_VARIABLE = "HUZHU_CLOCK_SHIFT_SECONDS"
SHIFTER_DIR = Path(__file__).resolve().parents[1] / "dates"

# Tuesday 8 December 2026, 10:00 in the county: a working morning, far from
# midnight, quiet hours and week or year boundaries.
WORKING_MORNING = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


def real_time() -> float:
    """The machine's clock, even while a test or `make test-dates` has moved it."""
    return time_machine.escape_hatch.time.time()


@contextmanager
def running_at(instant: datetime = WORKING_MORNING) -> Iterator[datetime]:
    """The clock of this process reads `instant` and goes on ticking from there."""
    with time_machine.travel(instant, tick=True):
        yield instant


def process_env(base: Mapping[str, str], instant: datetime) -> dict[str, str]:
    """`base` for a child process whose wall clock reads `instant` now and ticks on."""
    path = [str(SHIFTER_DIR), *filter(None, [base.get("PYTHONPATH", "")])]
    return {
        **base,
        SHIFT_VARIABLE: repr(instant.timestamp() - real_time()),
        "PYTHONPATH": os.pathsep.join(path),
    }
