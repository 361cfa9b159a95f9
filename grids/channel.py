"""Where the domain hands its `Notice`s to the SMS channel.

`grids` never imports `notifications`: the channel registers its enqueue function
here at start-up, and views and commands call `deliver` in the transaction of the
change that caused the notices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy.orm import Session

from grids.core.notices import Notice

Deliver = Callable[[Session, Sequence[Notice], datetime], object]
CHANNEL_KEY = "huzhu.notice_channel"


def register_channel(app: Flask, deliver: Deliver) -> None:
    app.extensions[CHANNEL_KEY] = deliver


def channel() -> Deliver:
    """The registered channel; a RuntimeError names the missing set-up."""
    deliver = current_app.extensions.get(CHANNEL_KEY)
    if deliver is None:
        raise RuntimeError("no SMS channel registered: notifications.init_app(app) registers it")
    return deliver
