-- Secrets the platform generates for itself when the operator configures
-- none, shared by every instance (first writer wins).
CREATE TABLE platform_secrets (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
