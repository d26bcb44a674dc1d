-- name: CreateSession :one
INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at, ip, user_agent)
VALUES (@id, @user_id, @token_hash, @now, @now, @expires_at, @ip, @user_agent)
RETURNING id, user_id, created_at, last_used_at, expires_at, ip, user_agent;

-- name: GetSessionUser :one
-- GetSessionUser authenticates a request in one indexed query: the live
-- session for a token hash, and the user it belongs to.
SELECT s.id AS session_id, s.last_used_at, s.expires_at, sqlc.embed(p)
FROM sessions s
JOIN user_profiles p ON p.id = s.user_id
WHERE s.token_hash = @token_hash AND s.expires_at > @now;

-- name: TouchSession :execrows
-- TouchSession slides a session's expiry; it writes only when the session was
-- last used before stale_before, so a busy session is written about once a minute.
UPDATE sessions
SET last_used_at = @now, expires_at = @expires_at
WHERE id = @id AND last_used_at < @stale_before;

-- name: ListSessionsByUser :many
-- ListSessionsByUser returns a user's live sessions, most recently used first.
SELECT id, user_id, created_at, last_used_at, expires_at, ip, user_agent
FROM sessions
WHERE user_id = @user_id AND expires_at > @now
ORDER BY last_used_at DESC, created_at DESC, id DESC;

-- name: DeleteSession :execrows
DELETE FROM sessions WHERE id = @id AND user_id = @user_id;

-- name: RevokeSession :execrows
-- RevokeSession ends one of a user's live sessions; zero rows means the id is
-- not one of them (unknown, expired, already revoked, or another user's).
DELETE FROM sessions WHERE id = @id AND user_id = @user_id AND expires_at > @now;

-- name: DeleteSessionsByUser :execrows
DELETE FROM sessions WHERE user_id = @user_id;

-- name: DeleteOtherSessions :execrows
DELETE FROM sessions WHERE user_id = @user_id AND id <> @keep_id;

-- name: DeleteExpiredSessions :execrows
DELETE FROM sessions WHERE expires_at <= @now;

-- name: OpenLoginSession :one
-- OpenLoginSession finishes a successful sign-in in one statement, so in one
-- round trip and one transaction: if the user still exists and is active, it
-- opens the session, lifts the account's failed sign-in count, records the
-- login_success event and returns the user as GetUserProfile does. No row
-- means the user was deleted or deactivated since the password was checked,
-- and then nothing is written. (A user deleted by a transaction that commits
-- during this statement fails the sessions foreign key: 23503.)
WITH u AS (
    SELECT p.id, p.name, p.email, p.email_verified, p.image, p.is_active, p.role, p.created_at, p.updated_at,
           p.has_password, p.account_providers, p.account_types
    FROM user_profiles p
    WHERE p.id = @user_id::text AND p.is_active
),
new_session AS (
    INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at, ip, user_agent)
    SELECT @session_id::text, u.id, @token_hash::bytea, @now::timestamptz, @now::timestamptz,
           @expires_at::timestamptz, @ip::text, @user_agent::text
    FROM u
),
lifted AS (
    DELETE FROM rate_limits WHERE key = @rate_limit_key::text AND EXISTS (SELECT 1 FROM u)
),
event AS (
    INSERT INTO auth_events (user_id, actor_id, type, ip, user_agent, detail, created_at)
    SELECT u.id, u.id, 'login_success', @ip::text, @user_agent::text, @detail::text, @now::timestamptz
    FROM u
)
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       u.has_password, u.account_providers, u.account_types
FROM u;
