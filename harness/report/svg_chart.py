"""The game-day RTO chart as a self-contained SVG, drawn with string formatting (no plotting stack).

One line per drill across runs (oldest left), RTO on a logarithmic axis (seconds to an hour: drills run
from a second to the 60-minute database objective), each run's point red when the drill failed, and a
dashed line per RTO objective of the inventory (002 RTO table). Input: the history records
(harness/drills/history.py), which carry the RTO on the drill's clock (the one asserted) and on the wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from xml.sax.saxutils import escape

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#d62728")
FAILED = "#d62728"
TICKS_S = (0.1, 1, 10, 60, 300, 900, 1800, 3600, 7200)  # 0.1 s .. 2 h: the 002 objectives are 5/15/30/60 min


def _tick_label(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:g} s"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _runs(history: Sequence[Mapping[str, Any]], last: int) -> list[str]:
    """Run ids in the order they first appear (the history is appended in time order), the newest ``last``."""
    order: list[str] = []
    for rec in history:
        run = str(rec.get("run") or rec.get("at") or "")
        if run not in order:
            order.append(run)
    return order[-last:]


Points = dict[str, list[tuple[int, float, bool]]]  # drill -> (run index, value, passed)


def _series(
    history: Sequence[Mapping[str, Any]], index: Mapping[str, int], value: str
) -> tuple[Points, dict[float, set[str]]]:
    """Each drill's points among the shown runs, and each RTO objective with the kinds it applies to."""
    points: Points = {}
    objectives: dict[float, set[str]] = {}
    for rec in history:
        run = str(rec.get("run") or rec.get("at") or "")
        if run not in index:
            continue
        v = rec.get(value)
        if isinstance(v, (int, float)) and v >= 0:
            points.setdefault(str(rec.get("drill")), []).append((index[run], float(v), rec.get("outcome") == "PASS"))
        target = rec.get("rto_target_s")
        if isinstance(target, (int, float)) and target > 0:
            objectives.setdefault(float(target), set()).add(str(rec.get("kind") or ""))
    return points, objectives


@dataclass(frozen=True)
class _Frame:
    """The plot area and its scales: runs along x, a log10 axis of seconds along y."""

    left: int
    top: int
    plot_w: int
    plot_h: int
    runs: int
    lo: float
    hi: float

    def y(self, v: float) -> float:
        """The y coordinate of ``v`` seconds (clamped to the axis)."""
        v = min(max(v, self.lo), self.hi)
        lo_l, hi_l = math.log10(self.lo), math.log10(self.hi)
        return self.top + self.plot_h - (math.log10(v) - lo_l) / (hi_l - lo_l) * self.plot_h

    def x(self, i: int) -> float:
        """The x coordinate of run ``i``."""
        return self.left + (self.plot_w / 2 if self.runs <= 1 else i * self.plot_w / (self.runs - 1))


def _axes(f: _Frame, title: str, width: int, height: int) -> list[str]:
    """The canvas, the title, both axes, the second ticks and the run numbers."""
    left, top, plot_w, plot_h = f.left, f.top, f.plot_w, f.plot_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for t in TICKS_S:
        if f.lo <= t <= f.hi:
            out.append(f'<line x1="{left}" y1="{f.y(t):.1f}" x2="{left + plot_w}" y2="{f.y(t):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{f.y(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    for i in range(f.runs):
        if f.runs <= 12 or i % max(1, f.runs // 12) == 0 or i == f.runs - 1:
            out.append(f'<text x="{f.x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{i + 1}</text>')
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 12}" text-anchor="middle">run (oldest left; {f.runs} '
        "shown)</text>"
    )
    return out


def _objectives(f: _Frame, objectives: Mapping[float, set[str]]) -> list[str]:
    """A dashed line per RTO objective on the axis, labelled with its kinds."""
    out = []
    for target, kinds in sorted(objectives.items()):
        if f.lo <= target <= f.hi:
            out.append(
                f'<line x1="{f.left}" y1="{f.y(target):.1f}" x2="{f.left + f.plot_w}" y2="{f.y(target):.1f}" '
                'stroke="#999" stroke-dasharray="6,4"/>'
            )
            label = f"objective {_tick_label(target)} ({', '.join(sorted(k for k in kinds if k))})"
            out.append(
                f'<text x="{f.left + f.plot_w - 4}" y="{f.y(target) - 4:.1f}" text-anchor="end" '
                f'fill="#666">{escape(label)}</text>'
            )
    return out


def _drills(f: _Frame, points: Points) -> list[str]:
    """A line and a legend entry per drill; each run's point red when the drill failed."""
    out = []
    for n, (drill, pts) in enumerate(sorted(points.items())):
        color = PALETTE[n % len(PALETTE)]
        pts.sort()
        if len(pts) > 1:
            path = " ".join(f"{f.x(i):.1f},{f.y(v):.1f}" for i, v, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v, ok in pts:
            out.append(
                f'<circle cx="{f.x(i):.1f}" cy="{f.y(v):.1f}" r="3.5" fill="{color if ok else FAILED}" '
                f'stroke="{color}"><title>{escape(drill)}: {v:.1f} s{"" if ok else " (FAILED)"}</title></circle>'
            )
        ly = f.top + 14 + n * 18
        out.append(f'<rect x="{f.left + f.plot_w + 14}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{f.left + f.plot_w + 32}" y="{ly + 1}">{escape(drill)}</text>')
    return out


def rto_chart(
    history: Sequence[Mapping[str, Any]],
    *,
    title: str = "RTO per drill across runs",
    value: str = "rto_s",
    width: int = 760,
    height: int = 380,
    last_runs: int = 30,
) -> str:
    """The chart as SVG text (valid XML); an empty history draws the axes and says so."""
    left, right, top, bottom = 70, 230, 40, 50
    runs = _runs(history, last_runs)
    points, objectives = _series(history, {r: i for i, r in enumerate(runs)}, value)
    values = [v for pts in points.values() for _, v, _ in pts] + list(objectives)
    lo = max(min([v for v in values if v > 0] or [1.0]) / 2, TICKS_S[0])
    hi = max(values or [60.0]) * 1.5
    f = _Frame(left, top, width - left - right, height - top - bottom, len(runs), lo, hi)
    out = _axes(f, title, width, height) + _objectives(f, objectives) + _drills(f, points)
    if not points:
        out.append(
            f'<text x="{left + f.plot_w / 2:.1f}" y="{top + f.plot_h / 2:.1f}" text-anchor="middle" fill="#666">'
            "no drill history yet</text>"
        )
    out.append(f'<text x="{left + f.plot_w + 14}" y="{top + f.plot_h}" fill="{FAILED}">● failed run</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
