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

-- name: ListAccountSecrets :many
-- ListAccountSecrets pages through the stored provider tokens in primary
-- key order (keyset pagination: the page after the given key), for
-- re-encryption under AUTH_SECRET.
SELECT provider, provider_account_id, refresh_token, access_token, id_token
FROM accounts
WHERE (provider, provider_account_id) > (@after_provider::text, @after_account_id::text)
ORDER BY provider, provider_account_id
LIMIT @max_rows;

-- name: GetAccountSecrets :one
-- GetAccountSecrets reads one account's provider tokens again after a
-- compare-and-swap found them changed.
SELECT provider, provider_account_id, refresh_token, access_token, id_token
FROM accounts
WHERE provider = @provider AND provider_account_id = @provider_account_id;

-- name: SwapAccountSecrets :execrows
-- SwapAccountSecrets writes re-encrypted provider tokens only if the row
-- still holds the values they were made from (compare-and-swap), so a token
-- that a sign-in wrote meanwhile is never overwritten: under READ COMMITTED
-- an UPDATE that waited for a concurrent one re-checks its WHERE clause
-- against the row's newest version. Zero rows: changed or gone, read again.
UPDATE accounts
SET refresh_token = @refresh_token, access_token = @access_token, id_token = @id_token
WHERE provider = @provider AND provider_account_id = @provider_account_id
  AND refresh_token IS NOT DISTINCT FROM sqlc.narg(old_refresh_token)::text
  AND access_token IS NOT DISTINCT FROM sqlc.narg(old_access_token)::text
  AND id_token IS NOT DISTINCT FROM sqlc.narg(old_id_token)::text;
