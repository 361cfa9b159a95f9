"""The policy every `flask --app wsgi` command follows (docs/architecture.md).

- A database that is unreachable or not yet migrated gives one translated line on
  stderr and exit status 1, never a traceback: `CommandGroup` (the application's
  `app.cli`) guards every command it hands out, so a group registered later gets
  the same treatment without doing anything.
- Tables are rendered by `render_table`, which counts a Chinese character as two
  columns.
- Texts come from the catalogues, in the county's `DEFAULT_LANGUAGE` (`say`).
- Every `--at` is read by `parse_at`: an ISO 8601 time as `datetime.fromisoformat`
  reads it (fractions of a second and an offset allowed; without an offset, county
  time), or one translated line and exit status 1.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from config.clock import now as clock_now
from config.logging import mask_phones_in
from config.runtime import current_settings, settings_of
from i18n import normalise_language, translate

_GUARDED = "_huzhu_guarded"
_UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a missing table


class CommandGroup(AppGroup):
    """The application's command group: every command it hands out is guarded."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            guard(command)
        return command


def guard(command: click.Command) -> None:
    """Wrap `command`'s callback, and those of its subcommands, in the database-error
    policy. Idempotent."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            guard(subcommand)
    callback = command.callback
    if callback is None or getattr(callback, _GUARDED, False):
        return

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except DBAPIError as error:
            click.echo(database_error_line(error, _context_language()), err=True)
            raise click.exceptions.Exit(1) from error

    setattr(guarded, _GUARDED, True)
    command.callback = guarded


def _context_language() -> str:
    context = click.get_current_context(silent=True)
    if context is None:
        return normalise_language(None)
    return settings_of(context.ensure_object(ScriptInfo).load_app()).default_language


def database_error_line(error: DBAPIError, language: str) -> str:
    """One line saying what is wrong with the database and how to fix it."""
    reason = mask_phones_in(str(error.orig or error).strip().splitlines()[0])
    url = _database_url(error)
    if _is_unmigrated(error):
        return translate("cli.error.database_unmigrated", language, url=url, reason=reason)
    if isinstance(error, OperationalError):
        return translate("cli.error.database_unreachable", language, url=url, reason=reason)
    return translate("cli.error.database", language, reason=reason)


def _is_unmigrated(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == _UNDEFINED_TABLE or "no such table" in str(
        error.orig
    )


def _database_url(error: DBAPIError) -> str:
    context = click.get_current_context(silent=True)
    if context is None:
        return ""
    url = settings_of(context.ensure_object(ScriptInfo).load_app()).database_url
    return make_url(url).render_as_string(hide_password=True)


# --- output -----------------------------------------------------------------------------


def language() -> str:
    """The language of CLI output: the county's `DEFAULT_LANGUAGE`."""
    return current_settings().default_language


def say(key: str, *, err: bool = False, **params: Any) -> None:
    """Print catalogue text `key` in the CLI's language."""
    click.echo(translate(key, language(), **params), err=err)


class CommandFailed(click.ClickException):
    """Printed as the translated line alone (click would put an English `Error: ` first)."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), file=file, err=True)


def fail(key: str, **params: Any) -> CommandFailed:
    """An error to raise: catalogue text `key`, one line on stderr, exit status 1."""
    return CommandFailed(translate(key, language(), **params))


# --- --at -------------------------------------------------------------------------------


_Decorated = TypeVar("_Decorated", bound=Callable[..., Any] | click.Command)


class BadTime(ValueError):
    """A `--at` value that is not an ISO 8601 time."""


def at_time(raw: str, tz: ZoneInfo) -> datetime:
    """`raw` as `datetime.fromisoformat` reads it, as an aware UTC time; without an
    offset it is local time in `tz` (the county's)."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadTime(raw) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def parse_at(raw: str | None) -> datetime:
    """A command's `--at`: the clock when absent; a bad value fails with one line."""
    if raw is None or not raw.strip():
        return clock_now()
    try:
        return at_time(raw, current_settings().tz)
    except BadTime:
        raise fail("cli.error.at", value=raw) from None


def at_option(help: str) -> Callable[[_Decorated], _Decorated]:
    """The `--at ISO` option (read it with `parse_at`)."""
    return click.option("--at", "at", metavar="ISO", help=help)


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def render_table(
    headers: Sequence[str] | None,
    rows: Sequence[Sequence[Any]],
    *,
    right: Collection[int] = (),
    rule: bool = False,
    cell: Callable[[Any], str] = lambda value: "" if value is None else str(value),
) -> str:
    """A plain text table aligned for Chinese text; `headers` None: rows alone; columns
    in `right` align right; `rule` draws a line of dashes under the headers."""
    cells = [list(headers)] if headers is not None else []
    cells += [[cell(value) for value in row] for row in rows]
    if not cells:
        return ""
    widths = [max(display_width(row[index]) for row in cells) for index in range(len(cells[0]))]

    def pad(text: str, index: int) -> str:
        space = " " * (widths[index] - display_width(text))
        return space + text if index in right else text + space

    lines = [
        "  ".join(pad(text, index) for index, text in enumerate(row)).rstrip() for row in cells
    ]
    if rule and headers is not None:
        lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
