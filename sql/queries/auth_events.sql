-- name: CreateAuthEvent :exec
INSERT INTO auth_events (user_id, actor_id, type, ip, user_agent, detail, created_at)
VALUES (@user_id, @actor_id, @type, @ip, @user_agent, @detail, @created_at);

-- name: ListAuthEventsByUser :many
-- ListAuthEventsByUser pages newest first; pass the last id seen, or NULL.
SELECT id, user_id, actor_id, type, ip, user_agent, detail, created_at
FROM auth_events
WHERE user_id = @user_id
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- name: DeleteAuthEventsBefore :execrows
-- DeleteAuthEventsBefore drops at most batch_size events of the audit trail
-- older than the retention (the purge loops; see
-- DeleteExpiredVerificationTokens).
DELETE FROM auth_events
WHERE id = ANY (ARRAY(SELECT old.id FROM auth_events old WHERE old.created_at < @before ORDER BY old.created_at LIMIT @batch_size));
