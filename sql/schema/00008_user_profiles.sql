-- A user as its public representation needs it (API.md's user object):
-- the row, whether it has a password, and its linked accounts' providers and
-- types in one order. Every query that returns users reads it from here, so
-- the two subqueries are written once. A simple view: PostgreSQL inlines it,
-- and the subqueries run only for the rows a query returns.

-- +goose Up
CREATE VIEW user_profiles AS
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id) AS has_password,
       ARRAY(SELECT a.provider FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_providers,
       ARRAY(SELECT a.type FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_types
FROM users u;

-- +goose Down
DROP VIEW user_profiles;
