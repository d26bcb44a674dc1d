-- Verification tokens are stored as SHA-256 hashes (hex, in "token") and bound
-- to one purpose and to the preregistration or user they act on, so a token
-- dies with its owner row and cannot be used for another purpose.

-- +goose Up
ALTER TABLE verification_tokens
    ADD COLUMN purpose text NOT NULL DEFAULT 'verify_email'
        CHECK (purpose IN ('verify_email', 'reset_password')),
    ADD COLUMN preregistration_id text REFERENCES preregistrations (id) ON DELETE CASCADE,
    ADD COLUMN user_id text REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE verification_tokens ALTER COLUMN purpose DROP DEFAULT;
-- Tokens are looked up by hash alone; a hash is unique.
CREATE UNIQUE INDEX verification_tokens_token_key ON verification_tokens (token);
CREATE INDEX verification_tokens_expires_idx ON verification_tokens (expires);
CREATE INDEX verification_tokens_preregistration_id_idx ON verification_tokens (preregistration_id);
CREATE INDEX verification_tokens_user_id_idx ON verification_tokens (user_id);
CREATE INDEX preregistrations_expires_at_idx ON preregistrations (expires_at);

-- +goose Down
DROP INDEX preregistrations_expires_at_idx;
ALTER TABLE verification_tokens
    DROP COLUMN user_id,
    DROP COLUMN preregistration_id,
    DROP COLUMN purpose;
