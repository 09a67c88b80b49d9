"""StoreLens dashboard entry point: ``streamlit run dashboard/app.py``.

Short by design: page config, the sign-in gate, navigation by role. Each page is a short
script under dashboard/screens/ (not pages/: a pages/ folder beside app.py switches on
Streamlit's automatic page discovery, which would serve each script on a direct URL
without this gate); shared handles come from dashboard/services.py and
dashboard/session.py.
"""

from pathlib import Path

import streamlit as st
from storelens.dashboard.auth import Role
from storelens.dashboard.session import render_user_box, require_user, sign_in_page
from storelens.dashboard.settings import config_problem

# A local file: a material-symbol icon makes the browser fetch it from a font CDN, and an
# offline store must fetch nothing from outside.
ICON = str(Path(__file__).with_name("assets") / "icon.png")
st.set_page_config(page_title="StoreLens", page_icon=ICON, layout="wide")

if problem := config_problem():
    # Safe mode: no live pipeline, history pages still work; the fix is named, no trace.
    st.error(
        "**Safe mode** — the store config is invalid, so cameras are not running.\n\n"
        # Setup cannot help here: it edits the very file that does not load.
        f"```\n{problem}\n```\nFix the file named above in an editor, then restart "
        "`storelens up`.",
        icon=":material/warning:",
    )

# (script, title, icon, who may open it). The url path of each page is its file name, and
# a signed-out visitor gets the sign-in form under every one of them, so a bookmark or a
# shared link (/store?store=s1&from=...) shows the form in place and, once signed in, the
# very page it points to with its filters (Streamlit keys pages by url path).
SCREENS = [
    ("executive", "Summary", ":material/insights:"),
    ("live", "Live", ":material/videocam:"),
    ("store", "Store", ":material/storefront:"),
    ("compare", "Compare stores", ":material/leaderboard:"),
    ("drill", "Drill-down", ":material/troubleshoot:"),
    ("staffing", "Staffing", ":material/badge:"),
    ("privacy", "Privacy", ":material/shield_person:"),
    ("setup", "Setup", ":material/settings:"),
]

user = require_user()
if user is None:  # signed out: the sign-in form is the only page there is, at any address
    st.navigation(
        [st.Page(sign_in_page, title="Sign in", url_path="signin", default=True)]
        + [
            st.Page(sign_in_page, title="Sign in", url_path=name) for name, _title, _icon in SCREENS
        ],
        position="hidden",
    ).run()
    st.stop()

executive = user.role in (Role.EXECUTIVE, Role.ADMIN)
default = "executive" if executive else "live"
# Every page keeps its own url path, the role's default page included (/live, /executive):
# a page marked default=True is served at "/" only, so a bookmark of /live said "Page not
# found" for the very people it is the start page of. The root is a hidden page instead,
# which sends the browser on to the role's page with the link's filters (?store=...).
pages = {
    name: st.Page(f"screens/{name}.py", title=title, icon=icon)
    for name, title, icon in SCREENS
    if name != "setup" or user.may_setup
}
home = st.Page(lambda: None, title="StoreLens", url_path="home", default=True, visibility="hidden")
page = st.navigation([home, *pages.values()])
if page is home:
    # Before anything is drawn: the sidebar's one-time cookie grant must reach the page
    # that stays, not this one.
    st.switch_page(
        pages[default], query_params={k: st.query_params.get_all(k) for k in st.query_params}
    )
render_user_box(user)
page.run()
