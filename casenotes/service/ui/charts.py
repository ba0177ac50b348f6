"""The record's goal timelines as inline SVG: one marker per note, shaped by status."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from casenotes.service.ui.session import TEMPLATES

__all__ = ["STATUS_STYLE", "legend_marker", "marker_svg", "timeline_chart"]

STATUS_STYLE = {
    "improving": {"label": "Improving", "shape": "up", "colour": "#1a7f37"},
    "achieved": {"label": "Achieved", "shape": "star", "colour": "#1d4ed8"},
    "no-change": {"label": "No change", "shape": "square", "colour": "#6b7280"},
    "worsening": {"label": "Worsening", "shape": "down", "colour": "#c2410c"},
    "not-addressed": {"label": "Not addressed", "shape": "ring", "colour": "#9ca3af"},
}
_W, _H = 400, 180
_LEFT, _RIGHT, _TOP, _BOTTOM, _PAD = 34, 8, 12, 30, 12


def marker_svg(status: str, x: float, y: float, size: float = 6.5) -> str:
    style = STATUS_STYLE.get(status, STATUS_STYLE["no-change"])
    colour, shape, s = style["colour"], style["shape"], size
    if shape == "up":
        return f'<path d="M{x:.1f},{y - s:.1f} L{x + s:.1f},{y + s * .8:.1f} L{x - s:.1f},{y + s * .8:.1f} Z" fill="{colour}"/>'
    if shape == "down":
        return f'<path d="M{x:.1f},{y + s:.1f} L{x + s:.1f},{y - s * .8:.1f} L{x - s:.1f},{y - s * .8:.1f} Z" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{x - s * .8:.1f}" y="{y - s * .8:.1f}" width="{s * 1.6:.1f}" height="{s * 1.6:.1f}" fill="{colour}"/>'
    if shape == "star":
        corners = f"M{x:.1f},{y - s * 1.2:.1f} L{x + s:.1f},{y:.1f} L{x:.1f},{y + s * 1.2:.1f} L{x - s:.1f},{y:.1f} Z"
        return f'<path d="{corners}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s * .75:.1f}" fill="#fff" stroke="{colour}" stroke-width="2"/>'


def legend_marker(status: str) -> Markup:
    return Markup(f'<svg class="legend-mark" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">'
                  f'{marker_svg(status, 8, 8, 5.5)}</svg>')


TEMPLATES.env.globals["legend_marker"] = legend_marker


def timeline_chart(goal, dates: list[date]) -> Markup:
    """An inline SVG of one goal: the score of each note (-1 to 1) over the client's note dates,
    the status as the marker; each marker links to its note and says what it shows."""
    first, last = (min(dates), max(dates)) if dates else (date.today(), date.today())
    span = max((last - first).days, 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x_of(day: date) -> float:
        if first == last:
            return _LEFT + plot_w / 2
        return _LEFT + _PAD + (plot_w - 2 * _PAD) * (day - first).days / span

    def y_of(score: float) -> float:
        return _TOP + plot_h * (1 - (max(-1.0, min(1.0, score)) + 1) / 2)

    out = [f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="group" '
           f'aria-label="Status of goal {escape(goal.goal_id)} by note" xmlns="http://www.w3.org/2000/svg">']
    for score, label in ((1, "+1"), (0.5, ""), (0, "0"), (-0.5, ""), (-1, "−1")):
        y = y_of(score)
        grid = "axis-zero" if score == 0 else "grid"
        out.append(f'<line class="{grid}" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        if label:
            out.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(f'<text class="axis-note" x="{_LEFT + 4}" y="{_TOP + 11}">better</text>')
    out.append(f'<text class="axis-note" x="{_LEFT + 4}" y="{_H - _BOTTOM - 4}">worse</text>')
    for day, label in _month_ticks(first, last):
        x = x_of(day)
        out.append(f'<line class="tick-line" x1="{x:.1f}" x2="{x:.1f}" y1="{_H - _BOTTOM}" y2="{_H - _BOTTOM + 5}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{_H - _BOTTOM + 18}" text-anchor="middle">{label}</text>')
    addressed = [p for p in goal.timeline if p.status != "not-addressed"]
    if len(addressed) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x_of(p.note_date):.1f},{y_of(p.score):.1f}"
                        for i, p in enumerate(addressed))
        out.append(f'<path class="trend" d="{path}"/>')
    for p in goal.timeline:
        x, y = x_of(p.note_date), y_of(p.score)
        what = (f"{p.note_date.strftime('%-d %b %Y')}, note {p.note_id}: {STATUS_STYLE[p.status]['label'].lower()}, "
                f"score {p.score:+.2f}, confidence {p.confidence:.0%}")
        out.append(f'<a href="/ui/notes/{escape(p.note_id)}" class="point" aria-label="{escape(what)}">'
                   f'<title>{escape(what)}</title>{marker_svg(p.status, x, y)}</a>')
    if not goal.timeline:
        out.append(f'<text class="empty" x="{_W / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle">'
                   f'No note has been scored against this goal yet</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _month_ticks(first: date, last: date, most: int = 6) -> list[tuple[date, str]]:
    """The first of each month between the dates (at most `most` of them), or the two dates
    themselves when the notes fall within one month."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        day = date(year, month, 1)
        if first <= day <= last:
            months.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if len(months) < 2:
        return [(d, d.strftime("%-d %b")) for d in dict.fromkeys((first, last))]
    step = -(-len(months) // most)
    ticks = months[::step]
    return [(day, day.strftime("%b '%y") if i == 0 or day.month <= step else day.strftime("%b"))
            for i, day in enumerate(ticks)]
