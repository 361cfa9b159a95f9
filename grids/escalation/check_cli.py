"""`flask --app wsgi grids check`: every problem of the county's hierarchy, exit 1 if any."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from config.runtime import current_settings
from grids.escalation.check import NOTICE, check_hierarchy
from grids.escalation.roster_graph import load_hierarchy
from grids.storage.session import current_db
from i18n import translate


@click.command("check")
@with_appcontext
@click.option(
    "--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def check_command(output: str) -> None:
    """List every problem of the hierarchy: clinics that cannot reach a county hospital,
    grids without doctor or coordinator, overfull grids and doctors, ladders without a
    usable duty phone or with fewer than two steps. Exit status 1 when any is found;
    notices (a grid with a coordinator but no deputy) are listed but do not count."""
    settings = current_settings()
    language = settings.default_language
    with current_db().unit_of_work() as session:
        hierarchy = load_hierarchy(session, members=True)
    problems = check_hierarchy(hierarchy, timeouts=settings.escalation_timeouts.as_dict())
    items = [
        {
            "code": problem.code,
            "severity": problem.severity,
            "subject": problem.subject,
            "message": translate(
                f"check.{problem.code}", language, subject=problem.subject, **problem.params
            ),
        }
        for problem in problems
    ]
    serious = [item for item in items if item["severity"] != NOTICE]
    if output == "json":
        click.echo(json.dumps({"items": items}, ensure_ascii=False, indent=2))
    else:
        for item in items:
            click.echo(f"{item['severity']:<8} {item['code']:<26} {item['message']}")
        notices = len(items) - len(serious)
        if notices:
            click.echo(translate("check.notices", language, count=notices))
        if serious:
            click.echo(translate("check.summary", language, count=len(serious)))
        else:
            click.echo(translate("check.ok", language))
    if serious:
        sys.exit(1)


def init_app(app: Flask) -> None:
    """`grids check` joins the formation's `grids` group."""
    from grids.formation.cli import grids_cli

    if "check" not in grids_cli.commands:
        grids_cli.add_command(check_command)
