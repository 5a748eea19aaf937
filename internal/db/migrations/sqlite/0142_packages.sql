-- Packages built from signed documents (Signicat's packageTo), one per
-- owner (a document collection or a signing session) and type. The row is
-- written with the task that builds it; document_id is the built package,
-- a stored document, once status is READY.
CREATE TABLE packages (
	owner_id      TEXT NOT NULL,
	package_type  TEXT NOT NULL,
	account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment   TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	title         TEXT NOT NULL DEFAULT '',
	document_ids  TEXT NOT NULL,
	status        TEXT NOT NULL CHECK (status IN ('PENDING', 'READY', 'FAILED')),
	document_id   TEXT NOT NULL DEFAULT '',
	last_error    TEXT NOT NULL DEFAULT '',
	created_at    DATETIME NOT NULL,
	updated_at    DATETIME NOT NULL,
	PRIMARY KEY (owner_id, package_type)
);
