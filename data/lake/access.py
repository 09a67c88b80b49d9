"""Opening a lake: its URL (a folder or an S3 bucket/prefix), the :class:`Lake` handle
and how objects are written (atomically), read, listed and deleted on it.

What the failures mean (:class:`LakeUnavailable`: retry later; :class:`LakeAccessDenied`:
this store's key may not touch that prefix) and where each object goes
(:meth:`Lake.data_key`, :meth:`Lake.manifest_key`, :meth:`Lake.state_key`) live here too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from storelens.data.errors import DataError, InvalidParams

FORMAT = 1
PART_NAME = "part-0.parquet"


_HTTP_403 = re.compile(r"(?<![\w.:])403(?!\d)")  # a status code, not part of a number


class LakeError(DataError):
    """The lake could not be read or written (unreachable, refused, damaged)."""


class LakeUnavailable(LakeError):
    """The lake did not answer (network, server down): retry later."""


class LakeAccessDenied(LakeError):
    """The lake refused this store's credentials for the object (outside its prefix)."""


def _safe_segment(value: str, what: str) -> str:
    """Partition values go into object keys: refuse anything that could escape a prefix."""
    if not value or any(c in value for c in "/\\=\x00") or value in (".", ".."):
        raise InvalidParams(
            f"{what} {value!r} cannot be used in a lake path: it must be non-empty and "
            "contain no '/', '\\\\', '=' or NUL. Rename the store/region in the store config."
        )
    return value


