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

-- name: DeleteTokensForPreregistration :execrows
DELETE FROM verification_tokens WHERE preregistration_id = @preregistration_id;

-- name: DeleteTokensForUser :execrows
DELETE FROM verification_tokens WHERE user_id = @user_id AND purpose = @purpose;

-- name: DeleteExpiredVerificationTokens :execrows
DELETE FROM verification_tokens WHERE expires <= @now;

-- name: DeleteVerifyTokensForEmail :execrows
-- DeleteVerifyTokensForEmail voids every email-verification token for an
-- address, bound to a registration or not (the template wrote unbound ones).
DELETE FROM verification_tokens
WHERE identifier = lower(@identifier::text) AND purpose = 'verify_email';
