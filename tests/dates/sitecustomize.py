"""Shifts the wall clock of every Python process of a `make test-dates` run.

`scripts/test-dates` puts this folder first on PYTHONPATH and sets
HUZHU_CLOCK_SHIFT_SECONDS, so pytest, its workers and any subprocess they start
read the same shifted time. Only the wall clock moves (time-machine): sleeps and
thread waits use the monotonic clock and keep working.
"""

import os

_shift = os.environ.get("HUZHU_CLOCK_SHIFT_SECONDS")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
