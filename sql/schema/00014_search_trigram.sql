-- The admin search (SearchUsers) looks for a substring of lower(email) or
-- lower(name) with LIKE '%...%'; trigram GIN indexes answer that without
-- reading every user. pg_trgm ships with PostgreSQL (contrib; in Debian's
-- postgresql-15 package) and is a trusted extension, so a database owner
-- without superuser may create it too.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm_idx ON users USING gin (lower(email) gin_trgm_ops);
CREATE INDEX users_name_trgm_idx ON users USING gin (lower(name) gin_trgm_ops);
-- CountActiveAdmins (the last-admin rule, on every admin change of a role or
-- activation) would otherwise read every user; this index holds only the
-- active admins, so it costs ordinary users nothing.
CREATE INDEX users_active_admins_idx ON users (id) WHERE role = 'admin' AND is_active;

-- +goose Down
DROP INDEX users_active_admins_idx;
DROP INDEX users_name_trgm_idx;
DROP INDEX users_email_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
