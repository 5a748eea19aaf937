-- Envelopes and everything that hangs off them. Every row reaches its
-- account and environment through envelopes, whose queries are scoped.
CREATE TABLE envelopes (
	id                      TEXT PRIMARY KEY,
	account_id              TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment             TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	status                  TEXT NOT NULL CHECK (status IN ('DRAFT', 'SENT', 'COMPLETED', 'DECLINED', 'VOIDED', 'EXPIRED')),
	subject                 TEXT NOT NULL,
	message                 TEXT NOT NULL DEFAULT '',
	signing_order           TEXT NOT NULL CHECK (signing_order IN ('PARALLEL', 'SEQUENTIAL')),
	sign_text               TEXT NOT NULL DEFAULT '',
	external_reference      TEXT NOT NULL DEFAULT '',
	metadata                TEXT NOT NULL DEFAULT '{}',
	redirects               TEXT NOT NULL DEFAULT '{}',
	expires_at              DATETIME,
	reminder_interval_hours INTEGER NOT NULL DEFAULT 0,
	url_ttl                 TEXT NOT NULL DEFAULT '',
	url_ttl_seconds         BIGINT NOT NULL DEFAULT 0,
	current_order           INTEGER NOT NULL DEFAULT 0,
	void_reason             TEXT NOT NULL DEFAULT '',
	audit_trail_key         TEXT NOT NULL DEFAULT '',
	package_key             TEXT NOT NULL DEFAULT '',
	version                 INTEGER NOT NULL DEFAULT 1,
	created_at              DATETIME NOT NULL,
	updated_at              DATETIME NOT NULL,
	sent_at                 DATETIME,
	completed_at            DATETIME,
	declined_at             DATETIME,
	voided_at               DATETIME,
	expired_at              DATETIME,
	last_reminder_at        DATETIME
);
CREATE INDEX envelopes_scope_created ON envelopes (account_id, environment, created_at, id);
CREATE INDEX envelopes_sent ON envelopes (expires_at) WHERE status = 'SENT';

-- The documents of an envelope, in order. current_* is the latest signed
-- revision; it only advances in the transaction that records a signature,
-- so a signature is applied exactly once even if a worker dies mid-way.
CREATE TABLE envelope_documents (
	envelope_id       TEXT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
	document_id       TEXT NOT NULL,
	position          INTEGER NOT NULL,
	filename          TEXT NOT NULL,
	title             TEXT NOT NULL DEFAULT '',
	pages             INTEGER NOT NULL,
	original_sha256   TEXT NOT NULL,
	original_size     BIGINT NOT NULL,
	original_blob_key TEXT NOT NULL,
	current_blob_key  TEXT NOT NULL,
	current_sha256    TEXT NOT NULL,
	current_size      BIGINT NOT NULL,
	revision          INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (envelope_id, document_id)
);
CREATE INDEX envelope_documents_document ON envelope_documents (document_id);

CREATE TABLE envelope_recipients (
	id                 TEXT PRIMARY KEY,
	envelope_id        TEXT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
	position           INTEGER NOT NULL,
	email              TEXT NOT NULL,
	name               TEXT NOT NULL,
	role               TEXT NOT NULL CHECK (role IN ('SIGNER', 'APPROVER', 'CC', 'VIEWER')),
	routing_order      INTEGER NOT NULL,
	auth_method        TEXT NOT NULL CHECK (auth_method IN ('NONE', 'EMAIL_OTP', 'ACCESS_CODE')),
	access_code_hash   TEXT NOT NULL DEFAULT '',
	status             TEXT NOT NULL,
	notified_at        DATETIME,
	viewed_at          DATETIME,
	signed_at          DATETIME,
	declined_at        DATETIME,
	decline_reason     TEXT NOT NULL DEFAULT '',
	ip                 TEXT NOT NULL DEFAULT '',
	user_agent         TEXT NOT NULL DEFAULT '',
	signature_type     TEXT NOT NULL DEFAULT '',
	signature_text     TEXT NOT NULL DEFAULT '',
	signature_image    BLOB,
	applied_at         DATETIME,
	certificate_serial TEXT NOT NULL DEFAULT '',
	reminders_sent     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX envelope_recipients_envelope ON envelope_recipients (envelope_id, position);

CREATE TABLE envelope_fields (
	id           TEXT PRIMARY KEY,
	envelope_id  TEXT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
	recipient_id TEXT NOT NULL REFERENCES envelope_recipients(id) ON DELETE CASCADE,
	document_id  TEXT NOT NULL,
	position     INTEGER NOT NULL,
	type         TEXT NOT NULL CHECK (type IN ('SIGNATURE', 'INITIALS', 'DATE', 'TEXT', 'CHECKBOX')),
	page         INTEGER NOT NULL,
	x            REAL NOT NULL,
	y            REAL NOT NULL,
	width        REAL NOT NULL,
	height       REAL NOT NULL,
	required     BOOLEAN NOT NULL,
	value        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX envelope_fields_envelope ON envelope_fields (envelope_id, position);

-- A signer's session behind the signUrl. Only the SHA-256 of the token is
-- stored; the token itself is an HMAC of the session id under the
-- operator's token secret, so it can be shown again without being stored.
CREATE TABLE signing_sessions (
	id              TEXT PRIMARY KEY,
	envelope_id     TEXT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
	recipient_id    TEXT NOT NULL UNIQUE REFERENCES envelope_recipients(id) ON DELETE CASCADE,
	token_hash      TEXT NOT NULL UNIQUE,
	status          TEXT NOT NULL CHECK (status IN ('CREATED', 'NOTIFIED', 'OPENED', 'SIGNED', 'DECLINED', 'EXPIRED')),
	expires_at      DATETIME NOT NULL,
	created_at      DATETIME NOT NULL,
	notified_at     DATETIME,
	opened_at       DATETIME,
	finished_at     DATETIME,
	otp_nonce       TEXT NOT NULL DEFAULT '',
	otp_expires_at  DATETIME,
	otp_attempts    INTEGER NOT NULL DEFAULT 0,
	otp_sent        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX signing_sessions_open ON signing_sessions (expires_at) WHERE status IN ('CREATED', 'NOTIFIED', 'OPENED');

-- The append-only event log, one hash chain per envelope:
-- hash = SHA-256(prev_hash || canonical JSON of the event).
CREATE TABLE envelope_events (
	id              TEXT PRIMARY KEY,
	envelope_id     TEXT NOT NULL REFERENCES envelopes(id) ON DELETE CASCADE,
	seq             INTEGER NOT NULL,
	type            TEXT NOT NULL,
	at              DATETIME NOT NULL,
	actor           TEXT NOT NULL,
	recipient_id    TEXT NOT NULL DEFAULT '',
	ip              TEXT NOT NULL DEFAULT '',
	user_agent      TEXT NOT NULL DEFAULT '',
	document_hashes TEXT NOT NULL DEFAULT '[]',
	details         TEXT NOT NULL DEFAULT '{}',
	prev_hash       TEXT NOT NULL,
	hash            TEXT NOT NULL,
	UNIQUE (envelope_id, seq)
);
