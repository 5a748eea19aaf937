-- OAuth 2.0 clients (client credentials grant) of an account and
-- environment, as API keys are; only the secret's SHA-256 is stored.
CREATE TABLE oauth_clients (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment   TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	name          TEXT NOT NULL DEFAULT '',
	client_id     TEXT NOT NULL UNIQUE,
	secret_hash   TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	last_used_at  TIMESTAMPTZ,
	revoked_at    TIMESTAMPTZ
);
CREATE INDEX oauth_clients_account ON oauth_clients (account_id, environment);

-- Opaque access tokens, stored hashed with their expiry; revoking the client
-- deletes them.
CREATE TABLE oauth_access_tokens (
	token_hash  TEXT PRIMARY KEY,
	client_id   TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
	scope       TEXT NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_access_tokens_client ON oauth_access_tokens (client_id, expires_at);
