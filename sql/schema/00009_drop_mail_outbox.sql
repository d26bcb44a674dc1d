-- Mail moves to River's job queue (river_job, created by River's own
-- migrations, which `nextsecure migrate` and `serve` run under goose's lock).
-- A job holds no token or rendered mail: its worker issues the token when it
-- sends. Mails still queued in the outbox are dropped with it: their links
-- could be asked for again (resend, forgot password).

-- +goose Up
DROP TABLE mail_outbox;

-- +goose Down
CREATE TABLE mail_outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient  text        NOT NULL,
    subject    text        NOT NULL,
    text_body  text        NOT NULL,
    html_body  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    run_at     timestamptz NOT NULL DEFAULT now(),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text        NOT NULL DEFAULT '',
    failed_at  timestamptz
);
CREATE INDEX mail_outbox_run_at_idx ON mail_outbox (run_at) WHERE failed_at IS NULL;
