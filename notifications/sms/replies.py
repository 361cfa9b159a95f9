"""The replies to inbound SMS, composed from the catalogue in the sender's language.

A reply restates what was understood, or says precisely what was not. Each is
built from candidates, richest first; the first that fits one SMS segment (70
UCS-2 characters for Chinese, 160 GSM-7 characters for English) is sent. When
none fits, the last is cut to two segments, never more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from grids.core.vocabulary import MemberEvent
from grids.core.weeks import week_number
from i18n import catalogue
from notifications.sms.segments import GSM_7, encoding, fits_one_segment, segment_count

if TYPE_CHECKING:  # the outcomes' modules use the database; replies need only their shapes
    from grids.escalation.critical_cases import CriticalOutcome
    from grids.escalation.models import Escalation
    from grids.escalation.outcomes import OutcomeRefused
    from grids.escalation.urgent import AckOutcome, AckRefused, UrgentOutcome
    from grids.reports.attendance import AttendanceOutcome
    from grids.reports.errors import (
        HeadcountTooLarge,
        ImplausibleReading,
        UnknownSeats,
    )
    from grids.reports.weekly import MemberUpdate, ReportOutcome

MAX_SEGMENTS = 2
NAME_LIMIT = 10
"""Characters of a person's name quoted in a reply."""
URGENT_TEXT_LIMIT = 16
"""Characters of the reporter's own words restated in the urgent confirmation."""
ELLIPSIS = "..."

ROLE_HELP = {
    "coordinator": "sms.help.coordinator",
    "member": "sms.help.member",
    "patient": "sms.help.member",
    "doctor": "sms.help.doctor",
    "unknown": "sms.help.unknown",
}


def text(language: str, key: str, **params: object) -> str:
    return catalogue(language).text(key, **params)


def clip_to_segments(message: str, segments: int = MAX_SEGMENTS) -> str:
    """`message`, cut (with `...`) to at most `segments` SMS segments."""
    if segment_count(message) <= segments:
        return message
    low, high = 0, len(message)
    while low < high:
        middle = (low + high + 1) // 2
        if segment_count(message[:middle].rstrip() + ELLIPSIS) <= segments:
            low = middle
        else:
            high = middle - 1
    return message[:low].rstrip() + ELLIPSIS


def first_fitting(candidates: Sequence[str]) -> str:
    """The first candidate that fits one segment; else the last, cut to two."""
    for candidate in candidates:
        if fits_one_segment(candidate):
            return candidate
    return clip_to_segments(candidates[-1])


def clip(value: str, limit: int) -> str:
    """`value` cut to `limit` characters; a Latin value (GSM-7) may be twice as long,
    since it costs half as much, and is cut with `..` so it stays GSM-7."""
    value = " ".join(value.split())
    if encoding(value) == GSM_7:
        limit *= 2
        return value if len(value) <= limit else value[: limit - 2] + ".."
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --- seat lists: 1-6、8-18号 / #1-6, 8-18 ---


def seat_runs(seats: Iterable[int]) -> list[str]:
    """Consecutive seats as ranges: [1,2,3,5,7,8] -> ['1-3', '5', '7', '8']."""
    ordered = sorted(set(seats))
    runs: list[str] = []
    start = 0
    for index in range(1, len(ordered) + 1):
        if index == len(ordered) or ordered[index] != ordered[index - 1] + 1:
            first, last = ordered[start], ordered[index - 1]
            if last - first >= 2:
                runs.append(f"{first}-{last}")
            else:
                runs.extend(str(seat) for seat in ordered[start:index])
            start = index
    return runs


def seat_list(language: str, seats: Iterable[int], *, limit: int | None = None) -> str:
    """`1-6、8-18号`; with `limit`, the first `limit` runs and `等`."""
    runs = seat_runs(seats)
    separator = text(language, "sms.reply.seat_list_separator")
    if limit is not None and len(runs) > limit:
        return text(language, "sms.reply.seat_list_more", seats=separator.join(runs[:limit]))
    return text(language, "sms.reply.seat_list", seats=separator.join(runs))


def _shown_seat(seat: int) -> str:
    return str(seat) if 0 <= seat < 1000 else clip(str(seat), 6)


