"""The game-day RTO chart as a self-contained SVG, drawn with string formatting (no plotting stack).

Why not a plotting library: matplotlib (the well-kept choice) would pull numpy, pillow and more (tens of MB)
into a harness whose reports are otherwise plain text, for one chart of a few dozen points; the SVG below is
about 200 lines, valid XML that a test parses, and renders in GitHub, Allure and any browser.

One panel per drill, stacked, sharing the x axis: every run in the history (oldest left, the run's date under
it), the drill's RTO on a logarithmic axis (drills run from a second to the 60-minute database objective), and
the drill's own objective (002 RTO table, the ``rto_target_s`` its history line recorded) as a dashed line in
its panel. A passed run is a dot in the drill's colour; a failed run is red: a red dot where its RTO was
measured, a red cross on the panel's top edge where it never recovered (no RTO). Input: the history records
(harness/drills/history.py), which carry the RTO on the drill's clock (the one asserted) and on the wall.

Elements carry classes for readers and tests: ``g.drill[data-drill]`` per panel, ``line.objective[data-seconds]``,
``circle.run`` / ``path.run`` with ``passed`` or ``failed``, ``text.date`` under the axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
FAILED = "#d62728"
TICKS_S = (0.1, 1, 10, 60, 300, 900, 1800, 3600, 7200)  # 0.1 s .. 2 h: the 002 objectives are 5/15/30/60 min
LEFT, RIGHT, TOP, BOTTOM, PANEL_H, GAP = 70, 150, 40, 56, 96, 22
DATE_LABEL_W = 95  # pixels a "YYYY-MM-DD HH:MM" label needs at font size 10: labels never overlap


def _tick_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _run_of(rec: Mapping[str, Any]) -> str:
    return str(rec.get("run") or rec.get("at") or "")


def _date_of(rec: Mapping[str, Any], run: str) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of a run: its record's ``at``, else the stamp its run id starts with."""
    at = str(rec.get("at") or "")
    if len(at) >= 16:
        return f"{at[:10]} {at[11:16]}"
    s = run[:13]
    if len(s) == 13 and s[:8].isdigit() and s[8] == "T" and s[9:].isdigit():  # 20260125T2200...
        return f"{s[:4]}-{s[4:6]}-{s[6:8]} {s[9:11]}:{s[11:13]}"
    return at or run


@dataclass
class _Drill:
    """One drill's points across the runs, and its own objective."""

    name: str
    kind: str = ""
    objective: float | None = None
    points: list[tuple[int, float | None, bool]] = field(default_factory=list)  # (run index, RTO or None, passed)


