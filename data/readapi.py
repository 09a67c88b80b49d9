"""Read API served by the writer process (see data/reader.py for why this read path).

Endpoints (JSON in, Arrow IPC stream or JSON out; bound to 127.0.0.1 by default):

- ``GET  /health``            -> writer stats, queue depth, age of the last commit
- ``POST /query``             ``{"name": ..., "params": {...}}`` -> Arrow IPC stream
- ``POST /alerts/ack``        ``{"alert_id": n, "user": "..."}`` -> ``{"acknowledged": bool}``
- ``POST /live_view``         ``{"user_name", "role", "camera_id"}`` -> ``{"ok": true}``
- ``POST /import/sales|shifts?name=FILE[&force=1]`` (file bytes) -> ImportReport (422 if
  rejected, or if rows are implausible and ``force`` is not given)

Only named queries of :mod:`data.queries` run; errors come back as
``{"error": message, "type": DomainErrorName}`` with 4xx/5xx status.

Every request, ``/health`` included, must carry a caller signed with this start's secret,
over its method, target and body, fresh and not seen before (401 otherwise); queries are
limited to the caller's stores and writes to the roles that may make them, on the server
(see :mod:`data.apiauth`). Sockets time out after
:data:`SOCKET_TIMEOUT_S`, so half-sent requests cannot hold threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
from storelens.data import apiauth, errors
from storelens.data.apiauth import Caller
from storelens.data.reader import WriterReader
from storelens.data.writer import Writer
from storelens.kernel import discovery

log = logging.getLogger(__name__)

MAX_JSON_BODY = 1 << 20
MAX_IMPORT_BODY = 256 << 20
SOCKET_TIMEOUT_S = 10.0  # per blocking read/write: a stalled client loses its thread

_STATUS = {
    errors.UnknownQuery: HTTPStatus.NOT_FOUND,
    errors.InvalidParams: HTTPStatus.BAD_REQUEST,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.AccessDenied: HTTPStatus.FORBIDDEN,
    errors.ImportRejected: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.WriterOverloaded: HTTPStatus.SERVICE_UNAVAILABLE,
    errors.WriterClosed: HTTPStatus.SERVICE_UNAVAILABLE,
}


class ReadApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, addr: tuple[str, int], writer: Writer, owns_writer: bool, secret: bytes | None = None
    ) -> None:
        super().__init__(addr, _Handler)
        self.writer = writer
        self.reader = WriterReader(writer)
        self.owns_writer = owns_writer
        self.secret = secret or apiauth.new_secret()  # per start: see data/apiauth.py
        self.nonces = apiauth.NonceCache()  # each signed request is taken once
        self.thread: threading.Thread | None = None
        self.published: Path | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving, unpublish, and close the writer if this server opened it."""
        self.shutdown()
        self.server_close()
        if self.published is not None:
            self.published.unlink(missing_ok=True)
        if self.owns_writer:
            self.writer.close()


