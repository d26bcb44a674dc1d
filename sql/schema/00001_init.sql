-- The Next Secure data model (five Prisma models) translated to PostgreSQL.
-- Ids are text so the template's cuid strings fit; new ids come from the service.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TABLE users (
    id             text        PRIMARY KEY,
    name           text,
    email          text        NOT NULL,
    email_verified timestamptz,
    image          text,
    is_active      boolean     NOT NULL DEFAULT false,
    role           text        NOT NULL DEFAULT 'user',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique case-insensitively. This index also serves lookups by
-- lower(email), so the seed's @@index([email]) would be redundant.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE accounts (
    user_id             text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type                text        NOT NULL,
    provider            text        NOT NULL,
    provider_account_id text        NOT NULL,
    refresh_token       text,
    access_token        text,
    expires_at          integer,
    token_type          text,
    scope               text,
    id_token            text,
    session_state       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_account_id)
);
CREATE INDEX accounts_user_id_provider_idx ON accounts (user_id, provider);
CREATE TRIGGER accounts_set_updated_at BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE verification_tokens (
    identifier text        NOT NULL,
    token      text        NOT NULL,
    expires    timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The primary key's leading column serves lookups by identifier, so the
    -- seed's @@index([identifier]) would be redundant.
    PRIMARY KEY (identifier, token)
);

CREATE TABLE preregistrations (
    id            text        PRIMARY KEY,
    full_name     text        NOT NULL,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz
);
-- Unique case-insensitively; serves lookups too (the seed's email index would be redundant).
CREATE UNIQUE INDEX preregistrations_email_key ON preregistrations (lower(email));

CREATE TABLE credentials (
    id            text        PRIMARY KEY,
    -- The unique constraint's index serves lookups by user_id, so the seed's
    -- @@index([userId]) would be redundant.
    user_id       text        NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER credentials_set_updated_at BEFORE UPDATE ON credentials
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- +goose Down
DROP TABLE credentials;
DROP TABLE preregistrations;
DROP TABLE verification_tokens;
DROP TABLE accounts;
DROP TABLE users;
DROP FUNCTION set_updated_at();
