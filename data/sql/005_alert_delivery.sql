-- Push alerts and response times (issue 19 items 6 and 7), one way to write alerts
-- (issue 20 item 5).
--
-- alerts gain the zone they are about (its name and kind: the title says "Frustrated
-- shopper at Service desk", not "at the checkout" for a service-desk camera) and
-- response_s, the seconds from raised to acknowledged, set when staff acknowledge.
ALTER TABLE alerts ADD COLUMN zone VARCHAR;
ALTER TABLE alerts ADD COLUMN zone_kind VARCHAR;
ALTER TABLE alerts ADD COLUMN response_s DOUBLE;
UPDATE alerts SET response_s = epoch(acknowledged_ts) - epoch(ts)
WHERE acknowledged_ts IS NOT NULL;

-- Demo alerts used to be 'alert' events copied into alerts by SQL ("alert in zone checkout
-- after 312 s") and parsed back with a regular expression; they are the queue-wait alerts
-- they stood for, written now as typed rows. Rows of that old shape are rewritten once.
UPDATE alerts
SET kind = 'queue_wait',
    zone = regexp_extract(detail, '^alert in zone (.+?)(?: after [0-9]+ s)?$', 1),
    detail = CASE
        WHEN regexp_matches(detail, ' after [0-9]+ s$') THEN
            regexp_extract(detail, '^alert in zone (.+?) after', 1) || ': a shopper has waited '
            || CAST(CAST(regexp_extract(detail, ' after ([0-9]+) s$', 1) AS INTEGER) // 60 AS VARCHAR)
            || ':' || lpad(CAST(CAST(regexp_extract(detail, ' after ([0-9]+) s$', 1) AS INTEGER) % 60
                                AS VARCHAR), 2, '0')
            || ' min'
        ELSE regexp_extract(detail, '^alert in zone (.+)$', 1) || ': a long queue wait'
    END
WHERE kind = 'alert' AND regexp_matches(detail, '^alert in zone ');

-- The channels alerts are pushed to. A channel is known by a digest of its label (kind,
-- host, port, path, topic: never a credential); since_alert_id is the newest alert when it
-- was first configured, so a new channel is not flooded with the history.
CREATE TABLE alert_channels (
    channel_key    VARCHAR PRIMARY KEY,
    label          VARCHAR NOT NULL,
    since_alert_id BIGINT NOT NULL,
    added_ts       TIMESTAMPTZ NOT NULL
);

-- The delivery log: one row per (alert, channel), written through the one writer. pending
-- rows are retried at next_attempt_ts (exponential backoff) until delivered, or expired
-- when the alert is older than alerts.deliver_within_s; last_error names the failure in
-- words with no credential. A delivered row is never sent again, across restarts too.
CREATE TABLE alert_deliveries (
    alert_id        BIGINT NOT NULL,
    channel_key     VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,
    attempts        INTEGER NOT NULL,
    created_ts      TIMESTAMPTZ NOT NULL,
    next_attempt_ts TIMESTAMPTZ NOT NULL,
    last_error      VARCHAR,
    delivered_ts    TIMESTAMPTZ,
    PRIMARY KEY (alert_id, channel_key)
);