class _Handler(BaseHTTPRequestHandler):
    server: ReadApiServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S  # StreamRequestHandler applies it to the connection
    _verified: apiauth.Verified | None = None  # this request's credential (see _caller)

    def handle(self) -> None:
        # A client that vanishes or stalls mid-request is its own problem: no traceback.
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as exc:
            log.debug("read API client %s went away: %r", self.client_address, exc)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request
        log.debug("readapi %s - " + format, self.address_string(), *args)

    # -------------------------------------------------------------- helpers
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), "application/json")

    def _error(self, exc: BaseException) -> None:
        status = HTTPStatus.INTERNAL_SERVER_ERROR
        for cls, code in _STATUS.items():
            if isinstance(exc, cls):
                status = code
                break
        payload: dict[str, Any] = {"error": str(exc), "type": type(exc).__name__}
        if isinstance(exc, errors.ImportRejected) and exc.report is not None:
            payload["report"] = getattr(exc.report, "as_dict", lambda: exc.report)()
        if status == HTTPStatus.INTERNAL_SERVER_ERROR:
            log.exception("read API request %s failed", self.path)
        # The body may be unread (refused before reading it): never reuse this connection.
        self.close_connection = True
        self._json(status, payload)

    def _body(self, limit: int) -> bytes:
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():  # also "-1", which would make read() wait for EOF forever
            raise errors.InvalidParams(f"Content-Length must be a byte count, got {raw[:20]!r}")
        length = int(raw)
        if length > limit:
            raise errors.InvalidParams(f"request body of {length} bytes is over {limit}")
        body = self.rfile.read(length)
        if len(body) < length:
            raise errors.InvalidParams(f"request body ended after {len(body)} of {length} bytes")
        if self._verified is None:  # routes read the body only after _caller()
            raise errors.Unauthenticated("no verified credential for this body")
        self._verified.check_body(body)  # the body the credential signed, or nothing
        return body

    def _caller(self) -> Caller:
        """The signed caller: method, target and nonce checked now, the body when read."""
        self._verified = apiauth.verify_request(
            self.server.secret,
            self.headers.get("Authorization"),
            self.command,
            self.path,
            self.server.nonces,
        )
        return self._verified.caller

    def _scope(self, caller: Caller) -> frozenset[str] | None:
        return apiauth.caller_scope(caller, self._stores_in_region)

    def _rows(self, sql: str, params: list[Any]) -> list[tuple]:
        cur = self.server.writer.cursor()
        try:
            return cur.execute(sql, params).fetchall()
        finally:
            cur.close()

    def _stores_in_region(self, region: str) -> list[str]:
        return [r[0] for r in self._rows("SELECT store_id FROM stores WHERE region = ?", [region])]

    def _camera_store(self, camera_id: str) -> str | None:
        rows = self._rows("SELECT store_id FROM cameras WHERE camera_id = ?", [camera_id])
        return rows[0][0] if rows else None

    def _cameras_of(self, stores: frozenset[str]) -> list[str]:
        rows = self._rows(
            "SELECT camera_id FROM cameras WHERE list_contains(?, store_id) ORDER BY 1",
            [sorted(stores)],
        )
        return [r[0] for r in rows]

    def _require(self, caller: Caller, store: str | None, roles: frozenset[str], what: str) -> None:
        if caller.role not in roles:
            raise errors.AccessDenied(f"{caller.role} may not {what}")
        scope = self._scope(caller)
        if scope is not None and store not in scope:
            raise errors.AccessDenied(f"{what}: outside this caller's stores")

    def _json_body(self) -> dict[str, Any]:
        try:
            payload = json.loads(self._body(MAX_JSON_BODY) or b"{}")
        except ValueError as exc:
            raise errors.InvalidParams(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise errors.InvalidParams("body must be a JSON object")
        return payload

    # -------------------------------------------------------------- routes
    def do_GET(self) -> None:
        self._verified = None  # a kept-alive connection: nothing carries over
        if self.path != "/health":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}", "type": ""})
            return
        try:
            self._caller()
        except errors.Unauthenticated as exc:
            self._error(exc)
            return
        writer = self.server.writer
        stats = writer.stats.as_dict()
        last = stats["last_commit_ts"]
        self._json(
            HTTPStatus.OK if writer.alive else HTTPStatus.SERVICE_UNAVAILABLE,
            {
                "ok": writer.alive,
                "db": str(writer.path),
                "queue_depth": writer.queue_depth(),
                "last_commit_age_s": None if last is None else time.time() - last,
                "writer": stats,
            },
        )

    def do_POST(self) -> None:
        self._verified = None
        try:
            route = urllib.parse.urlsplit(self.path)
            caller = self._caller()  # before the body is read: no credential, no work
            if route.path == "/query":
                payload = self._json_body()
                name, params = str(payload.get("name", "")), payload.get("params")
                if params is not None and not isinstance(params, dict):
                    raise errors.InvalidParams("params must be a JSON object")
                params = apiauth.scope_params(
                    name, params, self._scope(caller), self._camera_store, self._cameras_of
                )
                frame = self.server.reader.query(name, params)
                table: pa.Table = frame.to_arrow()
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, table.schema) as stream:
                    stream.write_table(table)
                self._send(
                    HTTPStatus.OK,
                    sink.getvalue().to_pybytes(),
                    "application/vnd.apache.arrow.stream",
                )
            elif route.path == "/alerts/ack":
                payload = self._json_body()
                alert_id = int(payload["alert_id"])
                found = self._rows("SELECT store_id FROM alerts WHERE alert_id = ?", [alert_id])
                self._require(
                    caller, found[0][0] if found else None, apiauth.ACK_ROLES, "acknowledge alerts"
                )
                # Recorded under the signed caller's name, whatever the body says.
                done = self.server.reader.ack_alert(alert_id, caller.name)
                self._json(HTTPStatus.OK, {"acknowledged": done})
            elif route.path == "/live_view":
                payload = self._json_body()
                camera_id = str(payload["camera_id"])
                self._require(
                    caller, self._camera_store(camera_id), frozenset(apiauth.ROLES), "view a camera"
                )
                self.server.reader.log_live_view(caller.name, caller.role, camera_id)
                self._json(HTTPStatus.OK, {"ok": True})
            elif route.path in ("/import/sales", "/import/shifts"):
                from storelens.data.imports import import_content

                if caller.role not in apiauth.IMPORT_ROLES:
                    raise errors.AccessDenied(f"{caller.role} may not import files")
                kind = route.path.rsplit("/", 1)[1]
                query = urllib.parse.parse_qs(route.query)
                name = query.get("name", ["upload.csv"])[0]
                force = query.get("force", ["0"])[0] == "1"
                report = import_content(
                    self.server.writer, kind, name, self._body(MAX_IMPORT_BODY), force
                )
                self._json(HTTPStatus.OK, report.as_dict())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no route {route.path}", "type": ""})
        except (KeyError, TypeError, ValueError) as exc:
            self._error(errors.InvalidParams(f"bad request to {self.path}: {exc!r}"))
        except Exception as exc:
            self._error(exc)


def serve(
    writer_or_db_path: Writer | str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    publish: bool = True,
) -> ReadApiServer:
    """Serve the read API in a background thread; ``port=0`` picks a free port.

    Given a path, the server opens (and on ``stop()`` closes) its own :class:`Writer`.
    With ``publish``, the URL and secret are published for the database
    (:mod:`storelens.kernel.discovery`, ``<db>.services.json``) so that
    :class:`~data.reader.LocalReader` / :func:`~data.reader.open_reader` in other processes
    find it instead of failing on the file lock.
    """
    owns = not isinstance(writer_or_db_path, Writer)
    writer = Writer(writer_or_db_path) if owns else writer_or_db_path  # type: ignore[arg-type]
    server = ReadApiServer((host, port), writer, owns)  # type: ignore[arg-type]
    server.thread = threading.Thread(
        target=server.serve_forever, name="storelens-readapi", daemon=True
    )
    server.thread.start()
    if publish:
        # 0600: the secret in it is the only credential the API accepts.
        server.published = discovery.publish(
            writer.path,  # type: ignore[union-attr]
            {"read_api": server.url, "secret": server.secret.hex()},
        )
    log.info("read API for %s at %s", writer.path, server.url)  # type: ignore[union-attr]
    return server
