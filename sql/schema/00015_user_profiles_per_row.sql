-- user_profiles answered has_password and mfa_enabled with EXISTS, which the
-- planner may turn into a hashed subplan: it then reads every credential to
-- build a hash table, even for a page of 50 users (the admin list took 30 ms
-- at 20,000 users, and grows with the table). A scalar subquery on the
-- unique key is never hashed: it probes credentials_user_id_key and
-- user_mfa's primary key once per row returned.

-- +goose Up
CREATE OR REPLACE VIEW user_profiles AS
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       COALESCE((SELECT true FROM credentials c WHERE c.user_id = u.id), false)::boolean AS has_password,
       ARRAY(SELECT a.provider FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_providers,
       ARRAY(SELECT a.type FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_types,
       COALESCE((SELECT m.enabled_at IS NOT NULL FROM user_mfa m WHERE m.user_id = u.id), false)::boolean AS mfa_enabled
FROM users u;

-- +goose Down
CREATE OR REPLACE VIEW user_profiles AS
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id) AS has_password,
       ARRAY(SELECT a.provider FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_providers,
       ARRAY(SELECT a.type FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_types,
       EXISTS (SELECT 1 FROM user_mfa m WHERE m.user_id = u.id AND m.enabled_at IS NOT NULL) AS mfa_enabled
FROM users u;
