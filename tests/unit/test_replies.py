"""Replies to inbound SMS: what they say, in both languages, and that each fits one
segment even at the longest parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from grids.core.vocabulary import MemberEvent
from grids.escalation.urgent import AckOutcome, AckRefused, UrgentOutcome
from grids.models import Grid, Patient, UrgentReport
from grids.reports.attendance import AttendanceOutcome
from grids.reports.errors import (
    ExchangeTimeRefused,
    HeadcountTooLarge,
    ImplausibleReading,
    UnknownSeats,
)
from grids.reports.exchanges import ExchangeOutcome
from grids.reports.weekly import EVENTS, MemberUpdate, ReportOutcome
from i18n import catalogue
from notifications.sms import exchange_replies, replies
from notifications.sms.segments import fits_one_segment, segment_count

TZ = ZoneInfo("Asia/Shanghai")
LANGUAGES = ("zh_CN", "en")
LONG_NAME = "欧阳" * 30  # the longest name the roster allows (60)
LONG_GRID = "JXV0168-COPD12-" + "X" * 33  # the longest grid code (48)


def outcome(updates=(), *, amended=False, all_stable=True, stable=18, week="2026-W48"):
    return ReportOutcome(
        week=week,
        amended=amended,
        all_stable=all_stable,
        stable_count=stable,
        updates=tuple(updates),
    )


# --- seat lists ---


@pytest.mark.parametrize(
    ("seats", "zh", "en"),
    [
        (range(1, 19), "1-18号", "#1-18"),
        ([*range(1, 7), *range(8, 19)], "1-6、8-18号", "#1-6, 8-18"),
        ([1, 2, 5], "1、2、5号", "#1, 2, 5"),
        ([3], "3号", "#3"),
        ([9, 3, 3, 4, 5], "3-5、9号", "#3-5, 9"),
    ],
)
def test_seat_lists_are_compact(seats, zh, en) -> None:
    assert replies.seat_list("zh_CN", seats) == zh
    assert replies.seat_list("en", seats) == en


def test_a_long_seat_list_is_cut_with_etc() -> None:
    assert replies.seat_list("zh_CN", [1, 3, 5, 7], limit=2) == "1、3号等"
    assert replies.seat_list("en", [1, 3, 5, 7], limit=2) == "#1, 3 etc."


# --- weekly reports ---


def test_the_report_is_restated() -> None:
    updates = [
        MemberUpdate(5, systolic=165, diastolic=100),
        MemberUpdate(12, glucose_mmol=Decimal("8.9")),
    ]
    assert replies.report_reply("zh_CN", outcome(updates)) == (
        "已收到第48周报告：18人稳定，5号血压165/100，12号血糖8.9"
    )
    assert replies.report_reply("en", outcome(updates)) == (
        "Week 48 report received: 18 stable, #5 BP 165/100, #12 BG 8.9"
    )


def test_an_amendment_says_so_and_a_partial_report_has_no_stable_count() -> None:
    updates = [
        MemberUpdate(7, events=(MemberEvent.HOSPITALISED,)),
        MemberUpdate(3, events=(MemberEvent.MISSED_MEDICATION,)),
    ]
    report = outcome(updates, amended=True, all_stable=False, stable=0)
    assert replies.report_reply("zh_CN", report) == "已更新第48周报告：7号住院，3号漏药"
    assert replies.report_reply("en", report) == (
        "Week 48 report updated: #7 in hospital, #3 missed meds"
    )


def test_several_things_about_one_member_are_joined() -> None:
    update = MemberUpdate(
        5,
        systolic=150,
        diastolic=95,
        glucose_mmol=Decimal("7"),
        events=(MemberEvent.DISCHARGED, MemberEvent.MISSED_MEDICATION),
        note="头晕",
    )
    assert replies.report_reply("zh_CN", outcome([update])) == (
        "已收到第48周报告：18人稳定，5号血压150/95、血糖7.0、出院、漏药、头晕"
    )
    # Chinese words in an English reply would make it UCS-2 and too long: "note".
    assert replies.report_reply("en", outcome([update])) == (
        "Week 48 report received: 18 stable, #5 BP 150/95 + BG 7.0 + discharged"
        " + missed meds + note"
    )


def test_what_was_noted_of_a_member_is_restated() -> None:
    report = outcome([MemberUpdate(5, note="头晕,乏力"), MemberUpdate(7, note="dizzy")])
    assert (
        replies.report_reply("zh_CN", report)
        == "已收到第48周报告：18人稳定，5号头晕,乏力，7号dizzy"
    )
    english = outcome([MemberUpdate(5, note="dizzy for 3 days and tired")], stable=18)
    assert replies.report_reply("en", english) == (
        "Week 48 report received: 18 stable, #5 dizzy for 3 da.."
    )
    long_note = outcome([MemberUpdate(5, note="头晕乏力三天了吃药也不见好")])
    assert (
        replies.report_reply("zh_CN", long_note) == "已收到第48周报告：18人稳定，5号头晕乏力三天了…"
    )


def test_a_report_too_long_to_restate_falls_back_to_counts_and_seats() -> None:
    updates = [MemberUpdate(seat, systolic=165, diastolic=100) for seat in (2, 3, 4, 6, 9, 11)]
    report = outcome(updates, stable=12)
    assert replies.report_reply("zh_CN", report) == (
        "已收到第48周报告：12人稳定，6人有情况：2-4、6、9、11号"
    )


def every_detail(seat: int) -> MemberUpdate:
    return MemberUpdate(
        seat,
        systolic=300,
        diastolic=200,
        glucose_mmol=Decimal("40.0"),
        events=EVENTS,
        note="x" * 100,
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("seats", [range(1, 21), range(1, 21, 2), range(2, 21, 3)])
def test_the_longest_reports_still_fit_one_segment(language, seats) -> None:
    report = outcome([every_detail(s) for s in seats], amended=True, stable=20, week="2026-W53")
    reply = replies.report_reply(language, report)
    assert fits_one_segment(reply), reply
    assert ("第53周" if language == "zh_CN" else "Week 53") in reply


def test_the_fallback_keeps_the_first_seats_and_says_etc() -> None:
    # Every other seat, with every detail: too many runs to list in one segment.
    seats = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    reply = replies.report_reply("zh_CN", outcome([every_detail(s) for s in seats], stable=10))
    assert reply.startswith("已收到第48周报告：10人稳定，10人有情况：1、3、5")
    assert fits_one_segment(reply)


# --- attendance ---


def test_attendance_is_restated() -> None:
    plain = AttendanceOutcome(week="2026-W48", amended=False, headcount=15, seats=())
    assert replies.attendance_reply("zh_CN", plain) == "已记录第48周交流：到15人"
    assert replies.attendance_reply("en", plain) == "Week 48 exchange: 15 attended. Recorded."
    seats = AttendanceOutcome(week="2026-W48", amended=True, headcount=4, seats=(1, 2, 3, 7))
    assert replies.attendance_reply("zh_CN", seats) == "已更新第48周交流：到4人（1-3、7号）"
    everyone_apart = AttendanceOutcome(
        week="2026-W53", amended=True, headcount=10, seats=tuple(range(1, 21, 2))
    )
    for language in LANGUAGES:
        assert fits_one_segment(replies.attendance_reply(language, everyone_apart))


# --- urgent reports and acknowledgements ---


def urgent_outcome(notified="doctor", name="王医生", text="胸痛", seat=5) -> UrgentOutcome:
    return UrgentOutcome(
        urgent=UrgentReport(code="K7Q", text=text, seat=seat),
        patient=None,
        seat_known=True,
        notified=notified,
        notified_name=name,
    )


def test_the_urgent_confirmation_names_who_was_alerted() -> None:
    assert replies.urgent_reply("zh_CN", urgent_outcome()) == (
        "已通知村医王医生（编号K7Q）：5号胸痛。危急请拨120。"
    )
    assert replies.urgent_reply("en", urgent_outcome(name="Li Wei", text="chest pain")) == (
        "Dr Li Wei alerted (ref K7Q): #5 chest pain. If critical, call 120."
    )
    assert replies.urgent_reply("zh_CN", urgent_outcome("facility", "义安镇卫生院")) == (
        "本网格暂无村医，已通知义安镇卫生院（编号K7Q）：5号胸痛。危急请拨120。"
    )
    assert replies.urgent_reply("zh_CN", urgent_outcome("nobody", None)) == (
        "已记录（编号K7Q），但未能通知到医生。请立即打电话给医生，危急请拨120。"
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("notified", ["doctor", "facility", "nobody"])
def test_urgent_confirmations_fit_at_the_longest(language, notified) -> None:
    reply = replies.urgent_reply(
        language, urgent_outcome(notified, LONG_NAME, "胸口疼得厉害出冷汗" * 30, seat=20)
    )
    assert fits_one_segment(reply), reply
    assert "K7Q" in reply and "120" in reply


def test_the_urgent_confirmation_says_what_became_of_the_report_it_carried() -> None:
    assert replies.urgent_reply("zh_CN", urgent_outcome(), report="recorded") == (
        "已通知村医王医生（编号K7Q）：5号胸痛。危急请拨120。周报已记录。"
    )
    assert replies.urgent_reply(
        "en", urgent_outcome(name="Li Wei", text="chest pain"), report="not_recorded"
    ) == (
        "Dr Li Wei alerted (ref K7Q): #5 chest pain. If critical, call 120. "
        "Report NOT recorded: please correct it and send it again."
    )


def test_the_urgent_confirmation_for_a_seat_the_grid_lacks_and_for_no_words() -> None:
    unknown = UrgentOutcome(
        urgent=UrgentReport(code="K7Q", text="25: 胸痛", seat=None),
        patient=None,
        seat_known=False,
        notified="doctor",
        notified_name="王医生",
        unknown_seat=25,
    )
    assert replies.urgent_reply("zh_CN", unknown) == (
        "已通知村医王医生（编号K7Q）：25号（本网格无此号）胸痛。危急请拨120。"
    )
    assert replies.urgent_reply("zh_CN", urgent_outcome(seat=None), "") == (
        "已通知村医王医生（编号K7Q）。危急请拨120。"
    )
    assert replies.urgent_reply("zh_CN", urgent_outcome(seat=4), "") == (
        "已通知村医王医生（编号K7Q）：4号。危急请拨120。"
    )
    assert replies.urgent_reply("en", urgent_outcome(name="Li Wei", seat=4), "") == (
        "Dr Li Wei alerted (ref K7Q): #4. If critical, call 120."
    )


def test_the_urgent_confirmation_when_the_doctor_cannot_get_sms() -> None:
    outcome = UrgentOutcome(
        urgent=UrgentReport(code="K7Q", text="胸痛", seat=5),
        patient=None,
        seat_known=True,
        notified="facility",
        notified_name="义安镇卫生院",
        doctor_unreachable="王医生",
    )
    assert replies.urgent_reply("zh_CN", outcome) == (
        "村医王医生收不到短信，已通知义安镇卫生院（编号K7Q）：5号胸痛。危急请拨120。"
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("notified", ["doctor", "facility", "unreachable", "nobody"])
@pytest.mark.parametrize("report", ["recorded", "not_recorded", "too_long"])
def test_the_fate_of_the_report_is_told_even_at_the_longest(language, notified, report) -> None:
    outcome = UrgentOutcome(
        urgent=UrgentReport(code="K7Q", text="x", seat=20),
        patient=None,
        seat_known=False,
        notified="facility" if notified == "unreachable" else notified,
        notified_name=LONG_NAME,
        unknown_seat=99,
        doctor_unreachable=LONG_NAME if notified == "unreachable" else None,
    )
    reply = replies.urgent_reply(language, outcome, "胸口疼得厉害出冷汗" * 30, report=report)
    assert fits_one_segment(reply), reply
    texts = catalogue(language)
    key = f"sms.reply.urgent.report_{report}"
    fates = [texts.text(key)] + ([texts.text(f"{key}_short")] if texts.has(f"{key}_short") else [])
    assert "K7Q" in reply and "120" in reply and reply.endswith(tuple(fates))


def test_the_ack_confirmation_and_its_fallback() -> None:
    acked = AckOutcome(
        urgent=UrgentReport(code="K7Q", seat=5, text="胸痛"),
        grid=Grid(code="JXV01-HTN01"),
        patient=Patient(name="张桂兰"),
        reporter_told=True,
    )
    assert (
        replies.ack_reply("zh_CN", acked) == "已确认K7Q：JXV01-HTN01网格5号张桂兰。已告知报告人。"
    )
    longest = AckOutcome(
        urgent=UrgentReport(code="K7Q", seat=20, text="x"),
        grid=Grid(code=LONG_GRID),
        patient=Patient(name=LONG_NAME),
        reporter_told=True,
    )
    for language in LANGUAGES:
        assert fits_one_segment(replies.ack_reply(language, longest))


def test_ack_refusals() -> None:
    several = AckRefused("several_open", open_codes=["K7Q", "M2D"])
    assert replies.ack_refused_reply("zh_CN", several, TZ) == (
        "有2条待确认：K7Q、M2D。请回复“收到 编号”，如：收到 K7Q"
    )
    done = AckRefused(
        "already_acknowledged",
        code="K7Q",
        urgent=UrgentReport(code="K7Q", acknowledged_at=datetime(2026, 11, 26, 3, 5, tzinfo=UTC)),
    )
    assert replies.ack_refused_reply("zh_CN", done, TZ) == "K7Q已于11-26 11:05确认，无需再回复。"
    assert replies.ack_refused_reply("en", AckRefused("unknown_code", code="ZZZ"), TZ) == (
        "No open urgent report ZZZ; please check the ref."
    )
    many = AckRefused("several_open", open_codes=[f"A{n:02d}" for n in range(40)])
    for language in LANGUAGES:
        reply = replies.ack_refused_reply(language, many, TZ)
        assert fits_one_segment(reply) and "40" in reply


# --- the exchange ---


def test_exchange_replies() -> None:
    moved = ExchangeOutcome(
        week="2026-W48",
        skipped=False,
        starts_at=datetime(2026, 11, 27, 19, 0, tzinfo=TZ),
        unchanged=False,
        members_told=17,
    )
    assert (
        exchange_replies.exchange_reply("zh_CN", moved)
        == "已改：本周交流改到周五19:00，已通知17人。"
    )
    assert exchange_replies.exchange_reply("en", moved) == (
        "Done: this week's exchange moves to Fri 19:00; 17 members told."
    )
    past = ExchangeTimeRefused("past", datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
    assert exchange_replies.exchange_refused_reply("zh_CN", past, TZ) == (
        "周二19:00已过，请改到之后的时间。例：改 周日 19:00"
    )


# --- corrections ---


def test_unknown_seat_corrections() -> None:
    refused = UnknownSeats([21], [*range(1, 7), *range(8, 19)])
    assert replies.unknown_seats_reply("zh_CN", refused) == (
        "没有21号，本网格为1-6、8-18号。例：5 血压150/95"
    )
    assert replies.unknown_seats_reply("en", refused) == (
        "No #21 in this grid; seats are #1-6, 8-18. E.g. 5 BP150/95"
    )
    small = UnknownSeats([4], [1, 2, 3])
    assert replies.unknown_seats_reply("zh_CN", small) == "没有4号，本网格为1-3号。例：3 血压150/95"


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_seat_corrections_fit_at_the_longest(language) -> None:
    worst = UnknownSeats([2, 4, 6, 8, 10, 12, 14, 16, 18, 20], list(range(1, 20, 2)))
    for attendance in (False, True):
        reply = replies.unknown_seats_reply(language, worst, attendance=attendance)
        assert fits_one_segment(reply), reply


def test_other_corrections() -> None:
    assert replies.implausible_reply("zh_CN", ImplausibleReading(5, "bp", "95/150")) == (
        "5号血压95/150不合常理，请核对。例：5 血压150/95"
    )
    assert replies.headcount_reply("en", HeadcountTooLarge(25, 18)) == (
        "This grid has 18 members; please check the count. E.g. ATT 18"
    )
    huge = ImplausibleReading(20, "glucose", "9" * 60)
    for language in LANGUAGES:
        assert fits_one_segment(replies.implausible_reply(language, huge))


# --- roles ---


HELP_COORDINATOR = {
    "zh_CN": "周报：好 或 好 5 血压150/95；到 15；急 5 胸痛；改 周四 19:00；停；退订",
    "en": "Report: OK, or OK 5 BP150/95 12 BG8.9; ATT 15; URGENT 5 chest pain; "
    "MOVE THU 19:00; SKIP; STOP to unsubscribe",
}
HELP_MEMBER = {
    "zh_CN": "急事请回复：急 加情况，如：急 胸痛。周报由网格员发送。回复“退订”停止接收",
    "en": "Urgent: reply URGENT and what happened, e.g. URGENT chest pain. "
    "Weekly reports come from your coordinator. STOP to unsubscribe",
}
HELP_DOCTOR = {
    "zh_CN": "确认紧急报告：收到 或 收到 K7Q。周报由网格员发送。回复“退订”停止接收",
    "en": "Acknowledge an urgent report: ACK or ACK K7Q. "
    "Weekly reports come from coordinators. STOP to unsubscribe",
}
HELP_UNKNOWN = {
    "zh_CN": "本号码未登记，请联系村医登记。急事请拨120。回复“退订”停止接收",
    "en": "This number is not registered; please contact your village doctor. "
    "If urgent, call 120. STOP to unsubscribe",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", HELP_COORDINATOR),
        ("member", HELP_MEMBER),
        ("patient", HELP_MEMBER),
        ("doctor", HELP_DOCTOR),
        ("unknown", HELP_UNKNOWN),
        ("someone else", HELP_UNKNOWN),
    ],
)
def test_help_is_the_text_for_each_role_in_one_segment(language, role, expected) -> None:
    reply = replies.help_reply(language, role)
    assert reply == expected[language]
    assert fits_one_segment(reply)


def test_member_hint_names_the_coordinator_and_clips_a_long_name() -> None:
    assert replies.member_hint("zh_CN", "张桂兰") == (
        "周报由网格员张桂兰发送，请把情况告诉他/她。急事请回复：急 加情况"
    )
    for language in LANGUAGES:
        assert fits_one_segment(replies.member_hint(language, LONG_NAME))
        assert fits_one_segment(replies.member_hint(language, None))


def test_clipping_to_two_segments() -> None:
    long_text = "很长的回复" * 40
    clipped = replies.clip_to_segments(long_text)
    assert segment_count(clipped) == 2 and clipped.endswith("...")
    assert replies.first_fitting(["x" * 400]) == replies.clip_to_segments("x" * 400)
    assert segment_count(replies.first_fitting(["x" * 400])) == 2


# --- every template of ours, at its longest parameters ---

# The longest realistic values: a four-character name (复姓 and two), a grid code as
# formation writes it, a facility name as escalation clips it, the reporter's words as
# escalation clips them (40), seats and readings at their limits.
LONGEST_COMMON = {
    "week": 53,
    "count": 20,
    "members": 20,
    "seat": 20,
    "example": 5,
    "systolic": 300,
    "diastolic": 200,
    "value": "40.0",
    "code": "K7Q",
    "first": "K7Q",
    "time": "23:59",
    "doctor": "欧阳建国",
    "name": "欧阳建国",
    "grid": "JXV0168-COPD12",
    "facility": "介休市妇幼保健计划生育...",
    "phone": "+8613912345678",
    "reporter": "欧阳建国",
    "date": "2026-11-26",
    "limit": 500,
}
LONGEST = {
    "zh_CN": LONGEST_COMMON
    | {
        "codes": "K7Q、M2D、X9P",
        "weekday": "周三",
        "text": "胸" * 40,
        "about": "20号" + "胸" * 16,
        "seats": "1-6、8-18号",
        "occupied": "1-6、8-18号",
        "details": "血压300/200、血糖40.0",
        "summary": "20人稳定",
        "reason": "村医欧阳建国收不到短信",
        "minutes": "240",
        "who": "欧阳建国医生",
        "reading": "300/200 mmHg, 40.0 mmol/L",
        "outcome": "在家治疗",
        "result": "未好转",
        "previous": "未好转",
        "requested": "未好转",
        "date": "12-24",
    },
    "en": LONGEST_COMMON
    | {
        "codes": "K7Q, M2D, X9P",
        "weekday": "Wed",
        "text": "chest pain and sweating, cannot stand up",
        "about": "#20 chest pain and sweating, cann..",
        "seats": "#1-6, 8-18",
        "occupied": "#1-6, 8-18",
        "details": "BP 300/200 + BG 40.0",
        "summary": "20 stable",
        "reason": "Dr 欧阳建国 cannot get SMS",
        "minutes": "240",
        "who": "Dr 欧阳建国",
        "reading": "300/200 mmHg, 40.0 mmol/L",
        "outcome": "treated at home",
        "result": "not better",
        "previous": "not better",
        "requested": "not better",
        "date": "12-24",
    },
}
# Alerts to doctors may take two segments: an urgent alert carries the member, the
# reporter's words and number. So may English texts to doctors that carry a Chinese
# name (UCS-2). Everything else fits one.
TWO_SEGMENTS = {
    "sms.urgent.doctor",
    "sms.urgent.doctor_no_member",
    "sms.urgent.duty",
    "sms.urgent.duty_no_member",
    "sms.urgent.fallback",
    "sms.urgent.doctor_unclear",
    "sms.urgent.duty_member",
    "sms.urgent.duty_unclear",
    "sms.urgent.escalated",
    "sms.urgent.red_flag",
    "sms.urgent.county_duty",
}
TWO_SEGMENTS_IN_ENGLISH = {"sms.notice.member_died", "sms.notice.coordinator_opted_out"}
# An English alert to a township duty phone that carries Chinese names is UCS-2 and
# may take three: it is delivered whole, and the reporter's words are not cut further.
# So may one to a doctor about an unclear member, which names the reporter.
THREE_SEGMENTS_IN_ENGLISH = {
    "sms.urgent.doctor_unclear",
    "sms.urgent.duty",
    "sms.urgent.duty_no_member",
    "sms.urgent.duty_member",
    "sms.urgent.duty_unclear",
    "sms.urgent.escalated",
    "sms.urgent.red_flag",
    "sms.urgent.county_duty",
}
# Composers fall back to a shorter candidate when these do not fit (tested above).
HAVE_FALLBACK = {
    "sms.reply.urgent.doctor",
    "sms.reply.urgent.facility",
    "sms.reply.urgent.doctor_unreachable",
    "sms.reply.unknown_seat",
    "sms.reply.unknown_seat_attendance",
    "sms.reply.ack.done",
    "sms.reply.member_hint",
    "sms.reply.urgent.merged",
    "sms.reply.ack.already_by",
    "sms.reply.critical.one",
    "sms.reply.critical.many",
    "sms.reply.critical.one_amended",
    "sms.reply.critical.many_amended",
    "sms.reply.urgent.doctor_unnamed",
}
OUR_NAMESPACES = (["sms", "reply"], ["sms", "urgent"], ["sms", "notice"], ["sms", "help"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_fits_at_its_longest_parameters(language) -> None:
    texts = catalogue(language)
    ours = [key for key in texts.messages if key.split(".")[:2] in OUR_NAMESPACES]
    assert len(ours) > 70
    too_long = {}
    for key in ours:
        params = {name: LONGEST[language][name] for name in texts.placeholders(key)}
        message = texts.text(key, **params)
        limit = 1
        if key in TWO_SEGMENTS or (language == "en" and key in TWO_SEGMENTS_IN_ENGLISH):
            limit = 2
        if language == "en" and key in THREE_SEGMENTS_IN_ENGLISH:
            limit = 3
        if segment_count(message) > limit and key not in HAVE_FALLBACK:
            too_long[key] = message
    assert too_long == {}
