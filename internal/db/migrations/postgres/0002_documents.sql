-- Uploaded PDFs. The bytes live in blob storage under blob_key; every query
-- is scoped by account and environment.
CREATE TABLE documents (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment  TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	filename     TEXT NOT NULL,
	title        TEXT NOT NULL DEFAULT '',
	description  TEXT NOT NULL DEFAULT '',
	mime_type    TEXT NOT NULL,
	size         BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	pages        INTEGER NOT NULL DEFAULT 0,
	signable     BOOLEAN NOT NULL,
	validation   TEXT NOT NULL,
	blob_key     TEXT NOT NULL,
	version      INTEGER NOT NULL DEFAULT 1,
	created_at   TIMESTAMPTZ NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX documents_scope_created ON documents (account_id, environment, created_at, id);
