"""What goes to the lake: each table's source SQL for one store, with expression cells
under the minimum group suppressed before they leave the store (:func:`table_sql`)."""

from __future__ import annotations

from storelens.data import kpi
from storelens.data.errors import InvalidParams

# ------------------------------------------------------------------------ the tables

# Source SQL per lake table, for one store (``$store``). ``part`` is the partition value
# (store-local date, or year for the daily tables), ``last_day`` orders the backlog.
# ``SELECT *`` on the rollups on purpose: a column added to a rollup by a migration is
# published without touching this module.
_HOURLY = """SELECT * EXCLUDE (store_id), CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
    CAST(local_hour AS DATE) AS last_day FROM {table} WHERE store_id = $store"""
_DAILY = """SELECT * EXCLUDE (store_id), CAST(year(day) AS VARCHAR) AS part,
    day AS last_day FROM {table} WHERE store_id = $store"""

TABLES: dict[str, tuple[str, str]] = {
    # name: (partition key, source SQL)
    "hourly_traffic": ("date", _HOURLY.format(table="hourly_traffic")),
    "hourly_zone": ("date", _HOURLY.format(table="hourly_zone")),
    "hourly_sales": ("date", _HOURLY.format(table="hourly_sales")),
    "hourly_staff": ("date", _HOURLY.format(table="hourly_staff")),
    "daily_store": ("year", _DAILY.format(table="daily_store")),
    "daily_zone": ("year", _DAILY.format(table="daily_zone")),
    # Alert counts per kind and hour (the alert rows carry free text: not published), and
    # the response seconds of the acknowledged ones (see "Response times" below).
    "alert_counts": (
        "date",
        """SELECT hour, local_hour, kind, count(*)::BIGINT AS alerts,
              count(acknowledged_ts)::BIGINT AS acknowledged,
              coalesce(list_sort(list(response_s) FILTER (WHERE response_s IS NOT NULL)),
                       []::DOUBLE[]) AS response_s,
              CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
              CAST(local_hour AS DATE) AS last_day
           FROM (SELECT utc_hour(a.ts) AS hour, timezone(s.timezone, utc_hour(a.ts)) AS local_hour,
                        a.kind, a.acknowledged_ts, a.response_s
                 FROM alerts a JOIN stores s ON s.store_id = a.store_id
                 WHERE a.store_id = $store)
           GROUP BY ALL""",
    ),
    # Data health per camera and hour, from the detections still retained (7 days by
    # default): frames analysed (frames with at least one box, so a lower bound on the
    # analysed rate), the span covered and the share of the hour it covers. A camera-hour
    # with no row at all is a gap.
    "camera_health": (
        "date",
        """SELECT camera_id, hour, local_hour, frames, boxes, active_s,
              least(active_s / 3600.0, 1.0) AS uptime_share,
              frames / greatest(active_s, 1.0) AS analysed_fps,
              CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
              CAST(local_hour AS DATE) AS last_day
           FROM (SELECT d.camera_id, utc_hour(d.ts) AS hour,
                        timezone(s.timezone, utc_hour(d.ts)) AS local_hour,
                        count(DISTINCT d.ts)::BIGINT AS frames, count(*)::BIGINT AS boxes,
                        epoch(max(d.ts) - min(d.ts))::DOUBLE AS active_s
                 FROM detections d JOIN cameras c ON c.camera_id = d.camera_id
                 JOIN stores s ON s.store_id = c.store_id
                 WHERE c.store_id = $store GROUP BY ALL)""",
    ),
}
HOURLY_TABLES = ("hourly_traffic", "hourly_zone", "hourly_sales", "hourly_staff")
DAILY_TABLES = ("daily_store", "daily_zone")

