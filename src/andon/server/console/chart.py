"""Actions per minute as an inline SVG bar chart with switch and incident markers, drawn on the server
(no JS).

The SVG scales to its container (``viewBox`` + ``width: 100%``), so it reads on a phone too. Every bar
and marker carries a ``<title>`` (the browser shows it on hover or long-press).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from andon.server.activity import Minute

WIDTH, HEIGHT = 600, 160
_MARK_CLASS = {"set": "mark-set", "clear": "mark-clear", "incident": "mark-incident"}
LEFT, BOTTOM, TOP = 34, 22, 10


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000):
        if value <= step:
            return step
    return value


def actions_chart(minutes: Sequence[Minute], marks: Sequence[dict[str, Any]]) -> Markup:
    """The chart for ``minutes`` (oldest first) with a vertical line at each mark: a switch set or
    cleared, or an incident opened, contained or resolved (``mark["change"]``)."""
    if not minutes:
        return Markup("")
    top = _nice_max(max(m.actions for m in minutes))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / len(minutes)
    start: datetime = minutes[0].start
    span = len(minutes) * 60.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="executed actions per minute, last {len(minutes)} minutes" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}"/>',
        f'<text class="label" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="label" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for i, minute in enumerate(minutes):
        h = plot_h * minute.actions / top
        x = LEFT + i * slot
        when = minute.start.strftime("%H:%M")
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{h:.1f}"><title>{when} UTC: {minute.actions} actions</title></rect>'
        )
        if i % 10 == 0 or i == len(minutes) - 1:
            mid, y = x + slot / 2, HEIGHT - 6
            parts.append(f'<text class="label" x="{mid:.1f}" y="{y}" text-anchor="middle">{when}</text>')
    for mark in marks:
        offset = (mark["time"] - start).total_seconds()
        if not 0 <= offset <= span:
            continue
        x = LEFT + plot_w * offset / span
        css = _MARK_CLASS[mark["change"]]
        head = (
            f'<rect x="{x - 4:.1f}" y="{TOP - 4}" width="8" height="8" transform="rotate(45 {x:.1f} {TOP})"/>'
            if mark["change"] == "incident"
            else f'<circle cx="{x:.1f}" cy="{TOP}" r="4"/>'
        )  # an incident is a diamond, a switch a dot
        parts.append(
            f'<g class="{css}"><line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}"/>{head}'
            f"<title>{escape(mark['time'].strftime('%H:%M:%S'))} UTC: {escape(mark['label'])}</title></g>"
        )
    parts.append("</svg>")
    # Safe: every value put in the SVG is a number we formatted or passed through escape().
    return Markup("".join(parts))
