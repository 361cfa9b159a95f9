"""12-week trend charts drawn as SVG on the server: no script, nothing from the internet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 360, 180
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 12, 40


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[float | None]
    """Percentages 0-100, oldest week first; None where there is nothing to divide."""


def _x(index: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner * index / (count - 1) if count > 1 else inner / 2)


def _y(value: float) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (1 - max(0.0, min(100.0, value)) / 100)


def trend_chart(
    title: str,
    week_labels: Sequence[str],
    series: Sequence[Series],
    *,
    provisional_last: bool,
    provisional_label: str,
) -> str:
    """A line chart of percentages per week; the last week dashed when it is provisional."""
    count = len(week_labels)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for percent in (0, 50, 100):
        y = _y(percent)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            'stroke="#dde3e8" stroke-width="1"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#56636d">{percent}%</text>'
        )
    for index, label in enumerate(week_labels):
        if index % 2 == (count - 1) % 2:
            parts.append(
                f'<text x="{_x(index, count):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="9" '
                f'text-anchor="middle" fill="#56636d">{escape(label)}</text>'
            )
    for line_index, item in enumerate(series):
        points = [
            (_x(index, count), _y(value))
            for index, value in enumerate(item.values)
            if value is not None
        ]
        settled = points[:-1] if provisional_last and points else points
        if len(settled) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in settled)
            parts.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="{item.colour}" '
                'stroke-width="2"/>'
            )
        if provisional_last and len(points) > 1:
            (x1, y1), (x2, y2) = points[-2], points[-1]
            parts.append(
                f'<line class="provisional" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                f'y2="{y2:.1f}" stroke="{item.colour}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
        for number, (x, y) in enumerate(points):
            hollow = provisional_last and number == len(points) - 1
            fill = "#fff" if hollow else item.colour
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="{item.colour}"/>'
            )
        legend_y = HEIGHT - 10
        legend_x = LEFT + line_index * 105
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 8}" width="10" height="3" fill="{item.colour}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y - 4}" font-size="10" fill="#1d2a33">'
            f"{escape(item.label)}</text>"
        )
    if provisional_last:
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{TOP - 2}" font-size="9" text-anchor="end" '
            f'fill="#56636d">{escape(provisional_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