# ------------------------------------------------------------------------ the minimum group
#
# The dashboards hide satisfaction where fewer than the minimum group of tracks was read;
# the lake must not hold those cells either (issue 18 item 7: 2,579 zone-hours of 1-4
# tracks went out). Before a row leaves the store, its expression columns (the readable
# track count and the expected satisfied / neutral / frustrated counts, which for one or
# two shoppers are their faces' readings) are **suppressed**: NULL, with
# ``readable_under_minimum`` = true saying why. Suppression rather than merging into a
# coarser cell because
#
# - the grains are a hierarchy the lake publishes all of (hour -> day, zone -> store):
#   a merged coarse cell next to its shown fine cells gives the small cell back by
#   subtraction, so merging is only safe with complementary suppression anyway;
# - the rest of the row (visitors, sales, dwell, queue) stays at its grain, so HQ's
#   traffic and sales KPIs do not change, and the KPI code needs no new grain: a null
#   is skipped by every sum, and ``data.kpi.satisfaction_exprs`` already hides a figure
#   under the minimum group.
#
# The daily rows are derived from the hourly ones by the rollup (a day is the sum of its
# hours), so a daily cell published as is would give a suppressed hour back as "day minus
# the shown hours". The daily expression columns are therefore published as the sum of
# the day's *shown* hourly cells (each >= the minimum group, so the sum is 0 or >= it), and
# suppressed where that is under the minimum: hour and day KPIs read from the lake agree,
# and no difference of published cells isolates fewer than the minimum group of tracks.
# The store-level and zone-level rows are suppressed each on its own count (zones overlap
# and do not cover the store, so no sum of zones equals the store).
#
# Alert counts: a "frustrated" alert is one shopper's expression reading (detectors/
# alerts.py raises it per track), so an hour's count of frustrated alerts under the
# minimum group is suppressed the same way (null ``alerts`` and ``acknowledged``,
# ``readable_under_minimum``); the other kinds (queue waits, cameras) read no face.
#
# Response times (issue 19 item 7, Compare's "median response time" in chain mode): each
# alert_counts row carries ``response_s``, the seconds from raised to acknowledged of that
# hour's acknowledged alerts of that kind, as a sorted list. A list, not a histogram: a
# median is not a sum, so the chain's median over any days must see the values
# themselves; a list gives exactly the median the store's own database gives (a histogram
# only one to within a bin), and it is short (alerts of one kind in one hour: a handful).
# Sorted, with no alert id, camera, text or who acknowledged: nothing in it says whose
# alert it was. It is suppressed with the counts (a frustrated-alert hour under the
# minimum group publishes no list either, since its length is the count).
#
# Not suppressed: per-track timings (dwell, queue waits) and counts of people, which carry
# no reading of a face; the store-local database keeps the full rows for its own pages.

EXPRESSION_COLUMNS = ("tracks_readable", "satisfied", "neutral", "frustrated")
UNDER_MINIMUM = "readable_under_minimum"
_SUPPRESSED_FROM = {  # lake table -> the hourly table its expression columns come from
    "hourly_traffic": None,
    "hourly_zone": None,
    "daily_store": "hourly_traffic",
    "daily_zone": "hourly_zone",
}
EXPRESSION_ALERT_KINDS = "kind LIKE 'frustrated%'"


SUPPRESSED_TABLES = tuple(_SUPPRESSED_FROM)
_ALERT_COUNTS = ("alerts", "acknowledged", "response_s")


def _check_min_group(min_group: int) -> int:
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise InvalidParams(f"min_group must be a whole number >= 1, got {min_group!r}")
    return min_group


def table_sql(table: str, min_group: int = kpi.MIN_GROUP) -> str:
    """The SQL of what goes to the lake for ``table`` (one store, ``$store``): the
    rollup's rows with expression cells under ``min_group`` readable tracks suppressed."""
    _, sql = TABLES[table]
    m = _check_min_group(min_group)
    if table == "alert_counts":
        hidden = f"({EXPRESSION_ALERT_KINDS} AND alerts < {m})"
        cells = ", ".join(f"CASE WHEN NOT {hidden} THEN {c} END AS {c}" for c in _ALERT_COUNTS)
        return f"SELECT * REPLACE ({cells}), {hidden} AS {UNDER_MINIMUM} FROM ({sql})"
    source = _SUPPRESSED_FROM.get(table, "")
    if source == "":
        return sql  # no expression columns
    if source is None:  # hourly: each cell on its own count
        shown = f"tracks_readable >= {m}"
        cells = ", ".join(f"CASE WHEN {shown} THEN {c} END AS {c}" for c in EXPRESSION_COLUMNS)
        return f"SELECT * REPLACE ({cells}), NOT ({shown}) AS {UNDER_MINIMUM} FROM ({sql})"
    zone = ", zone" if table == "daily_zone" else ""
    sums = ", ".join(
        f"sum({c}) FILTER (WHERE tracks_readable >= {m})"
        + ("::BIGINT" if c == "tracks_readable" else "")
        + f" AS {c}"
        for c in EXPRESSION_COLUMNS
    )
    shown = f"s.tracks_readable >= {m}"
    cells = ", ".join(f"CASE WHEN {shown} THEN s.{c} END AS {c}" for c in EXPRESSION_COLUMNS)
    on = "s.day = d.day" + (" AND s.zone = d.zone" if zone else "")
    return f"""WITH s AS (SELECT CAST(local_hour AS DATE) AS day{zone}, {sums}
                FROM {source} WHERE store_id = $store GROUP BY ALL)
        SELECT d.* REPLACE ({cells}), coalesce({shown}, false) = false AS {UNDER_MINIMUM}
        FROM ({sql}) d LEFT JOIN s ON {on}"""
