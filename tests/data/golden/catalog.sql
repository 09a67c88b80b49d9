-- Golden catalog: g1 is on Berlin time (UTC+1 in March), g2 on UTC.
INSERT INTO stores VALUES
    ('g1', 'Golden One', 'North', 'Europe/Berlin', 9, 18, 400.0),
    ('g2', 'Golden Two', 'South', 'UTC', 8, 20, 200.0);
INSERT INTO cameras VALUES
    ('g1-entrance', 'g1', 'G1 door', 'entrance', NULL, '{}', '{"floor": [[0,0],[10,0],[10,10]]}'),
    ('g1-checkout', 'g1', 'G1 tills', 'checkout', NULL, '{}', '{"checkout": [[0,0],[10,0],[10,10]]}'),
    ('g2-entrance', 'g2', 'G2 door', 'entrance', NULL, '{}', '{}');
