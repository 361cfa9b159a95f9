"""Counting SMS segments the way carriers bill them: GSM-7 or UCS-2."""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the gsm03.38 codec)
import pytest

from notifications.sms.segments import encoding, fits_one_segment, length, segment_count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "GSM-7"),
        ("OK 5 BP150/95", "GSM-7"),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r", "GSM-7"),
        ("{}[]~^|€\\", "GSM-7"),
        ("好 5 血压150/95", "UCS-2"),
        ("crêpe", "UCS-2"),  # ê is not in the GSM alphabet (é and è are)
        ("OK 👍", "UCS-2"),
        ("`", "UCS-2"),
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert encoding(text) == expected


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("a" * 69 + "中", 1),
        ("a" * 70 + "中", 2),
    ],
)
def test_single_and_multipart_boundaries(text: str, segments: int) -> None:
    assert segment_count(text) == segments


@pytest.mark.parametrize("char", list("{}[]~^|€\\"))
def test_extension_characters_count_two_septets(char: str) -> None:
    assert length(char * 80) == 160
    assert segment_count(char * 80) == 1
    assert segment_count(char * 81) == 2
    assert segment_count("a" * 159 + char) == 2


def test_an_escape_pair_is_never_split_across_segments() -> None:
    # 152 + 154 = 306 septets would fill two parts of 153, but a `{` cannot straddle them.
    assert segment_count("a" * 152 + "{" * 77) == 3
    assert segment_count("a" * 153 + "{" * 76) == 2


def test_emoji_count_two_utf16_units() -> None:
    assert length("😀") == 2
    assert segment_count("😀" * 35) == 1
    assert segment_count("😀" * 36) == 2
    assert segment_count("a" * 69 + "😀") == 2


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    # 66 + 68 = 134 units would fill two parts of 67, but an emoji cannot straddle them.
    assert segment_count("a" * 66 + "😀" * 34) == 3
    assert segment_count("a" * 67 + "😀" * 33) == 2


def test_fits_one_segment() -> None:
    assert fits_one_segment("已收到第48周报告：18人稳定，5号血压165/100，12号血糖8.9")
    assert not fits_one_segment("中" * 71)
    assert fits_one_segment("a" * 160)
    assert not fits_one_segment("a" * 150 + "€" * 6)


@pytest.mark.parametrize("text", ["OK 5 BP150/95", "{a}€[b]~^|\\", "@£$¥èé\n", "x" * 200])
def test_septets_agree_with_the_gsm0338_codec(text: str) -> None:
    assert length(text) == len(text.encode("gsm03.38"))
