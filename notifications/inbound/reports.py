"""A coordinator's weekly report (`好 5 血压150/95`), alone or carried by an urgent
message."""

from __future__ import annotations

from grids.reports.weekly import MemberUpdate, ReportOutcome, record_weekly_report
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies
from notifications.sms.commands import WeeklyReportCommand


def weekly_report(inbound: Inbound, command: WeeklyReportCommand) -> Handled:
    report = record_report(inbound, command)
    return Handled(
        Outcome.AMENDED if report.amended else Outcome.APPLIED,
        replies.report_reply(inbound.language, report),
        notices=report.notices,
    )


def record_report(inbound: Inbound, command: WeeklyReportCommand) -> ReportOutcome:
    """Record `command` for the coordinator's grid; raises `ReportRefused`."""
    roster, coordinator = inbound.sender.roster, inbound.sender.patient
    assert roster is not None and coordinator is not None
    return record_weekly_report(
        inbound.session,
        roster,
        coordinator,
        all_stable=command.all_stable,
        updates=_member_updates(command),
        now=inbound.now,
        tz=inbound.settings.tz,
        source_ref=inbound.sms.message_sid,
    )


def _member_updates(command: WeeklyReportCommand) -> list[MemberUpdate]:
    return [
        MemberUpdate(
            seat=item.seat,
            systolic=item.blood_pressure.systolic if item.blood_pressure else None,
            diastolic=item.blood_pressure.diastolic if item.blood_pressure else None,
            glucose_mmol=item.glucose_mmol,
            events=tuple(str(event) for event in item.events),
            note=item.note,
        )
        for item in command.items
    ]
