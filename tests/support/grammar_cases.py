"""Real-looking coordinator and doctor messages, and exactly what each one means.

The table the grammar tests check and the grammar benchmark replays.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from notifications.sms.commands import (
    AckCommand,
    AttendanceCommand,
    BloodPressure,
    Command,
    HelpCommand,
    MemberEvent,
    MemberItem,
    MoveExchangeCommand,
    OptInCommand,
    OptOutCommand,
    Parsed,
    ParseError,
    SkipExchangeCommand,
    UrgentCommand,
    WeeklyReportCommand,
)

ZH, EN = "zh_CN", "en"
HOSP = MemberEvent.HOSPITALISED
HOME = MemberEvent.DISCHARGED
MISSED = MemberEvent.MISSED_MEDICATION
DIED = MemberEvent.DIED


def item(
    seat: int,
    bp: tuple[int, int] | None = None,
    bg: str | None = None,
    events: tuple[MemberEvent, ...] = (),
    note: str | None = None,
) -> MemberItem:
    return MemberItem(
        seat=seat,
        blood_pressure=BloodPressure(*bp) if bp else None,
        glucose_mmol=Decimal(bg) if bg else None,
        events=events,
        note=note,
    )


def report(*items: MemberItem, stable: bool = False) -> WeeklyReportCommand:
    return WeeklyReportCommand(all_stable=stable, items=items)


def ok(command: Command, language: str | None) -> Parsed:
    return Parsed(command=command, error=None, language=language)


def err(error_code: str, language: str | None, /, **params: object) -> Parsed:
    return Parsed(command=None, error=ParseError(error_code, dict(params)), language=language)


STABLE = report(stable=True)
BP_5_BG_12 = report(item(5, bp=(165, 100)), item(12, bg="8.9"), stable=True)
BP_5 = report(item(5, bp=(150, 95)))

CASES: list[tuple[str, Parsed]] = [
    # --- all stable ---
    ("好", ok(STABLE, ZH)),
    ("都好", ok(STABLE, ZH)),
    ("全好", ok(STABLE, ZH)),
    ("正常", ok(STABLE, ZH)),
    ("平安", ok(STABLE, ZH)),
    ("好的", ok(STABLE, ZH)),
    ("好!", ok(STABLE, ZH)),
    ("好。", ok(STABLE, ZH)),
    ("  好  ", ok(STABLE, ZH)),
    ("本周都好，谢谢医生", ok(STABLE, ZH)),
    ("好，辛苦了", ok(STABLE, ZH)),
    ("没变化", ok(STABLE, ZH)),
    ("OK", ok(STABLE, EN)),
    ("ok", ok(STABLE, EN)),
    ("Ok.", ok(STABLE, EN)),
    ("ALL OK", ok(STABLE, EN)),
    ("all ok", ok(STABLE, EN)),
    ("FINE", ok(STABLE, EN)),
    ("ＯＫ", ok(STABLE, EN)),
    ("no change", ok(STABLE, EN)),
    # --- all stable except the members listed ---
    ("好 5 血压165/100 12 血糖8.9", ok(BP_5_BG_12, ZH)),
    ("OK 5 BP165/100 12 BG8.9", ok(BP_5_BG_12, EN)),
    ("ok 5 bp165/100 12 bg8.9", ok(BP_5_BG_12, EN)),
    ("好5血压165/100 12血糖8.9", ok(BP_5_BG_12, ZH)),
    ("好，5号血压165/100，12号血糖8.9", ok(BP_5_BG_12, ZH)),
    ("好\n5 血压165/100\n12 血糖8.9", ok(BP_5_BG_12, ZH)),
    ("好；5 血压165/100；12 血糖8.9。", ok(BP_5_BG_12, ZH)),
    ("好  5  血压：１６５／１００  １２  血糖：８．９", ok(BP_5_BG_12, ZH)),
    ("OK 5 血压165/100 12 血糖8.9", ok(BP_5_BG_12, EN)),
    ("好 5 BP165/100 12 GLU 8.9", ok(BP_5_BG_12, ZH)),
    ("5 血压150/95 其他都好", ok(report(item(5, bp=(150, 95)), stable=True), ZH)),
    ("5 BP150/95 rest ok", ok(report(item(5, bp=(150, 95)), stable=True), EN)),
    ("好 5 血压150/95 谢谢", ok(report(item(5, bp=(150, 95)), stable=True), ZH)),
    # --- readings, written every way volunteers write them ---
    ("5 血压150/95", ok(BP_5, ZH)),
    ("5号血压150/95", ok(BP_5, ZH)),
    ("5号 血压 150/95", ok(BP_5, ZH)),
    ("5 血压:150/95", ok(BP_5, ZH)),
    ("5 血压150 /95", ok(BP_5, ZH)),
    ("5 血压 150 95", ok(BP_5, ZH)),
    ("5 血压150-95", ok(BP_5, ZH)),
    ("5 血压150比95", ok(BP_5, ZH)),
    ("5 高压150低压95", ok(BP_5, ZH)),
    ("５号血压１５０／９５", ok(BP_5, ZH)),
    ("5 血压150/95mmHg", ok(BP_5, ZH)),
    ("第5号 血压150/95", ok(BP_5, ZH)),
    ("#5 BP 150/95", ok(BP_5, EN)),
    ("5 bp:150/95", ok(BP_5, EN)),
    ("5 bp 150 over 95", ok(BP_5, EN)),
    ("5号高血压150/95", ok(BP_5, ZH)),
    ("5 150/95", ok(BP_5, None)),
    ("5 8.9", ok(report(item(5, bg="8.9")), None)),
    ("5 血糖8", ok(report(item(5, bg="8")), ZH)),
    ("5 血糖8.9mmol/L", ok(report(item(5, bg="8.9")), ZH)),
    ("5 空腹血糖 7.2", ok(report(item(5, bg="7.2")), ZH)),
    ("5 sugar 12.5", ok(report(item(5, bg="12.5")), EN)),
    # --- events ---
    ("7 住院", ok(report(item(7, events=(HOSP,))), ZH)),
    ("7 出院", ok(report(item(7, events=(HOME,))), ZH)),
    ("3 漏药", ok(report(item(3, events=(MISSED,))), ZH)),
    ("9 去世", ok(report(item(9, events=(DIED,))), ZH)),
    ("五号 住院", ok(report(item(5, events=(HOSP,))), ZH)),
    ("7 HOSP", ok(report(item(7, events=(HOSP,))), EN)),
    ("7 home", ok(report(item(7, events=(HOME,))), EN)),
    ("7 DISCHARGED", ok(report(item(7, events=(HOME,))), EN)),
    ("3 MISSED", ok(report(item(3, events=(MISSED,))), EN)),
    ("9 died", ok(report(item(9, events=(DIED,))), EN)),
    (
        "5 血压150/95 7 住院 3漏药",
        ok(report(item(5, bp=(150, 95)), item(7, events=(HOSP,)), item(3, events=(MISSED,))), ZH),
    ),
    ("5、7 住院", ok(report(item(5, events=(HOSP,)), item(7, events=(HOSP,))), ZH)),
    ("5,7号住院", ok(report(item(5, events=(HOSP,)), item(7, events=(HOSP,))), ZH)),
    ("5 血压150/95 5 血糖8.9", ok(report(item(5, bp=(150, 95), bg="8.9")), ZH)),
    # --- words kept as a note ---
    ("5 头晕", ok(report(item(5, note="头晕")), ZH)),
    ("5 头晕，乏力 血压150/95", ok(report(item(5, bp=(150, 95), note="头晕,乏力")), ZH)),
    ("5 血压高", ok(report(item(5, note="血压高")), ZH)),
    ("5 dizzy", ok(report(item(5, note="dizzy")), EN)),
    ("5号头晕3天了", ok(report(item(5, note="头晕3天了")), ZH)),
    (
        "5 dizzy for 3 days 7 hosp",
        ok(report(item(5, note="dizzy for 3 days"), item(7, events=(HOSP,))), EN),
    ),
    ("5 正常 7 住院", ok(report(item(5), item(7, events=(HOSP,))), ZH)),
    # --- urgent, explicit ---
    ("急 5 胸痛", ok(UrgentCommand(seat=5, text="胸痛", red_flag=True), ZH)),
    ("急5胸痛", ok(UrgentCommand(seat=5, text="胸痛", red_flag=True), ZH)),
    ("紧急 3号 摔倒了", ok(UrgentCommand(seat=3, text="摔倒了"), ZH)),
    ("急救 第8号 叫不醒", ok(UrgentCommand(seat=8, text="叫不醒", red_flag=True), ZH)),
    ("急", ok(UrgentCommand(seat=None, text=""), ZH)),
    ("急 王大爷不舒服", ok(UrgentCommand(seat=None, text="王大爷不舒服"), ZH)),
    ("急 25 胸痛", ok(UrgentCommand(seat=25, text="胸痛", red_flag=True), ZH)),
    ("URGENT 5 chest pain", ok(UrgentCommand(seat=5, text="chest pain", red_flag=True), EN)),
    ("sos 12 fell down", ok(UrgentCommand(seat=12, text="fell down"), EN)),
    (
        "EMERGENCY 4 can't breathe",
        ok(UrgentCommand(seat=4, text="can't breathe", red_flag=True), EN),
    ),
    # --- urgent, named by a red-flag symptom without 急 ---
    (
        "5 胸闷",
        ok(
            UrgentCommand(
                seat=5,
                text="胸闷",
                red_flag=True,
                implicit=True,
                report=report(item(5, note="胸闷")),
            ),
            ZH,
        ),
    ),
    (
        "好 12 说话不清",
        ok(
            UrgentCommand(
                seat=12,
                text="说话不清",
                red_flag=True,
                implicit=True,
                report=report(item(12, note="说话不清"), stable=True),
            ),
            ZH,
        ),
    ),
    (
        "5 血压150/95 7号晕倒了",
        ok(
            UrgentCommand(
                seat=7,
                text="晕倒了",
                red_flag=True,
                implicit=True,
                report=report(item(5, bp=(150, 95)), item(7, note="晕倒了")),
            ),
            ZH,
        ),
    ),
    (
        "ok 4 chest pain",
        ok(
            UrgentCommand(
                seat=4,
                text="chest pain",
                red_flag=True,
                implicit=True,
                report=report(item(4, note="chest pain"), stable=True),
            ),
            EN,
        ),
    ),
    (
        "好 老李胸痛",
        ok(UrgentCommand(seat=None, text="好 老李胸痛", red_flag=True, implicit=True), ZH),
    ),
    (
        "好 1 血压150/95 2 血压160/100 3 血糖8.9 4 住院 5 漏药 6 血压145/92 7 胸痛",
        ok(
            UrgentCommand(
                seat=7,
                text="胸痛",  # what the doctor must read, not the report before it
                red_flag=True,
                implicit=True,
                report=report(
                    item(1, bp=(150, 95)),
                    item(2, bp=(160, 100)),
                    item(3, bg="8.9"),
                    item(4, events=(HOSP,)),
                    item(5, events=(MISSED,)),
                    item(6, bp=(145, 92)),
                    item(7, note="胸痛"),
                    stable=True,
                ),
            ),
            ZH,
        ),
    ),
    (
        "好 5 血压150/95 急 7 胸痛",
        ok(
            UrgentCommand(
                seat=7,
                text="胸痛",
                red_flag=True,
                report=report(item(5, bp=(150, 95)), stable=True),
            ),
            ZH,
        ),
    ),
    (
        "好 5 血压300/20 7 胸痛",
        ok(
            UrgentCommand(
                seat=7,
                text="胸痛",
                red_flag=True,
                implicit=True,
                report_error=ParseError("bp_out_of_range", {"seat": 5, "value": "300/20"}),
            ),
            ZH,
        ),
    ),
    (
        "5号摔倒了起不来",
        ok(
            UrgentCommand(
                seat=5,
                text="摔倒了起不来",
                red_flag=True,
                implicit=True,
                report=report(item(5, note="摔倒了起不来")),
            ),
            ZH,
        ),
    ),
    ("急 0 胸痛", ok(UrgentCommand(seat=0, text="胸痛", red_flag=True), ZH)),
    ("好急！5号胸痛", ok(UrgentCommand(seat=5, text="胸痛", red_flag=True), ZH)),
    ("快来人", ok(UrgentCommand(seat=None, text=""), ZH)),
    ("救命啊 3号", ok(UrgentCommand(seat=3, text=""), ZH)),
    ("help me", ok(UrgentCommand(seat=None, text=""), EN)),
    ("5号 急", ok(UrgentCommand(seat=5, text=""), ZH)),
    # --- a denied red flag is a note, not an alarm ---
    ("5号无胸痛", ok(report(item(5, note="无胸痛")), ZH)),
    (
        "5号没有胸闷，血压150/95",
        ok(report(item(5, bp=(150, 95), note="没有胸闷")), ZH),
    ),
    ("OK 5 no chest pain", ok(report(item(5, note="no chest pain"), stable=True), EN)),
    (
        "5号无胸痛，7号胸痛",
        ok(
            UrgentCommand(
                seat=7,
                text="胸痛",
                red_flag=True,
                implicit=True,
                report=report(item(5, note="无胸痛"), item(7, note="胸痛")),
            ),
            ZH,
        ),
    ),
    # --- pinyin homophones and traditional characters ---
    ("5 学压150 95", ok(BP_5, ZH)),
    ("5號血壓150/95", ok(BP_5, ZH)),
    ("9 去逝", ok(report(item(9, events=(DIED,))), ZH)),
    ("5 血唐8.9", ok(report(item(5, bg="8.9")), ZH)),
    # --- attendance ---
    ("到 15", ok(AttendanceCommand(headcount=15), ZH)),
    ("到15人", ok(AttendanceCommand(headcount=15), ZH)),
    ("到 0", ok(AttendanceCommand(headcount=0), ZH)),
    ("到 1 2 3", ok(AttendanceCommand(headcount=3, seats=(1, 2, 3)), ZH)),
    ("到 3、1、2、2", ok(AttendanceCommand(headcount=3, seats=(1, 2, 3)), ZH)),
    ("到 1-5 9", ok(AttendanceCommand(headcount=6, seats=(1, 2, 3, 4, 5, 9)), ZH)),
    ("到 5号", ok(AttendanceCommand(headcount=1, seats=(5,)), ZH)),
    ("今天活动到15人", ok(AttendanceCommand(headcount=15), ZH)),
    ("到十五人", ok(AttendanceCommand(headcount=15), ZH)),
    ("到 十二", ok(AttendanceCommand(headcount=12), ZH)),
    ("ATT 15", ok(AttendanceCommand(headcount=15), EN)),
    ("att 1 2 3", ok(AttendanceCommand(headcount=3, seats=(1, 2, 3)), EN)),
    # --- acknowledgement ---
    ("收到", ok(AckCommand(), ZH)),
    ("收到 K7Q", ok(AckCommand("K7Q"), ZH)),
    ("收到k7q", ok(AckCommand("K7Q"), ZH)),
    ("医生好，收到 K7Q", ok(AckCommand("K7Q"), ZH)),
    ("收到，已叫120", ok(AckCommand(), ZH)),
    ("收到 K7Q 胸痛已处理", ok(AckCommand("K7Q"), ZH)),
    ("ACK", ok(AckCommand(), EN)),
    ("ack k7q", ok(AckCommand("K7Q"), EN)),
    ("K7Q", ok(AckCommand("K7Q"), None)),
    # --- help ---
    ("帮助", ok(HelpCommand(), ZH)),
    ("怎么发", ok(HelpCommand(), ZH)),
    ("?", ok(HelpCommand(), None)),
    ("？", ok(HelpCommand(), None)),
    ("HELP", ok(HelpCommand(), EN)),
    ("info", ok(HelpCommand(), EN)),
    # --- opt out and back in: the whole message only ---
    ("退订", ok(OptOutCommand("退订"), ZH)),
    ("退订。", ok(OptOutCommand("退订"), ZH)),
    ("拒收", ok(OptOutCommand("拒收"), ZH)),
    ("取消订阅", ok(OptOutCommand("取消订阅"), ZH)),
    ("退订短信", ok(OptOutCommand("退订短信"), ZH)),
    ("T", ok(OptOutCommand("T"), None)),
    (" td ", ok(OptOutCommand("TD"), None)),
    ("R", ok(OptOutCommand("R"), None)),
    ("n", ok(OptOutCommand("N"), None)),
    ("STOP", ok(OptOutCommand("STOP"), EN)),
    ("Stop.", ok(OptOutCommand("STOP"), EN)),
    ("stopall", ok(OptOutCommand("STOPALL"), EN)),
    ("UNSUBSCRIBE", ok(OptOutCommand("UNSUBSCRIBE"), EN)),
    ("end", ok(OptOutCommand("END"), EN)),
    ("QUIT", ok(OptOutCommand("QUIT"), EN)),
    ("REVOKE", ok(OptOutCommand("REVOKE"), EN)),
    ("OPTOUT", ok(OptOutCommand("OPTOUT"), EN)),
    ("cancel", ok(OptOutCommand("CANCEL"), EN)),
    ("开始", ok(OptInCommand("开始"), ZH)),
    ("订阅", ok(OptInCommand("订阅"), ZH)),
    ("恢复", ok(OptInCommand("恢复"), ZH)),
    ("START", ok(OptInCommand("START"), EN)),
    ("yes", ok(OptInCommand("YES"), EN)),
    ("UNSTOP", ok(OptInCommand("UNSTOP"), EN)),
    # --- move or skip this week's exchange ---
    ("改 周四 19:00", ok(MoveExchangeCommand(at=time(19, 0), weekday=3), ZH)),
    ("改 星期四 19点", ok(MoveExchangeCommand(at=time(19, 0), weekday=3), ZH)),
    ("改 明天 19:00", ok(MoveExchangeCommand(at=time(19, 0), days_ahead=1), ZH)),
    ("改 后天 7点半", ok(MoveExchangeCommand(at=time(7, 30), days_ahead=2), ZH)),
    ("改到周四晚上7点", ok(MoveExchangeCommand(at=time(19, 0), weekday=3), ZH)),
    ("改 周4 19点30分", ok(MoveExchangeCommand(at=time(19, 30), weekday=3), ZH)),
    ("改 礼拜天 下午3点", ok(MoveExchangeCommand(at=time(15, 0), weekday=6), ZH)),
    ("改 明天 七点半", ok(MoveExchangeCommand(at=time(7, 30), days_ahead=1), ZH)),
    ("MOVE THU 19:00", ok(MoveExchangeCommand(at=time(19, 0), weekday=3), EN)),
    ("MOVE TOMORROW 7PM", ok(MoveExchangeCommand(at=time(19, 0), days_ahead=1), EN)),
    ("move fri 7:30 pm", ok(MoveExchangeCommand(at=time(19, 30), weekday=4), EN)),
    ("停", ok(SkipExchangeCommand(), ZH)),
    ("本周停", ok(SkipExchangeCommand(), ZH)),
    ("这周停一次", ok(SkipExchangeCommand(), ZH)),
    ("SKIP", ok(SkipExchangeCommand(), EN)),
    # --- errors, each naming what was wrong ---
    ("", err("empty", None)),
    ("   \n ", err("empty", None)),
    ("血压150/95", err("missing_seat", ZH, value="血压150/95")),
    ("BP150/95", err("missing_seat", EN, value="BP150/95")),
    ("150/95", err("missing_seat", None, value="150/95")),
    ("好 血糖8.9", err("missing_seat", ZH, value="血糖8.9")),
    ("住院", err("missing_seat", ZH, value="住院")),
    ("好 老李头晕", err("missing_seat", ZH, value="老李头晕")),
    ("老李送到医院了", err("missing_seat", ZH, value="老李送到医院了")),
    ("5 血压300/20", err("bp_out_of_range", ZH, seat=5, value="300/20")),
    ("5 血压95/150", err("bp_out_of_range", ZH, seat=5, value="95/150")),
    ("5 BP 150/150", err("bp_out_of_range", EN, seat=5, value="150/150")),
    ("5 血压150.5/95", err("bp_unreadable", ZH, seat=5, value="150.5/95")),
    ("5 血压150", err("bp_unreadable", ZH, seat=5, value="150")),
    ("5 血糖50", err("glucose_out_of_range", ZH, seat=5, value="50")),
    ("12 BG 0.5", err("glucose_out_of_range", EN, seat=12, value="0.5")),
    ("5 血糖 8/9", err("glucose_unreadable", ZH, seat=5, value="8/9")),
    ("5 血压15O/95", err("number_unreadable", ZH, value="15O/95")),
    ("25 血压150/95", err("seat_out_of_range", ZH, seat=25)),
    ("0 住院", err("seat_out_of_range", ZH, seat=0)),
    ("好 5", err("item_incomplete", ZH, seat=5)),
    ("15", err("unrecognised", None, hint="numbers")),
    ("5 7", err("unrecognised", None, hint="numbers")),
    ("到", err("attendance_missing", ZH)),
    ("ATT", err("attendance_missing", EN)),
    ("到 35", err("headcount_out_of_range", ZH, value=35)),
    ("到 1 2 30", err("seat_out_of_range", ZH, seat=30, context="attendance")),
    ("到 1-25", err("seat_out_of_range", ZH, seat=25, context="attendance")),
    ("收到 K1Q", err("ack_code_invalid", ZH, code="K1Q")),
    ("ACK K7QQ", err("ack_code_invalid", EN, code="K7QQ")),
    ("改 周四", err("move_incomplete", ZH)),
    ("MOVE 19:00", err("move_incomplete", EN)),
    ("改 周四 25:00", err("move_time_invalid", ZH, value="25:00")),
    ("改 下周一 19:00", err("move_not_this_week", ZH)),
    ("MOVE NEXT MON 7PM", err("move_not_this_week", EN)),
    ("stop please", err("unrecognised", EN, hint="optout")),
    ("不要再发了", err("unrecognised", ZH, hint="optout")),
    ("别给我发短信了", err("unrecognised", ZH, hint="optout")),
    ("please don't send these", err("unrecognised", EN, hint="optout")),
    ("退订 谢谢", err("unrecognised", ZH, hint="optout")),
    ("请退订", err("unrecognised", ZH, hint="optout")),
    ("我要拒收短信", err("unrecognised", ZH, hint="optout")),
    ("19:00", err("unrecognised", None, hint="move")),
    ("你好", err("unrecognised", ZH, hint=None)),
    ("今天下雨", err("unrecognised", ZH, hint=None)),
    ("hello", err("unrecognised", EN, hint=None)),
    ("好 " + "x" * 600, err("too_long", ZH, limit=500)),
]
