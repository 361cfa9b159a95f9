"""Whatever a coordinator types, the signed webhook answers: a reply of at most two
segments, never a server error, and the message is stored."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from grids.models import Grid
from grids.storage.database import Database
from notifications.models import InboundMessage
from notifications.sms.segments import segment_count
from tests.support.county import County, build_county
from tests.support.webhooks import new_sid, post_signed, reply_of, twilio_form

WORDS = [
    "好",
    "急",
    "到",
    "收到",
    "改",
    "停",
    "帮助",
    "血压",
    "血糖",
    "住院",
    "出院",
    "漏药",
    "去世",
    "胸痛",
    "号",
    "第",
    "周四",
    "明天",
    "19:00",
    "7点半",
    "OK",
    "ATT",
    "URGENT",
    "ACK",
    "MOVE",
    "SKIP",
    "HELP",
    "BP",
    "BG",
    "HOSP",
    "DIED",
    "STOP",
    "退订",
    "开始",
    "START",
    "T",
    "N",
    "5",
    "12",
    "19",
    "21",
    "0",
    "150/95",
    "165/100",
    "300/400",
    "8.9",
    "99.9",
    "１５０／９５",
    "５",
    "好的",
    "谢谢",
    "K7Q",
    "?",
    "!",
]
SEPARATORS = [" ", "，", ",", "、", "；", "\n", "　", ""]

message_texts = st.one_of(
    st.text(max_size=500),
    st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=60).map(
        lambda parts: "".join(word + sep for word, sep in parts)[:500]
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=message_texts)
def test_any_text_from_a_coordinator_gets_a_short_reply_and_is_stored(
    client, db: Database, body: str
) -> None:
    county = _county(db)
    sid = new_sid()
    assert county.zh.coordinator.phone is not None
    with time_machine.travel(datetime(2026, 11, 26, 2, 0, tzinfo=UTC), tick=False):
        response = post_signed(client, twilio_form(county.zh.coordinator.phone, body, sid))
    reply = reply_of(response)
    assert reply, "a coordinator always gets a reply"
    assert segment_count(reply) <= 2, reply
    with db.unit_of_work() as session:
        stored = session.scalar(select(InboundMessage).where(InboundMessage.message_sid == sid))
        assert stored is not None
        assert stored.reply == reply
        assert stored.outcome != "error", stored.body


def _county(db: Database) -> County:
    """The county, built on the first example (the tables outlive examples)."""
    global _county_built
    with db.unit_of_work() as session:
        exists = session.scalar(select(Grid.id).where(Grid.code == "JXV01-HTN01"))
    if exists is None or _county_built is None:
        _county_built = build_county(db)
    return _county_built


_county_built: County | None = None
