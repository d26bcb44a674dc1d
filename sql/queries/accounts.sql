-- name: CreateAccount :one
INSERT INTO accounts (user_id, type, provider, provider_account_id, refresh_token, access_token,
                      expires_at, token_type, scope, id_token, session_state)
VALUES (@user_id, @type, @provider, @provider_account_id, @refresh_token, @access_token,
        @expires_at, @token_type, @scope, @id_token, @session_state)
RETURNING user_id, type, provider, provider_account_id, refresh_token, access_token,
          expires_at, token_type, scope, id_token, session_state, created_at, updated_at;

-- name: GetAccount :one
SELECT user_id, type, provider, provider_account_id, refresh_token, access_token,
       expires_at, token_type, scope, id_token, session_state, created_at, updated_at
FROM accounts
WHERE provider = @provider AND provider_account_id = @provider_account_id;

-- name: ListAccountsByUser :many
SELECT user_id, type, provider, provider_account_id, refresh_token, access_token,
       expires_at, token_type, scope, id_token, session_state, created_at, updated_at
FROM accounts
WHERE user_id = @user_id
ORDER BY provider, provider_account_id;

-- name: UpdateAccountTokens :one
UPDATE accounts
SET refresh_token = @refresh_token, access_token = @access_token, expires_at = @expires_at,
    token_type = @token_type, scope = @scope, id_token = @id_token, session_state = @session_state
WHERE provider = @provider AND provider_account_id = @provider_account_id
RETURNING user_id, type, provider, provider_account_id, refresh_token, access_token,
          expires_at, token_type, scope, id_token, session_state, created_at, updated_at;

-- name: DeleteAccountsByProvider :execrows
DELETE FROM accounts WHERE user_id = @user_id AND provider = @provider;

-- name: CountAccountsByUser :one
SELECT count(*) FROM accounts WHERE user_id = @user_id;

-- name: LockLoginMethods :exec
-- LockLoginMethods serialises, until the transaction ends, every change to one
-- user's ways of signing in, so two concurrent unlinks cannot each leave the
-- other as the last one.
SELECT pg_advisory_xact_lock(hashtextextended('login-methods:' || @user_id::text, 0));
