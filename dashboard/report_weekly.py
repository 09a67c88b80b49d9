"""The weekly report as a file: PDF (fpdf2) or HTML, charts exported by plotly's kaleido.

:func:`render` takes the facts of :func:`storelens.data.report.weekly_facts` and writes
the week's story for a region: headline KPIs with their change against the week before,
the € impact with its assumptions, leading and lagging stores with their reasons, data
health, and three charts. The same bytes serve ``storelens report weekly`` and the
Summary page's download.

Charts are PNGs from kaleido 1.x, which drives a local Chromium (Debian's ``chromium``,
found with ``shutil.which``; nothing is downloaded, so it works offline). Failures of
kaleido or fpdf2 are translated into :class:`ReportError` with the fix.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
from storelens.dashboard import charts, insight_charts, views
from storelens.data.health import UPTIME_CAPTION
from storelens.data.kpi import PRESENTATION, headline_rows
from storelens.data.report import WeeklyFacts
from storelens.kernel.errors import StoreLensError

FORMATS = ("pdf", "html")
_KALEIDO_LOCK = threading.Lock()
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")  # Debian's fonts-dejavu-core (with chromium)


class ReportError(StoreLensError):
    """The report could not be drawn or written; the message says why and the fix."""


# The report's headline KPIs: key, label, format, higher-is-better (from kpi.PRESENTATION).
HEADLINE = headline_rows(
    "visitors",
    "transactions",
    "sales",
    "conversion",
    "satisfaction_index",
    "queue_wait_s_avg",
    "labour_cost_per_visitor",
    "star",
)


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]
    table: pl.DataFrame | None = None
    widths: tuple[int, ...] | None = None  # relative PDF column widths (None: equal)


def _fmt(value: Any, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def sections(facts: WeeklyFacts) -> list[Section]:
    """The report's text, in order (shared by the PDF and the HTML)."""
    rows = []
    for key, label, fmt, _ in HEADLINE:
        now, before = facts.totals.get(key), facts.totals_prev.get(key)
        delta = views.headline_delta(now, before, key)
        rows.append(
            {
                "KPI": label,
                "This week": _fmt(now, fmt),
                "Week before": _fmt(before, fmt),
                "Change": "—" if delta is None else views.format_delta(key, delta),
            }
        )
    out = [Section("Headline KPIs, change vs the week before", [], pl.DataFrame(rows))]

    t = facts.impact_totals
    lines = [
        f"Sales lost to checkout queues: €{t['lost_sales']:,.0f} "
        f"({t['stores_valued']} of {t['stores']} stores valued).",
        f"Staff cost over plan: €{t['staff_cost_over']:,.0f}; "
        f"cost to close the staffing gaps: €{t['staff_cost_under']:,.0f}.",
        "Assumptions:",
        *[f"  • {a}" for a in facts.assumptions],
    ]
    names = _store_names(facts)
    table = _named(facts.impact, names).select(
        pl.col("store_id").alias("Store"),
        pl.col("hours_over").alias("Slow hours"),
        pl.col("lost_sales")
        .map_elements(lambda v: f"€{v:,.0f}", return_dtype=pl.String)
        .fill_null("—")
        .alias("Lost sales"),
        pl.col("staff_cost_over")
        .fill_null(0)
        .map_elements(lambda v: f"€{v:,.0f}", return_dtype=pl.String)
        .alias("Over plan"),
        pl.col("staff_cost_under")
        .fill_null(0)
        .map_elements(lambda v: f"€{v:,.0f}", return_dtype=pl.String)
        .alias("Gap"),
        pl.col("note").fill_null("").alias("Note"),
    )
    out.append(Section("€ impact", lines, table, (10, 11, 13, 13, 13, 40)))

    ranked = views.rank_stores(facts.comparison)
    shown = min(3, ranked.height // 2)
    lines = []
    if shown:
        lines.append("Leading:")
        for r in ranked.head(shown).iter_rows(named=True):
            lines.append(
                f"  • {r['name']} ({r['store_id']}), score {r['score']:.0f}: "
                f"{r['strengths'] or 'steady on every KPI'}"
            )
        lines.append("Lagging:")
        for r in ranked.tail(shown).reverse().iter_rows(named=True):
            lines.append(
                f"  • {r['name']} ({r['store_id']}), score {r['score']:.0f}: "
                f"{r['weaknesses'] or 'no KPI far from the median'}"
            )
    else:
        lines.append("One store in this region: no ranking.")
    out.append(Section("Leading and lagging stores (why)", lines))

    health = facts.health
    gaps = facts.gaps.sort("hours", descending=True).head(5)
    if health.is_empty():
        out.append(
            Section(
                "Data health",
                [
                    "Camera data health is not available from this "
                    "source (the chain's lake has no raw camera rows)."
                ],
            )
        )
        return out
    lines = [
        f"{health.filter(pl.col('hours_missing') > 0).height} of {health.height} stores had "
        "opening hours with no camera data; those hours are left out of the numbers, never "
        "counted as 0.",
        *[
            f"  • {names.get(g['store_id'], g['store_id'])}: no data "
            f"{g['start']:%a %d %b %H:%M} – {g['end']:%H:%M} "
            f"({g['hours']} h)"
            for g in gaps.iter_rows(named=True)
        ],
        UPTIME_CAPTION,
    ]
    table = _named(health, names).select(
        pl.col("store_id").alias("Store"),
        pl.col("cameras").alias("Cameras"),
        (pl.col("uptime") * 100).round(1).cast(pl.String).fill_null("—").alias("Uptime %"),
        pl.col("analysed_fps").round(1).cast(pl.String).fill_null("—").alias("Analysed fps"),
        pl.col("hours_missing").alias("Hours missing"),
        pl.col("longest_gap_h").alias("Longest gap (h)"),
    )
    out.append(Section("Data health", lines, table))
    return out


def _store_names(facts: WeeklyFacts) -> dict[str, str]:
    """store id -> name, from the comparison the facts carry (readers see names, not ids)."""
    c = facts.comparison
    if "name" not in c.columns:
        return {}
    return {k: v for k, v in zip(c["store_id"], c["name"], strict=True) if v}


def _named(frame: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """``frame`` with each ``store_id`` replaced by the store's name (the id where unnamed)."""
    return frame.with_columns(pl.col("store_id").replace(names))


def figures(facts: WeeklyFacts) -> list[go.Figure]:
    ranked = views.rank_stores(facts.comparison)
    names = _store_names(facts)
    return [
        insight_charts.daily_sales(_named(facts.daily, names), f"Sales per day, {facts.region}"),
        charts.leaderboard_bars(ranked, "score", PRESENTATION["store_score"].label),
        insight_charts.impact_bars(_named(facts.impact, names)),
    ]


def chart_pngs(figs: list[go.Figure], width: int = 900, height: int = 360) -> list[bytes]:
    """PNG bytes of each figure through kaleido and the local Chromium."""
    chromium = os.environ.get("BROWSER_PATH") or shutil.which("chromium")
    if not chromium:
        raise ReportError(
            "charts need Chromium for plotly's kaleido and none was found on PATH: "
            "apt-get install chromium (scripts/setup.sh installs it)"
        )
    os.environ.setdefault("BROWSER_PATH", chromium)  # kaleido's choreographer reads it
    import kaleido

    # One Chromium for all the charts (a start per chart cost ~3 s each here); the server
    # is process-wide, so one report draws at a time.
    with _KALEIDO_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "kopts ignored when using a server": expected
        try:
            kaleido.start_sync_server(silence_warnings=True)
            try:
                return [
                    fig.to_image(format="png", width=width, height=height, scale=1.5)
                    for fig in figs
                ]
            finally:
                kaleido.stop_sync_server(silence_warnings=True)
        except Exception as exc:  # kaleido/choreographer raise their own types
            raise ReportError(f"kaleido could not draw the charts with {chromium}: {exc}") from exc


def _title(facts: WeeklyFacts) -> str:
    return f"StoreLens weekly report — {facts.region}, {facts.week} ({facts.start} – {facts.end})"


def to_html(facts: WeeklyFacts, pngs: list[bytes]) -> bytes:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(_title(facts))}</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(_title(facts))}</h1>",
    ]
    for section in sections(facts):
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for line in section.lines:
            parts.append(f"<p>{html.escape(line)}</p>")
        if section.table is not None and section.table.height:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in section.table.columns)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in section.table.iter_rows()
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
    parts.append("<h2>Charts</h2>")
    for png in pngs:
        parts.append(
            f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        )
    parts.append("</body></html>")
    return "\n".join(parts).encode()


