"""The SMS channel: outbox, providers, inbound webhook, reply grammar, message texts.

Uses `grids`; `grids` never imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure subpackage must not load Flask
    from flask import Flask


def init_app(app: Flask) -> None:
    from config.runtime import settings_of
    from grids.channel import register_case_stopper, register_channel, register_message_log
    from grids.storage.session import database_of
    from notifications import cli, demo_history, message_log, outbox, providers
    from notifications import digest as _digest  # noqa: F401  (adds `rollups digest`)
    from notifications.escalation.cli import escalations_cli
    from notifications.escalation.tick import stop_pending_calls
    from notifications.inbound import spool_of, start_replaying
    from notifications.mainland import cli as mainland_cli
    from notifications.mainland.voice_webhooks import mainland_voice
    from notifications.mainland.webhooks import mainland_webhooks
    from notifications.sms_cli import sms_cli
    from notifications.twilio.voice import twilio_voice
    from notifications.twilio.webhooks import twilio_webhooks

    providers.init_app(app)
    register_channel(
        app, lambda session, notices, now: outbox.enqueue_many(session, notices, now=now)
    )
    register_message_log(app, message_log.exchanged_with)
    register_case_stopper(app, stop_pending_calls)
    app.register_blueprint(twilio_webhooks)
    app.register_blueprint(twilio_voice)
    app.register_blueprint(mainland_webhooks)
    app.register_blueprint(mainland_voice)
    cli.init_app(app)
    demo_history.init_app(app)
    mainland_cli.init_app(app)
    app.cli.add_command(sms_cli)
    app.cli.add_command(escalations_cli)
    settings = settings_of(app)
    if not spool_of(settings).is_empty():
        # Messages kept while the database was down: store them once it is back.
        start_replaying(database_of(app), settings)
