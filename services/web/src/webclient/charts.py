"""Bar charts as inline SVG, drawn server-side from the report's JSON (no JavaScript, printable).

Each chart carries a <title> and <desc> for screen readers; the page shows the same numbers in a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]
    css: str  # class that colours the bars (static/app.css)


def grouped_bars(title: str, desc: str, labels: list[str], series: list[Series], height: int = 220) -> str:
    """Groups of bars, one group per label, one bar per series, with a legend."""
    groups = max(1, len(labels))
    bar_w, gap = 22, 24
    group_w = bar_w * len(series) + gap
    left, bottom, top = 36, 40, 16
    width = max(left + groups * group_w + 10, left + 130 * len(series) + 40, 320)
    peak = max([v for s in series for v in s.values] + [1])
    scale = (height - bottom - top) / peak
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="c-t c-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="c-t">{escape(title)}</title><desc id="c-d">{escape(desc)}</desc>',
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{peak:g}</text>',
        f'<text class="tick" x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>',
    ]
    for g, label in enumerate(labels):
        x0 = left + g * group_w + gap // 2
        for i, s in enumerate(series):
            v = s.values[g] if g < len(s.values) else 0
            h = v * scale
            x = x0 + i * bar_w
            parts.append(
                f'<rect class="{s.css}" x="{x}" y="{height - bottom - h:.1f}" width="{bar_w - 2}" '
                f'height="{h:.1f}"><title>{escape(label)}: {escape(s.name)} {v:g}</title></rect>'
            )
        parts.append(
            f'<text class="tick" x="{x0 + bar_w * len(series) / 2:.0f}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for i, s in enumerate(series):
        x = left + i * 130
        parts.append(f'<rect class="{s.css}" x="{x}" y="{height - 16}" width="10" height="10"/>')
        parts.append(f'<text class="tick" x="{x + 14}" y="{height - 7}">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
