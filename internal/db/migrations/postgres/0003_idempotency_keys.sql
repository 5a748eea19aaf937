-- Idempotency-Key records (IETF draft / Stripe semantics), one per API key
-- and client-chosen key. A row is 'running' while the first request executes
-- and 'done' with its stored response afterwards; rows expire after 24 h.
CREATE TABLE idempotency_keys (
	api_key_id       TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
	key              TEXT NOT NULL,
	method           TEXT NOT NULL,
	path             TEXT NOT NULL,
	request_hash     TEXT NOT NULL DEFAULT '',
	status           TEXT NOT NULL CHECK (status IN ('running', 'done')),
	response_status  INTEGER NOT NULL DEFAULT 0,
	response_headers TEXT NOT NULL DEFAULT '',
	response_body    BYTEA,
	locked_until     TIMESTAMPTZ NOT NULL,
	created_at       TIMESTAMPTZ NOT NULL,
	expires_at       TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
