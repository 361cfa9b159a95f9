"""An incident on a controlled clock: signed webhooks in, the outbox out, the tick between."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from datetime import datetime
from typing import Any

import time_machine
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from config.runtime import settings_of
from grids.escalation.models import Escalation
from grids.escalation.service import EscalationPolicy, open_escalation
from grids.models import UrgentReport
from grids.storage.session import database_of
from notifications import dispatcher
from notifications.escalation.tick import run_escalation_tick
from notifications.models import OutboxMessage
from notifications.providers import provider_of, voice_provider_of
from tests.support import factories

BASE_URL = "https://huzhu.example.org"
AUTH_TOKEN = "test-auth-token"
_sids = itertools.count(1)


def signed_post(client: Any, path: str, form: dict[str, str]) -> Any:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def text_at(app: Flask, phone: str, body: str, at: datetime) -> str | None:
    """An SMS from `phone` through the signed webhook at clock time `at`; the reply."""
    form = {
        "MessageSid": f"SM{next(_sids):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
    }
    with time_machine.travel(at, tick=False):
        response = signed_post(app.test_client(), "/sms/twilio/inbound", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    messages = ElementTree.fromstring(response.get_data()).findall("Message")
    return messages[0].text if messages else None


def press_at(app: Flask, call_sid: str, digits: str, at: datetime) -> str:
    """A keypress on an escalation call through the signed voice webhook; the words said."""
    form = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "Digits": digits}
    with time_machine.travel(at, tick=False):
        response = signed_post(app.test_client(), "/voice/twilio/gather", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return "".join(
        say.text or "" for say in ElementTree.fromstring(response.get_data()).iter("Say")
    )


def dispatch_at(app: Flask, at: datetime) -> dispatcher.DispatchStats:
    return dispatcher.dispatch_once(
        database_of(app),
        provider_of(app),
        settings_of(app),
        now=at,
        voice=voice_provider_of(app),
    )


def tick_at(app: Flask, at: datetime) -> int:
    return run_escalation_tick(database_of(app), settings_of(app), at)


def outbox_rows(app: Flask, *where: Any) -> list[OutboxMessage]:
    with database_of(app).unit_of_work() as session:
        query = select(OutboxMessage).where(*where).order_by(OutboxMessage.id)
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def two_clinic_county(app: Flask, size: int, other_size: int) -> dict[str, Any]:
    """A township with two clinics, a grid in each (`JXV01-HTN01` of `size` members,
    `JXV02-HTN01` of `other_size`), each with its doctor."""
    with database_of(app).unit_of_work() as session:
        tree = factories.facility_tree(session)
        grid = factories.grid_with_members(session, tree["clinic_a"], size=size, code="JXV01-HTN01")
        other = factories.grid_with_members(
            session, tree["clinic_b"], size=other_size, code="JXV02-HTN01"
        )
        session.commit()
        return {"tree": tree, "grid": grid, "other": other}


def latest_case(app: Flask) -> Escalation:
    """The escalation opened last, detached from its session."""
    with database_of(app).unit_of_work() as session:
        found = session.scalars(select(Escalation).order_by(Escalation.id.desc())).first()
        assert found is not None, "no escalation was opened"
        session.expunge(found)
        return found


def first_doctor_phone(
    session: Session, grid_id: int, patient_id: int, seat: int, now: datetime
) -> str:
    """Whom the first step of a new urgent case of the member in `seat` reaches."""
    urgent = UrgentReport(
        code=f"K{seat:02d}",
        grid_id=grid_id,
        patient_id=patient_id,
        seat=seat,
        text="胸痛",
        received_at=now,
    )
    session.add(urgent)
    session.flush()
    opened = open_escalation(
        session, urgent, now, policy=EscalationPolicy(), can_receive=lambda _phone: True
    )
    session.commit()
    assert opened.first_step is not None
    return opened.first_step.contacts[0].phone
