-- name: CreateVerificationToken :exec
-- CreateVerificationToken stores a token's SHA-256 (hex), never the token.
INSERT INTO verification_tokens (identifier, token, expires, purpose, preregistration_id, user_id)
VALUES (@identifier, @token_hash, @expires, @purpose, @preregistration_id, @user_id);

-- name: ConsumeVerificationToken :one
-- ConsumeVerificationToken deletes a live token of the given purpose and
-- returns it; only one of many concurrent callers gets the row.
DELETE FROM verification_tokens
WHERE token = @token_hash AND purpose = @purpose AND expires > @now
RETURNING identifier, expires, purpose, preregistration_id, user_id;

-- name: GetVerificationTokenEmail :one
-- GetVerificationTokenEmail reads, without consuming, the email a live token
-- belongs to (its registration's, else its identifier), so a workflow can
-- lock that email (LockEmail) before it consumes the token: the lock order
-- of registration and resend, which lock the email and then delete tokens.
SELECT COALESCE(p.email, t.identifier)::text AS email
FROM verification_tokens t
LEFT JOIN preregistrations p ON p.id = t.preregistration_id
WHERE t.token = @token_hash AND t.purpose = @purpose AND t.expires > @now;

-- name: DeleteTokensForPreregistration :execrows
DELETE FROM verification_tokens WHERE preregistration_id = @preregistration_id;

-- name: DeleteTokensForUser :execrows
DELETE FROM verification_tokens WHERE user_id = @user_id AND purpose = @purpose;

-- name: DeleteExpiredVerificationTokens :execrows
-- DeleteExpiredVerificationTokens deletes at most batch_size expired tokens
-- (the purge loops until fewer are deleted: bounded batches hold their locks
-- briefly however large the backlog). "= ANY (ARRAY(...))", not "IN (...)":
-- the batch is then a list of keys looked up in the primary key, where an
-- IN may be planned as a hash join that reads the whole table. ORDER BY
-- expires: the batch then comes from the index on it, whatever the share of
-- expired rows (without it, at 500,000 expired of 2,500,000 sessions, the
-- planner chose a sequential scan for the LIMIT, which read through the live
-- rows first: 0.8 s a batch).
DELETE FROM verification_tokens
WHERE token = ANY (ARRAY(SELECT old.token FROM verification_tokens old WHERE old.expires <= @now ORDER BY old.expires LIMIT @batch_size));

-- name: DeleteVerifyTokensForEmail :execrows
-- DeleteVerifyTokensForEmail voids every email-verification token for an
-- address, bound to a registration or not (the template wrote unbound ones).
DELETE FROM verification_tokens
WHERE identifier = lower(@identifier::text) AND purpose = 'verify_email';

-- name: GetTokenUser :one
-- GetTokenUser returns the email and name of the user a live token of the
-- given purpose belongs to, without consuming it, so that ResetPassword can
-- check the new password against them before it hashes. The token is
-- consumed, or found gone, later by ConsumeVerificationToken.
SELECT u.email, u.name
FROM verification_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token = @token_hash AND t.purpose = @purpose AND t.expires > @now;

-- name: GetChangeEmailTarget :one
-- GetChangeEmailTarget reads, without consuming, what a live email change
-- token is for: the new address (its identifier), the user and the user's
-- current address, so ConfirmEmailChange can lock both addresses
-- (LockEmail) before it consumes the token.
SELECT t.identifier AS new_email, u.id AS user_id, u.email AS current_email
FROM verification_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token = @token_hash AND t.purpose = 'change_email' AND t.expires > @now;

-- name: DeleteAllTokensForUser :execrows
-- DeleteAllTokensForUser voids every token bound to a user, of every
-- purpose: after an email change, the links sent to the old address.
DELETE FROM verification_tokens WHERE user_id = @user_id;
