-- Cookie sessions of people logged in to the certificate portal (Signex).
-- Only hashes of the session and anti-forgery tokens are stored.
CREATE TABLE web_sessions (
	token_hash    TEXT PRIMARY KEY,
	subject       TEXT NOT NULL,
	xsrf_hash     TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	last_seen_at  TIMESTAMPTZ NOT NULL,
	expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX web_sessions_subject ON web_sessions (subject);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
