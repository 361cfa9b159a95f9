"""Yardsticks for `bench.webhook`, under the same gunicorn settings as Huzhu.

`create_app()`: a bare Flask endpoint answering Twilio's inbound webhook with fixed
TwiML (no signature check, no database). With `BARE_DATABASE_URL` set, the same
endpoint also stores each message (one INSERT and a COMMIT into `inbound_messages`):
the least any webhook that keeps every message in PostgreSQL must do.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, Response, request
from sqlalchemy import create_engine, text

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>OK</Message></Response>'
STORE = text(
    "INSERT INTO inbound_messages (message_sid, from_phone, body, params, received_at, outcome) "
    "VALUES (:sid, :phone, :body, '{}', :at, 'received')"
)


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ.get("BARE_DATABASE_URL")
    engine = create_engine(url, pool_size=10) if url else None

    @app.get("/")
    def ready() -> str:
        return "ready"

    @app.post("/sms/twilio/inbound")
    def inbound() -> Response:
        form = request.form
        if engine is not None:
            with engine.begin() as connection:
                connection.execute(
                    STORE,
                    {
                        "sid": form.get("MessageSid", ""),
                        "phone": form.get("From", ""),
                        "body": form.get("Body", ""),
                        "at": datetime.now(UTC),
                    },
                )
        else:
            form.get("Body")
        return Response(TWIML, mimetype="application/xml")

    return app


def create_web_layer_app() -> Flask:
    """Huzhu's own app, with the handling of each message (store, parse, apply) replaced
    by a fixed reply: what Huzhu's request costs around the message (signature and field
    checks, request hooks, TwiML). Not a webhook anyone could run: a yardstick only."""
    from notifications.twilio import webhooks
    from wsgi import create_app as create_huzhu

    def fixed_reply(*_args: object) -> str:
        return "OK"

    webhooks.receive = fixed_reply  # type: ignore[assignment]
    return create_huzhu()
