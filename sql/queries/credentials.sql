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

-- name: LockSignIn :one
-- LockSignIn is the check a password sign-in makes in the transaction that
-- opens its session: the user is still active and its credential still holds
-- the hash that was verified. It locks both rows FOR SHARE (users first, then
-- credentials, the order in which deleting a user cascades) until the
-- transaction ends, so it is safe against a concurrent password reset or
-- change (UPDATE credentials), deactivation (UPDATE users) and deletion
-- (DELETE users) in either order: one that committed first makes this return
-- no row (under READ COMMITTED the row is re-checked after the lock wait, and
-- the new hash or is_active is what is compared); one that comes later waits
-- for this transaction, then revokes the session it opened.
SELECT u.id
FROM users u
JOIN credentials c ON c.user_id = u.id
WHERE u.id = @user_id AND u.is_active AND c.password_hash = @password_hash
FOR SHARE OF u, c;
