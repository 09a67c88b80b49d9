"""The dashboard server: ``streamlit run dashboard/asgi.py`` (``storelens up`` does this).

dashboard/app.py stays the Streamlit script; this wrapper adds what a script run cannot do,
because it happens on plain HTTP requests:

- ``POST /session/start`` turns a one-time grant into the HttpOnly session cookie and
  ``POST /session/end`` clears it (see dashboard/websession.py for the whole hand-over);
- ``POST /session/tiles`` gives the open Live page fresh tile tokens for its ticket
  (dashboard/tiles.py ``TileRenewals``): tokens live at most 60 s, so a page that is
  signed out, closed or copied stops getting them, and its streams end within a minute;
- a middleware that refuses what must not be served: ``/_stcore/metrics`` (internal
  counters, no auth of their own).

Both routes only answer same-origin requests: another site cannot sign a user in or out.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from storelens.dashboard.tiles import RENEWALS, token_lifetime_s
from storelens.dashboard.websession import COOKIE_NAME, GRANTS, session_cookies
from storelens.kernel.tile_tokens import UNBOUND, session_tag, stream_secret

# Paths nobody outside the process needs: Streamlit's metrics carry no authentication.
BLOCKED_PATHS = ("/_stcore/metrics",)


def _same_origin(request: Request) -> bool:
    """The browser's Origin header names this very host (fetch() always sends it on POST)."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if not origin or not host:
        return False
    return origin.split("://", 1)[-1] == host


def _https(request: Request) -> bool:
    """Reached over TLS: directly, or through a reverse proxy that says so (docs/nginx)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


async def _grant(request: Request, key: str = "grant") -> str | None:
    if len(await request.body()) > 1000:
        return None
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    grant = payload.get(key) if isinstance(payload, dict) else None
    return grant if isinstance(grant, str) and 0 < len(grant) <= 100 else None


async def tiles_renew(request: Request) -> Response:
    """Fresh tile tokens for the open Live page: ``{"ticket": …}`` -> ``{"tokens": {…}}``.

    A ticket of a cookie session also needs that session's (unrevoked) cookie: a ticket
    copied out of the page is useless in another browser."""
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    ticket = await _grant(request, "ticket")
    found = RENEWALS.peek_tag(ticket) if ticket else None
    if found is None:
        return JSONResponse({"error": "signed out or unknown ticket"}, status_code=403)
    if found != UNBOUND:
        claim = session_cookies().verify(request.cookies.get(COOKIE_NAME))
        if claim is None or session_tag(claim.session_id) != found:
            return JSONResponse({"error": "signed out or unknown ticket"}, status_code=403)
    tokens = RENEWALS.renew(ticket, stream_secret(), token_lifetime_s()) if ticket else None
    if tokens is None:
        return JSONResponse({"error": "signed out or unknown ticket"}, status_code=403)
    return JSONResponse({"tokens": tokens}, headers={"Cache-Control": "no-store"})


async def session_start(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    grant = await _grant(request)
    value = GRANTS.redeem(grant) if grant else None
    cookies = session_cookies()
    claim = cookies.verify(value)
    if value is None or claim is None:
        return JSONResponse({"error": "unknown, used or expired grant"}, status_code=400)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=cookies.lifetime_s,
        path="/",
        httponly=True,  # page scripts (and anything injected into them) cannot read it
        samesite="strict",  # never sent on requests that other sites start
        # Over TLS (directly or behind the reverse proxy of docs/) the cookie is Secure;
        # over plain local HTTP a Secure cookie would be dropped by the browser.
        secure=_https(request),
    )
    return response


async def session_end(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    # The session id was already revoked by the sign-out itself; this only removes the
    # now useless cookie from the browser.
    response = Response(status_code=204)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_https(request)
    )
    return response


class BlockPaths(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path.rstrip("/") in BLOCKED_PATHS:
            return Response("not found", status_code=404, media_type="text/plain")
        return await call_next(request)


app = st.App(
    str(Path(__file__).with_name("app.py")),
    routes=[
        Route("/session/start", session_start, methods=["POST"]),
        Route("/session/end", session_end, methods=["POST"]),
        Route("/session/tiles", tiles_renew, methods=["POST"]),
    ],
    middleware=[Middleware(BlockPaths)],
)
