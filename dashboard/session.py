"""The Streamlit side of sign-in: the gate app.py runs before any page, and the page
context (user, reader, scope) every page starts from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st
from storelens.dashboard.auth import (
    DEMO_USER,
    AuthConfig,
    AuthError,
    LoginLimiter,
    User,
    api_caller,
    auth_config,
    local_sign_in,
    scope_for,
)
from storelens.dashboard.services import get_reader
from storelens.dashboard.tiles import RENEWALS
from storelens.dashboard.websession import COOKIE_NAME, GRANTS, session_cookies
from storelens.data.errors import AccessDenied, DataError
from storelens.data.kpi import Scope
from storelens.data.reader import Reader, as_caller
from storelens.kernel.errors import StoreLensError

_USER_KEY = "storelens_user"
_COOKIE_KEY = "storelens_session_cookie"  # this browser session's cookie value (to revoke)
_GRANT_KEY = "storelens_session_grant"  # a grant the next run hands to /session/start
_CLEAR_KEY = "storelens_session_clear"  # after sign-out: ask /session/end to drop the cookie
_TICKETS_KEY = "storelens_tile_tickets"  # this session's tile renewal tickets (to revoke)


@st.cache_resource(show_spinner=False)
def login_limiter() -> LoginLimiter:
    """One limiter for the whole server process (shared by every browser session)."""
    return LoginLimiter()


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, OSError, KeyError, ValueError):
        return {}
    except Exception as exc:  # StreamlitSecretNotFoundError when no secrets.toml exists
        if type(exc).__name__.startswith("StreamlitSecret"):
            return {}
        raise


def current_config() -> AuthConfig:
    return auth_config(_secrets())


def signed_in_user() -> User | None:
    return st.session_state.get(_USER_KEY)


def sign_out() -> None:
    st.session_state.pop(_USER_KEY, None)
    st.session_state.pop("storelens_logged_views", None)
    # Revoke first: even if the browser never runs the clearing script, the cookie is dead.
    session_cookies().revoke(st.session_state.pop(_COOKIE_KEY, None))
    # The open Live pages of this session stop renewing their tile tokens at once.
    RENEWALS.revoke(st.session_state.pop(_TICKETS_KEY, []))
    st.session_state[_CLEAR_KEY] = True
    if current_config().mode == "oidc" and st.user.get("is_logged_in", False):
        st.logout()


def tile_renewal_ticket(cameras: list[str]) -> tuple[str, str]:
    """``(ticket, session tag)`` for the Live page's tiles (issue 18, item 8).

    The tokens carry the cookie session's tag (the tile server drops them once it is
    signed out); the ticket renews them only while this browser session is still open,
    still signed in and, for a cookie session, its cookie not revoked."""
    from storelens.kernel.tile_tokens import session_tag
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    cookie = st.session_state.get(_COOKIE_KEY)
    claim = session_cookies().verify(cookie) if cookie else None
    tag = session_tag(claim.session_id if claim else None)
    run_ctx = get_script_run_ctx()
    session_id = run_ctx.session_id if run_ctx else None

    def signed_in() -> bool:
        if session_id is None or not Runtime.instance().is_active_session(session_id):
            return False
        return cookie is None or session_cookies().verify(cookie) is not None

    ticket = RENEWALS.issue(cameras, tag, signed_in)
    tickets = st.session_state.setdefault(_TICKETS_KEY, [])
    tickets.append(ticket)
    del tickets[:-20]  # older renderings' tickets idle out in RENEWALS by themselves
    return ticket, tag


def _local_form(config: AuthConfig) -> None:
    st.title("StoreLens")
    with st.form("sign_in"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = local_sign_in(config, login_limiter(), name, password, st.context.ip_address)
        except AuthError as exc:
            st.error(str(exc))
        else:
            st.session_state[_USER_KEY] = user
            cookie = session_cookies().issue(user.name)
            st.session_state[_COOKIE_KEY] = cookie
            st.session_state[_GRANT_KEY] = GRANTS.issue(cookie)
            st.rerun()


def _post_script(path: str, body: dict[str, Any]) -> str:
    """A script that POSTs ``body`` to one of dashboard/asgi.py's session routes."""
    payload = json.dumps(json.dumps(body)).replace("<", "\\u003c")
    return (
        f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {payload}}});</script>"
    )


def _user_from_cookie(config: AuthConfig) -> User | None:
    """A reload or a new tab: the HttpOnly session cookie signs the user in again."""
    value = st.context.cookies.get(COOKIE_NAME)
    claim = session_cookies().verify(value)
    if claim is None:
        return None
    entry = config.users.get(claim.user)
    if entry is None or not entry.password_hash:  # removed since, or no longer local
        return None
    st.session_state[_COOKIE_KEY] = value
    return entry.as_user("local")


