-- name: EnqueueMail :one
INSERT INTO mail_outbox (recipient, subject, text_body, html_body, run_at)
VALUES (@recipient, @subject, @text_body, @html_body, @run_at)
RETURNING id;

-- name: ClaimMail :many
-- ClaimMail leases up to row_limit due messages to one worker: their run_at
-- moves to lease_until, so another worker takes them over only if this one
-- dies. SKIP LOCKED lets instances claim side by side without sending twice.
UPDATE mail_outbox
SET attempts = attempts + 1, run_at = @lease_until
WHERE id IN (
    SELECT m.id FROM mail_outbox m
    WHERE m.run_at <= @now AND m.failed_at IS NULL
    ORDER BY m.run_at, m.id
    LIMIT @row_limit
    FOR UPDATE SKIP LOCKED
)
RETURNING id, recipient, subject, text_body, html_body, attempts;

-- name: DeleteMail :exec
-- DeleteMail removes a sent message.
DELETE FROM mail_outbox WHERE id = @id;

-- name: RetryMail :exec
UPDATE mail_outbox SET run_at = @run_at, last_error = @last_error WHERE id = @id;

-- name: FailMail :exec
-- FailMail gives up on a message; the row stays for inspection.
UPDATE mail_outbox SET failed_at = @now, last_error = @last_error WHERE id = @id;

-- name: CountPendingMail :one
SELECT count(*) FROM mail_outbox WHERE failed_at IS NULL;
