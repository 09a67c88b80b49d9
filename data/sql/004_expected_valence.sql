-- Satisfaction from calibrated probabilities (issue 9): each readable track carries the
-- mean calibrated P(satisfied / neutral / frustrated) of its readings, and the rollups
-- hold *expected* counts (sums of those probabilities), so the satisfaction index no
-- longer rounds an unsure face to a hard vote. Tracks read by a reader without
-- probabilities (older readers, older rows) count as a hard vote for their valence.
ALTER TABLE tracks ADD COLUMN p_satisfied REAL;
ALTER TABLE tracks ADD COLUMN p_neutral REAL;
ALTER TABLE tracks ADD COLUMN p_frustrated REAL;

ALTER TABLE hourly_traffic ALTER COLUMN satisfied SET DATA TYPE DOUBLE;
ALTER TABLE hourly_traffic ALTER COLUMN neutral SET DATA TYPE DOUBLE;
ALTER TABLE hourly_traffic ALTER COLUMN frustrated SET DATA TYPE DOUBLE;
ALTER TABLE hourly_zone ALTER COLUMN satisfied SET DATA TYPE DOUBLE;
ALTER TABLE hourly_zone ALTER COLUMN neutral SET DATA TYPE DOUBLE;
ALTER TABLE hourly_zone ALTER COLUMN frustrated SET DATA TYPE DOUBLE;
ALTER TABLE daily_store ALTER COLUMN satisfied SET DATA TYPE DOUBLE;
ALTER TABLE daily_store ALTER COLUMN neutral SET DATA TYPE DOUBLE;
ALTER TABLE daily_store ALTER COLUMN frustrated SET DATA TYPE DOUBLE;
ALTER TABLE daily_zone ALTER COLUMN satisfied SET DATA TYPE DOUBLE;
ALTER TABLE daily_zone ALTER COLUMN neutral SET DATA TYPE DOUBLE;
ALTER TABLE daily_zone ALTER COLUMN frustrated SET DATA TYPE DOUBLE;
