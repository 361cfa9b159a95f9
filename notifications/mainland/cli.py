"""`flask --app wsgi outbox templates list|check` and `outbox reconcile`: the mainland providers."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from config.runtime import current_settings
from config.settings import MAINLAND_BACKENDS, SettingsError
from grids.cli import CommandFailed, at_option, parse_at
from i18n import translate
from notifications.provider_templates import (
    ProviderTemplate,
    TemplatePolicy,
    all_templates,
    load_template_map,
    voice_policy,
    voice_templates,
)


def _policy(backend: str | None) -> TemplatePolicy:
    settings = current_settings()
    chosen = backend or settings.sms_backend
    if chosen not in MAINLAND_BACKENDS:
        raise CommandFailed(
            translate("outbox.templates.not_mainland", settings.default_language, backend=chosen)
        )
    limit = (
        settings.aliyun_sms_variable_limit
        if chosen == "aliyun"
        else settings.tencent_sms_variable_limit
    )
    try:
        ids = load_template_map(settings.sms_template_map)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return TemplatePolicy(chosen, limit, ids)


BACKEND_OPTION = click.option(
    "--backend",
    type=click.Choice(MAINLAND_BACKENDS),
    default=None,
    help="The provider to show (default: SMS_BACKEND).",
)


VOICE_OPTION = click.option(
    "--voice/--no-voice",
    "voice",
    default=None,
    help="Also the voice templates (`voice.*`; default: when VOICE_BACKEND is the backend).",
)


def _with_voice(policy: TemplatePolicy, voice: bool | None) -> bool:
    return current_settings().voice_backend == policy.backend if voice is None else voice


def _templates(policy: TemplatePolicy, voice: bool) -> list[ProviderTemplate]:
    templates = all_templates(policy.backend, policy.variable_limit)
    if voice:
        templates += voice_templates(policy.backend, policy.variable_limit)
    return templates


templates_cli = AppGroup(
    "templates", help="Provider templates of the mainland SMS backends (Aliyun, Tencent Cloud)."
)


@templates_cli.command("list")
@BACKEND_OPTION
@VOICE_OPTION
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table")
def list_command(backend: str | None, voice: bool | None, output: str) -> None:
    """Print the template texts to submit for approval, with their variables."""
    policy = _policy(backend)
    templates = _templates(policy, _with_voice(policy, voice))
    if output == "json":
        click.echo(
            json.dumps({"items": [t.as_dict() for t in templates]}, ensure_ascii=False, indent=2)
        )
        return
    for template in templates:
        click.echo(f"{template.name}\t{template.language}\t{template.text}")


@templates_cli.command("check")
@BACKEND_OPTION
@VOICE_OPTION
def check_command(backend: str | None, voice: bool | None) -> None:
    """Exit 1 and list every template SMS_TEMPLATE_MAP lacks for the backend."""
    policy = _policy(backend)
    language = current_settings().default_language
    with_voice = _with_voice(policy, voice)
    gaps = policy.gaps()
    if with_voice:
        gaps += voice_policy(policy.backend, policy.variable_limit, policy.ids).gaps()
    if gaps:
        click.echo(
            translate("outbox.templates.gaps", language, count=len(gaps), backend=policy.backend),
            err=True,
        )
        for gap in gaps:
            click.echo(f"  {gap}", err=True)
        raise SystemExit(1)
    count = len(_templates(policy, with_voice))
    click.echo(
        translate("outbox.templates.complete", language, count=count, backend=policy.backend)
    )


@click.command("reconcile")
@with_appcontext
@at_option("Reconcile as if the clock read this ISO time (county time if no offset).")
def reconcile_command(at: str | None) -> None:
    """Pull replies and delivery reports the provider's pushes may have missed."""
    from notifications.mainland.reconcile import reconcile_app

    moment = parse_at(at)
    settings = current_settings()
    if settings.sms_backend not in MAINLAND_BACKENDS:
        raise CommandFailed(
            translate(
                "outbox.reconcile.not_mainland",
                settings.default_language,
                backend=settings.sms_backend,
            )
        )
    result = reconcile_app(current_app, moment)
    click.echo(
        translate(
            "outbox.reconcile.done",
            settings.default_language,
            backend=settings.sms_backend,
            replies=result.replies,
            receipts=result.receipts,
        )
    )


def init_app(app: Flask) -> None:
    from notifications.cli import outbox_cli

    outbox_cli.add_command(templates_cli)
    outbox_cli.add_command(reconcile_command)
