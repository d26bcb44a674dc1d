-- Two-factor authentication (API.md "Two-factor authentication"): a user's
-- TOTP state, their recovery codes, and the short-lived tokens that carry a
-- sign-in from its first factor to its second. user_profiles gains
-- mfa_enabled.

-- +goose Up
-- secret and pending_secret are sealed under AUTH_SECRET (purpose
-- "totp-secret", bound to the user id). last_step is the last accepted TOTP
-- time step: a code of that step or older is refused (replay). generation
-- counts enrolments and resets, so an mfa token issued before one dies.
CREATE TABLE user_mfa (
    user_id        text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         text,
    pending_secret text,
    enabled_at     timestamptz,
    last_step      bigint NOT NULL DEFAULT 0,
    generation     bigint NOT NULL DEFAULT 0,
    CHECK ((secret IS NULL) = (enabled_at IS NULL))
);

-- code_hash is SHA-256 of the normalised code (128 random bits, so no key or
-- slow hash is needed, and rotating AUTH_SECRET leaves the codes working);
-- a used code is deleted.
CREATE TABLE mfa_recovery_codes (
    user_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- token_hash is SHA-256 of a 256-bit token; fingerprint is the credential
-- state the first factor was checked against (see service/mfa.go).
CREATE TABLE mfa_tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    detail      text NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL,
    failures    integer NOT NULL DEFAULT 0
);
CREATE INDEX mfa_tokens_user_id ON mfa_tokens (user_id);
CREATE INDEX mfa_tokens_expires_at ON mfa_tokens (expires_at);

DROP VIEW user_profiles;
CREATE VIEW user_profiles AS
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id) AS has_password,
       ARRAY(SELECT a.provider FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_providers,
       ARRAY(SELECT a.type FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_types,
       EXISTS (SELECT 1 FROM user_mfa m WHERE m.user_id = u.id AND m.enabled_at IS NOT NULL) AS mfa_enabled
FROM users u;

-- +goose Down
DROP VIEW user_profiles;
CREATE VIEW user_profiles AS
SELECT u.id, u.name, u.email, u.email_verified, u.image, u.is_active, u.role, u.created_at, u.updated_at,
       EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id) AS has_password,
       ARRAY(SELECT a.provider FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_providers,
       ARRAY(SELECT a.type FROM accounts a WHERE a.user_id = u.id ORDER BY a.provider, a.provider_account_id)::text[] AS account_types
FROM users u;
DROP TABLE mfa_tokens;
DROP TABLE mfa_recovery_codes;
DROP TABLE user_mfa;
