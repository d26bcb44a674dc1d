-- name: CreateSession :one
-- CreateSession opens a session. Callers that open one for a password
-- sign-in first run LockSignIn in the same transaction, so the session is
-- created only while the verified credential is current and the user active.
INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at, ip, user_agent)
VALUES (@id, @user_id, @token_hash, @now, @now, @expires_at, @ip, @user_agent)
RETURNING id, user_id, created_at, last_used_at, expires_at, ip, user_agent;

-- name: GetSessionUser :one
-- GetSessionUser authenticates a request in one indexed query: the live
-- session for a token hash, and the user it belongs to.
SELECT s.id AS session_id, s.created_at, s.last_used_at, s.expires_at, sqlc.embed(p)
FROM sessions s
JOIN user_profiles p ON p.id = s.user_id
WHERE s.token_hash = @token_hash AND s.expires_at > @now;

-- name: TouchSession :execrows
-- TouchSession slides a session's expiry; it writes only when the session was
-- last used before stale_before, so a busy session is written about once a
-- minute. The caller caps expires_at at the absolute lifetime (created_at
-- plus SESSION_MAX_TTL). Safe against a concurrent revocation: an UPDATE of a
-- deleted row touches nothing, and a session is never re-created by it.
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
-- DeleteExpiredSessions deletes at most batch_size expired sessions (the
-- purge loops; see DeleteExpiredVerificationTokens).
DELETE FROM sessions
WHERE id = ANY (ARRAY(SELECT old.id FROM sessions old WHERE old.expires_at <= @now ORDER BY old.expires_at LIMIT @batch_size));
