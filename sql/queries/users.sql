-- name: CreateUser :one
-- CreateUser inserts a user; a duplicate email (case-insensitive) violates users_email_key.
INSERT INTO users (id, name, email, email_verified, image, is_active, role)
VALUES (@id, @name, @email, @email_verified, @image, @is_active, @role)
RETURNING id, name, email, email_verified, image, is_active, role, created_at, updated_at;

-- name: GetUser :one
SELECT id, name, email, email_verified, image, is_active, role, created_at, updated_at
FROM users
WHERE id = @id;

-- name: GetUserByEmail :one
-- GetUserByEmail matches the email case-insensitively through users_email_key.
SELECT id, name, email, email_verified, image, is_active, role, created_at, updated_at
FROM users
WHERE lower(email) = lower(@email::text);

-- name: GetLoginByEmail :one
-- GetLoginByEmail returns what a sign-in needs in one round trip: the user and
-- its password hash ('' when the user has no credential).
SELECT u.id, u.is_active, COALESCE(c.password_hash, '')::text AS password_hash
FROM users u
LEFT JOIN credentials c ON c.user_id = u.id
WHERE lower(u.email) = lower(@email::text);

-- name: GetUserProfile :one
-- GetUserProfile returns a user with what its public representation needs.
SELECT p.id, p.name, p.email, p.email_verified, p.image, p.is_active, p.role, p.created_at, p.updated_at,
       p.has_password, p.account_providers, p.account_types, p.mfa_enabled
FROM user_profiles p
WHERE p.id = @id;

-- name: UpdateUserProfile :one
-- UpdateUserProfile changes the fields a user may change themselves; a NULL
-- argument keeps the current value of name, and set_image decides for image.
UPDATE users
SET name  = COALESCE(sqlc.narg(name), name),
    image = CASE WHEN @set_image::boolean THEN sqlc.narg(image) ELSE image END
WHERE id = @id
RETURNING id, name, email, email_verified, image, is_active, role, created_at, updated_at;

-- name: UpdateUserAdmin :one
-- UpdateUserAdmin changes role and activation; a NULL argument keeps the value.
UPDATE users
SET role      = COALESCE(sqlc.narg(role), role),
    is_active = COALESCE(sqlc.narg(is_active), is_active)
WHERE id = @id
RETURNING id, name, email, email_verified, image, is_active, role, created_at, updated_at;

-- name: SetUserRoleByEmail :one
UPDATE users
SET role = @role
WHERE lower(email) = lower(@email::text)
RETURNING id, name, email, email_verified, image, is_active, role, created_at, updated_at;

-- name: DeleteUser :execrows
-- DeleteUser removes a user; credentials, accounts, sessions and tokens cascade.
DELETE FROM users WHERE id = @id;

-- name: ListUsers :many
-- ListUsers pages newest first by (created_at, id), with what each user's
-- public representation needs (as GetUserProfile), in one round trip. Pass
-- the last row's created_at and id as the cursor, or NULLs for the first
-- page. It walks users_created_at_id_idx and stops after row_limit rows.
SELECT p.id, p.name, p.email, p.email_verified, p.image, p.is_active, p.role, p.created_at, p.updated_at,
       p.has_password, p.account_providers, p.account_types, p.mfa_enabled
FROM user_profiles p
WHERE sqlc.narg(after_created_at)::timestamptz IS NULL
   OR (p.created_at, p.id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::text)
ORDER BY p.created_at DESC, p.id DESC
LIMIT @row_limit;

-- name: SearchUsers :many
-- SearchUsers is ListUsers restricted to the users whose email or name
-- contains pattern, case-insensitively; pattern is the substring with LIKE's
-- wildcards (backslash, percent, underscore) escaped by a backslash. LIKE,
-- not strpos, so the trigram indexes users_email_trgm_idx and
-- users_name_trgm_idx can find a rare substring; a common one is found as
-- fast by walking users_created_at_id_idx, which the planner weighs.
SELECT p.id, p.name, p.email, p.email_verified, p.image, p.is_active, p.role, p.created_at, p.updated_at,
       p.has_password, p.account_providers, p.account_types, p.mfa_enabled
FROM user_profiles p
WHERE (lower(p.email) LIKE '%' || lower(@pattern::text) || '%'
       OR lower(p.name) LIKE '%' || lower(@pattern::text) || '%')
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (p.created_at, p.id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT @row_limit;

-- name: CountActiveAdmins :one
-- CountActiveAdmins locks nothing; callers that enforce the last-admin rule
-- run it after LockAdmins in the same transaction.
SELECT count(*) FROM users WHERE role = 'admin' AND is_active;

-- name: LockAdmins :exec
-- LockAdmins serialises changes to admin accounts for the rest of the transaction.
SELECT pg_advisory_xact_lock(hashtext('nextsecure.admins'));

-- name: LockActiveUser :one
-- LockActiveUser is the check a provider sign-in makes in the transaction
-- that opens its session: the user still exists and is active. It locks the
-- row FOR SHARE until the transaction ends, so a concurrent deactivation or
-- deletion either committed first (no row) or waits, then revokes the
-- session opened here.
SELECT id FROM users WHERE id = @id AND is_active FOR SHARE;

-- name: LockUserForSignIn :one
-- LockUserForSignIn is the check a sign-in without a password (a magic
-- link) makes in the transaction that opens its session: it locks the user
-- row until the transaction ends and returns whether it is active, so a
-- concurrent deactivation or deletion either committed first (and is seen:
-- under READ COMMITTED the row is re-read after the lock wait) or waits for
-- this transaction and then revokes the session it opened. FOR NO KEY
-- UPDATE, not FOR SHARE, because the caller may then set email_verified.
SELECT id, email, email_verified, is_active
FROM users
WHERE id = @id
FOR NO KEY UPDATE;

-- name: SetEmailVerified :execrows
-- SetEmailVerified marks a user's address verified if it was not yet.
UPDATE users SET email_verified = @now WHERE id = @id AND email_verified IS NULL;

-- name: ChangeUserEmail :execrows
-- ChangeUserEmail sets a user's email, verified now; an address another
-- account uses (case-insensitively) violates users_email_key.
UPDATE users SET email = @email, email_verified = @now WHERE id = @id;

-- name: LockUser :execrows
-- LockUser takes a user's row lock (FOR NO KEY UPDATE) until the transaction
-- ends; zero rows means no such user. A workflow that revokes a user's
-- sessions without changing the user row (a password reset or change)
-- takes it before it deletes them: a sign-in that holds the row while it
-- opens a session (LockSignIn, LockActiveUser, LockUserForSignIn) then
-- commits first and its session is among those deleted, or waits and sees
-- the change.
SELECT 1 FROM users WHERE id = @id FOR NO KEY UPDATE;
