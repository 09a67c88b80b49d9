"""The shipped expression model's card: what it was trained on and how well it reads.

A JSON file beside the head (``models/valence_head.card.json``, written by
``scripts/train_valence.py --write``). Its own module with no model code, because the
Privacy page shows it: the dashboard reads this one file of the vision room and loads
nothing else of it (tests/test_import_cycles.py checks the rooms' direction).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_FILE = Path(__file__).resolve().parent / "models" / "valence_head.card.json"


def model_card() -> dict[str, Any]:
    """The shipped head's card (training data, CV metrics per valence and condition).

    An empty dict if the card file is missing (a retrained head without one): the
    page then says so rather than showing stale numbers.
    """
    try:
        return json.loads(CARD_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
