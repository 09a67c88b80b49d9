"""Demo history: ~12 stores × 90 days, written through the same Writer and tables as live data.

Reproducible for a given ``seed`` (each store draws from its own generator, so the history
of one store does not depend on how many others are generated). The story it tells:

- weekday and hour-of-day traffic curves (busy Saturdays, lunch and after-work peaks),
  weather-like noise per region (a few rainy spells), and a slow trend per store;
- a promotion week (the third week before the last day): +35 % traffic, higher conversion;
- store ``s07`` (Harbour Street) has long checkout queues that keep getting longer, and
  its satisfaction falls with them (plus queue-wait alerts);
- store ``s04`` (Riverside Mall) is overstaffed (about 1.8× the staff its traffic needs);
- sales and shifts follow traffic: buyers queue, pay and leave; shifts are planned from
  the hourly traffic curve at a STAR of about 25.

Store ``demo`` ("Demo Store") owns the live demo camera ``demo-cam-1``; the history ends
yesterday, so the live camera appends today's data on top.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.sink import AlertRow, to_arrow
from storelens.data.writer import Writer, WriterConfig

log = logging.getLogger(__name__)

DEMO_STORE = "demo"
DEMO_CAMERA = "demo-cam-1"
PROBLEM_STORE = "s07"
OVERSTAFFED_STORE = "s04"

REGIONS = {"North": "Europe/London", "Central": "Europe/Berlin", "South": "Europe/Madrid"}

# (store_id, name, region, open_hour, close_hour, area_m2, daily visitors on an average day)
STORES: list[tuple[str, str, str, int, int, float, float]] = [
    (DEMO_STORE, "Demo Store", "Central", 9, 20, 650.0, 620.0),
    ("s01", "Kingsway", "North", 8, 20, 900.0, 820.0),
    ("s02", "Old Town", "North", 9, 19, 450.0, 480.0),
    ("s03", "Station Square", "North", 7, 21, 700.0, 1050.0),
    (OVERSTAFFED_STORE, "Riverside Mall", "Central", 10, 21, 1200.0, 700.0),
    ("s05", "Market Hall", "Central", 8, 20, 800.0, 760.0),
    ("s06", "Parkside", "Central", 9, 19, 380.0, 390.0),
    (PROBLEM_STORE, "Harbour Street", "South", 9, 21, 850.0, 900.0),
    ("s08", "Plaza Mayor", "South", 10, 22, 1000.0, 950.0),
    ("s09", "Seafront", "South", 10, 21, 520.0, 560.0),
    ("s10", "University", "North", 8, 20, 300.0, 430.0),
    ("s11", "Airport", "South", 6, 22, 600.0, 880.0),
]

WEEKDAY_FACTOR = np.array([0.85, 0.9, 0.95, 1.0, 1.2, 1.45, 0.65])  # Monday .. Sunday
PROMO_TRAFFIC = 1.35
PROMO_CONVERSION = 0.06
EXPRESSION_DAYS = 14  # expressions are kept 30 days by default: seed only the recent ones
QUEUE_SAMPLE_S = 300


@dataclass(frozen=True)
class SeedSummary:
    stores: int
    days: int
    start: date
    end: date
    rows: dict[str, int]
    seconds: float
    already_seeded: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "already_seeded": self.already_seeded,
            "stores": self.stores,
            "days": self.days,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
        }


def _hour_curve(open_hour: int, close_hour: int) -> np.ndarray:
    hours = np.arange(open_hour, close_hour) + 0.5
    curve = (
        0.55 + np.exp(-(((hours - 12.5) / 1.6) ** 2)) + 1.2 * np.exp(-(((hours - 17.5) / 1.8) ** 2))
    )
    return curve / curve.sum()


def _weather(rng: np.random.Generator, days: int) -> np.ndarray:
    """Multiplicative day factor: AR(1) noise plus a few rainy spells."""
    noise = np.zeros(days)
    for d in range(1, days):
        noise[d] = 0.6 * noise[d - 1] + rng.normal(0, 0.07)
    rain = rng.random(days) < 0.12
    return np.exp(noise) * np.where(rain, 0.8, 1.0)


def _local_to_utc_us(day: date, hour: int, tz: ZoneInfo) -> int:
    day = day + timedelta(days=hour // 24)  # hour 24 = midnight of the next day
    local = datetime(day.year, day.month, day.day, hour % 24, tzinfo=tz)
    return int(local.timestamp() * 1_000_000)


def _strings(value: str, n: int) -> pa.Array:
    return pa.array([value]).take(pa.array(np.zeros(n, dtype=np.int64)))


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype(np.int64), type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))


ALERT_WAIT_S = 300  # the demo's queue-wait alert threshold (a buyer waited 5 minutes)


def _queue_alerts(
    spec: tuple[str, str, str, int, int, float, float],
    camera: str,
    queue_join_us: np.ndarray,
    wait_s: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Queue-wait alerts where a buyer waited over 5 minutes, as the pipeline's rules raise
    them (typed rows, issue 20 item 5), each acknowledged by staff a few minutes later:
    about 3 min at most stores, about 7 at the problem store (Compare's median response
    time). Its own generator, so adding alerts changed no other number of the history."""
    late = np.flatnonzero(wait_s > ALERT_WAIT_S)
    raised_s = (queue_join_us[late] / 1e6) + ALERT_WAIT_S
    typical = 420.0 if spec[0] == PROBLEM_STORE else 180.0
    response_s = np.clip(rng.lognormal(np.log(typical), 0.5, late.size), 20, 3600)
    rows = [
        AlertRow(
            float(ts),
            camera,
            "queue_wait",
            f"{spec[1]} entrance · checkout: a shopper has waited 5:00 min",
            zone="checkout",
            zone_kind="checkout",
            acknowledged_by="demo staff",
            acknowledged_ts=float(ts + response),
        )
        for ts, response in zip(raised_s, response_s, strict=True)
    ]
    return to_arrow(rows, BATCH_SCHEMAS["alerts"])


