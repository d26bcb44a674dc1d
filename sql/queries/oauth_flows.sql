-- name: CreateOAuthFlow :exec
-- CreateOAuthFlow stores a flow at its start.
INSERT INTO oauth_flows (id, binding_hash, provider, verifier, nonce, redirect_to, link_user_id, created_at, expires_at)
VALUES (@id, @binding_hash, @provider, @verifier, @nonce, @redirect_to, @link_user_id, @now, @expires_at);

-- name: ConsumeOAuthFlow :one
-- ConsumeOAuthFlow takes a flow for its callback, once: concurrent callbacks
-- with one state cannot both get the row (the DELETE locks it; the second
-- finds it gone). An expired flow is not returned.
DELETE FROM oauth_flows
WHERE id = @id AND expires_at > @now
RETURNING id, binding_hash, provider, verifier, nonce, redirect_to, link_user_id, created_at, expires_at;

-- name: DeleteExpiredOAuthFlows :execrows
DELETE FROM oauth_flows WHERE expires_at <= @now;
