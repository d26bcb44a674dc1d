-- name: DeletePreregistrationByEmail :execrows
-- DeletePreregistrationByEmail drops the pending registration for an email;
-- the tokens bound to it die with it (cascade).
DELETE FROM preregistrations WHERE lower(email) = lower(@email::text);

-- name: CreatePreregistration :one
-- CreatePreregistration stores a pending registration and records the
-- register event (no user yet), in one statement.
WITH pre AS (
    INSERT INTO preregistrations (id, full_name, email, password_hash, expires_at)
    VALUES (@id::text, @full_name::text, @email::text, @password_hash::text, @expires_at::timestamptz)
    RETURNING id, full_name, email, password_hash, created_at, expires_at
),
event AS (
    INSERT INTO auth_events (type, ip, user_agent, detail, created_at)
    VALUES ('register', @ip::text, @user_agent::text, '', @now::timestamptz)
)
SELECT pre.id, pre.full_name, pre.email, pre.password_hash, pre.created_at, pre.expires_at
FROM pre;

-- name: GetPreregistration :one
SELECT id, full_name, email, password_hash, created_at, expires_at
FROM preregistrations
WHERE id = @id;

-- name: GetPreregistrationByEmail :one
SELECT id, full_name, email, password_hash, created_at, expires_at
FROM preregistrations
WHERE lower(email) = lower(@email::text);

-- name: SetPreregistrationExpiry :execrows
UPDATE preregistrations SET expires_at = @expires_at WHERE id = @id;

-- name: DeletePreregistration :execrows
DELETE FROM preregistrations WHERE id = @id;

-- name: DeleteExpiredPreregistrations :execrows
-- DeleteExpiredPreregistrations deletes at most batch_size expired pending
-- registrations (the purge loops; see DeleteExpiredVerificationTokens).
DELETE FROM preregistrations
WHERE id = ANY (ARRAY(SELECT old.id FROM preregistrations old WHERE old.expires_at <= @now ORDER BY old.expires_at LIMIT @batch_size));

-- name: LockEmail :exec
-- LockEmail serialises, until the transaction ends, every workflow that
-- creates or replaces state for one (normalised) email address.
SELECT pg_advisory_xact_lock(hashtextextended('email:' || lower(@email::text), 0));
