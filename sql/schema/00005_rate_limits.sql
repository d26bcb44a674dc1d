-- Fixed-window counters shared by every server instance: failed logins per
-- account, requests per client address and route, mails per address.

-- +goose Up
CREATE TABLE rate_limits (
    key          text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL
);
CREATE INDEX rate_limits_window_start_idx ON rate_limits (window_start);

-- +goose Down
DROP TABLE rate_limits;
