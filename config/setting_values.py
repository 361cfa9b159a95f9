"""What every settings module shares: the error a bad value raises, and numbers read
from the environment."""

from __future__ import annotations

import math
from typing import Any

import click


class SettingsError(click.ClickException, ValueError):
    """A setting is missing or malformed; the message names the variable and the fix.

    A `ClickException`, so `flask --app wsgi ...` prints the message alone on
    stderr and exits 1, where any other error raised while the app is created
    would print a traceback.
    """


def _number(name: str, raw: str, kind: type, minimum: float) -> Any:
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} must be a finite number")
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value
