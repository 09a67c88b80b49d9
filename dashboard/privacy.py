"""What StoreLens keeps and for how long (Privacy page, inventory export, signage)."""

from __future__ import annotations

import polars as pl
from storelens.data.writer import RetentionPolicy
from storelens.kernel.config import PrivacyConfig

# table -> what a row holds (never pixels, crops, embeddings or identities)
CONTENTS: dict[str, str] = {
    "detections": "person boxes per frame (position, track number, confidence) — heatmaps, debugging",
    "tracks": "one row per anonymous track: first/last seen, zones visited, smoothed expression label",
    "events": "entries, exits, zone and queue visits with durations",
    "expressions": "expression label, valence and scores per reading — no image, no embedding",
    "queue_samples": "queue length per checkout zone over time",
    "alerts": "alerts raised and who acknowledged them",
    "live_view_log": "who opened which live camera view, with role and time (audit trail)",
    "transactions": "imported POS receipts: time, store, register, amount (no customer data)",
    "shifts": "imported staff shifts: role, start, end, hourly cost",
    "hourly_traffic": "hourly aggregates per store (counts only)",
    "hourly_zone": "hourly aggregates per store and zone (counts only)",
    "hourly_sales": "hourly sales totals per store",
    "hourly_staff": "hourly staff hours and labour cost per store",
    "stores": "store catalog",
    "cameras": "camera catalog (source URLs with credentials removed)",
}
ROLLUPS = ("hourly_traffic", "hourly_zone", "hourly_sales", "hourly_staff")
NOT_STORED = (
    "video frames, face crops, face embeddings, identities, re-identification across visits"
)


def retention_days(
    policy: RetentionPolicy | None = None, privacy: PrivacyConfig | None = None
) -> dict[str, int | None]:
    """Days each table keeps rows (None = until deleted); the store config's privacy
    settings override the writer's defaults for detections and events."""
    days: dict[str, int | None] = dict((policy or RetentionPolicy()).model_dump())
    if privacy is not None:
        days["detections"] = privacy.detections_retention_days
        days["events"] = privacy.events_retention_days
    return days


def inventory(
    table_sizes: pl.DataFrame,
    policy: RetentionPolicy | None = None,
    privacy: PrivacyConfig | None = None,
) -> pl.DataFrame:
    """One row per table that holds operating data: contents, retention, row count."""
    days = retention_days(policy, privacy)
    rows = dict(zip(table_sizes["table"].to_list(), table_sizes["rows"].to_list(), strict=True))
    out = []
    for table, contents in CONTENTS.items():
        if table in ROLLUPS:
            kept = "kept (aggregates, no individual rows)"
        elif table in ("stores", "cameras"):
            kept = "until changed"
        else:
            d = days.get(table)
            kept = f"{d} days, then deleted automatically" if d else "until deleted by an admin"
        out.append(
            {"table": table, "contents": contents, "retention": kept, "rows": rows.get(table)}
        )
    out.append(
        {"table": "(not stored)", "contents": NOT_STORED, "retention": "never stored", "rows": None}
    )
    return pl.DataFrame(
        out,
        schema={
            "table": pl.String,
            "contents": pl.String,
            "retention": pl.String,
            "rows": pl.Int64,
        },
    )


def signage_text(store_name: str = "this store", days: dict[str, int | None] | None = None) -> str:
    """Entrance notice (adapt the controller's name and contact before printing)."""
    days = days or retention_days()
    return (
        f"VIDEO ANALYTICS IN USE — {store_name}\n\n"
        "Cameras in this store count visitors, measure queue times and estimate whether "
        "shoppers look satisfied, neutral or frustrated, to improve service and staffing.\n"
        "• We do NOT identify you: no face recognition, no face templates, no tracking "
        "across visits.\n"
        "• No video or images of you are stored. Only anonymous counts and expression "
        "labels are kept.\n"
        f"• Position data is deleted after {days.get('detections')} days, visit events after "
        f"{days.get('events')} days; hourly totals are kept.\n"
        "• Expression reading is switched off in staff areas.\n"
        "Controller: <company name, address> · Contact / your rights: <privacy e-mail>"
    )


