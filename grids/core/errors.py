"""The base of errors a person reads: the catalogue key and the values of its text."""

from __future__ import annotations

from typing import Any


class CatalogueError(Exception):
    """An error whose `key` and `params` name a catalogue text; mixed in before the
    built-in error a subclass also is (`ValueError`, `LookupError`)."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
