"""The SMS channel: outbox, providers, inbound webhook, reply grammar, message texts.

Uses `grids`; `grids` never imports this package.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