# --- weekly reports ---


def format_glucose(value: Decimal) -> str:
    return f"{value:.1f}"


NOTE_LIMIT = 8
"""Characters of a member's note restated in a report confirmation (twice in GSM-7)."""


def member_details(language: str, update: MemberUpdate, *, show_note: bool = False) -> str:
    """`血压150/95、血糖7.0、住院、头晕`; the note as `有备注` unless `show_note`."""
    details: list[str] = []
    if update.systolic is not None and update.diastolic is not None:
        details.append(
            text(
                language,
                "sms.reply.detail.bp",
                systolic=update.systolic,
                diastolic=update.diastolic,
            )
        )
    if update.glucose_mmol is not None:
        details.append(
            text(language, "sms.reply.detail.glucose", value=format_glucose(update.glucose_mmol))
        )
    details.extend(
        text(language, f"sms.reply.detail.{event}")
        for event in MemberEvent
        if event in update.events
    )
    if update.note and show_note:
        details.append(clip(update.note, NOTE_LIMIT))
    elif update.note:
        details.append(text(language, "sms.reply.detail.note"))
    return text(language, "sms.reply.detail.separator").join(details)


def report_reply(language: str, outcome: ReportOutcome) -> str:
    """`已收到第48周报告：10人稳定，5号血压165/100，12号血糖8.9` (or `已更新…`)."""
    key = "sms.reply.report_amended" if outcome.amended else "sms.reply.report_received"
    week = week_number(outcome.week)
    separator = text(language, "sms.reply.summary.separator")
    head = (
        [text(language, "sms.reply.summary.stable", count=outcome.stable_count)]
        if outcome.all_stable
        else []
    )
    summaries = [
        separator.join(
            head
            + [
                text(
                    language,
                    "sms.reply.summary.member",
                    seat=u.seat,
                    details=member_details(language, u, show_note=show_note),
                )
                for u in outcome.updates
            ]
        )
        for show_note in (True, False)
    ]
    seats = [u.seat for u in outcome.updates]
    if seats:
        runs = len(seat_runs(seats))
        for limit in (None, *range(runs - 1, 0, -1)):
            flagged = text(
                language,
                "sms.reply.summary.flagged",
                count=len(seats),
                seats=seat_list(language, seats, limit=limit),
            )
            summaries.append(separator.join([*head, flagged]))
    return first_fitting([text(language, key, week=week, summary=s) for s in summaries])


def critical_reply(language: str, report: ReportOutcome, critical: CriticalOutcome) -> str:
    """`已收到第48周报告。5号读数危急（185/115 mmHg），已通知王医生（编号K7Q）。`: the
    report is kept and the doctor has been told; the seats, who and the code stay."""
    week = week_number(report.week)
    # An amendment says so, as the report's own reply does (`已更新第48周报告`).
    amended = "_amended" if report.amended else ""
    opened = [case for case in critical.cases if not case.merged]
    first = opened[0]
    who = clip(first.notified or text(language, "sms.reply.critical.nobody"), NAME_LIMIT)
    seats = seat_list(language, [case.seat for case in critical.cases])
    candidates = []
    if len(critical.cases) == 1:
        candidates.append(
            text(
                language,
                f"sms.reply.critical.one{amended}",
                week=week,
                seat=first.seat,
                reading=first.reading,
                who=who,
                code=first.escalation.code,
            )
        )
    candidates.append(
        text(language, f"sms.reply.critical.many{amended}", week=week, seats=seats, who=who)
    )
    candidates.append(text(language, f"sms.reply.critical.short{amended}", seats=seats))
    return first_fitting(candidates)


def closed_reply(language: str, case: Escalation) -> str:
    """`已结案K7Q：转诊。12月22日提醒随访，届时回复：复 K7Q 好转`."""
    outcome = text(language, f"case.outcome.{case.outcome}")
    if case.followup_due is None:
        return first_fitting(
            [text(language, "sms.reply.case.closed", code=case.code, outcome=outcome)]
        )
    return first_fitting(
        [
            text(
                language,
                "sms.reply.case.closed_followup",
                code=case.code,
                outcome=outcome,
                date=case.followup_due.strftime("%m-%d"),
            )
        ]
    )


