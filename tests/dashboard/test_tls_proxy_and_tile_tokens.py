"""Network use through TLS and tile links that end with the session (issue 18, item 8), with
the real parts: Debian's nginx running docs/nginx-storelens.conf (ports and certificate
paths substituted, nothing else) with a self-signed certificate made by openssl, the real
dashboard (``dashboard/asgi.py``), the pipeline's TileServer, and headless Chromium.

- through the proxy: the dashboard's health endpoint and a tile stream answer over HTTPS,
  plain HTTP is redirected, a manager signs in, gets a ``Secure`` session cookie and live
  tiles served on the dashboard's own origin (``/tiles/``);
- a tile link copied from the page stops after sign-out (the open stream is cut, a new
  request with the old token is refused), and the page's renewal ticket is useless without
  the session cookie and after sign-out;
- with tokens of a few seconds (``STORELENS_TILE_TOKEN_S``) the open Live page keeps every
  tile live for several lifetimes: it renews its tokens and moves each stream over.

Measured times are printed; the bounds asserted are generous (two shared cores).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from storelens.dashboard.websession import COOKIE_NAME
from storelens.detectors.stream import RevokedSessions
from storelens.kernel.tile_tokens import sign_stream_token

from tests.dashboard.harness import (
    CHROMIUM_ARGS,
    REPO,
    StreamlitServer,
    SyntheticTiles,
    browser_dashboard_files,
    free_port,
    write_services,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000
SECRET = "tls-proxy-test-secret"
CAMERAS = ["s1-entrance", "s1-aisle"]
DOC_CONF = REPO / "docs" / "nginx-storelens.conf"


def nginx_binary() -> str:
    path = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if path is None:
        pytest.skip("Debian's nginx is not installed (apt-get install -y nginx-light)")
    return path


def poll(
    check: Callable[[], Any],
    what: str,
    deadline_s: float | Callable[[], str] = 30.0,
    explain: Callable[[], str] | None = None,
) -> Any:
    if callable(deadline_s):
        explain, deadline_s = deadline_s, 30.0
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            more = f"; page: {explain()}" if explain else ""
            raise AssertionError(f"not within {deadline_s} s: {what} (last: {value!r}){more}")
        time.sleep(0.1)


def self_signed(folder: Path) -> tuple[Path, Path]:
    crt, key = folder / "storelens.crt", folder / "storelens.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=storelens-test"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(crt)),
        ],
        check=True,
        capture_output=True,
    )
    return crt, key


class Nginx:
    """nginx in the foreground with the documented server blocks, on free ports."""

    def __init__(self, folder: Path, dashboard_port: int, tile_port: int) -> None:
        self.folder = folder
        self.https_port, self.http_port = free_port(), free_port()
        crt, key = self_signed(folder)
        self.ca = crt
        text = DOC_CONF.read_text()
        swaps = {
            "listen 443 ssl;": f"listen 127.0.0.1:{self.https_port} ssl;",
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "/etc/storelens/tls/storelens.crt;": f"{crt};",
            "/etc/storelens/tls/storelens.key;": f"{key};",
            "http://127.0.0.1:8501;": f"http://127.0.0.1:{dashboard_port};",
            "http://127.0.0.1:8503/;": f"http://127.0.0.1:{tile_port}/;",
        }
        for old, new in swaps.items():
            assert text.count(old) == 1, f"docs/nginx-storelens.conf no longer has {old!r}"
            text = text.replace(old, new)
        (folder / "storelens.conf").write_text(text)
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n  access_log {folder}/access.log;\n"
            f"  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
            f"  include {folder}/storelens.conf;\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def start(self) -> Nginx:
        argv = [nginx_binary(), "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")]
        test = subprocess.run([*argv, "-t"], capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        log = open(self.folder / "nginx.out", "wb")  # noqa: SIM115 - lives as long as nginx
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            try:
                with urllib.request.urlopen(
                    f"{self.url}/_stcore/health", timeout=5, context=self.context()
                ) as r:
                    return r.read().strip() == b"ok"
            except OSError:
                assert self.proc is not None and self.proc.poll() is None, (
                    self.folder / "error.log"
                ).read_text()
                return False

        poll(up, "nginx answers the dashboard's health over HTTPS", 60)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def first_jpeg(url: str, context: ssl.SSLContext | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=30, context=context) as r:
        assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        buf = b""
        while b"\xff\xd9" not in buf[buf.find(b"\xff\xd8") + 2 :] or b"\xff\xd8" not in buf:
            chunk = r.read1(65536)
            assert chunk, "stream ended before a whole JPEG"
            buf += chunk
        start = buf.find(b"\xff\xd8")
        return buf[start : buf.find(b"\xff\xd9", start) + 2]


class Viewer:
    """Someone reading a copied tile link in a thread; records when the stream ended."""

    def __init__(self, url: str, context: ssl.SSLContext | None) -> None:
        self.response = urllib.request.urlopen(url, timeout=30, context=context)
        self.received = 0
        self.ended_at: float | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while chunk := self.response.read1(65536):
                self.received += len(chunk)
        except OSError:
            pass
        self.ended_at = time.monotonic()


def status_of(url: str, context: ssl.SSLContext | None = None, **kw: Any) -> int:
    request = urllib.request.Request(url, **kw)
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as r:
            r.read(1)
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def start_stack(root: Path, dashboard_db_master: Path, token_s: int | None) -> dict:
    """A dashboard (users mia and ada) and a synthetic tile server sharing one home."""
    db, home, secrets = browser_dashboard_files(
        root, dashboard_db_master, CAMERAS, {"mia": ("store_manager", "s1")}
    )
    tiles = SyntheticTiles(CAMERAS, SECRET.encode(), fps=10).start()
    # The pipeline's tile server reads sign-outs from the dashboard's home.
    tiles.server.revoked = RevokedSessions(home / "sessions.revoked")
    write_services(db, "s1", CAMERAS, tiles.url)
    env = {
        "STORELENS_DB": str(db),
        "STORELENS_HOME": str(home),
        "STORELENS_STREAM_SECRET": SECRET,
        "STORELENS_DEMO": "0",
    }
    if token_s is not None:
        env["STORELENS_TILE_TOKEN_S"] = str(token_s)
    try:
        server = StreamlitServer(env, secrets, root / "streamlit.log").start()
    except BaseException:
        tiles.stop()
        raise
    return {"server": server, "tiles": tiles, "home": home, "root": root}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) not installed")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def proxied(dashboard_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The stack with the default token lifetime (60 s), behind nginx."""
    nginx_binary()
    stack = start_stack(tmp_path_factory.mktemp("tls"), dashboard_db_master, None)
    tile_port = stack["tiles"].server.server_address[1]
    try:
        nginx = Nginx(stack["root"], stack["server"].port, tile_port).start()
    except BaseException:
        stack["server"].stop()
        stack["tiles"].stop()
        raise
    stack["nginx"] = nginx
    try:
        yield stack
    finally:
        nginx.stop()
        stack["server"].stop()
        stack["tiles"].stop()


