"""StoreLens dashboard entry point: ``streamlit run dashboard/app.py``.

Short by design: page config, the sign-in gate, navigation by role. Each page is a short
script under dashboard/screens/ (not pages/: a pages/ folder beside app.py switches on
Streamlit's automatic page discovery, which would serve each script on a direct URL
without this gate); shared handles come from dashboard/services.py and
dashboard/session.py.
"""

import streamlit as st

from dashboard.auth import Role
from dashboard.session import render_user_box, require_user, sign_in_page
from dashboard.settings import config_problem

st.set_page_config(page_title="StoreLens", page_icon=":material/storefront:", layout="wide")

if problem := config_problem():
    # Safe mode: no live pipeline, history pages still work; the fix is named, no trace.
    st.error(
        "**Safe mode** — the store config is invalid, so cameras are not running.\n\n"
        f"```\n{problem}\n```\nFix the file (or use Setup) and restart `storelens up`.",
        icon=":material/warning:",
    )

user = require_user()
if user is None:  # signed out: the sign-in form is the only page there is
    st.navigation(
        [st.Page(sign_in_page, title="Sign in", url_path="signin")], position="hidden"
    ).run()
    st.stop()

render_user_box(user)
executive = user.role in (Role.EXECUTIVE, Role.ADMIN)
pages = [
    st.Page("screens/executive.py", title="Summary", icon=":material/insights:", default=executive),
    st.Page("screens/live.py", title="Live", icon=":material/videocam:", default=not executive),
    st.Page("screens/store.py", title="Store", icon=":material/storefront:"),
    st.Page("screens/compare.py", title="Compare stores", icon=":material/leaderboard:"),
    st.Page("screens/staffing.py", title="Staffing", icon=":material/badge:"),
    st.Page("screens/privacy.py", title="Privacy", icon=":material/shield_person:"),
]
if user.may_setup:
    pages.append(st.Page("screens/setup.py", title="Setup", icon=":material/settings:"))
st.navigation(pages).run()
