-- The audit trail: who did what, when, from where. Never a secret.

-- +goose Up
CREATE TABLE auth_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: the trail outlives a deleted user.
    user_id    text,
    actor_id   text,
    type       text        NOT NULL,
    ip         text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT '',
    detail     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_events_user_id_idx ON auth_events (user_id, id DESC);

-- +goose Down
DROP TABLE auth_events;
