-- A purge of a large backlog of expired sessions (500,000 at a million
-- users) sets off an autovacuum of sessions that scans the table and its
-- four indexes at full speed, and on a small machine that costs the live
-- requests more than the purge's own bounded batches do (docs/performance.md).
-- A cost delay of 20 ms (the default is 2 ms) spreads that vacuum out over
-- about ten times as long: the dead rows still go, more gently.

-- +goose Up
ALTER TABLE sessions SET (autovacuum_vacuum_cost_delay = 20);

-- +goose Down
ALTER TABLE sessions RESET (autovacuum_vacuum_cost_delay);
