"""The words of the coordinators' SMS grammar, in Chinese and English.

Each surface form maps onto a `Word`: what it means to the parser (`Kind`) and a
value (a weekday, an event, a period of the day ...). Chinese words are matched
inside runs of Han characters (longest match first); English words and phrases
of up to three words are matched in upper case. `notifications.sms.grammar` decides
what a word means where it stands; a word with no meaning in its place is kept
as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from notifications.sms.commands import MemberEvent


class Kind(StrEnum):
    STABLE = "stable"  # 好 / OK: all stable (or, right after a seat, that member is)
    OTHERS = "others"  # 其他 / REST: "the others", before a STABLE word
    URGENT = "urgent"
    ATTEND = "attend"
    ACK = "ack"
    HELP = "help"
    MOVE = "move"
    SKIP = "skip"
    BP = "bp"  # 血压 / BP, followed by systolic/diastolic
    BP_HIGH = "bp_high"  # 高压 150 低压 95
    BP_LOW = "bp_low"
    BP_SEP = "bp_sep"  # 150比95
    GLUCOSE = "glucose"
    EVENT = "event"
    SEAT_PREFIX = "seat_prefix"  # 第5号, #5, NO.5
    SEAT_SUFFIX = "seat_suffix"  # 5号
    UNIT = "unit"  # mmHg, mmol/L: skipped after a reading
    PEOPLE = "people"  # 到15人
    IGNORE = "ignore"  # particles and courtesies: 了, 谢谢, 医生
    TEXT = "text"  # words that contain a keyword but mean something else: 不好, 着急
    NUMERAL = "numeral"  # 七点半, 五号
    WEEKDAY = "weekday"  # value 0 = Monday
    WEEK_PREFIX = "week_prefix"  # 周4, 星期4
    REL_DAY = "rel_day"  # value (days ahead, period or None)
    PERIOD = "period"  # value "am", "pm", "noon"
    HOUR_MARK = "hour_mark"  # 点, 点钟, 时
    HALF = "half"  # 半
    QUARTER = "quarter"  # value minutes
    MINUTE_MARK = "minute_mark"  # 分
    NEXT_WEEK = "next_week"  # 下周四: only this week's exchange can be moved
    MEASURE = "measure"  # 3天, 2片, 38度, 3 days: the number before it is no seat


@dataclass(frozen=True)
class Word:
    kind: Kind
    value: Any = None


# Commands that open a message (the first one found decides what it is).
COMMAND_KINDS = frozenset(
    {Kind.STABLE, Kind.URGENT, Kind.ATTEND, Kind.ACK, Kind.HELP, Kind.MOVE, Kind.SKIP}
)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _words(kind: Kind, surfaces: str, value: Any = None) -> dict[str, Word]:
    return {surface: Word(kind, value) for surface in surfaces.split()}


_PM, _AM, _NOON = "pm", "am", "noon"

CHINESE: dict[str, Word] = {
    **_words(
        Kind.STABLE,
        "好 都好 全好 正常 都正常 全正常 全部正常 一切正常 均正常 平安 都平安 平安无事 "
        "好的 好了 都好了 很好 都很好 挺好 都挺好 稳定 都稳定 病情稳定 没事 都没事 没问题 "
        "都没问题 无异常 没异常 都无异常 一切都好 一切安好 安好 良好 都良好 没变化 无变化 老样子 "
        "一切照旧",
    ),
    **_words(
        Kind.OTHERS,
        "其他 其它 其余 别的 剩下 剩下的 其他人 其余人 其他的 其余的 大家 全部 所有人 全组 全体",
    ),
    **_words(
        Kind.URGENT,
        "急 紧急 急救 很急 好急 太急 特急 非常急 危急 急诊 救命 求救 救救 快来人 出事了 不行了 "
        "快不行了 病危 抢救",
    ),
    **_words(Kind.ATTEND, "到 到了 到会 到场 出席 参加 来了 实到 参会 到会人数 出席人数 参加人数"),
    **_words(Kind.ACK, "收到 已收到 收到了 已阅 知道了"),
    **_words(Kind.HELP, "帮助 怎么发 怎么回 怎么写 怎么报 格式 说明 使用说明"),
    **_words(
        Kind.MOVE, "改 改到 改成 改为 改期 改时间 改在 调到 调整到 换到 挪到 推到 延到 延期到"
    ),
    **_words(
        Kind.SKIP,
        "停 本周停 这周停 暂停 停一次 停一周 本周暂停 这周暂停 本周不办 这周不办 不办了 停办 "
        "取消活动 本周取消 这周取消",
    ),
    # Pinyin input offers homophones (血亚, 学压, 血唐) and some phones write traditional
    # characters (血壓, 號): both are read as what was meant.
    **_words(Kind.BP, "血压 量血压 高血压 低血压 血壓 血亚 学压 雪压"),
    **_words(Kind.BP_HIGH, "高压 收缩压 高壓"),
    **_words(Kind.BP_LOW, "低压 舒张压 低壓"),
    **_words(Kind.BP_SEP, "比"),
    **_words(Kind.GLUCOSE, "血糖 空腹血糖 餐后血糖 随机血糖 空腹 餐后 糖 血唐 血汤 雪糖 餐後"),
    **_words(Kind.EVENT, "住院 住院了 入院 住进医院 进医院 住医院", MemberEvent.HOSPITALISED),
    **_words(Kind.EVENT, "出院 出院了 已出院", MemberEvent.DISCHARGED),
    **_words(
        Kind.EVENT,
        "漏药 漏服 漏吃 漏吃药 漏服药 忘吃药 忘了吃药 没吃药 停药 断药 未服药 没按时吃药 漏藥",
        MemberEvent.MISSED_MEDICATION,
    ),
    **_words(Kind.EVENT, "去世 过世 死亡 病故 逝世 死了 病逝 已故 去逝 過世", MemberEvent.DIED),
    **_words(Kind.SEAT_PREFIX, "第 座号"),
    **_words(Kind.SEAT_SUFFIX, "号 號"),
    **_words(Kind.UNIT, "毫米汞柱 毫摩尔 毫摩尔每升 毫摩 每升"),
    **_words(Kind.PEOPLE, "人 个人 位 名 个"),
    **_words(
        Kind.MEASURE,
        "天 次 个月 岁 斤 公斤 度 小时 分钟 片 粒 毫克 顿",
    ),
    **_words(
        Kind.IGNORE,
        "的 了 啊 呀 吧 哦 嗯 呢 哈 啦 滴 噢 喔 吗 都 也 是 和 及 "
        "谢谢 多谢 感谢 辛苦 辛苦了 麻烦 医生 大夫 村医 老师 "
        "您好 你好 医生好 大夫好 老师好 村医好 大家好 "
        "本周 这周 本星期 这星期 这个星期 这礼拜 这个礼拜 本次 这次 今日 目前 现在 "
        "报告 周报 汇报 情况 网格 成员 还有 另外 其中",
    ),
    **_words(
        Kind.TEXT,
        "不好 不太好 没好 好转 好多了 好些 好像 还好 着急 急性 性急 急躁 心急 改善 改变 停电",
    ),
    **{
        numeral: Word(Kind.NUMERAL, value)
        for value, numeral in enumerate("零一二三四五六七八九十", start=0)
    },
    **_words(Kind.NUMERAL, "两", 2),
    **{
        f"十{numeral}": Word(Kind.NUMERAL, 10 + value)
        for value, numeral in enumerate("一二三四五六七八九", 1)
    },
    **_words(Kind.NUMERAL, "二十", 20),
    **{
        f"{prefix}{day}": Word(Kind.WEEKDAY, index)
        for prefix in ("周", "星期", "礼拜")
        for index, day in enumerate("一二三四五六日")
    },
    **{f"{prefix}天": Word(Kind.WEEKDAY, 6) for prefix in ("周", "星期", "礼拜")},
    **_words(Kind.WEEK_PREFIX, "周 星期 礼拜"),
    **_words(Kind.NEXT_WEEK, "下周 下星期 下礼拜 下个星期 下个礼拜 下一周"),
    **_words(Kind.REL_DAY, "今天 今日", (0, None)),
    **_words(Kind.REL_DAY, "今晚", (0, _PM)),
    **_words(Kind.REL_DAY, "明天 明日", (1, None)),
    **_words(Kind.REL_DAY, "明晚", (1, _PM)),
    **_words(Kind.REL_DAY, "后天", (2, None)),
    **_words(Kind.PERIOD, "上午 早上 早晨 清早 早", _AM),
    **_words(Kind.PERIOD, "中午", _NOON),
    **_words(Kind.PERIOD, "下午 傍晚 晚上 晚 夜里", _PM),
    **_words(Kind.HOUR_MARK, "点 点钟 时"),
    **_words(Kind.HALF, "半"),
    **_words(Kind.QUARTER, "一刻", 15),
    **_words(Kind.QUARTER, "三刻", 45),
    **_words(Kind.MINUTE_MARK, "分"),
}
"""Surface form → meaning, for text in Han characters."""

# `今日` is both a courtesy ("today's report") and a day for `改`: the day wins.
CHINESE["今日"] = Word(Kind.REL_DAY, (0, None))

CHINESE_LONGEST = max(len(surface) for surface in CHINESE)


def _phrases(kind: Kind, surfaces: str, value: Any = None) -> dict[tuple[str, ...], Word]:
    """`surfaces` separated by `|`; a surface of several words is a phrase."""
    return {tuple(surface.split()): Word(kind, value) for surface in surfaces.split("|")}


ENGLISH: dict[tuple[str, ...], Word] = {
    **_phrases(
        Kind.STABLE,
        "OK|OKAY|FINE|GOOD|WELL|STABLE|ALL OK|ALL FINE|ALL GOOD|ALL WELL|ALL STABLE|"
        "NO CHANGE|NO CHANGES|ALL SAME|NOTHING NEW",
    ),
    **_phrases(Kind.TEXT, "NOT OK|NOT OKAY|NOT FINE|NOT GOOD|NOT WELL|NOT STABLE"),
    **_phrases(Kind.OTHERS, "REST|THE REST|OTHERS|OTHER|EVERYONE|EVERYBODY|EVERYONE ELSE"),
    **_phrases(
        Kind.URGENT,
        "URGENT|URGNET|URGEN|SOS|EMERGENCY|HELP ME|PLEASE HELP|COME QUICK|COME QUICKLY|"
        "COME NOW|AMBULANCE",
    ),
    **_phrases(Kind.ATTEND, "ATT|ATTEND|ATTENDED|ATTENDANCE|PRESENT"),
    **_phrases(Kind.ACK, "ACK|ACKNOWLEDGE|ACKNOWLEDGED"),
    **_phrases(Kind.HELP, "HELP|INFO"),
    **_phrases(Kind.MOVE, "MOVE|RESCHEDULE|CHANGE"),
    **_phrases(Kind.SKIP, "SKIP"),
    **_phrases(Kind.BP, "BP|B P|BLOOD PRESSURE"),
    **_phrases(Kind.BP_SEP, "OVER"),
    **_phrases(Kind.GLUCOSE, "BG|GLU|GLUCOSE|SUGAR|BLOOD SUGAR|BLOOD GLUCOSE|FBG|FBS"),
    **_phrases(
        Kind.EVENT,
        "HOSP|HOSPITAL|HOSPITALISED|HOSPITALIZED|IN HOSPITAL|ADMITTED",
        MemberEvent.HOSPITALISED,
    ),
    **_phrases(
        Kind.EVENT,
        "HOME|DISCHARGED|DISCHARGE|OUT OF HOSPITAL|BACK HOME",
        MemberEvent.DISCHARGED,
    ),
    **_phrases(
        Kind.EVENT,
        "MISSED|MISSED MEDS|MISSED MEDICINE|MISSED MEDICATION|MISSED PILLS|NO MEDS",
        MemberEvent.MISSED_MEDICATION,
    ),
    **_phrases(Kind.EVENT, "DIED|DEAD|DECEASED|PASSED AWAY", MemberEvent.DIED),
    **_phrases(Kind.SEAT_PREFIX, "NO|SEAT|MEMBER|NUMBER|NUM"),
    **_phrases(Kind.UNIT, "MMHG|MM HG|MMOL|MMOL L|MMOLL"),
    **_phrases(Kind.PEOPLE, "PEOPLE|PPL|PERSONS|MEMBERS|CAME"),
    **_phrases(
        Kind.MEASURE,
        "DAY|DAYS|TIMES|WEEKS|MONTHS|YEARS|YRS|HOURS|HRS|MINUTES|MINS|TABLETS|PILLS|KG|DEGREES",
    ),
    **_phrases(
        Kind.IGNORE,
        "THANKS|THANK YOU|THX|PLEASE|PLS|HI|HELLO|DEAR|DR|DOCTOR|THIS WEEK|WEEK|REPORT|"
        "AND|AT|ON|TO|FOR|THE|IS|ARE|WAS",
    ),
    **{
        (surface,): Word(Kind.WEEKDAY, index)
        for index, names in enumerate(
            (
                "MON MONDAY",
                "TUE TUES TUESDAY",
                "WED WEDS WEDNESDAY",
                "THU THUR THURS THURSDAY",
                "FRI FRIDAY",
                "SAT SATURDAY",
                "SUN SUNDAY",
            )
        )
        for surface in names.split()
    },
    **_phrases(Kind.REL_DAY, "TODAY", (0, None)),
    **_phrases(Kind.REL_DAY, "TONIGHT", (0, _PM)),
    **_phrases(Kind.REL_DAY, "TOMORROW|TOMOROW|TMR|TMRW", (1, None)),
    **_phrases(Kind.REL_DAY, "TOMORROW NIGHT|TOMORROW EVENING", (1, _PM)),
    **_phrases(Kind.PERIOD, "AM|A M|MORNING|IN THE MORNING", _AM),
    **_phrases(Kind.PERIOD, "NOON", _NOON),
    **_phrases(Kind.PERIOD, "PM|P M|EVENING|IN THE EVENING|AFTERNOON|IN THE AFTERNOON", _PM),
    **_phrases(Kind.HOUR_MARK, "O CLOCK|OCLOCK|H"),
    **_phrases(Kind.NEXT_WEEK, "NEXT|NEXT WEEK"),
}
"""Upper-case words (a tuple of one to three) → meaning, for Latin text."""

ENGLISH_LONGEST = max(len(phrase) for phrase in ENGLISH)

# Whole-message keywords. Carriers and Twilio act on them only when the whole
# message is the keyword, so we match the same way (see grammar's docstring).
OPT_OUT_ENGLISH = _set("STOP STOPALL UNSUBSCRIBE END QUIT REVOKE OPTOUT CANCEL")
OPT_OUT_CHINESE = _set("退订 拒收 取消订阅 退订短信")
OPT_OUT_LETTERS = _set("T TD R N")  # Chinese carriers' codes: no language
OPT_IN_ENGLISH = _set("START YES UNSTOP")
OPT_IN_CHINESE = _set("开始 订阅 恢复")

# Red flags: a member may need help within minutes. Any message naming one is
# urgent, whatever else it says.
RED_FLAGS_CHINESE = _set(
    "胸痛 胸疼 胸闷 胸口痛 胸口疼 心口痛 心口疼 心绞痛 心梗 胸通 胸们 "
    "呼吸困难 喘不上气 喘不过气 上不来气 憋气 无法呼吸 不能呼吸 停止呼吸 没气了 心跳停 没有心跳 "
    "昏迷 叫不醒 叫不应 晕倒 昏倒 晕过去 昏过去 晕厥 不省人事 神志不清 意识不清 休克 "
    "口角歪斜 口眼歪斜 嘴歪 偏瘫 半身不遂 说话不清 说不出话 手脚麻木 中风 "
    "大出血 吐血 咯血 便血不止 抽搐 抽风 "
    "起不来 站不起来 爬不起来"
)
RED_FLAGS_ENGLISH = (
    r"chest pains?",
    r"chest tight(?:ness)?",
    r"heart attack",
    r"can'?t breathe?",
    r"cannot breathe?",
    r"can not breathe?",
    r"not breathing",
    r"(?:couldn'?t|could not|unable to) breathe?",
    r"(?:difficulty|trouble) breathing",
    r"short(?:ness)? of breath",
    r"unconscious",
    r"unresponsive",
    r"faint(?:ed|ing)?",
    r"passed out",
    r"collapsed",
    r"stroke",
    r"slurred speech",
    r"slurring",
    r"face droop(?:ing|s)?",
    r"drooping face",
    r"numb(?:ness)?",
    r"bleeding",
    r"vomiting blood",
    r"coughing blood",
    r"seizures?",
    r"convulsions?",
    r"blacked out",
    r"not waking",
    r"(?:can'?t|cannot|won'?t) wake(?: up)?",
    r"(?:can'?t|cannot) (?:get|stand) up",
    r"choking",
)

# A red flag right after one of these is denied, not reported (`无胸痛`, `no chest
# pain`): the words stay the member's note. `急` still makes any message urgent.
NEGATIONS_CHINESE = ("没有", "没", "无", "未", "不", "不是", "否认")
NEGATIONS_ENGLISH = ("no", "not", "without", "denies", "never", "no more")

# Loose words (no seat) that still say something is wrong with someone: a report
# that carries them without a seat is sent back rather than read as "all stable".
SYMPTOM_HINTS_CHINESE = _set(
    "痛 疼 晕 烧 咳 吐 泻 病 摔 跌 肿 喘 痒 难受 不舒服 不好 血 药 医院 住 出院 死"
)
# Sentences that ask us to stop sending without being the opt-out keyword alone: the
# reply says how to opt out (carriers act only on the keyword, so we do too).
STOP_REQUESTS_CHINESE = (
    "不要再发",
    "不要发",
    "别再发",
    "别发",
    "不用发",
    "不用再发",
    "不想收",
    "不要收",
    "不接收",
    "停止发送",
    "不要短信",
    "别给我发",
    "不要给我发",
    "取消短信",
    "取消订阅",
    "退订",
    "拒收",
)
STOP_REQUESTS_ENGLISH = re.compile(
    r"\b(?:stop|unsubscribe|don'?t (?:send|text)|no more (?:sms|messages|texts))\b",
    re.IGNORECASE,
)

SYMPTOM_HINTS_ENGLISH = _set(
    "DIZZY PAIN PAINS SICK ILL FEVER FELL FALL HURT HURTS COUGH COUGHING VOMIT VOMITING "
    "HEADACHE HIGH LOW UNWELL BAD WORSE SWOLLEN"
)
