"""A simulated week of a small county through the scheduler's jobs, with an explicit
clock: who gets which message when."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from config.runtime import settings_of
from grids.core.vocabulary import PatientStatus
from grids.models import WeeklyReport
from grids.silence.models import ReportSilence
from grids.storage.session import database_of
from notifications.inbound import IncomingSms, receive
from notifications.models import OutboxMessage, OutboxStatus, SmsContact
from notifications.providers import provider_of
from scheduling.registry import function_of, spec_of
from scheduling.runner import run_job
from tests.support import factories

TZ = ZoneInfo("Asia/Shanghai")
_sids = itertools.count(1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026 in the county: Monday 7th to Sunday 13th is 2026-W50."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ).astimezone(UTC)


class County:
    def __init__(self, app, session) -> None:
        # The roster is stamped (grids created, members joined) on Tuesday 1st, before
        # the weeks the tests simulate, whatever the machine's date.
        with time_machine.travel(at(1, 9), tick=False):
            self._build(app, session)

    def _build(self, app, session) -> None:
        self.app = app
        self.db = database_of(app)
        self.settings = settings_of(app)
        self.provider = provider_of(app)
        tree = factories.facility_tree(session)
        # Grid A meets Thursday 19:00 at its clinic; grid B Monday 10:00 at another one.
        self.a = factories.grid_with_members(session, tree["clinic_a"], size=5, code="A-HTN01")
        self.b = factories.grid_with_members(session, tree["clinic_b"], size=3, code="B-HTN01")
        self.a.grid.exchange_weekday, self.a.grid.exchange_time = 3, time(19)
        self.b.grid.exchange_weekday, self.b.grid.exchange_time = 0, time(10)
        self.opted_out = self.a.members[4]
        session.add(SmsContact(phone=self.opted_out.phone, opted_out_at=at(1, 9)))
        self.deceased = self.a.members[5]
        self.deceased.status = PatientStatus.DECEASED
        session.commit()

    def run(self, job: str, now: datetime):
        return run_job(
            self.db, self.settings, spec_of(job), function_of(job, self.provider), now, "test"
        )

    def sms(self, phone: str | None, body: str, now: datetime) -> str | None:
        assert phone is not None
        form = {"MessageSid": f"SM{next(_sids):032d}", "From": phone, "To": "+15005550006"}
        return receive(self.db, self.settings, IncomingSms.from_form({**form, "Body": body}), now)

    def sent(self) -> list[tuple[str, str, str]]:
        """(local send time, recipient phone, template) of every message sent."""
        with self.db.unit_of_work() as session:
            rows = session.execute(
                select(OutboxMessage.sent_at, OutboxMessage.to_phone, OutboxMessage.template)
                .where(OutboxMessage.sent_at.is_not(None))
                .order_by(OutboxMessage.sent_at, OutboxMessage.id)
            ).all()
        return [(f"{s.astimezone(TZ):%a%d %H:%M}", phone, t) for s, phone, t in rows]

    def week(self, start: datetime, end: datetime, during=None) -> None:
        """Tick every 15 minutes as `scheduler run` would; `during(now)` acts in between."""
        now = start
        while now <= end:
            local = now.astimezone(TZ)
            if during is not None:
                during(now)
            self.run("exchange-reminders", now)
            if local.minute == 0:
                self.run("report-prompts", now)
                self.run("attendance-prompts", now)
                if local.hour == 9:
                    self.run("member-silence", now)
                if local.hour == 8 and local.weekday() == 0:
                    self.run("doctor-digest", now)
            self.run("outbox-dispatch", now)
            now += timedelta(minutes=15)


@pytest.fixture
def county(app, session) -> County:
    return County(app, session)


def test_a_week_of_reminders_prompts_and_nudges(county: County) -> None:
    a, b = county.a, county.b

    def during(now: datetime) -> None:
        if now == at(9, 18, 30):  # a member of A answers the reminder
            assert "周四19:00" in (county.sms(a.members[2].phone, "去", now) or "")
        if now == at(7, 11, 30):  # B's coordinator sends attendance after Monday's exchange
            county.sms(b.coordinator.phone, "到 3", now)
        if now == at(12, 9):  # B reports on Saturday: no prompt on Sunday
            county.sms(b.coordinator.phone, "好", now)

    county.week(at(6, 12), at(13, 19), during)
    sent = county.sent()
    by_template: dict[str, list[tuple[str, str]]] = {}
    for when, phone, template in sent:
        by_template.setdefault(template, []).append((when, phone))

    b_members = [b.members[2].phone, b.members[3].phone]
    a_members = [a.members[2].phone, a.members[3].phone]  # 4 opted out, 5 deceased
    # Members: 18:00 the day before: B's for Monday 7th and 14th, A's for Thursday.
    assert sorted(by_template["sms.exchange.reminder"]) == sorted(
        [("Sun06 18:00", p) for p in b_members]
        + [("Wed09 18:00", p) for p in a_members]
        + [("Sun13 18:00", p) for p in b_members]
    )
    # Coordinators two hours before.
    assert by_template["sms.exchange.coordinator"] == [
        ("Mon07 08:00", b.coordinator.phone),
        ("Thu10 17:00", a.coordinator.phone),
    ]
    # Attendance: B's came Monday; A is asked Friday 10:00.
    assert by_template["sms.exchange.attendance_prompt"] == [("Fri11 10:00", a.coordinator.phone)]
    # Weekly report of W49: both asked Sunday 18:00 and nudged Monday 10:00. Of W50: B
    # reported on Saturday, so only A is asked.
    assert by_template["sms.report.prompt"] == [
        ("Sun06 18:00", a.coordinator.phone),
        ("Sun06 18:00", b.coordinator.phone),
        ("Sun13 18:00", a.coordinator.phone),
    ]
    assert sorted(by_template["sms.report.nudge"]) == sorted(
        [("Mon07 10:00", a.coordinator.phone), ("Mon07 10:00", b.coordinator.phone)]
    )
    # Nothing to the opted-out or the deceased member, nothing in the quiet hours.
    phones = {phone for _, phone, _ in sent}
    assert county.opted_out.phone not in phones
    assert county.deceased.phone not in phones
    assert all("08:00" <= when[-5:] < "21:00" for when, _, _ in sent)

    with county.db.unit_of_work() as session:
        body = session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.template == "sms.exchange.coordinator",
                OutboxMessage.to_phone == a.coordinator.phone,
            )
        )
        reminder = session.scalar(
            select(OutboxMessage.body).where(
                OutboxMessage.template == "sms.exchange.reminder",
                OutboxMessage.to_phone == a.members[2].phone,
            )
        )
    assert body == "19:00交流：已提醒2人，1人回复参加。结束后请回复 到 人数"
    assert reminder == "明天19:00在东村卫生室交流，回复1确认参加。"


def test_jobs_run_twice_send_nothing_twice(county: County) -> None:
    first = county.run("exchange-reminders", at(9, 18))
    assert first.status == "ok" and first.result.queued == 2
    assert county.run("exchange-reminders", at(9, 18)).status == "duplicate"
    assert county.run("exchange-reminders", at(9, 18, 1)).status == "duplicate"
    # Another slot over the same due time (run-once, or two clocks): keys hold.
    with county.db.unit_of_work() as session:
        session.execute(
            OutboxMessage.__table__.delete().where(OutboxMessage.id < 0)
        )  # no-op: the rows stay
    again = county.run("exchange-reminders", at(9, 18, 20))
    assert again.status == "ok" and again.result.queued == 0
    with county.db.unit_of_work() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 2


def test_a_prompt_is_cleared_when_the_report_arrives(county: County) -> None:
    a = county.a
    assert county.run("report-prompts", at(13, 18)).result.queued == 2
    county.sms(a.coordinator.phone, "好", at(13, 18, 5))
    dispatched = county.run("outbox-dispatch", at(13, 18, 6))
    assert dispatched.result.cleared == 1
    with county.db.unit_of_work() as session:
        rows: dict[str | None, tuple[str, str | None, bool]] = {
            row.to_phone: (row.status, row.error_code, row.sent_at is None)
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "sms.report.prompt")
            )
        }
    assert rows[a.coordinator.phone] == (OutboxStatus.SUPPRESSED, "cleared", True)
    assert rows[county.b.coordinator.phone] == (OutboxStatus.SENT, None, False)


def test_a_skipped_exchange_clears_its_reminders_and_a_move_makes_new_ones(county: County) -> None:
    a = county.a
    assert county.run("exchange-reminders", at(9, 18)).result.queued == 2
    reply = county.sms(a.coordinator.phone, "改 周五 19:00", at(9, 18, 5))
    assert reply and "周五19:00" in reply
    assert county.run("outbox-dispatch", at(9, 18, 6)).result.cleared == 2
    county.run("exchange-reminders", at(10, 18))
    county.run("outbox-dispatch", at(10, 18, 1))
    sent = [(when, t) for when, phone, t in county.sent() if phone == a.members[2].phone]
    assert sent == [
        ("Wed09 18:06", "sms.notice.exchange_moved"),
        ("Thu10 18:01", "sms.exchange.reminder"),
    ]


def test_a_move_into_the_quiet_hours_or_onto_a_taken_venue_is_refused(
    county: County, session
) -> None:
    a = county.a
    other = factories.grid_with_members(session, a.grid.facility, size=2, code="A-DM01")
    other.grid.exchange_weekday, other.grid.exchange_time = 4, time(15)
    session.commit()
    assert "免打扰" in (county.sms(a.coordinator.phone, "改 周五 21:30", at(9, 12)) or "")
    reply = county.sms(a.coordinator.phone, "改 周五 15:30", at(9, 12, 1))
    assert reply and "A-DM01" in reply and len(reply) <= 70
    assert (county.sms(a.coordinator.phone, "改 周五 17:00", at(9, 12, 2)) or "").startswith("已改")


def test_two_silent_weeks_tell_the_doctor_once(county: County, session) -> None:
    a = county.a
    a.grid.created_at = at(1, 9) - timedelta(weeks=3)
    county.b.grid.created_at = a.grid.created_at
    session.add(WeeklyReport(grid_id=county.b.grid.id, week="2026-W49", first_received_at=at(5, 9)))
    session.add(
        WeeklyReport(grid_id=county.b.grid.id, week="2026-W50", first_received_at=at(12, 9))
    )
    session.commit()
    result = county.run("report-prompts", at(14, 10))
    # The first run looks back a week: at W49's nudge (Monday 7th 10:00) A had been silent
    # in W48 and W49, so its doctor is told; A's nudge for W50 goes too. B reported.
    assert result.result.queued == 2
    county.run("report-prompts", at(21, 10))
    with county.db.unit_of_work() as s:
        told = s.scalars(
            select(OutboxMessage.body).where(OutboxMessage.template == "sms.report.silence_doctor")
        ).all()
        silences = [(x.since_week, x.ended_week) for x in s.scalars(select(ReportSilence))]
    assert told == [f"{a.grid.code}网格已2周没有周报，请联系网格员{a.coordinator.name}。"]
    assert silences == [("2026-W48", None)]
    county.sms(a.coordinator.phone, "好", at(22, 9))
    county.run("report-prompts", at(22, 10))
    with county.db.unit_of_work() as s:
        assert s.scalar(select(ReportSilence.ended_week)) == "2026-W52"


def test_a_silent_member_is_named_once(county: County, session) -> None:
    from grids.models import Membership, Reading

    a = county.a
    for membership in session.scalars(select(Membership)):
        membership.joined_at = at(1, 9) - timedelta(weeks=6)
    session.add(
        Reading(
            patient_id=a.members[3].id,
            grid_id=a.grid.id,
            week="2026-W49",
            kind="bp",
            systolic=130,
            diastolic=80,
            reported_at=at(2, 9),
        )
    )
    session.commit()
    assert county.run("member-silence", at(10, 9)).result.queued == 2  # A's seat 2; B's 2 and 3
    assert county.run("member-silence", at(11, 9)).result.queued == 0
    with county.db.unit_of_work() as s:
        bodies: dict[str | None, str] = dict(
            s.execute(
                select(OutboxMessage.to_phone, OutboxMessage.body).where(
                    OutboxMessage.template == "sms.member.silence"
                )
            )
            .tuples()
            .all()
        )
    # Seat 3 has a reading; seat 4 (opted out of SMS) is still named; seat 5 died.
    assert bodies[a.coordinator.phone] == "2、4号4周无消息，请联系。"


def test_after_a_three_hour_outage_only_what_is_still_useful_goes(county: County) -> None:
    # Last good run Monday 07:00; down until 10:15 (B's exchange at 10:00 has started).
    county.run("exchange-reminders", at(7, 7))
    county.run("attendance-prompts", at(7, 7))
    outcome = county.run("exchange-reminders", at(7, 10, 15))
    assert outcome.result.queued == 0 and outcome.result.missed == 1  # B's coordinator, 08:00
    # Wednesday: down from 16:00 to 19:30: A's member reminders (18:00) are still useful,
    # A's coordinator reminder (17:00) too, since the exchange has not started...
    county.run("exchange-reminders", at(9, 16))
    late = county.run("exchange-reminders", at(9, 18, 30))
    assert late.result.queued == 2 and late.result.missed == 0
    # ...but after Thursday 19:00, the coordinator's is not.
    county.run("exchange-reminders", at(10, 16))
    over = county.run("exchange-reminders", at(10, 19, 30))
    assert over.result.queued == 0 and over.result.missed == 1