# Shown under the expression model card: what the numbers cannot promise.
EXPRESSION_LIMITS = """
**Limits.** The model reads what a face *shows* at a moment (an expression), not what a
person feels, and never who they are. On store cameras some calm people's resting faces
look displeased to a model trained on photos, so **"frustrated" means a shopper became
visibly more displeased than their own resting face** (the first readings of each track):
someone already displeased when first seen reads neutral until it gets worse, and the
frustrated alert fires on that change. On the camera footage we have, calm shoppers are
read as frustrated rarely (camera table above); no footage we have shows a frustrated or grinning
shopper, so how well frustration and smiles are caught *on camera* is not measured yet:
check it on your own footage with `storelens evaluate expressions --clip CLIP --tracks
LABELS.csv`. Faces under the minimum size, and unsure readings, are not counted. Below
about 40 px face height accuracy drops (table: `px40`, `px32`). Posed photos are easier than spontaneous
shoppers; the training photos are mostly adults from press photography, so accuracy may
differ across age groups, skin tones, glasses, masks and cultures of expression: check it on
your own labelled faces with `storelens evaluate expressions LABELS.csv --images DIR`.
Satisfaction figures are shown only for groups of at least the minimum size, with their
95 % interval and the number of faces they stand on.
"""


def expression_card_intro(card: dict) -> str:
    """The card's prose: what the model reads, what it was trained and measured on."""
    return (
        f"**What it reads:** {card.get('reads', '')}.  \n"
        f"**Model:** {card.get('architecture', '')}.  \n"
        f"**Trained on:** {card.get('training_data', '')}.  \n"
        f"**Valence:** {card.get('valence_mapping', '')}.  \n"
        f"**Measured by:** {card.get('evaluation', '')}; calibration error (ECE) "
        f"{card.get('ece_before', float('nan')):.3f} before and "
        f"{card.get('ece_after', float('nan')):.3f} after temperature scaling; readings below "
        f"{card.get('abstain_below', float('nan')):.2f} confidence are not counted."
    )


def expression_card_table(card: dict) -> pl.DataFrame:
    """One row per test condition: coverage and recall per valence, false alarms."""
    rows = []
    for condition, m in (card.get("conditions") or {}).items():
        recall = m.get("recall", {})
        rows.append(
            {
                "faces": condition,
                "read (coverage)": m.get("coverage"),
                "balanced accuracy": m.get("balanced_valence_accuracy"),
                "satisfied recall": recall.get("satisfied"),
                "neutral recall": recall.get("neutral"),
                "frustrated recall": recall.get("frustrated"),
                "calm read as frustrated": m.get("false_frustrated_rate"),
            }
        )
    schema = {
        "faces": pl.String,
        **{
            k: pl.Float64
            for k in (
                "read (coverage)",
                "balanced accuracy",
                "satisfied recall",
                "neutral recall",
                "frustrated recall",
                "calm read as frustrated",
            )
        },
    }
    return pl.DataFrame(rows, schema=schema)


def expression_camera_table(card: dict) -> pl.DataFrame:
    """One row per labelled camera clip: the product path's readings (issue 17)."""
    rows = [
        {
            "camera footage": clip,
            "readings": m.get("n"),
            "read (coverage)": m.get("coverage"),
            "calm read as neutral": m.get("calm_read_neutral"),
            "calm read as frustrated": m.get("calm_read_frustrated"),
            "grins read as satisfied": m.get("grins_read_satisfied"),
        }
        for clip, m in (card.get("camera") or {}).items()
    ]
    schema = {
        "camera footage": pl.String,
        "readings": pl.Int64,
        **{
            k: pl.Float64
            for k in (
                "read (coverage)",
                "calm read as neutral",
                "calm read as frustrated",
                "grins read as satisfied",
            )
        },
    }
    return pl.DataFrame(rows, schema=schema)
