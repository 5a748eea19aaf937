-- RemSig signing batches: tasks to sign with one person's certificate,
-- authorised by one PIN entry. The hash is the batch's public name (in the
-- PIN page's URL); grant is the PIN entry's authorisation, sealed under the
-- key-encryption key, kept only while the batch is being signed.
CREATE TABLE signing_batches (
	hash              TEXT PRIMARY KEY,
	account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment       TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	person_id         TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	certificate_id    TEXT NOT NULL REFERENCES person_certificates(id) ON DELETE CASCADE,
	state             TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'PROCESSING', 'PARTIALLY_FINISHED', 'FINISHED')),
	redirect_success  TEXT NOT NULL DEFAULT '',
	redirect_cancel   TEXT NOT NULL DEFAULT '',
	redirect_error    TEXT NOT NULL DEFAULT '',
	tasks_count       INTEGER NOT NULL DEFAULT 0,
	tasks_signed      INTEGER NOT NULL DEFAULT 0,
	tasks_failed      INTEGER NOT NULL DEFAULT 0,
	grant_sealed      BLOB,
	grant_expires_at  DATETIME,
	created_at        DATETIME NOT NULL,
	updated_at        DATETIME NOT NULL
);
CREATE INDEX signing_batches_scope ON signing_batches (account_id, environment, created_at, hash);

-- One thing to sign in a batch: a PDF (PAdES), data (PKCS #7) or data
-- signed raw (PKCS #1). Input and output bytes live in blob storage.
CREATE TABLE signing_tasks (
	id            TEXT PRIMARY KEY,
	batch_hash    TEXT NOT NULL REFERENCES signing_batches(hash) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	kind          TEXT NOT NULL CHECK (kind IN ('PDF', 'PKCS7', 'PKCS1')),
	name          TEXT NOT NULL,
	display_name  TEXT NOT NULL DEFAULT '',
	state         TEXT NOT NULL CHECK (state IN ('NOT_READY', 'UNSIGNED', 'SIGNED', 'ERROR')),
	options       TEXT NOT NULL DEFAULT '{}',
	input_key     TEXT NOT NULL DEFAULT '',
	input_size    BIGINT NOT NULL DEFAULT 0,
	input_sha256  TEXT NOT NULL DEFAULT '',
	output_key    TEXT NOT NULL DEFAULT '',
	output_size   BIGINT NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	created_at    DATETIME NOT NULL,
	updated_at    DATETIME NOT NULL,
	UNIQUE (batch_hash, seq)
);
