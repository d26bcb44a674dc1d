-- name: GetMFAState :one
-- GetMFAState returns what a second factor needs: the user's TOTP state (an
-- empty state when they never enrolled) and their password hash ('' when
-- they have none), the two parts of an mfa token's fingerprint. Callers
-- that act on it hold the user's row lock (LockUser or LockUserForSignIn).
SELECT u.id, u.email, u.is_active,
       COALESCE(c.password_hash, '')::text AS password_hash,
       m.secret, m.pending_secret, m.enabled_at,
       COALESCE(m.last_step, 0)::bigint AS last_step,
       COALESCE(m.generation, 0)::bigint AS generation
FROM users u
LEFT JOIN credentials c ON c.user_id = u.id
LEFT JOIN user_mfa m ON m.user_id = u.id
WHERE u.id = @user_id;

-- name: SetPendingTOTP :execrows
-- SetPendingTOTP stores (or replaces) a pending secret; zero rows means
-- two-factor is already on.
INSERT INTO user_mfa (user_id, pending_secret)
VALUES (@user_id, @pending_secret)
ON CONFLICT (user_id) DO UPDATE SET pending_secret = EXCLUDED.pending_secret
WHERE user_mfa.enabled_at IS NULL;

-- name: EnableTOTP :execrows
-- EnableTOTP turns the pending secret that was checked on, with the step of
-- the code that confirmed it as the last one accepted; zero rows means it
-- was replaced or confirmed meanwhile.
UPDATE user_mfa
SET secret = pending_secret, pending_secret = NULL, enabled_at = @now,
    last_step = @step, generation = generation + 1
WHERE user_id = @user_id AND enabled_at IS NULL AND pending_secret = @pending_secret;

-- name: AcceptTOTPStep :execrows
-- AcceptTOTPStep records a code's time step as used, only if it is newer
-- than the last accepted one: of two requests with one code, exactly one
-- updates the row (the other, after waiting for the row lock, re-reads
-- last_step and matches nothing). Zero rows means a replay.
UPDATE user_mfa
SET last_step = @step
WHERE user_id = @user_id AND enabled_at IS NOT NULL AND last_step < @step;

-- name: DisableMFA :execrows
-- DisableMFA turns two-factor off (a new generation kills outstanding mfa
-- tokens); zero rows means it was off.
UPDATE user_mfa
SET secret = NULL, pending_secret = NULL, enabled_at = NULL, generation = generation + 1
WHERE user_id = @user_id AND enabled_at IS NOT NULL;

-- name: CreateRecoveryCodes :exec
-- CreateRecoveryCodes stores the hashes of a new set of recovery codes.
INSERT INTO mfa_recovery_codes (user_id, code_hash)
SELECT @user_id, h FROM unnest(@code_hashes::bytea[]) AS h;

-- name: DeleteRecoveryCodes :execrows
DELETE FROM mfa_recovery_codes WHERE user_id = @user_id;

-- name: UseRecoveryCode :execrows
-- UseRecoveryCode consumes one recovery code; only one of concurrent
-- callers deletes the row.
DELETE FROM mfa_recovery_codes WHERE user_id = @user_id AND code_hash = @code_hash;

-- name: CreateMFAToken :exec
-- CreateMFAToken stores an mfa token's SHA-256, never the token.
INSERT INTO mfa_tokens (token_hash, user_id, fingerprint, detail, expires_at)
VALUES (@token_hash, @user_id, @fingerprint, @detail, @expires_at);

-- name: PeekMFAToken :one
-- PeekMFAToken reads a live mfa token without locking it, so the caller can
-- count the attempt and lock the user row first.
SELECT t.user_id, u.email
FROM mfa_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = @token_hash AND t.expires_at > @now AND t.failures < 5;

-- name: LockMFAToken :one
-- LockMFAToken reads a live mfa token and locks it until the transaction
-- ends; callers lock the user row first.
SELECT user_id, fingerprint, detail, failures
FROM mfa_tokens
WHERE token_hash = @token_hash AND expires_at > @now AND failures < 5
FOR UPDATE;

-- name: CountMFATokenFailure :one
UPDATE mfa_tokens SET failures = failures + 1 WHERE token_hash = @token_hash RETURNING failures;

-- name: DeleteMFAToken :execrows
DELETE FROM mfa_tokens WHERE token_hash = @token_hash;

-- name: DeleteMFATokensForUser :execrows
DELETE FROM mfa_tokens WHERE user_id = @user_id;

-- name: DeleteExpiredMFATokens :execrows
-- DeleteExpiredMFATokens deletes at most batch_size expired tokens (the
-- purge loops; see DeleteExpiredVerificationTokens).
DELETE FROM mfa_tokens
WHERE token_hash = ANY (ARRAY(SELECT old.token_hash FROM mfa_tokens old WHERE old.expires_at <= @now ORDER BY old.expires_at LIMIT @batch_size));

-- name: ListMFASecrets :many
-- ListMFASecrets pages, by user id, the sealed TOTP secrets for
-- re-encryption; pass an empty string to start.
SELECT user_id, secret, pending_secret
FROM user_mfa
WHERE user_id > @after_user_id AND (secret IS NOT NULL OR pending_secret IS NOT NULL)
ORDER BY user_id
LIMIT @max_rows;

-- name: SwapMFASecrets :execrows
-- SwapMFASecrets replaces a user's sealed secrets only if they are still
-- those that were read (compare-and-swap), so an enrolment, a confirmation
-- or a reset that wrote meanwhile is never overwritten.
UPDATE user_mfa
SET secret = @secret, pending_secret = @pending_secret
WHERE user_id = @user_id
  AND secret IS NOT DISTINCT FROM @old_secret
  AND pending_secret IS NOT DISTINCT FROM @old_pending_secret;