@pytest.fixture(scope="module")
def short_tokens(
    dashboard_db_master: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The stack with 6 s tile tokens (direct HTTP on loopback), to watch renewal."""
    stack = start_stack(tmp_path_factory.mktemp("renew"), dashboard_db_master, 6)
    try:
        yield stack
    finally:
        stack["server"].stop()
        stack["tiles"].stop()


def signed_in_live(browser, url: str, **context_args: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **context_args)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/live")
    page.get_by_role("textbox", name="User name").fill("mia")
    page.get_by_role("textbox", name="Password").fill("mia-pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Live", exact=True).first.wait_for()
    return context, page


def tiles_state(page) -> dict[str, dict]:
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.sl-tile')].map(t => [
            t.dataset.camera,
            {frames: Number(t.dataset.frames), state: t.dataset.state,
             connects: Number(t.dataset.connects || 0), stream: t.dataset.stream,
             staleAfterMs: Number(t.dataset.staleAfterMs || 0),
             renewals: Number(t.closest('.sl-tiles').dataset.renewals || 0),
             note: t.querySelector('.sl-note').textContent}]))"""
    )


def all_tiles_advance(page, deadline_s: float = 30.0) -> None:
    before = poll(
        lambda: (s := tiles_state(page)) and len(s) == len(CAMERAS) and s,
        "tiles",
        lambda: page.inner_text("body")[:2000],
    )
    poll(
        lambda: all(tiles_state(page)[c]["frames"] > before[c]["frames"] for c in CAMERAS),
        f"a new frame on every tile (state: {tiles_state(page)})",
        deadline_s,
    )


def ticket_of(page) -> str:
    """The renewal ticket as it sits in the page's markup (what a copier would take)."""
    text = page.evaluate(
        "() => [...document.querySelectorAll('script')].map(s => s.textContent)"
        ".find(t => t.includes('StoreLensTiles(')) || ''"
    )
    options = json.loads(text.rsplit("StoreLensTiles(", 1)[1].split(", ", 1)[1].rsplit(");", 1)[0])
    return options["ticket"]


def renew(base: str, ticket: str, cookie: str | None, context: ssl.SSLContext | None) -> int:
    headers = {"Content-Type": "application/json", "Origin": base}
    if cookie:
        headers["Cookie"] = f"{COOKIE_NAME}={cookie}"
    return status_of(
        f"{base}/session/tiles",
        context,
        data=json.dumps({"ticket": ticket}).encode(),
        headers=headers,
        method="POST",
    )


