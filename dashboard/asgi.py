"""The dashboard server: ``streamlit run dashboard/asgi.py`` (``storelens up`` does this).

dashboard/app.py stays the Streamlit script; this wrapper adds what a script run cannot do,
because it happens on plain HTTP requests:

- ``POST /session/start`` turns a one-time grant into the HttpOnly session cookie and
  ``POST /session/end`` clears it (see dashboard/websession.py for the whole hand-over);
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
from storelens.dashboard.websession import COOKIE_NAME, GRANTS, session_cookies

# Paths nobody outside the process needs: Streamlit's metrics carry no authentication.
BLOCKED_PATHS = ("/_stcore/metrics",)


def _same_origin(request: Request) -> bool:
    """The browser's Origin header names this very host (fetch() always sends it on POST)."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if not origin or not host:
        return False
    return origin.split("://", 1)[-1] == host


async def _grant(request: Request) -> str | None:
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    grant = payload.get("grant") if isinstance(payload, dict) else None
    return grant if isinstance(grant, str) and 0 < len(grant) <= 100 else None


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
        secure=request.url.scheme == "https",  # over plain local HTTP a Secure cookie is dropped
    )
    return response


async def session_end(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
    # The session id was already revoked by the sign-out itself; this only removes the
    # now useless cookie from the browser.
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
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
    ],
    middleware=[Middleware(BlockPaths)],
)
