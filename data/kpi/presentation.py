"""How each KPI is shown: its label, its column header, its formats and which way is better.

One row per KPI (and per figure shown next to one), so the Store page's tiles, the Compare
page's leaderboard, the weekly report and the store score all name, format and judge a
KPI the same way: pages pick *which* KPIs they show and read everything else from
:data:`PRESENTATION`. Plain data, no Streamlit: the dashboard turns ``column_format``
into its column configs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Presentation:
    """How one KPI column is shown."""

    key: str  # its column in the KPI frames (kpi.headline, kpi.store_comparison)
    label: str  # a tile, a chart title, a picker, a report row: "Avg queue wait"
    fmt: str  # one value as text (str.format): "{:.0f} s"
    higher_is_better: bool | None  # None: neither way is better (context, not a KPI)
    header: str = ""  # a table's column header where shorter than the label
    column_format: str = "%.2f"  # a table column (printf style, or "percent")
    help: str = ""  # a column header's tooltip
    # An index (−100..100) changes in points, never relative to a median near zero: this
    # many points count as a full-scale deviation (see kpi.score).
    points: float | None = None

    @property
    def column_header(self) -> str:
        return self.header or self.label

    def text(self, value: object) -> str:
        """``value`` formatted, "—" where unknown."""
        return "—" if value is None else self.fmt.format(value)


_ROWS = (
    Presentation("visitors", "Visitors", "{:,.0f}", True, column_format="%d"),
    Presentation("transactions", "Transactions", "{:,.0f}", True, column_format="%d"),
    Presentation("sales", "Sales", "€{:,.0f}", True),
    Presentation("conversion", "Conversion", "{:.1%}", True, column_format="percent"),
    Presentation("sales_per_visitor", "Sales per visitor", "€{:,.2f}", True, "Sales / visitor"),
    Presentation(
        "satisfaction_index", "Satisfaction index", "{:+.0f}", True, "Satisfaction", points=50.0
    ),
    Presentation(
        "satisfaction_low", "Satisfaction 95 % low", "{:+.0f}", None, column_format="%+.0f"
    ),
    Presentation(
        "satisfaction_high", "Satisfaction 95 % high", "{:+.0f}", None, column_format="%+.0f"
    ),
    Presentation("tracks_readable", "Faces read", "{:,.0f}", None, column_format="%d"),
    Presentation("faces_read", "Share of faces read", "{:.0%}", None, column_format="percent"),
    Presentation(
        "star",
        "STAR (visitors per staff hour)",
        "{:.1f}",
        True,
        "STAR",
        column_format="%.1f",
        help="shopper-to-associate ratio: visitors per staff hour",
    ),
    Presentation("staff_hours", "Staff hours", "{:,.0f}", None),
    Presentation("labour_cost", "Labour cost", "€{:,.0f}", None),
    Presentation(
        "labour_cost_per_visitor", "Labour cost / visitor", "€{:,.2f}", False, "Labour € / visitor"
    ),
    Presentation("labour_cost_per_transaction", "Labour cost / transaction", "€{:,.2f}", False),
    Presentation("labour_pct_of_sales", "Labour % of sales", "{:.1f} %", False),
    Presentation("avg_dwell_s", "Avg dwell", "{:.0f} s", None),
    Presentation("queue_length_avg", "Avg queue length", "{:.1f}", False),
    Presentation("queue_wait_s_avg", "Avg queue wait", "{:.0f} s", False, "Queue wait (s)"),
    Presentation("alerts", "Alerts", "{:,.0f}", False, column_format="%d"),
    Presentation(
        "median_response_min",
        "Median response time (min)",
        "{:.1f} min",
        False,
        "Median response time",
        column_format="%.1f min",
        help="from an alert being raised to staff acknowledging it, median over the period",
    ),
    Presentation("visitors_per_open_hour", "Visitors / open hour", "{:,.1f}", True),
    Presentation("sales_per_open_hour", "Sales / open hour", "€{:,.2f}", True),
    Presentation("visitors_per_m2", "Visitors / m²", "{:,.2f}", True),
    Presentation("sales_per_m2", "Sales / m²", "€{:,.2f}", True),
    Presentation("visitors_wow_pct", "Visitors WoW %", "{:+.1f} %", True),
    Presentation("conversion_wow_pct", "Conversion WoW %", "{:+.1f} %", True),
    Presentation(
        "store_score",
        "Store score (50 = the median store)",
        "{:.0f}",
        True,
        "Score",
        column_format="%.0f",
        help="50 + 50 × the mean deviation from the median store, each KPI clipped to ±100 %",
    ),
)

PRESENTATION: dict[str, Presentation] = {p.key: p for p in _ROWS}


def headline_rows(*keys: str) -> list[tuple[str, str, str, bool]]:
    """``(key, label, format, higher is better)`` of each KPI in ``keys``, in that order:
    the rows a page or report's headline draws."""
    return [
        (k, PRESENTATION[k].label, PRESENTATION[k].fmt, PRESENTATION[k].higher_is_better)
        for k in keys
    ]