def _store_history(
    index: int,
    spec: tuple[str, str, str, int, int, float, float],
    days: list[date],
    weather: np.ndarray,
    promo: np.ndarray,
    seed: int,
) -> dict[str, pa.Table]:
    store_id, _name, region, open_h, close_h, _area, base = spec
    rng = np.random.default_rng([seed, index])
    tz = ZoneInfo(REGIONS[region])
    camera = DEMO_CAMERA if store_id == DEMO_STORE else f"{store_id}-cam-1"
    n_days = len(days)
    progress = np.linspace(0.0, 1.0, n_days)  # 0 at the first day, 1 at the last
    curve = _hour_curve(open_h, close_h)
    n_hours = close_h - open_h
    trend = 1.0 + rng.normal(0.0, 0.08) * progress
    weekday = WEEKDAY_FACTOR[[d.weekday() for d in days]]
    daily_mean = base * weekday * weather * trend * np.where(promo, PROMO_TRAFFIC, 1.0)
    # Visitors per (day, hour).
    counts = rng.poisson(daily_mean[:, None] * curve[None, :])
    hour_start = np.array(
        [[_local_to_utc_us(d, open_h + h, tz) for h in range(n_hours)] for d in days],
        dtype=np.int64,
    )
    n = int(counts.sum())
    flat_counts = counts.ravel()
    start_us = np.repeat(hour_start.ravel(), flat_counts)
    day_idx = np.repeat(np.repeat(np.arange(n_days), n_hours), flat_counts)
    enter = start_us + rng.integers(0, 3_600_000_000, n)
    close_us = (
        np.repeat(
            np.array([_local_to_utc_us(d, 0, tz) for d in days], dtype=np.int64), counts.sum(axis=1)
        )
        + close_h * 3_600_000_000
    )
    duration_s = np.clip(rng.lognormal(np.log(14 * 60), 0.55, n), 60, 3 * 3600)
    exit_ = np.minimum(enter + (duration_s * 1e6).astype(np.int64), close_us + 15 * 60_000_000)
    duration_s = (exit_ - enter) / 1e6
    track_id = (day_idx.astype(np.int64) * 100_000) + np.arange(n) % 100_000

    # Checkout: who buys, how long they wait.
    conversion = 0.24 + rng.normal(0, 0.02) + np.where(promo, PROMO_CONVERSION, 0.0)
    buys = rng.random(n) < conversion[day_idx]
    if store_id == PROBLEM_STORE:
        mean_wait = 90.0 + 330.0 * progress  # queues keep getting longer
    else:
        mean_wait = np.full(n_days, 45.0 + 25.0 * rng.random())
    wait_s = rng.exponential(mean_wait[day_idx])
    service_s = rng.uniform(40, 110, n)
    pay_end = exit_ - 30_000_000
    queue_leave = pay_end - (service_s * 1e6).astype(np.int64)
    queue_join = queue_leave - (wait_s * 1e6).astype(np.int64)
    buyers = np.flatnonzero(buys)

    # Faces and smoothed valence per track.
    readable = rng.random(n) < 0.62
    frustrated_p = np.full(n, 0.12)
    if store_id == PROBLEM_STORE:
        frustrated_p = 0.12 + 0.38 * progress[day_idx]
    frustrated_p = np.where(buys & (wait_s > 180), frustrated_p + 0.25, frustrated_p)
    satisfied_p = np.clip(0.5 - 0.6 * (frustrated_p - 0.12), 0.1, 0.6)
    draw = rng.random(n)
    valence = np.where(
        draw < frustrated_p,
        "frustrated",
        np.where(draw < frustrated_p + satisfied_p, "satisfied", "neutral"),
    )
    valence_col = pa.array(np.where(readable, valence, None).tolist(), pa.string())
    zones = np.where(buys, json.dumps(["floor", "checkout"]), json.dumps(["floor"]))

    # Events: enter, exit, floor zone_exit; buyers also queue_join / queue_leave.
    floor_s = duration_s * 0.7
    ev_ts = np.concatenate(
        [
            enter,
            exit_,
            enter + (floor_s * 1e6).astype(np.int64),
            queue_join[buyers],
            queue_leave[buyers],
        ]
    )
    ev_track = np.concatenate([track_id, track_id, track_id, track_id[buyers], track_id[buyers]])
    nb = buyers.size
    ev_kind = np.concatenate(
        [
            np.full(n, "enter"),
            np.full(n, "exit"),
            np.full(n, "zone_exit"),
            np.full(nb, "queue_join"),
            np.full(nb, "queue_leave"),
        ]
    )
    ev_zone = [None] * (2 * n) + ["floor"] * n + ["checkout"] * (2 * nb)
    ev_value = np.concatenate(
        [np.full(n, np.nan), duration_s, floor_s, np.full(nb, np.nan), wait_s[buyers]]
    )
    alerts = _queue_alerts(
        spec, camera, queue_join[buyers], wait_s[buyers], np.random.default_rng([seed, index, 1])
    )
    order = np.argsort(ev_ts, kind="stable")
    events = pa.table(
        {
            "ts": _ts(ev_ts[order]),
            "camera_id": _strings(camera, ev_ts.size),
            "track_id": pa.array(ev_track[order]),
            "kind": pa.array(ev_kind[order].tolist(), pa.string()),
            "zone": pa.array([ev_zone[i] for i in order], pa.string()),
            "value": pa.array(ev_value[order], pa.float64(), mask=np.isnan(ev_value[order])),
        },
        schema=BATCH_SCHEMAS["events"],
    )
    tracks = pa.table(
        {
            "camera_id": _strings(camera, n),
            "track_id": pa.array(track_id),
            "first_ts": _ts(enter),
            "last_ts": _ts(exit_),
            "zones": pa.array(zones.tolist(), pa.string()),
            "valence": valence_col,
            "faces_read": pa.array(np.where(readable, rng.integers(1, 8, n), 0).astype(np.int32)),
            # Demo tracks carry a hard valence, no probabilities: each counts as one vote.
            **{p: pa.nulls(n, pa.float32()) for p in ("p_satisfied", "p_neutral", "p_frustrated")},
        },
        schema=BATCH_SCHEMAS["tracks"],
    )
    # Expressions: one reading per readable track of the recent days.
    recent = np.flatnonzero(readable & (day_idx >= n_days - EXPRESSION_DAYS))
    labels = {"satisfied": "happy", "neutral": "neutral", "frustrated": "angry"}
    ex_valence = valence[recent]
    expressions = pa.table(
        {
            "ts": _ts((enter[recent] + exit_[recent]) // 2),
            "camera_id": _strings(camera, recent.size),
            "track_id": pa.array(track_id[recent]),
            "label": pa.array([labels[v] for v in ex_valence], pa.string()),
            "valence": pa.array(ex_valence.tolist(), pa.string()),
            "confidence": pa.array(rng.uniform(0.55, 0.95, recent.size).astype(np.float32)),
            "scores": _strings('{"demo": 1.0}', recent.size),
            "model": _strings("demo-generator", recent.size),
            "zone": _strings("floor", recent.size),
        },
        schema=BATCH_SCHEMAS["expressions"],
    )
    # Queue samples every 5 minutes while open: Little's law L = λ·W with noise.
    slots_per_hour = 3600 // QUEUE_SAMPLE_S
    buyers_per_hour = np.zeros((n_days, n_hours))
    hour_of = np.repeat(np.tile(np.arange(n_hours), n_days), flat_counts)
    np.add.at(buyers_per_hour, (day_idx[buyers], hour_of[buyers]), 1)
    lam_per_s = np.repeat(buyers_per_hour.ravel() / 3600.0, slots_per_hour)
    q_wait = np.repeat(np.repeat(mean_wait, n_hours), slots_per_hour)
    q_len = rng.poisson(lam_per_s * q_wait).astype(np.int32)
    q_ts = np.repeat(hour_start.ravel(), slots_per_hour) + np.tile(
        np.arange(slots_per_hour, dtype=np.int64) * QUEUE_SAMPLE_S * 1_000_000, n_days * n_hours
    )
    queue_samples = pa.table(
        {
            "ts": _ts(q_ts),
            "camera_id": _strings(camera, q_ts.size),
            "zone": _strings("checkout", q_ts.size),
            "length": pa.array(q_len),
        },
        schema=BATCH_SCHEMAS["queue_samples"],
    )
    # Sales: one transaction per buyer, paid just before leaving.
    amounts = np.round(rng.lognormal(np.log(28.0), 0.6, nb), 2) + 1.0
    transactions = pa.table(
        {
            "transaction_id": pa.array(
                [f"demo-{store_id}-{t}" for t in track_id[buyers]], pa.string()
            ),
            "ts": _ts(pay_end[buyers]),
            "store_id": _strings(store_id, nb),
            "register": pa.array(rng.integers(1, 4, nb).astype(str).tolist(), pa.string()),
            "amount": pa.array(amounts),
        },
        schema=BATCH_SCHEMAS["transactions"],
    )
    # Shifts: planned from the expected hourly traffic at a STAR of ~25, two shifts a day.
    staff_factor = (
        1.8 if store_id == OVERSTAFFED_STORE else (0.8 if store_id == PROBLEM_STORE else 1.0)
    )
    half = n_hours // 2
    shift_rows: list[tuple[str, str, str, int, int, float]] = []
    for d, day in enumerate(days):
        expected = daily_mean[d] * curve
        for part, (h0, h1) in enumerate(((0, half), (half, n_hours))):
            need = max(1, round(staff_factor * float(expected[h0:h1].mean()) / 25.0 + 0.5))
            for k in range(need):
                start = _local_to_utc_us(day, open_h + max(0, h0 - (1 if part else 0)), tz)
                end = _local_to_utc_us(day, open_h + h1, tz)
                role = "cashier" if k % 3 == 0 else "associate"
                cost = 19.0 + 4.0 * (k % 3 == 0) + rng.uniform(-1, 1)
                shift_rows.append(
                    (f"demo-{store_id}-{day}-{part}-{k}", store_id, role, start, end, cost)
                )
    shifts = pa.table(
        {
            "shift_id": pa.array([r[0] for r in shift_rows], pa.string()),
            "store_id": pa.array([r[1] for r in shift_rows], pa.string()),
            "staff_role": pa.array([r[2] for r in shift_rows], pa.string()),
            "start_ts": _ts(np.array([r[3] for r in shift_rows])),
            "end_ts": _ts(np.array([r[4] for r in shift_rows])),
            "hourly_cost": pa.array([round(r[5], 2) for r in shift_rows]),
        },
        schema=BATCH_SCHEMAS["shifts"],
    )
    return {
        "events": events,
        "alerts": alerts,
        "tracks": tracks,
        "expressions": expressions,
        "queue_samples": queue_samples,
        "transactions": transactions,
        "shifts": shifts,
    }


def seed_demo(
    writer_or_path: Writer | str | Path,
    days: int = 90,
    stores: int = 12,
    seed: int = 7,
    end: date | None = None,
) -> SeedSummary:
    """Write ``days`` days of history (ending yesterday, UTC) for ``stores`` stores.

    Seeds once per database: a second call finds the marker in ``import_ledger`` and adds
    nothing (batch ids also derive from seed, end day, store, table and chunk, so even an
    interrupted seed resumed the same day adds nothing twice).
    """
    if not 1 <= days <= 800:
        raise ValueError(f"days must be between 1 and 800, got {days}")
    if not 1 <= stores <= len(STORES):
        raise ValueError(f"stores must be between 1 and {len(STORES)}, got {stores}")
    started = time.perf_counter()
    own = not isinstance(writer_or_path, Writer)
    # A writer of our own rolls up once at the end instead of every few seconds.
    writer = (
        Writer(writer_or_path, WriterConfig(rollup_interval_s=3600))  # type: ignore[arg-type]
        if own
        else writer_or_path
    )
    try:
        end = end or (datetime.now(UTC).date() - timedelta(days=1))
        day_list = [end - timedelta(days=days - 1 - i) for i in range(days)]
        # Seeding again on another day would overlap the first history with new ids.
        marker = writer.execute_admin(
            lambda con: con.execute(
                "SELECT file_name FROM import_ledger WHERE kind = 'demo' LIMIT 1"
            ).fetchall()
        )
        if marker:
            log.warning("demo history already seeded (%s); nothing added", marker[0][0])
            return SeedSummary(
                stores, days, day_list[0], end, {}, time.perf_counter() - started, True
            )
        promo = np.array([(end - d).days in range(14, 21) for d in day_list])
        specs = STORES[:stores]

        def catalog(con: Any) -> None:
            for sid, name, region, open_h, close_h, area, _ in specs:
                upsert_store(con, sid, name, region, REGIONS[region], open_h, close_h, area)
                camera = DEMO_CAMERA if sid == DEMO_STORE else f"{sid}-cam-1"
                zones = {
                    "floor": [[0, 0], [640, 0], [640, 360], [0, 360]],
                    "checkout": [[0, 360], [640, 360], [640, 480], [0, 480]],
                }
                lines = {"entrance": [[0, 470], [640, 470]]}
                upsert_camera(con, camera, sid, f"{name} entrance", "entrance", None, lines, zones)

        writer.execute_admin(catalog)
        region_rng = np.random.default_rng([seed, 1000])
        weather = {region: _weather(region_rng, days) for region in REGIONS}
        rows: dict[str, int] = {}
        chunk_days = 30  # batches of about a month keep memory flat and commits large
        for index, spec in enumerate(specs):
            history = _store_history(index, spec, day_list, weather[spec[2]], promo, seed)
            for table, data in history.items():
                rows[table] = rows.get(table, 0) + data.num_rows
                step = max(1, -(-data.num_rows // max(1, days // chunk_days)))
                for part, offset in enumerate(range(0, max(data.num_rows, 1), step)):
                    piece = data.slice(offset, step)
                    writer.append(
                        table, piece, f"demo:{seed}:{end}:{days}:{spec[0]}:{table}:{part}"
                    )
        writer.flush(timeout=600)
        label = f"demo seed={seed} stores={stores} days={days} end={end}"
        writer.execute_admin(
            lambda con: con.execute(
                "INSERT INTO import_ledger VALUES (?, 'demo', ?, ?, now())",
                [label, label, sum(rows.values())],
            )
        )
    finally:
        if own:
            writer.close()
    summary = SeedSummary(len(specs), days, day_list[0], end, rows, time.perf_counter() - started)
    log.info("demo history seeded: %s", summary.as_dict())
    return summary