def _runs(history: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Every run id in the order it first appears (the history is appended in time order), and each run's date."""
    order: list[str] = []
    dates: list[str] = []
    for rec in history:
        run = _run_of(rec)
        if run not in order:
            order.append(run)
            dates.append(_date_of(rec, run))
    return order, dates


def _drills(history: Sequence[Mapping[str, Any]], index: Mapping[str, int], value: str) -> list[_Drill]:
    """Each drill's points (a failed run without an RTO included) and its newest objective."""
    by: dict[str, _Drill] = {}
    for rec in history:
        name = str(rec.get("drill"))
        d = by.setdefault(name, _Drill(name))
        d.kind = str(rec.get("kind") or d.kind)
        target = rec.get("rto_target_s")
        if isinstance(target, (int, float)) and target > 0:
            d.objective = float(target)
        v = rec.get(value)
        passed = rec.get("outcome") == "PASS"
        measured = float(v) if isinstance(v, (int, float)) and v >= 0 else None
        if measured is not None or not passed:  # a failed run is drawn even without an RTO
            d.points.append((index[_run_of(rec)], measured, passed))
    return [by[k] for k in sorted(by)]


@dataclass(frozen=True)
class _Panel:
    """A drill's plot area and its log10 scale of seconds."""

    top: float
    lo: float
    hi: float

    def y(self, v: float) -> float:
        """The y coordinate of ``v`` seconds (clamped to the panel)."""
        v = min(max(v, self.lo), self.hi)
        lo_l, hi_l = math.log10(self.lo), math.log10(self.hi)
        return self.top + PANEL_H - (math.log10(v) - lo_l) / (hi_l - lo_l) * PANEL_H


def _x(i: int, runs: int, plot_w: float) -> float:
    return LEFT + (plot_w / 2 if runs <= 1 else i * plot_w / (runs - 1))


def _panel_scale(d: _Drill, top: float) -> _Panel:
    values = [v for _, v, _ in d.points if v is not None and v > 0] + ([d.objective] if d.objective else [])
    lo = max(min(values or [1.0]) / 2, TICKS_S[0])
    return _Panel(top, lo, max(max(values or [60.0]) * 1.5, lo * 10))


def _panel(d: _Drill, n: int, p: _Panel, runs: int, plot_w: float) -> list[str]:
    """A drill's panel: frame, ticks, its objective, its line and a marker per run."""
    color = PALETTE[n % len(PALETTE)]
    out = [
        f'<g class="drill" data-drill={quoteattr(d.name)}>',
        f'<rect x="{LEFT}" y="{p.top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#ccc"/>',
        f'<text x="{LEFT + 4}" y="{p.top - 5}" font-weight="bold" fill="{color}">'
        f"{escape(d.name)}{escape(f' ({d.kind})' if d.kind else '')}</text>",
    ]
    for t in TICKS_S:
        if p.lo <= t <= p.hi:
            out.append(f'<line x1="{LEFT}" y1="{p.y(t):.1f}" x2="{LEFT + plot_w}" y2="{p.y(t):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{LEFT - 6}" y="{p.y(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    if d.objective:
        y = p.y(d.objective)
        out.append(
            f'<line class="objective" data-seconds="{d.objective:g}" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" '
            f'y2="{y:.1f}" stroke="{color}" stroke-dasharray="6,4"/>'
        )
        out.append(
            f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}" fill="{color}">objective {_tick_label(d.objective)}</text>'
        )
    measured = sorted((i, v) for i, v, _ in d.points if v is not None)
    if len(measured) > 1:
        path = " ".join(f"{_x(i, runs, plot_w):.1f},{p.y(v):.1f}" for i, v in measured)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    out += [_marker(d.name, i, v, ok, p, _x(i, runs, plot_w), color) for i, v, ok in sorted(d.points, key=_order)]
    out.append("</g>")
    return out


def _order(point: tuple[int, float | None, bool]) -> tuple[int, float]:
    return point[0], -1.0 if point[1] is None else point[1]


def _marker(drill: str, run: int, v: float | None, ok: bool, p: _Panel, x: float, color: str) -> str:
    """A dot per run (red when the drill failed); a red cross on the panel's top edge for a failed run with no RTO."""
    state = "passed" if ok else "failed"
    if v is None:
        tip = f"{drill}, run {run + 1}: FAILED, not recovered (no RTO)"
        y = p.top + 6
        return (
            f'<path class="run failed" data-run="{run}" d="M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} '
            f'M{x - 5:.1f},{y + 5:.1f} L{x + 5:.1f},{y - 5:.1f}" stroke="{FAILED}" stroke-width="2.5">'
            f"<title>{escape(tip)}</title></path>"
        )
    tip = f"{drill}, run {run + 1}: {v:.1f} s{'' if ok else ' (FAILED)'}"
    return (
        f'<circle class="run {state}" data-run="{run}" cx="{x:.1f}" cy="{p.y(v):.1f}" r="{3.5 if ok else 5}" '
        f'fill="{color if ok else FAILED}" stroke="{color}"><title>{escape(tip)}</title></circle>'
    )


def _date_axis(dates: Sequence[str], y: float, plot_w: float, height: int) -> list[str]:
    """Each run's date under the last panel (thinned so labels never overlap), and the axis title."""
    runs = len(dates)
    step = max(1, math.ceil(runs / max(2, int(plot_w // DATE_LABEL_W))))
    out = []
    for i, date in enumerate(dates):
        if (i % step == 0 and runs - 1 - i >= step) or i == runs - 1:  # the newest run always, never crowded
            out.append(
                f'<text class="date" data-run="{i}" x="{_x(i, runs, plot_w):.1f}" y="{y + 16:.1f}" '
                f'text-anchor="middle" font-size="10">{escape(date)}</text>'
            )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 10}" text-anchor="middle">run date, UTC (every run in the '
        f"history, oldest left: {runs})</text>"
    )
    return out


def rto_chart(
    history: Sequence[Mapping[str, Any]],
    *,
    title: str = "RTO per drill across runs",
    value: str = "rto_s",
    width: int = 760,
) -> str:
    """The chart as SVG text (valid XML); an empty history draws one empty panel and says so."""
    runs, dates = _runs(history)
    drills = _drills(history, {r: i for i, r in enumerate(runs)}, value)
    plot_w = width - LEFT - RIGHT
    panels = max(len(drills), 1)
    height = TOP + panels * (PANEL_H + GAP) + BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{LEFT + plot_w + 6}" y="18" fill="{FAILED}">● failed run</text>',
        f'<text x="{LEFT + plot_w + 6}" y="32" fill="{FAILED}">✕ failed, not recovered</text>',
    ]
    for n, d in enumerate(drills):
        out += _panel(d, n, _panel_scale(d, TOP + GAP + n * (PANEL_H + GAP)), len(runs), plot_w)
    if not drills:
        y = TOP + GAP + PANEL_H / 2
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{y:.1f}" text-anchor="middle" fill="#666">'
            "no drill history yet</text>"
        )
    out += _date_axis(dates, TOP + GAP + panels * (PANEL_H + GAP) - GAP, plot_w, height)
    out.append("</svg>")
    return "\n".join(out) + "\n"
