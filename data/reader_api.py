"""The read API's client: :class:`ApiReader` asks the writer process's read API
(:func:`storelens.data.readapi.serve`) over HTTP, signed for a caller, following the
database's discovery file across pipeline restarts; :func:`published_api` finds the live
API published for a database file."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from storelens.data import errors
from storelens.data.apiauth import SYSTEM, Caller, sign_request
from storelens.data.errors import ReadApiError
from storelens.data.queries import validate
from storelens.data.reader_base import encode_params
from storelens.kernel.discovery import discovery_path, read_services

# Error types the API may name in its JSON error body, mapped back to domain errors.
_API_ERRORS: dict[str, type[errors.DataError]] = {
    cls.__name__: cls
    for cls in (
        errors.UnknownQuery,
        errors.InvalidParams,
        errors.AccessDenied,
        errors.Unauthenticated,
        errors.DatabaseUnavailable,
        errors.WriterClosed,
        errors.WriterOverloaded,
        errors.ImportRejected,
    )
}


class _Endpoint:
    """Where the read API listens and its per-start secret, shared by an :class:`ApiReader`
    and every copy :meth:`ApiReader.for_caller` makes.

    With a ``db_path`` it follows that database's discovery file: a restarted pipeline
    draws a new secret (and, on a free port, a new URL) and replaces the file, so each
    request first compares the file's identity (inode, mtime, size: one ``stat``) and re-reads
    it when that changed; :meth:`reload` also runs when a request is refused or not
    answered (issue 18, item 1). Without one, URL and secret are fixed.
    """

    def __init__(
        self, url: str, secret: bytes | None, db_path: Path | None, follow_url: bool
    ) -> None:
        self.url, self.secret = url.rstrip("/"), secret
        self.db_path, self.follow_url = db_path, follow_url
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.db_path is None:
            return None
        try:
            st = discovery_path(self.db_path).stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self) -> tuple[str, bytes | None]:
        """URL and secret, re-read first if the discovery file was replaced."""
        if self.db_path is not None and self._file_stamp() != self._stamp:
            self.reload()
        return self.url, self.secret

    def reload(self) -> bool:
        """Re-read the discovery file; True when the URL or the secret changed."""
        if self.db_path is None:
            return False
        with self._lock:
            stamp = self._file_stamp()
            services = read_services(self.db_path)
            url = str(services.get("read_api") or "").rstrip("/")
            secret = published_secret(self.db_path)
            if not url or secret is None:
                return False  # nothing published (the pipeline is down): keep what we had
            self._stamp = stamp
            changed = secret != self.secret or (self.follow_url and url != self.url)
            self.secret = secret
            if self.follow_url:
                self.url = url
            return changed


class ApiReader:
    """Client of the writer process's read API (:func:`data.readapi.serve`).

    Every request is signed for ``caller`` with the API's per-start ``secret`` (read from the
    0600 discovery file, see :func:`published_secret`); the server limits what it answers to
    that caller's stores and role. :meth:`for_caller` gives a copy acting for another user.

    Given ``db_path``, the reader follows that database's discovery file (the secret, and
    the URL unless ``follow_url`` is False): after a pipeline restart it signs with the new
    secret, and a request refused as unauthenticated or not answered is retried once when
    the file says something new, so a restarted pipeline is read again at once instead of
    every page showing "credential signature does not match".
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 10.0,
        secret: bytes | None = None,
        caller: Caller = SYSTEM,
        db_path: str | Path | None = None,
        follow_url: bool = True,
        *,
        _endpoint: _Endpoint | None = None,
    ) -> None:
        self._endpoint = _endpoint or _Endpoint(
            base_url, secret, Path(db_path) if db_path else None, follow_url
        )
        self.timeout_s = timeout_s
        self.caller = caller

    @property
    def base_url(self) -> str:
        return self._endpoint.current()[0]

    @property
    def secret(self) -> bytes | None:
        return self._endpoint.current()[1]

    def for_caller(self, caller: Caller) -> ApiReader:
        return ApiReader("", self.timeout_s, caller=caller, _endpoint=self._endpoint)

    def _headers(
        self,
        secret: bytes | None,
        method: str,
        target: str,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> dict[str, str]:
        """Headers of one request; the credential signs its method, target and body."""
        headers = {"Content-Type": content_type} if content_type else {}
        if secret:
            headers["Authorization"] = sign_request(secret, self.caller, method, target, body)
        return headers

    def _post(self, path: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        try:
            return self._post_once(path, body, content_type)
        except (errors.Unauthenticated, ReadApiError):
            # A restarted pipeline: new secret, maybe a new port. Once, and only when the
            # discovery file says something new (a wrong secret for good stays an error).
            # Every write the API takes is idempotent or harmless twice (acks, imports by
            # content hash, a live-view audit row).
            if not self._endpoint.reload():
                raise
            return self._post_once(path, body, content_type)

    def _post_once(self, path: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        base_url, secret = self._endpoint.current()
        request = urllib.request.Request(
            base_url + path,
            data=body,
            method="POST",
            headers=self._headers(secret, "POST", path, body, content_type),
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                info = json.loads(payload)
            except ValueError:
                info = {"error": payload.decode("utf-8", "replace"), "type": ""}
            cls = _API_ERRORS.get(info.get("type", ""), ReadApiError)
            err = cls(f"read API {path}: {info.get('error')}")
            if isinstance(err, errors.ImportRejected):
                err.report = info.get("report")
            raise err from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ReadApiError(
                f"read API at {base_url} did not answer ({exc}); is the pipeline running?"
            ) from exc

    def _post_json(self, path: str, payload: dict[str, Any]) -> Any:
        body, _ = self._post(path, json.dumps(payload).encode(), "application/json")
        return json.loads(body)

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        validate(name, params)
        body, _ = self._post(
            "/query",
            json.dumps({"name": name, "params": encode_params(params)}).encode(),
            "application/json",
        )
        table = pa.ipc.open_stream(body).read_all()
        return pl.from_arrow(table)  # type: ignore[return-value]

    def ack_alert(self, alert_id: int, user: str) -> bool:
        return bool(
            self._post_json("/alerts/ack", {"alert_id": alert_id, "user": user})["acknowledged"]
        )

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        self._post_json(
            "/live_view", {"user_name": user_name, "role": role, "camera_id": camera_id}
        )

    def import_file(
        self, kind: str, file_name: str, content: bytes, force: bool = False
    ) -> dict[str, Any]:
        """Send an import file to the writer process; returns the ImportReport as a dict
        (``force``: write rows flagged implausible, see data/plausibility.py)."""
        body, _ = self._post(
            f"/import/{kind}?name={urllib.request.quote(file_name)}{'&force=1' if force else ''}",
            content,
            "application/octet-stream",
        )
        return json.loads(body)

    def health(self) -> dict[str, Any]:
        base_url, secret = self._endpoint.current()
        request = urllib.request.Request(
            base_url + "/health", headers=self._headers(secret, "GET", "/health")
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ReadApiError(f"read API at {base_url} is not healthy: {exc}") from exc


def published_secret(db_path: str | Path) -> bytes | None:
    """The read API's per-start secret for ``db_path`` (None if not published or not
    readable by this account: then the API answers 401)."""
    try:
        return bytes.fromhex(str(read_services(db_path).get("secret", ""))) or None
    except ValueError:
        return None


def published_api(db_path: str | Path) -> ApiReader | None:
    """The live read API published for ``db_path``, if its process answers."""
    url = read_services(db_path).get("read_api")
    if not url:
        return None
    api = ApiReader(str(url), timeout_s=10.0, secret=published_secret(db_path), db_path=db_path)
    try:
        api.health()
    except ReadApiError:
        return None
    return api
