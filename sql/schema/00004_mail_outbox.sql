-- Outgoing mail, queued in the transaction that creates the token it carries,
-- so a crash between commit and send loses nothing. Workers claim rows with
-- FOR UPDATE SKIP LOCKED and a lease (run_at moves forward while a worker
-- holds the row); a sent row is deleted, so its link does not outlive the send.

-- +goose Up
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
    -- Set when the worker gave up; the row stays for an operator to inspect.
    failed_at  timestamptz
);
CREATE INDEX mail_outbox_run_at_idx ON mail_outbox (run_at) WHERE failed_at IS NULL;

-- +goose Down
DROP TABLE mail_outbox;