def to_pdf(facts: WeeklyFacts, pngs: list[bytes]) -> bytes:
    import io

    from fpdf import FPDF
    from fpdf.errors import FPDFException

    try:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(auto=True, margin=12)
        regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():  # €, –, • need a Unicode font
            pdf.add_font("dejavu", "", str(regular))
            pdf.add_font("dejavu", "B", str(bold))
            family, clean = "dejavu", (lambda s: s)
        else:
            family = "helvetica"

            def clean(s: str) -> str:
                for a, b in (
                    ("€", "EUR "),
                    ("–", "-"),
                    ("—", "-"),
                    ("•", "-"),
                    ("−", "-"),
                    ("÷", "/"),
                    ("×", "x"),
                    ("²", "2"),
                ):
                    s = s.replace(a, b)
                return s.encode("latin-1", "replace").decode("latin-1")

        pdf.add_page()
        pdf.set_font(family, "B", 15)
        pdf.multi_cell(0, 8, clean(_title(facts)), align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        for section in sections(facts):
            pdf.set_font(family, "B", 12)
            pdf.multi_cell(0, 7, clean(section.title), align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(family, "", 9)
            for line in section.lines:
                pdf.multi_cell(0, 5, clean(line), align="L", new_x="LMARGIN", new_y="NEXT")
            if section.table is not None and section.table.height:
                rows = [tuple(section.table.columns)] + [
                    tuple(clean(str(v)) for v in r) for r in section.table.iter_rows()
                ]
                with pdf.table(
                    text_align="LEFT", line_height=5, col_widths=section.widths
                ) as table:
                    for r in rows:
                        row = table.row()
                        for v in r:
                            row.cell(clean(str(v)))
            pdf.ln(3)
        for png in pngs:
            if pdf.get_y() > 200:
                pdf.add_page()
            pdf.image(io.BytesIO(png), w=180)
            pdf.ln(2)
        return bytes(pdf.output())
    except (FPDFException, OSError, ValueError) as exc:
        raise ReportError(f"could not assemble the PDF: {exc}") from exc


def render(facts: WeeklyFacts, fmt: str) -> bytes:
    """The report as ``pdf`` or ``html`` bytes."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r}: use one of {FORMATS}")
    pngs = chart_pngs(figures(facts))
    return to_pdf(facts, pngs) if fmt == "pdf" else to_html(facts, pngs)
