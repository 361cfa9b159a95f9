"""Closing a case and recording its referral follow-up by SMS (docs/sms-grammar.md):
`结 K7Q 转诊` / `DONE K7Q referred`, `复 K7Q 好转` / `FOLLOWUP K7Q better`.

Read as the whole message before the report grammar sees it: the command word, the
case's code and one outcome word, nothing else. `结` and `复` begin many ordinary
words (结果, 复查), so a message is read as one of these only when a code follows.
"""

from __future__ import annotations

import re

from grids.core.limits import ACK_CODE_LENGTH
from notifications.sms.commands import CloseCaseCommand, FollowupCommand, Parsed, ParseError
from notifications.sms.errors import ACK_CHARS

ZH, EN = "zh_CN", "en"
CASE_WORD = "case_word"
"""The error when the code is there but the outcome word is missing or not one of ours."""
CASE_CODE = "case_code"
"""The error when the command word is there without the case's code (`结`, `DONE home`)."""

CLOSE_WORDS = {
    "在家": "home",
    "居家": "home",
    "转诊": "referred",
    "住院": "admitted",
    "死亡": "died",
    "去世": "died",
    "误报": "false",
    "HOME": "home",
    "REFERRED": "referred",
    "REFER": "referred",
    "ADMITTED": "admitted",
    "DIED": "died",
    "FALSE": "false",
}
FOLLOWUP_WORDS = {
    "好转": "better",
    "未好转": "worse",
    "没好转": "worse",
    "住院": "admitted",
    "死亡": "died",
    "去世": "died",
    "BETTER": "better",
    "WORSE": "worse",
    "ADMITTED": "admitted",
    "DIED": "died",
}
_HEADS = {"结": ("close", ZH), "结案": ("close", ZH), "DONE": ("close", EN), "CLOSE": ("close", EN)}
_HEADS |= {"复": ("followup", ZH), "随访": ("followup", ZH), "FOLLOWUP": ("followup", EN)}
_PATTERN = re.compile(
    r"^\s*(结案|结|DONE|CLOSE|复|随访|FOLLOW-?UP)\s*"
    rf"([A-Z0-9]{{{ACK_CODE_LENGTH}}})(?![A-Z0-9])"
    r"\s*[,，:：]?\s*(.*?)\s*[。.!！]?\s*$",
    re.IGNORECASE,
)


def read_case_command(text: str) -> Parsed | None:
    """The close or follow-up command `text` is, an error naming the words when its
    outcome word is wrong, or None when it is neither."""
    match = _PATTERN.match(text)
    if match is None:
        return _without_code(text)
    head = match[1].upper().replace("-", "")
    code = match[2].upper()
    if not all(char in ACK_CHARS for char in code):
        return None
    family, language = _HEADS[head]
    word = match[3].strip().upper()
    words = CLOSE_WORDS if family == "close" else FOLLOWUP_WORDS
    meaning = words.get(word)
    if meaning is None:
        return Parsed(None, ParseError(CASE_WORD, {"context": family, "code": code}), language)
    if family == "close":
        return Parsed(CloseCaseCommand(code, meaning), None, language)
    return Parsed(FollowupCommand(code, meaning), None, language)


_HEAD_ONLY = re.compile(
    r"^\s*(结案|结|DONE|CLOSE|复|随访|FOLLOW-?UP)\s*[,，:：]?\s*(.*?)\s*[。.!！]?\s*$",
    re.IGNORECASE,
)


def _without_code(text: str) -> Parsed | None:
    """`结`, `DONE`, `结 转诊`, `复 好转`: the command word alone, or with an outcome word
    but no code, is answered with an example that has one."""
    match = _HEAD_ONLY.match(text)
    if match is None:
        return None
    family, language = _HEADS[match[1].upper().replace("-", "")]
    words = CLOSE_WORDS if family == "close" else FOLLOWUP_WORDS
    if match[2] and match[2].upper() not in words:
        return None
    return Parsed(None, ParseError(CASE_CODE, {"context": family}), language)
