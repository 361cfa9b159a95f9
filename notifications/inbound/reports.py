"""A coordinator's weekly report (`好 5 血压150/95`), alone or carried by an urgent
message; a critical reading in it opens a case at once (`grids.escalation.critical`)."""

from __future__ import annotations

from grids.escalation.critical import findings
from grids.escalation.critical_cases import CriticalOutcome, report_critical
from grids.escalation.policy import policy_of
from grids.reports.weekly import MemberUpdate, ReportOutcome, record_weekly_report
from notifications import contacts
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies
from notifications.sms.commands import WeeklyReportCommand


def weekly_report(inbound: Inbound, command: WeeklyReportCommand) -> Handled:
    report = record_report(inbound, command)
    critical = open_critical_cases(inbound, report)
    reply = replies.report_reply(inbound.language, report)
    if any(not case.merged for case in critical.cases):
        reply = replies.critical_reply(inbound.language, report, critical)
    return Handled(
        Outcome.AMENDED if report.amended else Outcome.APPLIED,
        reply,
        notices=[*report.notices, *critical.notices],
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


def open_critical_cases(inbound: Inbound, report: ReportOutcome) -> CriticalOutcome:
    """A case for each member with a critical reading in `report` (or the member's open
    case joined)."""
    roster, coordinator = inbound.sender.roster, inbound.sender.patient
    assert roster is not None and coordinator is not None
    found = findings(
        (
            (update.seat, update.systolic, update.diastolic, update.glucose_mmol)
            for update in report.updates
        ),
        inbound.settings.critical,
    )
    if not found:
        return CriticalOutcome()
    session = inbound.session
    return report_critical(
        session,
        reporter=coordinator,
        roster=roster,
        found=found,
        now=inbound.now,
        policy=policy_of(inbound.settings),
        can_receive=lambda phone: phone not in contacts.unreachable_numbers(session, [phone]),
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
