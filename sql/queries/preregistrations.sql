-- name: UpsertPreregistration :one
-- UpsertPreregistration replaces any pending registration for the email with a
-- new row (new id), so tokens bound to the old one die with it (cascade).
WITH gone AS (
    DELETE FROM preregistrations WHERE lower(email) = lower(@email::text)
)
INSERT INTO preregistrations (id, full_name, email, password_hash, expires_at)
VALUES (@id, @full_name, @email, @password_hash, @expires_at)
RETURNING id, full_name, email, password_hash, created_at, expires_at;

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
DELETE FROM preregistrations WHERE expires_at <= @now;

-- name: LockEmail :exec
-- LockEmail serialises, until the transaction ends, every workflow that
-- creates or replaces state for one (normalised) email address.
SELECT pg_advisory_xact_lock(hashtextextended('email:' || lower(@email::text), 0));
