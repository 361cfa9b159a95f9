"""How fast the SMS grammar reads messages, typical and worst case.

    .venv/bin/python -m bench.grammar [--rounds 200]

Parses the table of real-looking messages from the grammar's tests (both
languages, every command and error) and a set of worst cases at the input
limit (500 characters of reports, digits, emoji, random text; longer ones that
are searched to 1,600 characters for urgency; a megabyte of garbage), then
prints messages per second and per-message latency (p50, p99, max) for each
group, and the time to write every correction.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence

from notifications.sms.grammar import error_text, parse
from tests.support.grammar_cases import CASES


def worst_cases() -> list[str]:
    rng = random.Random(20261124)
    return [
        "好 " + " ".join(f"{seat % 20 + 1} 血压150/95 血糖8.9 头晕" for seat in range(30)),
        "5 " * 250,
        "1" * 500,
        "😀" * 500,
        "﷽" * 500,
        "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(500)),
        "".join(rng.choice("好急到改停号血压糖0123456789/., ") for _ in range(500)),
        "好 " + "5 血压150/95 " * 150 + "7 胸痛",  # too long, a red flag past 500: scanned
        "无胸痛 " * 400,  # every red flag denied, scanned to 1,600 characters
        "x" * 1_000_000,
    ]


def measure(
    label: str, messages: Sequence[str], rounds: int, work: Callable[[str], object]
) -> None:
    timings: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for message in messages:
            begin = time.perf_counter_ns()
            work(message)
            timings.append((time.perf_counter_ns() - begin) / 1000)
    elapsed = time.perf_counter() - started
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"{label:<22} {len(timings):>8} calls  {len(timings) / elapsed:>10,.0f}/s  "
        f"p50 {statistics.median(timings):>7.1f} us  p99 {p99:>7.1f} us  "
        f"max {timings[-1]:>8.1f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    table = [message for message, _ in CASES]
    errors = [parsed.error for parsed in map(parse, table) if parsed.error is not None]
    print(f"grammar: {len(table)} table messages, {len(worst_cases())} worst cases")
    measure("table messages", table, args.rounds, parse)
    measure("worst cases", worst_cases(), max(1, args.rounds // 10), parse)
    measure(
        "corrections (zh, en)",
        [str(index) for index in range(len(errors))],
        args.rounds,
        lambda index: (
            error_text(errors[int(index)], "zh_CN"),
            error_text(errors[int(index)], "en"),
        ),
    )


if __name__ == "__main__":
    main()
