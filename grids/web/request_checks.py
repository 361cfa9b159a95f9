"""Checks of what a client sends before any view runs: query and path values, JSON bodies.

A NUL byte cannot be stored in or compared with a PostgreSQL text column, a page
number past 64 bits overflows the database's OFFSET, and a JSON body nested a
hundred thousand levels deep exhausts the parser's recursion: each would be a 500.
Here each is a 400 that names the field and says what to send instead, in the one
error shape (pages get the error page with the same lines).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, render_template, request

from config.runtime import current_settings
from grids.web.errors import error_response
from grids.web.language import page_language
from i18n import LANGUAGES, catalogue

MAX_PAGE = 100_000
"""Far past any real listing (50 grids a page), far below what the database overflows on."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters no parameter should hold (NUL first among them)."""


class JsonTooDeep(ValueError):
    """A JSON body nested deeper than the parser can follow."""


def loads_json(text: str) -> Any:
    """`json.loads`, with a body nested too deeply a `ValueError` like any other bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None


def request_json() -> Any:
    """The request's JSON body; None when there is none or it is not JSON (as
    `get_json(silent=True)`); `JsonTooDeep` when it is nested too deeply."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None


def parameter_problems(values: Iterable[tuple[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Field -> (catalogue key, params) of the fix, for every value that cannot be used."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, value in values:
        if not isinstance(value, str) or name in found:
            continue
        if _CONTROL.search(value) or _CONTROL.search(name):
            found[_CONTROL.sub("?", name)] = ("http.fix.control_character", {})
        elif name == "page" and not (value.isdecimal() and 1 <= int(value) <= MAX_PAGE):
            found[name] = ("http.fix.page", {"max": MAX_PAGE})
    return found


def _refuse(problems: dict[str, tuple[str, dict[str, Any]]], message_key: str) -> Any:
    wants_page = not request.path.startswith(("/api/", "/sms/", "/voice/"))
    language = page_language() if wants_page else current_settings().default_language
    t = catalogue(language).text
    fields = {name: t(key, field=name, **params) for name, (key, params) in problems.items()}
    if not wants_page:
        return error_response(400, "bad_request", t(message_key), fields)
    page = render_template(
        "error.html",
        t=t,
        language=language,
        languages=LANGUAGES,
        status=400,
        message=t(message_key),
        details=list(fields.values()),
    )
    return page, 400


def check_parameters() -> Any:
    values = [*request.args.items(multi=True), *(request.view_args or {}).items()]
    problems = parameter_problems(values)
    if problems:
        return _refuse(problems, "http.error.bad_parameter")
    return None


def _json_too_deep(_error: JsonTooDeep) -> Any:
    return _refuse({"body": ("http.fix.json_too_deep", {})}, "http.error.bad_body")


def init_app(app: Flask) -> None:
    app.before_request(check_parameters)
    app.register_error_handler(JsonTooDeep, _json_too_deep)
