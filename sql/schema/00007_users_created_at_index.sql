-- The admin user list pages newest first by (created_at, id).

-- +goose Up
CREATE INDEX users_created_at_id_idx ON users (created_at DESC, id DESC);

-- +goose Down
DROP INDEX users_created_at_id_idx;