def followup_reply(language: str, case: Escalation) -> str:
    result = text(language, f"case.followup.{case.followup_outcome}")
    return first_fitting(
        [text(language, "sms.reply.case.followed_up", code=case.code, result=result)]
    )


def outcome_refused(language: str, refused: OutcomeRefused) -> str:
    """Why a `结` or `复` was not applied, with the words to use."""
    return first_fitting([text(language, f"sms.reply.case.{refused.reason}", code=refused.code)])


# --- attendance ---


def attendance_reply(language: str, outcome: AttendanceOutcome) -> str:
    week = week_number(outcome.week)
    plain = text(
        language,
        "sms.reply.attendance_amended" if outcome.amended else "sms.reply.attendance",
        week=week,
        count=outcome.headcount,
    )
    if not outcome.seats:
        return first_fitting([plain])
    with_seats = text(
        language,
        "sms.reply.attendance_seats_amended" if outcome.amended else "sms.reply.attendance_seats",
        week=week,
        count=outcome.headcount,
        seats=seat_list(language, outcome.seats),
    )
    return first_fitting([with_seats, plain])


# --- urgent reports and acknowledgements ---


def _then(first: str, second: str) -> str:
    """Two sentences as one reply: a space after Latin punctuation, none after `。`."""
    return f"{first}{'' if first.endswith(('。', '！', '）')) else ' '}{second}"


def urgent_reply(
    language: str,
    outcome: UrgentOutcome,
    words: str | None = None,
    *,
    report: str | None = None,
    others: Sequence[UrgentOutcome] = (),
) -> str:
    """`已通知村医王医生（编号K7Q）：5号胸痛。危急请拨120。` `words` are what was said of
    the member (the stored text when None); `report` is what became of a weekly report
    the same message carried: `recorded`, `not_recorded`, `too_long` or None; `others`
    the cases of further members the message named (`另6号昏迷：编号P2D。`). The
    code, who was alerted and `120` always stay, and so does every other member's seat
    and code; what was said goes first when short of room, then the report's fate."""
    candidates = _urgent_candidates(language, outcome, words, report)
    if not others:
        return first_fitting(candidates)
    full = "".join(_other_case(language, other, short=False) for other in others)
    short = "".join(_other_case(language, other, short=True) for other in others)
    return first_fitting(
        [_then(c, full) for c in candidates] + [_then(c, short) for c in candidates]
    )


def _other_case(language: str, outcome: UrgentOutcome, *, short: bool) -> str:
    """`另6号昏迷：编号P2D。` (short: `另6号：编号P2D。`); a case it joined says so."""
    urgent = outcome.urgent
    seat = urgent.seat or outcome.unknown_seat
    words = "" if short else clip(urgent.text.removeprefix(f"{seat}: "), URGENT_TEXT_LIMIT)
    about = text(language, "sms.reply.urgent.about_seat", seat=seat, text=words).strip()
    if outcome.notified == "merged" and outcome.merged_into:
        return text(language, "sms.reply.urgent.also_merged", about=about, code=outcome.merged_into)
    return text(language, "sms.reply.urgent.also", about=about, code=urgent.code)