def _oidc(config: AuthConfig) -> None:
    st.title("StoreLens")
    if not st.user.get("is_logged_in", False):
        st.button("Sign in", type="primary", on_click=st.login)
        return
    user = config.user_for_email(st.user.get("email"))
    if user is None:
        st.error(
            f"{st.user.get('email', 'This account')} has no StoreLens role. Ask an admin to add "
            "a [users.<name>] entry with this email to .streamlit/secrets.toml."
        )
        st.button("Sign out", on_click=st.logout)
        return
    st.session_state[_USER_KEY] = user
    st.rerun()


def require_user() -> User | None:
    """The signed-in user (demo mode signs in at once), or None: then app.py shows
    :func:`sign_in_page` as the only page."""
    try:
        config = current_config()
    except AuthError:
        return None  # sign_in_page explains the misconfiguration
    user = signed_in_user()
    if user is None and config.mode == "demo":
        st.session_state[_USER_KEY] = user = DEMO_USER
    elif user is None and config.mode == "local":
        user = _user_from_cookie(config)
        if user is not None:
            st.session_state[_USER_KEY] = user
    return user


def sign_in_page() -> None:
    """The page shown while signed out: OIDC button or the local form."""
    try:
        config = current_config()
    except AuthError as exc:
        st.error(f"Sign-in is misconfigured: {exc}")
        return
    if st.session_state.pop(_CLEAR_KEY, False):
        st.html(_post_script("/session/end", {}), unsafe_allow_javascript=True)
    (_oidc if config.mode == "oidc" else _local_form)(config)


def _store_name(user: User) -> str | None:
    """The name of a store manager's store for the user box ("Store A", not "s1"); the id
    when the catalog cannot say (no database yet, safe mode): the box must always draw."""
    if user.store is None:
        return None
    try:
        reader = as_caller(get_reader(), api_caller(user))
        rows = reader.query("stores", {"stores": [user.store]}).select("name").rows()
    except (StoreLensError, OSError):
        return user.store
    return (rows[0][0] if rows else None) or user.store


def render_user_box(user: User) -> None:
    with st.sidebar:
        if grant := st.session_state.pop(_GRANT_KEY, None):
            # Just signed in: the browser trades the one-time grant for the HttpOnly cookie.
            st.html(_post_script("/session/start", {"grant": grant}), unsafe_allow_javascript=True)
        where = _store_name(user) or user.region or "all stores"
        st.caption(f"Signed in as **{user.name}** · {user.role.value.replace('_', ' ')} · {where}")
        if not user.demo:
            st.button("Sign out", on_click=sign_out, key="sign_out")
    if user.demo:
        st.info(
            "**Demo mode** — signed in as an executive (read-only). All numbers are "
            "**demo data**. Configure users in .streamlit/secrets.toml to turn this off.",
            icon=":material/theater_comedy:",
        )


@dataclass(frozen=True)
class PageContext:
    user: User
    reader: Reader
    scope: Scope

    def allowed_stores(self) -> list[str]:
        """Store ids in scope (for pickers only: the KPI calls enforce the scope again)."""
        if self.scope.stores is not None and not self.scope.stores:
            return []
        params = {} if self.scope.stores is None else {"stores": sorted(self.scope.stores)}
        with data_errors():
            return self.reader.query("stores", params)["store_id"].to_list()

    def store_names(self) -> dict[str, str]:
        """Store id -> name for the stores in scope: titles, pickers and charts say names."""
        if self.scope.stores is not None and not self.scope.stores:
            return {}
        params = {} if self.scope.stores is None else {"stores": sorted(self.scope.stores)}
        with data_errors():
            rows = self.reader.query("stores", params).select("store_id", "name").rows()
        return {store: name or store for store, name in rows}


def page_context() -> PageContext:
    """For page scripts: app.py has already signed the user in (else it stopped)."""
    user = signed_in_user()
    if user is None:  # a page run directly, not through app.py
        st.error("Not signed in.")
        st.stop()
    with data_errors():
        # Over the read API every request is signed for this user, and the pipeline limits
        # the answer to the user's stores and role itself (not only this page's Scope).
        reader = as_caller(get_reader(), api_caller(user))
        return PageContext(user, reader, scope_for(user, reader))


@contextmanager
def data_errors() -> Iterator[None]:
    """Turn the data layer's refusals into a message and stop the page (nothing shown)."""
    try:
        yield
    except AccessDenied as exc:
        st.error(f"Access denied: {exc}", icon=":material/block:")
        st.stop()
    except DataError as exc:
        st.error(f"Could not read the data: {exc}")
        st.stop()
