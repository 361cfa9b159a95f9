"""Moving (`改 周四 19:00`) or skipping (`停`) this week's exchange by SMS applies only to
what is still ahead: an exchange held or past is not changed and nobody is told."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from config.runtime import settings_of
from grids.models import ExchangeAttendance, ExchangeOverride
from grids.storage.session import database_of
from notifications.inbound import IncomingSms, receive
from notifications.models import OutboxMessage
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
_sids = itertools.count(1)
EXCHANGE_NOTICES = (
    "sms.notice.exchange_moved",
    "sms.notice.exchange_skipped",
    "sms.notice.exchange_moved_doctor",
    "sms.notice.exchange_skipped_doctor",
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026 in the county: Monday 7th to Sunday 13th is 2026-W50."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(UTC)


class County:
    """Grid A meets Thursday 19:00, grid B Monday 10:00 (each at its own clinic)."""

    def __init__(self, app, session) -> None:
        with time_machine.travel(at(1, 9), tick=False):
            tree = factories.facility_tree(session)
            self.a = factories.grid_with_members(session, tree["clinic_a"], size=6, code="A-HTN01")
            self.b = factories.grid_with_members(session, tree["clinic_b"], size=4, code="B-HTN01")
            self.a.grid.exchange_weekday, self.a.grid.exchange_time = 3, time(19)
            self.b.grid.exchange_weekday, self.b.grid.exchange_time = 0, time(10)
            session.commit()
        self.db = database_of(app)
        self.settings = settings_of(app)

    def sms(self, phone: str | None, body: str, now: datetime) -> str:
        assert phone is not None
        form = {"MessageSid": f"SM{next(_sids):032d}", "From": phone, "To": "+15005550006"}
        reply = receive(self.db, self.settings, IncomingSms.from_form({**form, "Body": body}), now)
        assert reply is not None
        return reply

    def overrides(self) -> list[tuple[str, bool]]:
        with self.db.unit_of_work() as session:
            rows = session.scalars(select(ExchangeOverride).order_by(ExchangeOverride.id))
            return [(row.week, row.skipped) for row in rows]

    def told(self) -> int:
        with self.db.unit_of_work() as session:
            return (
                session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.template.in_(EXCHANGE_NOTICES)
                    )
                )
                or 0
            )


@pytest.fixture
def county(app, session) -> County:
    return County(app, session)


def test_skipping_after_the_attendance_is_reported_is_refused(county: County) -> None:
    phone = county.a.coordinator.phone
    assert county.sms(phone, "到 4", at(10, 20, 30)).startswith("已记录第50周交流")
    reply = county.sms(phone, "停", at(10, 20, 35))
    assert reply == "本周交流已举行（已报4人到场），不能再改或停。下周的交流从周一起可改。"
    assert len(reply) <= 70
    assert "已举行" in county.sms(phone, "改 周五 19:00", at(10, 20, 40))
    assert county.overrides() == [] and county.told() == 0
    with county.db.unit_of_work() as session:
        assert session.scalar(select(ExchangeAttendance.headcount)) == 4


@pytest.mark.parametrize(
    ("body", "now", "expected"),
    [
        ("停", at(8, 9), "本周交流（周一10:00）已过，不能再改或停。下周的交流从周一起可改。"),
        ("改 今天 18:00", at(9, 10), "本周交流（周一10:00）已过，不能再改或停。"),
        ("改 周五 15:00", at(7, 10, 30), "本周交流（周一10:00）已过，不能再改或停。"),
        ("SKIP", at(7, 10), "本周交流（周一10:00）已过，不能再改或停。"),
    ],
    ids=["skip-next-day", "move-two-days-later", "move-during-it", "skip-at-its-start"],
)
def test_an_exchange_whose_time_has_come_is_not_changed(
    county: County, body: str, now: datetime, expected: str
) -> None:
    reply = county.sms(county.b.coordinator.phone, body, now)
    assert reply.startswith(expected) and len(reply) <= 70
    assert county.overrides() == [] and county.told() == 0


def test_an_exchange_still_ahead_may_be_moved_and_then_skipped(county: County) -> None:
    phone = county.a.coordinator.phone
    assert county.sms(phone, "改 周五 19:00", at(10, 18)).startswith("已改：本周交流改到周五19:00")
    # Thursday 19:00 has passed, but the exchange now meets on Friday.
    assert county.sms(phone, "停", at(10, 20)).startswith("已取消本周交流")
    assert county.overrides() == [("2026-W50", True)]
    assert county.told() > 0


def test_a_move_into_the_past_offers_a_time_that_would_be_accepted(county: County) -> None:
    phone = county.a.coordinator.phone
    county.sms(phone, "停", at(9, 12))
    reply = county.sms(phone, "改 周日 19:00", at(13, 19, 40))
    assert reply == "周日19:00已过，请改到之后的时间。例：改 周日 20:00"
    example = reply.split("例：", 1)[1]
    told = county.told()
    accepted = county.sms(phone, example, at(13, 19, 41))
    assert accepted.startswith("已改：本周交流改到周日20:00")
    assert county.told() > told


def test_a_move_into_the_past_with_no_time_left_this_week_says_so(county: County) -> None:
    phone = county.a.coordinator.phone
    county.sms(phone, "停", at(9, 12))
    reply = county.sms(phone, "改 周日 19:00", at(13, 20))
    assert reply == "周日19:00已过，本周已没有可改的时间。下周的交流从周一起可改。"
    assert "改 周日 19:00" not in reply
    assert county.overrides() == [("2026-W50", True)]