def _urgent_candidates(
    language: str, outcome: UrgentOutcome, words: str | None, report: str | None
) -> list[str]:
    urgent = outcome.urgent
    if words is None:
        words = urgent.text
        if outcome.unknown_seat is not None:
            words = words.removeprefix(f"{outcome.unknown_seat}: ")
    words = clip(words, URGENT_TEXT_LIMIT)
    if outcome.unknown_seat is not None:
        about: str | None = text(
            language, "sms.reply.urgent.about_unknown_seat", seat=outcome.unknown_seat, text=words
        )
    elif urgent.seat and words:
        about = text(language, "sms.reply.urgent.about_seat", seat=urgent.seat, text=words)
    elif urgent.seat:
        about = seat_list(language, [urgent.seat])
    else:
        about = words or None
    code = urgent.code
    candidates: list[str] = []
    if outcome.notified == "merged" and outcome.merged_into:
        if about:
            candidates.append(
                text(language, "sms.reply.urgent.merged", code=outcome.merged_into, about=about)
            )
        candidates.append(text(language, "sms.reply.urgent.merged_short", code=outcome.merged_into))
    elif outcome.notified == "doctor":
        name = clip(outcome.notified_name or "", NAME_LIMIT)
        if about:
            candidates.append(
                text(language, "sms.reply.urgent.doctor", doctor=name, code=code, about=about)
            )
            # Without the name (a Chinese name makes an English reply UCS-2): the seat
            # and words the reporter can check matter more than whom we told.
            candidates.append(
                text(language, "sms.reply.urgent.doctor_unnamed", code=code, about=about)
            )
        candidates += [
            text(language, "sms.reply.urgent.doctor_short", doctor=name, code=code),
            text(language, "sms.reply.urgent.doctor_minimal", code=code),
        ]
    elif outcome.notified == "facility" and outcome.doctor_unreachable:
        facility = clip(outcome.notified_name or "", 12)
        doctor = clip(outcome.doctor_unreachable, NAME_LIMIT)
        if about:
            candidates.append(
                text(
                    language,
                    "sms.reply.urgent.doctor_unreachable",
                    doctor=doctor,
                    facility=facility,
                    code=code,
                    about=about,
                )
            )
        candidates.append(text(language, "sms.reply.urgent.doctor_unreachable_short", code=code))
    elif outcome.notified == "facility":
        facility = clip(outcome.notified_name or "", 12)
        if about:
            candidates.append(
                text(
                    language, "sms.reply.urgent.facility", facility=facility, code=code, about=about
                )
            )
        candidates.append(text(language, "sms.reply.urgent.facility_short", code=code))
    else:
        candidates.append(text(language, "sms.reply.urgent.nobody", code=code))
    if report is not None:
        key = f"sms.reply.urgent.report_{report}"
        fates = [text(language, key)]
        if catalogue(language).has(f"{key}_short"):
            fates.append(text(language, f"{key}_short"))
        candidates = [_then(c, fate) for fate in fates for c in candidates] + candidates
    return candidates


def ack_reply(language: str, outcome: AckOutcome, *, also: Sequence[str] = ()) -> str:
    """`已确认K7Q：…。已告知报告人。`; `also`: the codes of further cases the same message
    acknowledged (`另已确认NSX。`), which always stay."""
    urgent = outcome.urgent
    candidates = []
    if outcome.grid is not None and outcome.patient is not None and urgent.seat:
        candidates.append(
            text(
                language,
                "sms.reply.ack.done",
                code=urgent.code,
                grid=clip(outcome.grid.code, 16),
                seat=urgent.seat,
                name=clip(outcome.patient.name, NAME_LIMIT),
            )
        )
    candidates.append(text(language, "sms.reply.ack.done_short", code=urgent.code))
    if also:
        separator = text(language, "sms.reply.seat_list_separator")
        more = text(language, "sms.reply.ack.also", codes=separator.join(also))
        candidates = [_then(candidate, more) for candidate in candidates]
    return first_fitting(candidates)


def ack_refused_reply(language: str, refused: AckRefused, tz: ZoneInfo) -> str:
    code = clip(refused.code or "", 8)
    if refused.reason == "none_open":
        return first_fitting([text(language, "sms.reply.ack.none_open")])
    if refused.reason == "several_open":
        codes = list(refused.open_codes)
        separator = text(language, "sms.reply.seat_list_separator")
        return first_fitting(
            [
                text(
                    language,
                    "sms.reply.ack.several_open",
                    count=len(codes),
                    codes=separator.join(codes[:limit]),
                    first=codes[0],
                )
                for limit in range(len(codes), 0, -1)
            ]
        )
    if refused.reason == "not_your_grid":
        return first_fitting([text(language, "sms.reply.ack.not_your_grid", code=code)])
    if refused.reason == "not_allowed":
        return first_fitting([text(language, "sms.reply.ack.not_allowed", code=code)])
    case = refused.escalation
    if refused.reason == "already_acknowledged" and case is not None:
        if case.acknowledged_at is not None and case.acknowledged_by:
            shown = case.acknowledged_at.astimezone(tz).strftime("%m-%d %H:%M")
            return first_fitting(
                [
                    text(
                        language,
                        "sms.reply.ack.already_by",
                        code=code,
                        who=clip(case.acknowledged_by, NAME_LIMIT + 6),
                        time=shown,
                    ),
                    text(language, "sms.reply.ack.already", code=code, time=shown),
                ]
            )
        ended = case.closed_at or case.acknowledged_at
        shown = ended.astimezone(tz).strftime("%m-%d %H:%M") if ended else "-"
        return first_fitting([text(language, "sms.reply.ack.closed", code=code, time=shown)])
    if refused.reason == "already_acknowledged" and refused.urgent is not None:
        at: datetime | None = refused.urgent.acknowledged_at
        shown = at.astimezone(tz).strftime("%m-%d %H:%M") if at else "-"
        return first_fitting([text(language, "sms.reply.ack.already", code=code, time=shown)])
    return first_fitting([text(language, "sms.reply.ack.unknown_code", code=code)])