def test_dashboard_and_a_tile_stream_through_the_tls_proxy(proxied: dict) -> None:
    nginx: Nginx = proxied["nginx"]
    ctx = nginx.context()
    with urllib.request.urlopen(f"{nginx.url}/_stcore/health", timeout=10, context=ctx) as r:
        assert r.read().strip() == b"ok"
    token = sign_stream_token(SECRET.encode(), "s1-entrance")
    jpeg = first_jpeg(f"{nginx.url}/tiles/stream/s1-entrance.mjpg?fps=5&token={token}", ctx)
    assert jpeg.startswith(b"\xff\xd8") and len(jpeg) > 1000
    # Plain HTTP only redirects to HTTPS.
    request = urllib.request.Request(f"http://127.0.0.1:{nginx.http_port}/live")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=10)
    assert caught.value.code == 301
    assert caught.value.headers["Location"].startswith("https://")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_signed_in_over_https_secure_cookie_and_live_tiles(proxied: dict, browser) -> None:
    nginx: Nginx = proxied["nginx"]
    context, page = signed_in_live(browser, nginx.url, ignore_https_errors=True)
    try:
        all_tiles_advance(page)
        streams = {c: s["stream"] for c, s in tiles_state(page).items()}
        # Same origin, same scheme: the tiles come through the proxy's /tiles/.
        assert all(s.startswith("/tiles/stream/") for s in streams.values()), streams
        cookie = poll(
            lambda: next((c for c in context.cookies() if c["name"] == COOKIE_NAME), None),
            "the session cookie is set",
        )
        assert cookie["secure"] is True and cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
    finally:
        context.close()


def test_copied_tile_link_stops_after_sign_out(proxied: dict, browser) -> None:
    nginx: Nginx = proxied["nginx"]
    ctx = nginx.context()
    context, page = signed_in_live(browser, nginx.url, ignore_https_errors=True)
    try:
        all_tiles_advance(page)
        link = nginx.url + tiles_state(page)["s1-entrance"]["stream"]
        ticket = ticket_of(page)
        cookie = poll(
            lambda: next((c for c in context.cookies() if c["name"] == COOKIE_NAME), None),
            "the session cookie is set",
        )["value"]
        # The ticket alone (copied out of the page) renews nothing; with the cookie it does.
        assert renew(nginx.url, ticket, None, ctx) == 403
        assert renew(nginx.url, ticket, cookie, ctx) == 200
        viewer = Viewer(link, ctx)  # the copied link, open in another program
        poll(lambda: viewer.received > 20_000, "the copied link streams")
        page.get_by_role("button", name="Sign out").click()
        signed_out = time.monotonic()
        page.get_by_role("textbox", name="Password").wait_for()
        viewer.thread.join(90)
        assert viewer.ended_at is not None, "the copied stream is still open 90 s after sign-out"
        cut_s = viewer.ended_at - signed_out
        refused = status_of(link, ctx)
        after = renew(nginx.url, ticket, cookie, ctx)
        print(
            f"\ncopied tile stream cut {cut_s:.2f} s after sign-out; the old link again: "
            f"HTTP {refused}; the ticket with the old cookie: HTTP {after}"
        )
        assert cut_s <= 60.0
        assert refused == 403 and after == 403
    finally:
        context.close()


def test_open_live_page_keeps_its_tiles_as_tokens_renew(short_tokens: dict, browser) -> None:
    context, page = signed_in_live(browser, short_tokens["server"].url)
    try:
        all_tiles_advance(page)
        first = tiles_state(page)
        t0 = time.monotonic()
        # Four lifetimes of a 6 s token: without renewal every stream ends after 6 s and
        # the reconnect is refused ("tile link expired").
        poll(lambda: time.monotonic() - t0 > 24, "24 s pass", 40)
        all_tiles_advance(page, 15)
        last = tiles_state(page)
        print(
            "\nafter 24 s with 6 s tokens: "
            + ", ".join(
                f"{c}: {last[c]['frames'] - first[c]['frames']} frames, "
                f"{last[c]['connects']} connects, state {last[c]['state']}"
                for c in CAMERAS
            )
            + f"; renewals {last[CAMERAS[0]]['renewals']}"
        )
        assert last[CAMERAS[0]]["renewals"] >= 6  # one per 2 s, give or take
        for c in CAMERAS:
            assert last[c]["state"] == "live" and "expired" not in last[c]["note"]
            assert last[c]["connects"] >= 4  # moved to a renewed token about every 6 s
            # Moving over never greyed the tile (a stale tile records staleAfterMs).
            assert last[c]["staleAfterMs"] == 0, last[c]
            assert last[c]["frames"] - first[c]["frames"] > 24 * 10 * 0.3
    finally:
        context.close()
