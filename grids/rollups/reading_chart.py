"""A member's readings over a year as an SVG line chart (no script): values on their own
scale, with the thresholds drawn as dashed lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 360, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 10, 36


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    values: Sequence[float | None]


def reading_chart(
    title: str,
    labels: Sequence[str],
    lines: Sequence[Line],
    *,
    low: float,
    high: float,
    guides: Sequence[float] = (),
) -> str:
    """Points in order (oldest first), scaled between `low` and `high`."""
    count = len(labels)

    def x(index: int) -> float:
        inner = WIDTH - LEFT - RIGHT
        return LEFT + (inner * index / (count - 1) if count > 1 else inner / 2)

    def y(value: float) -> float:
        inner = HEIGHT - TOP - BOTTOM
        share = (min(max(value, low), high) - low) / (high - low)
        return TOP + inner * (1 - share)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for guide in guides:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(guide):.1f}" x2="{WIDTH - RIGHT}" y2="{y(guide):.1f}" '
            'stroke="#c9a3a0" stroke-width="1" stroke-dasharray="3 3"/>'
            f'<text x="{LEFT - 4}" y="{y(guide) + 4:.1f}" font-size="9" text-anchor="end" '
            f'fill="#56636d">{guide:g}</text>'
        )
    step = max(1, count // 6)
    for index, label in enumerate(labels):
        if index % step == 0 or index == count - 1:
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 13}" font-size="9" '
                f'text-anchor="middle" fill="#56636d">{escape(label)}</text>'
            )
    for number, line in enumerate(lines):
        points = [(x(i), y(v)) for i, v in enumerate(line.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="2"/>'
            )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{line.colour}"/>'
            for px, py in points
        ]
        legend_x = LEFT + number * 110
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 12}" width="10" height="3" fill="{line.colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 8}" font-size="10" fill="#1d2a33">'
            f"{escape(line.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
