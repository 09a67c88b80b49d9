"""Privacy: what is stored and for how long, the entrance signage text, and an export of
the data inventory."""

import json

import streamlit as st
from storelens.dashboard.formatting import table as show_table
from storelens.dashboard.privacy import (
    EXPRESSION_LIMITS,
    expression_camera_table,
    expression_card_intro,
    expression_card_table,
    inventory,
    retention_days,
    signage_text,
)
from storelens.dashboard.session import data_errors, page_context
from storelens.dashboard.settings import load_store_config
from storelens.detectors.model_card import model_card

ctx = page_context()
st.title("Privacy")
st.markdown(
    "StoreLens counts people and reads facial *expressions* as satisfied / neutral / "
    "frustrated. It **never identifies anyone**: no face recognition, no face embeddings, "
    "no re-identification across visits, and no video frames or face crops are stored. "
    "Satisfaction is shown only for groups of at least the minimum size, and faces are "
    "blurred on every live tile, for every role, always."
)
with data_errors():
    sizes = ctx.reader.query("table_sizes", {})
try:
    privacy = (load_store_config() or None) and load_store_config().privacy  # type: ignore[union-attr]
except Exception:  # a broken config file must not hide the privacy statement
    privacy = None
table = inventory(sizes, privacy=privacy)
st.subheader("What is stored, and for how long")
show_table(st, table)

left, right = st.columns(2)
left.download_button(
    "Export data inventory (CSV)",
    table.write_csv().encode(),
    "storelens-data-inventory.csv",
    "text/csv",
    key="inv_csv",
)
right.download_button(
    "Export data inventory (JSON)",
    json.dumps(table.to_dicts(), indent=2, default=str).encode(),
    "storelens-data-inventory.json",
    "application/json",
    key="inv_json",
)

st.subheader("Expression model card")
card = model_card()
if not card:
    st.warning("The expression model's card is missing: retrain it with scripts/train_valence.py.")
else:
    st.markdown(expression_card_intro(card))
    show_table(st, expression_card_table(card))
    camera = expression_camera_table(card)
    if camera.height:
        st.caption(card.get("camera_note", "Camera footage, through the product's own path."))
        show_table(st, camera)
    else:
        st.warning(
            "This model has not been measured on camera footage: treat its numbers as "
            "photo numbers only."
        )
    st.markdown(EXPRESSION_LIMITS)

st.subheader("Signage for the entrance")
# Wrapped: the sign's long lines were cut off at the right edge.
st.code(signage_text(days=retention_days(privacy=privacy)), language=None, wrap_lines=True)
st.caption("Live-view access is logged (who, role, camera, when) and kept as the table above says.")
if ctx.user.may_setup:
    st.caption("Retention and privacy settings: Setup → Retention & privacy.")
