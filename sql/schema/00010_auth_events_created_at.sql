-- The purge deletes audit events older than AUDIT_RETENTION; this index keeps
-- it from reading the whole trail.

-- +goose Up
CREATE INDEX auth_events_created_at_idx ON auth_events (created_at);

-- +goose Down
DROP INDEX auth_events_created_at_idx;
