"""`flask --app wsgi users ...`: create, list and disable accounts, set passwords, issue tokens."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from config.runtime import current_settings
from grids.accounts.models import ROLES
from grids.accounts.service import (
    AccountError,
    create_user,
    disable_user,
    issue_token,
    list_users,
    set_password,
)
from grids.cli import CommandFailed
from grids.storage.session import request_session
from i18n import translate

users_cli = AppGroup("users", help="Accounts of the web pages and the API.")


def _fail(error: AccountError) -> CommandFailed:
    return CommandFailed(translate(error.key, current_settings().default_language, **error.params))


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--doctor", "doctor_code", help="The doctor's code (role doctor).")
@click.option("--facility", "facility_code", help="The township centre's code (role township).")
@click.option("--language", type=click.Choice(["zh_CN", "en"]), default=None)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def users_create(
    username: str,
    role: str,
    doctor_code: str | None,
    facility_code: str | None,
    language: str | None,
    password_stdin: bool,
) -> None:
    """Create USERNAME with a role and its scope; the password comes on stdin."""
    language_of_cli = current_settings().default_language
    password = _password_from_stdin(password_stdin, language_of_cli)
    session = request_session()
    try:
        create_user(
            session,
            username,
            role,
            password,
            doctor_code=doctor_code,
            facility_code=facility_code,
            language=language,
        )
    except AccountError as error:
        raise _fail(error) from error
    session.commit()
    click.echo(translate("users.created", language_of_cli, username=username, role=role))


@users_cli.command("list")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
def users_list(output: str) -> None:
    """Every account with its role, scope and state."""
    rows = list_users(request_session())
    if output == "json":
        items = [
            {
                "username": row.username,
                "role": row.role,
                "scope": row.scope,
                "disabled": row.disabled,
                "has_token": row.has_token,
                "last_login_at": row.last_login_at.isoformat() if row.last_login_at else None,
            }
            for row in rows
        ]
        click.echo(json.dumps({"items": items}, ensure_ascii=False))
        return
    for row in rows:
        state = "disabled" if row.disabled else "active"
        token = "token" if row.has_token else "-"
        click.echo(f"{row.username:<20} {row.role:<9} {row.scope or '-':<16} {state:<8} {token}")


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop USERNAME from logging in; their API token stops working too."""
    session = request_session()
    try:
        disable_user(session, username)
    except AccountError as error:
        raise _fail(error) from error
    session.commit()
    click.echo(translate("users.disabled", current_settings().default_language, username=username))


@users_cli.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
def users_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (from stdin); their sessions are signed out."""
    language_of_cli = current_settings().default_language
    password = _password_from_stdin(password_stdin, language_of_cli)
    session = request_session()
    try:
        set_password(session, username, password)
    except AccountError as error:
        raise _fail(error) from error
    session.commit()
    click.echo(translate("users.password_set", language_of_cli, username=username))


@users_cli.command("token")
@click.argument("username")
def users_token(username: str) -> None:
    """Print a new API token for USERNAME (alone, for scripts); the old one stops working."""
    session = request_session()
    try:
        token = issue_token(session, username)
    except AccountError as error:
        raise _fail(error) from error
    session.commit()
    click.echo(token)


def _password_from_stdin(password_stdin: bool, language: str) -> str:
    """The password on the first line of stdin (never an argument, never echoed)."""
    if not password_stdin:
        raise click.UsageError(translate("users.error.password_stdin", language))
    return sys.stdin.readline().rstrip("\r\n")
