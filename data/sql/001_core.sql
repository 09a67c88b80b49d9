-- StoreLens core schema. Every timestamp is TIMESTAMPTZ and every connection runs with
-- TimeZone = 'UTC', so values are stored and shown in UTC; store-local time is derived
-- with timezone(stores.timezone, ts) where a KPI needs local days or hours.

CREATE TABLE stores (
    store_id    VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    region      VARCHAR NOT NULL,
    timezone    VARCHAR NOT NULL,            -- IANA name, e.g. Europe/Berlin
    open_hour   INTEGER NOT NULL CHECK (open_hour BETWEEN 0 AND 23),
    close_hour  INTEGER NOT NULL CHECK (close_hour BETWEEN 1 AND 24),
    area_m2     DOUBLE  NOT NULL CHECK (area_m2 > 0)
);

CREATE TABLE cameras (
    camera_id     VARCHAR PRIMARY KEY,
    store_id      VARCHAR NOT NULL,
    name          VARCHAR NOT NULL,
    role          VARCHAR NOT NULL,          -- entrance / floor / checkout
    source_masked VARCHAR,                   -- source URL with credentials removed
    lines         JSON,                      -- {name: [[x,y],[x,y]]} in frame pixels
    zones         JSON                       -- {name: [[x,y],...]} polygons in frame pixels
);

-- Short retention (days): for debugging and heatmaps.
CREATE TABLE detections (
    ts        TIMESTAMPTZ NOT NULL,
    camera_id VARCHAR NOT NULL,
    track_id  BIGINT NOT NULL,               -- -1 = no tracker id
    class     VARCHAR NOT NULL,              -- person / face
    x1 REAL, y1 REAL, x2 REAL, y2 REAL,
    conf      REAL
);

-- One row per track; the pipeline re-sends a track as it grows (the latest version wins).
CREATE TABLE tracks (
    camera_id  VARCHAR NOT NULL,
    track_id   BIGINT NOT NULL,
    first_ts   TIMESTAMPTZ NOT NULL,
    last_ts    TIMESTAMPTZ NOT NULL,
    zones      JSON,                          -- JSON list of zone names visited
    valence    VARCHAR,                       -- smoothed label, NULL = no readable face
    faces_read INTEGER NOT NULL DEFAULT 0
    -- key (camera_id, track_id, first_ts), kept by the writer (delete + insert): an index
    -- made bulk appends 5x slower.
);

CREATE TABLE events (
    ts        TIMESTAMPTZ NOT NULL,
    camera_id VARCHAR NOT NULL,
    track_id  BIGINT NOT NULL,
    kind      VARCHAR NOT NULL,               -- enter/exit/zone_enter/zone_exit/queue_join/queue_leave/expression/alert
    zone      VARCHAR,
    value     DOUBLE                          -- exit/zone_exit/queue_leave: seconds spent
);

-- Labels, valence and scores only: never pixels, crops or embeddings.
CREATE TABLE expressions (
    ts         TIMESTAMPTZ NOT NULL,
    camera_id  VARCHAR NOT NULL,
    track_id   BIGINT NOT NULL,
    label      VARCHAR NOT NULL,
    valence    VARCHAR NOT NULL,              -- satisfied/neutral/frustrated/unknown
    confidence REAL,
    scores     JSON,
    model      VARCHAR,
    zone       VARCHAR
);

CREATE TABLE queue_samples (
    ts        TIMESTAMPTZ NOT NULL,
    camera_id VARCHAR NOT NULL,
    zone      VARCHAR NOT NULL,
    length    INTEGER NOT NULL
);

-- POS import. transaction_id comes from the file or is derived from the row's content,
-- so re-importing a file adds nothing.
CREATE TABLE transactions (
    transaction_id VARCHAR NOT NULL,
    ts             TIMESTAMPTZ NOT NULL,
    store_id       VARCHAR NOT NULL,
    register       VARCHAR NOT NULL,
    amount         DOUBLE NOT NULL
);

-- Schedule import.
CREATE TABLE shifts (
    shift_id    VARCHAR NOT NULL,
    store_id    VARCHAR NOT NULL,
    staff_role  VARCHAR NOT NULL,
    start_ts    TIMESTAMPTZ NOT NULL,
    end_ts      TIMESTAMPTZ NOT NULL,
    hourly_cost DOUBLE NOT NULL
);

CREATE SEQUENCE alert_id_seq START 1;
CREATE TABLE alerts (
    alert_id        BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    ts              TIMESTAMPTZ NOT NULL,
    store_id        VARCHAR,
    camera_id       VARCHAR,
    kind            VARCHAR NOT NULL,
    detail          VARCHAR,
    acknowledged_by VARCHAR,
    acknowledged_ts TIMESTAMPTZ
);

-- Every live-view access (who looked at which camera, when).
CREATE TABLE live_view_log (
    ts        TIMESTAMPTZ NOT NULL,
    user_name VARCHAR NOT NULL,
    role      VARCHAR NOT NULL,
    camera_id VARCHAR NOT NULL
);

-- Idempotency: a batch_id commits once; a replayed batch is skipped.
CREATE TABLE batch_ledger (
    batch_id     VARCHAR PRIMARY KEY,
    table_name   VARCHAR NOT NULL,
    row_count    BIGINT NOT NULL,
    committed_ts TIMESTAMPTZ NOT NULL
);

-- Imported files by content hash (re-importing the same file adds nothing).
CREATE TABLE import_ledger (
    file_sha256 VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,             -- sales / shifts
    file_name   VARCHAR,
    row_count   BIGINT NOT NULL,
    imported_ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (file_sha256, kind)
);
