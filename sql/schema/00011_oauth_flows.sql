-- Sign-in flows with a provider (OAuth 2.0 authorization code with PKCE,
-- OpenID Connect), between the start and the callback. They live here, not
-- in one process's memory, so any instance can finish a flow another
-- started. Nothing stored here lets anyone finish a flow by itself: the
-- state and the browser-binding secret are stored only as SHA-256 hashes,
-- and the PKCE verifier is sealed under AUTH_SECRET.

-- +goose Up
CREATE TABLE oauth_flows (
    -- SHA-256 of the state parameter (256 random bits).
    id           bytea       PRIMARY KEY,
    -- SHA-256 of the secret in the browser's oauth_flow cookie.
    binding_hash bytea       NOT NULL,
    provider     text        NOT NULL,
    -- The PKCE code verifier, sealed under AUTH_SECRET and bound to this row.
    verifier     text        NOT NULL,
    -- The OpenID Connect nonce ('' for plain OAuth): not a secret, it
    -- travels in the authorization URL; the ID token must carry it back.
    nonce        text        NOT NULL DEFAULT '',
    redirect_to  text        NOT NULL,
    -- Set for a flow that links the provider to a signed-in user.
    link_user_id text        REFERENCES users (id) ON DELETE CASCADE,
    -- For a link flow, the session that started it: the flow dies with
    -- the session (sign-out, password reset, deactivation), and the
    -- callback links only while it is still live.
    link_session_id text     REFERENCES sessions (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oauth_flows_expires_at_idx ON oauth_flows (expires_at);
CREATE INDEX oauth_flows_link_user_id_idx ON oauth_flows (link_user_id) WHERE link_user_id IS NOT NULL;
CREATE INDEX oauth_flows_link_session_id_idx ON oauth_flows (link_session_id) WHERE link_session_id IS NOT NULL;

-- +goose Down
DROP TABLE oauth_flows;