def weekday_name(language: str, weekday: int) -> str:
    return text(language, f"sms.notice.weekday.{weekday}")


def day_and_time(language: str, moment: datetime, tz: ZoneInfo) -> dict[str, str]:
    """The `weekday` and `time` parameters of `moment` as the county reads it."""
    local = moment.astimezone(tz)
    return {"weekday": weekday_name(language, local.weekday()), "time": f"{local:%H:%M}"}


# --- corrections ---


def example_seat(occupied: Sequence[int]) -> int:
    """A seat the grid has, for the example in a correction: 5 when there is one."""
    below = [seat for seat in occupied if seat <= 5]
    if below:
        return max(below)
    return min(occupied) if occupied else 1


def unknown_seats_reply(language: str, refused: UnknownSeats, *, attendance: bool = False) -> str:
    unknown = [s for s in refused.seats if 0 <= s < 1000] or [0]
    seats = seat_list(language, unknown, limit=3)
    occupied = seat_list(language, refused.occupied) if refused.occupied else "-"
    example = example_seat(refused.occupied)
    if attendance:
        return first_fitting(
            [
                text(language, "sms.reply.unknown_seat_attendance", seats=seats, occupied=occupied),
                text(language, "sms.reply.unknown_seat_short", seats=seats, example=example),
            ]
        )
    return first_fitting(
        [
            text(
                language,
                "sms.reply.unknown_seat",
                seats=seats,
                occupied=occupied,
                example=example,
            ),
            text(language, "sms.reply.unknown_seat_short", seats=seats, example=example),
        ]
    )


def implausible_reply(language: str, refused: ImplausibleReading) -> str:
    key = "sms.reply.implausible_bp" if refused.kind == "bp" else "sms.reply.implausible_glucose"
    return first_fitting(
        [text(language, key, seat=_shown_seat(refused.seat), value=clip(refused.value, 12))]
    )


def headcount_reply(language: str, refused: HeadcountTooLarge) -> str:
    return first_fitting([text(language, "sms.reply.headcount_too_large", members=refused.members)])


# --- who may send what ---


def help_reply(language: str, role: str) -> str:
    return first_fitting([text(language, ROLE_HELP.get(role, "sms.help.unknown"))])


def member_hint(language: str, coordinator_name: str | None) -> str:
    if coordinator_name:
        name = clip(coordinator_name, NAME_LIMIT)
        return first_fitting(
            [
                text(language, "sms.reply.member_hint", name=name),
                text(language, "sms.reply.member_hint_short", name=name),
            ]
        )
    return first_fitting([text(language, "sms.reply.member_hint_no_coordinator")])


def simple(language: str, key: str, **params: object) -> str:
    """A fixed reply (`sms.reply.opted_out`, `sms.reply.doctor_hint` ...)."""
    return first_fitting([text(language, key, **params)])


def confirmation_reply(language: str, starts_at: datetime | None, tz: ZoneInfo) -> str:
    """The answer to a member's `1` / `去`: the exchange they will come to, if any."""
    if starts_at is None:
        return first_fitting([text(language, "sms.reply.exchange.confirm_none")])
    return first_fitting(
        [text(language, "sms.reply.exchange.confirmed", **day_and_time(language, starts_at, tz))]
    )
