"""What needs a doctor first: ordering grids by urgency (plain functions, no database)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GridNeed:
    code: str
    number: int
    """The grid's number among the doctor's grids (1-based, by code), as in '先看3号格'."""
    open_urgent: int
    red: int
    reported: bool
    no_news: int
    members: int

    @property
    def needs_attention(self) -> bool:
        return self.open_urgent > 0 or self.red > 0 or not self.reported or self.no_news > 0

    def priority(self) -> tuple[int, int, int, int, str]:
        """Smaller first: open urgent cases, then red members, a missing report, silence."""
        return (
            -self.open_urgent,
            -self.red,
            0 if not self.reported else 1,
            -self.no_news,
            self.code,
        )


def grid_needs(
    grid_codes: Sequence[str],
    values: Mapping[str, Mapping[str, Any]],
    open_urgent: Mapping[str, int],
) -> list[GridNeed]:
    """The doctor's grids, most urgent first; numbers follow the order of the codes."""
    needs = [
        GridNeed(
            code=code,
            number=number,
            open_urgent=open_urgent.get(code, 0),
            red=int(values.get(code, {}).get("red", 0) or 0),
            reported=bool(values.get(code, {}).get("grids_reported", 0)),
            no_news=int(values.get(code, {}).get("members_no_news_2w", 0) or 0),
            members=int(values.get(code, {}).get("members", 0) or 0),
        )
        for number, code in enumerate(sorted(grid_codes), start=1)
    ]
    return sorted(needs, key=GridNeed.priority)


def first_grid(needs: Sequence[GridNeed]) -> GridNeed | None:
    """The grid to look at first, or None when nothing needs the doctor."""
    for need in needs:
        if need.needs_attention:
            return need
    return None
