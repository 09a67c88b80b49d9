"""StoreLens dashboard entry point: ``streamlit run dashboard/app.py``.

Short by design: page config, navigation, and nothing else. Each page is a short
script under dashboard/pages/; shared handles come from dashboard/services.py.
"""

import streamlit as st

st.set_page_config(page_title="StoreLens", page_icon=":material/storefront:", layout="wide")

pages = [
    st.Page("pages/live.py", title="Live", icon=":material/videocam:", default=True),
]
st.navigation(pages).run()
