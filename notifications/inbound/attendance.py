"""A coordinator's exchange attendance (`到 15`, `到 1 2 3`)."""

from __future__ import annotations

from grids.reports.attendance import record_attendance
from notifications.inbound.context import Handled, Inbound, Outcome
from notifications.sms import replies
from notifications.sms.commands import AttendanceCommand


def attendance(inbound: Inbound, command: AttendanceCommand) -> Handled:
    """Raises `ReportRefused` (unknown seats, a headcount past the grid's size)."""
    roster = inbound.sender.roster
    assert roster is not None
    recorded = record_attendance(
        inbound.session,
        roster,
        headcount=command.headcount,
        seats=command.seats,
        now=inbound.now,
        tz=inbound.settings.tz,
        source_ref=inbound.sms.message_sid,
    )
    return Handled(
        Outcome.AMENDED if recorded.amended else Outcome.APPLIED,
        replies.attendance_reply(inbound.language, recorded),
    )