@dataclass
class Lake:
    """A lake root on a pyarrow filesystem (local folder or S3 bucket/prefix)."""

    url: str
    fs: pafs.FileSystem
    root: str
    is_local: bool

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}" if self.root else rel

    def data_key(self, table: str, region: str, store_id: str, part_key: str, part: str) -> str:
        return (
            f"table={table}/region={_safe_segment(region, 'region')}/"
            f"store_id={_safe_segment(store_id, 'store_id')}/{part_key}={part}/{PART_NAME}"
        )

    @staticmethod
    def manifest_key(store_id: str) -> str:
        return f"_manifests/store_id={_safe_segment(store_id, 'store_id')}/manifest.json"

    @staticmethod
    def state_key(store_id: str) -> str:
        return f"_state/store_id={_safe_segment(store_id, 'store_id')}/state.json"

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            raise
        except (OSError, pa.ArrowException) as exc:
            text = str(exc)
            # HeadObject refused has no body: the SDK says only ACCESS_DENIED. A bare "403"
            # must stand alone: the endpoint's port (":40337") is in every message.
            if any(m in text for m in ("AccessDenied", "Access Denied", "ACCESS_DENIED")) or (
                _HTTP_403.search(text) and "NETWORK_CONNECTION" not in text
            ):
                raise LakeAccessDenied(
                    f"lake {self.url} refused {what}: {text.splitlines()[0]}. A store's key "
                    "may read and write only its own store_id prefixes; check "
                    "STORELENS_LAKE_KEY."
                ) from exc
            raise LakeUnavailable(
                f"lake {self.url}: {what} failed: {text.splitlines()[0]}"
            ) from exc

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Readers see the old object or the complete new one, never part of it."""
        target = self.path(rel)
        with self._errors(f"writing {rel}"):
            if not self.is_local:
                # One PUT of the whole body: S3 shows an object only once it is complete.
                with self.fs.open_output_stream(target) as out:
                    out.write(data)
                return
            folder, name = target.rsplit("/", 1)
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.tmp-{uuid.uuid4().hex}"
            try:
                with open(tmp, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def read_bytes(self, rel: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        with self._errors(f"reading {rel}"):
            try:
                with self.fs.open_input_stream(self.path(rel)) as stream:
                    return stream.read()
            except FileNotFoundError:
                return None

    def read_json(self, rel: str) -> dict[str, Any] | None:
        raw = self.read_bytes(rel)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise LakeError(f"lake {self.url}: {rel} is not JSON ({exc})") from exc
        return value if isinstance(value, dict) else None

    def write_json(self, rel: str, value: dict[str, Any], compact: bool = False) -> None:
        """``compact`` for machine-only files: the publisher's state holds a fingerprint per
        object (1,500 per store-year), and pretty-printing it cost ~100 ms per publish."""
        text = (
            json.dumps(value, separators=(",", ":"), default=str)
            if compact
            else json.dumps(value, indent=1, sort_keys=True, default=str)
        )
        self.write_atomic(rel, text.encode())

    def list_files(self, prefix: str, suffix: str = "") -> list[str]:
        """Keys (relative to the root) of visible objects under ``prefix``, sorted."""
        with self._errors(f"listing {prefix}"):
            try:
                infos = self.fs.get_file_info(
                    pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
                )
            except FileNotFoundError:
                return []
        base = self.path("")
        out = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(base) :] if info.path.startswith(base) else info.path
            name = rel.rsplit("/", 1)[-1]
            if name.startswith((".", "_")) or not rel.endswith(suffix):
                continue
            out.append(rel)
        return sorted(out)

    def delete(self, rel: str) -> None:
        with self._errors(f"deleting {rel}"), contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(rel))


def open_lake(
    url: str | Path,
    access_key: str | None = None,
    secret_key: str | None = None,
    timeout_s: float = 5.0,
) -> Lake:
    """Parse a lake URL: a folder, ``file:///folder`` or ``s3://bucket[/prefix]?endpoint=...``.

    S3 options in the query string: ``endpoint`` (``http://host:port``; default AWS),
    ``region`` (default ``us-east-1``). Keys come from the arguments, else env
    ``STORELENS_LAKE_KEY`` / ``STORELENS_LAKE_SECRET``, else ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``; they never go in the URL (URLs end up in logs).
    """
    text = str(url).strip()
    if not text:
        raise InvalidParams("lake URL is empty: give a folder (var/lake) or s3://bucket/prefix")
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        folder = Path(parsed.path if parsed.scheme == "file" else text).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise InvalidParams(f"lake URL {text!r}: {folder} is a file; give a folder")
        return Lake(text, pafs.LocalFileSystem(), folder.as_posix(), True)
    if parsed.scheme != "s3":
        raise InvalidParams(
            f"lake URL {text!r}: scheme {parsed.scheme!r} is not supported; use a folder, "
            "file:///folder or s3://bucket/prefix?endpoint=http://host:port"
        )
    if parsed.username or parsed.password:
        raise InvalidParams(
            f"lake URL for bucket {parsed.hostname!r} carries credentials: remove them and set "
            "STORELENS_LAKE_KEY / STORELENS_LAKE_SECRET instead"
        )
    bucket = parsed.hostname or ""
    if not bucket:
        raise InvalidParams(f"lake URL {text!r}: no bucket; use s3://bucket/prefix")
    options = dict(urllib.parse.parse_qsl(parsed.query))
    unknown = set(options) - {"endpoint", "region"}
    if unknown:
        raise InvalidParams(
            f"lake URL {text!r}: unknown option(s) {sorted(unknown)}; known: endpoint, region"
        )
    kwargs: dict[str, Any] = {
        "region": options.get("region", "us-east-1"),
        "connect_timeout": timeout_s,
        "request_timeout": timeout_s,
        # Fail over to the store-and-forward loop quickly instead of retrying inside one call.
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
        # Small objects go as one PutObject instead of a multipart upload.
        "allow_delayed_open": True,
    }
    endpoint = options.get("endpoint")
    if endpoint:
        ep = urllib.parse.urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.netloc:
            raise InvalidParams(
                f"lake URL option endpoint={endpoint!r}: expected http://host:port or https://host"
            )
        kwargs["endpoint_override"] = ep.netloc
        kwargs["scheme"] = ep.scheme
        kwargs["force_virtual_addressing"] = False
    key = access_key or os.environ.get("STORELENS_LAKE_KEY") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = (
        secret_key
        or os.environ.get("STORELENS_LAKE_SECRET")
        or os.environ.get("AWS_SECRET_ACCESS_KEY")
    )
    if key and secret:
        kwargs["access_key"], kwargs["secret_key"] = key, secret
    else:
        kwargs["anonymous"] = True
    fs = pafs.S3FileSystem(**kwargs)
    root = f"{bucket}/{parsed.path.strip('/')}".rstrip("/")
    return Lake(text, fs, root, False)


def default_lake_url() -> str | None:
    """``STORELENS_LAKE`` if set (``storelens up --lake`` sets it for its children)."""
    return os.environ.get("STORELENS_LAKE") or None
