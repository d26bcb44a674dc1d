-- name: CreateOAuthFlow :exec
-- CreateOAuthFlow stores a flow at its start.
INSERT INTO oauth_flows (id, binding_hash, provider, verifier, nonce, redirect_to, link_user_id, link_session_id,
    created_at, expires_at)
VALUES (@id, @binding_hash, @provider, @verifier, @nonce, @redirect_to, @link_user_id, @link_session_id,
    @now, @expires_at);

-- name: ConsumeOAuthFlow :one
-- ConsumeOAuthFlow takes a flow for its callback, once: concurrent callbacks
-- with one state cannot both get the row (the DELETE locks it; the second
-- finds it gone). An expired flow is not returned, and neither is one
-- bound to another browser: it stays for the browser that started it, so
-- whoever learns a state (a leaked callback URL) cannot spoil the flow.
-- Comparing the binding's hash in SQL, not in constant time, leaks
-- nothing useful: the binding secret has 256 random bits, and its SHA-256
-- tells nothing about which secret would match.
DELETE FROM oauth_flows
WHERE id = @id AND binding_hash = @binding_hash AND expires_at > @now
RETURNING id, binding_hash, provider, verifier, nonce, redirect_to, link_user_id, link_session_id,
    created_at, expires_at;

-- name: LockLinkSession :one
-- LockLinkSession is the check a link callback makes in the transaction
-- that links: the session that started the flow is still live. It locks
-- the row FOR SHARE until the transaction ends, so a concurrent revocation
-- (sign-out, password reset, deactivation) either committed first (no
-- row, nothing linked) or waits until the link has committed.
SELECT id FROM sessions WHERE id = @id AND expires_at > @now FOR SHARE;

-- name: DeleteExpiredOAuthFlows :execrows
-- DeleteExpiredOAuthFlows deletes at most batch_size expired flows (the
-- purge loops; see DeleteExpiredVerificationTokens).
DELETE FROM oauth_flows
WHERE id = ANY (ARRAY(SELECT old.id FROM oauth_flows old WHERE old.expires_at <= @now ORDER BY old.expires_at LIMIT @batch_size));
