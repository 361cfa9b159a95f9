"""The demo county: a synthetic roster, twelve weeks of history, and logins to look at it.

Capabilities outside `grids` (the SMS channel plays the history) add steps to
the `demo` command with `add_demo_step`, so `grids` never imports them.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

DEMO_STEPS_KEY = "huzhu.demo.steps"

DemoStep = Callable[[Callable[[str], None]], None]
"""A step gets `echo` for its lines of output; it runs inside the app context."""


def add_demo_step(app: Flask, step: DemoStep) -> None:
    app.extensions.setdefault(DEMO_STEPS_KEY, []).append(step)


def demo_steps(app: Flask) -> list[DemoStep]:
    return list(app.extensions.get(DEMO_STEPS_KEY, []))
