-- Hourly rollups (no primary keys: the writer replaces a (store, hour) by delete + insert
-- in one transaction, and keys would only slow that down). Hourly rollups: the long range of every KPI. Raw rows expire by retention, rollups stay.
-- Keys are (store_id, hour UTC); local_hour is the same hour on the store's wall clock,
-- computed once at rollup time so KPI queries need no time-zone work per row.

-- (store, hour, source) pairs whose rollup must be recomputed; persisted so a crash between
-- a commit and its rollup is repaired on the next start.
CREATE TABLE rollup_dirty (
    store_id VARCHAR NOT NULL,
    hour     TIMESTAMPTZ NOT NULL,
    source   VARCHAR NOT NULL,               -- traffic / sales / staff
    PRIMARY KEY (store_id, hour, source)
);

CREATE TABLE hourly_traffic (
    store_id        VARCHAR NOT NULL,
    hour            TIMESTAMPTZ NOT NULL,
    local_hour      TIMESTAMP NOT NULL,
    visitors        BIGINT NOT NULL,          -- distinct tracks entering
    exits           BIGINT NOT NULL,
    tracks_total    BIGINT NOT NULL,          -- tracks first seen this hour
    tracks_readable BIGINT NOT NULL,          -- ... with a readable face (smoothed valence)
    satisfied       BIGINT NOT NULL,
    neutral         BIGINT NOT NULL,
    frustrated      BIGINT NOT NULL,
    dwell_visits    BIGINT NOT NULL,          -- zone visits of >= 5 s
    dwell_seconds   DOUBLE NOT NULL,
    queue_joins     BIGINT NOT NULL,
    queue_leaves    BIGINT NOT NULL,
    queue_wait_s    DOUBLE NOT NULL,          -- sum of measured waits (queue_leave values)
    queue_length    DOUBLE NOT NULL,          -- mean queue length, summed over queue zones
    queue_sampled   INTEGER NOT NULL,         -- 1 if any queue sample this hour
    queue_length_max INTEGER NOT NULL,
    alerts          BIGINT NOT NULL
);

CREATE TABLE hourly_zone (
    store_id        VARCHAR NOT NULL,
    hour            TIMESTAMPTZ NOT NULL,
    local_hour      TIMESTAMP NOT NULL,
    zone            VARCHAR NOT NULL,
    tracks_total    BIGINT NOT NULL,
    tracks_readable BIGINT NOT NULL,
    satisfied       BIGINT NOT NULL,
    neutral         BIGINT NOT NULL,
    frustrated      BIGINT NOT NULL,
    dwell_visits    BIGINT NOT NULL,
    dwell_seconds   DOUBLE NOT NULL,
    queue_joins     BIGINT NOT NULL,
    queue_leaves    BIGINT NOT NULL,
    queue_wait_s    DOUBLE NOT NULL,
    queue_length    DOUBLE NOT NULL,
    queue_sampled   INTEGER NOT NULL
);

CREATE TABLE hourly_sales (
    store_id     VARCHAR NOT NULL,
    hour         TIMESTAMPTZ NOT NULL,
    local_hour   TIMESTAMP NOT NULL,
    transactions BIGINT NOT NULL,
    sales        DOUBLE NOT NULL
);

CREATE TABLE hourly_staff (
    store_id    VARCHAR NOT NULL,
    hour        TIMESTAMPTZ NOT NULL,
    local_hour  TIMESTAMP NOT NULL,
    staff_hours DOUBLE NOT NULL,
    labour_cost DOUBLE NOT NULL
);
