-- name: CreateCredential :one
INSERT INTO credentials (id, user_id, password_hash)
VALUES (@id, @user_id, @password_hash)
RETURNING id, user_id, password_hash, created_at, updated_at;

-- name: GetCredentialByUser :one
SELECT id, user_id, password_hash, created_at, updated_at
FROM credentials
WHERE user_id = @user_id;

-- name: UpsertCredential :exec
-- UpsertCredential sets a user's password hash, creating the credential if needed.
INSERT INTO credentials (id, user_id, password_hash)
VALUES (@id, @user_id, @password_hash)
ON CONFLICT (user_id) DO UPDATE SET password_hash = EXCLUDED.password_hash;

-- name: UpgradeCredentialHash :execrows
-- UpgradeCredentialHash replaces a hash only if it is still the one that was
-- verified, so a concurrent password change is never overwritten.
UPDATE credentials
SET password_hash = @new_hash
WHERE user_id = @user_id AND password_hash = @old_hash;

-- name: DeleteCredential :execrows
DELETE FROM credentials WHERE user_id = @user_id;
