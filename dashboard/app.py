"""StoreLens dashboard entry point: ``streamlit run dashboard/app.py``.

Short by design: page config, the sign-in gate, navigation by role. Each page is a short
script under dashboard/pages/; shared handles come from dashboard/services.py and
dashboard/session.py.
"""

import streamlit as st

from dashboard.auth import Role
from dashboard.session import render_user_box, require_user, sign_in_page

st.set_page_config(page_title="StoreLens", page_icon=":material/storefront:", layout="wide")

user = require_user()
if user is None:  # signed out: the sign-in form is the only page there is
    st.navigation([st.Page(sign_in_page, title="Sign in", url_path="signin")],
                  position="hidden").run()
    st.stop()

render_user_box(user)
executive = user.role in (Role.EXECUTIVE, Role.ADMIN)
pages = [
    st.Page("pages/executive.py", title="Summary", icon=":material/insights:", default=executive),
    st.Page("pages/live.py", title="Live", icon=":material/videocam:", default=not executive),
    st.Page("pages/store.py", title="Store", icon=":material/storefront:"),
    st.Page("pages/compare.py", title="Compare stores", icon=":material/leaderboard:"),
    st.Page("pages/staffing.py", title="Staffing", icon=":material/badge:"),
    st.Page("pages/privacy.py", title="Privacy", icon=":material/shield_person:"),
]
if user.may_setup:
    pages.append(st.Page("pages/setup.py", title="Setup", icon=":material/settings:"))
st.navigation(pages).run()
