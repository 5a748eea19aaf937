-- One-time links that let a person set a new password (PIN) for a
-- certificate without the old one (RemSig's reset-password). Only the
-- SHA-256 of the link's token is stored.
CREATE TABLE pin_resets (
	token_hash        TEXT PRIMARY KEY,
	account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment       TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	certificate_id    TEXT NOT NULL REFERENCES person_certificates(id) ON DELETE CASCADE,
	redirect_success  TEXT NOT NULL DEFAULT '',
	redirect_cancel   TEXT NOT NULL DEFAULT '',
	redirect_error    TEXT NOT NULL DEFAULT '',
	redirect_expired  TEXT NOT NULL DEFAULT '',
	expires_at        DATETIME NOT NULL,
	used_at           DATETIME,
	created_at        DATETIME NOT NULL
);
CREATE INDEX pin_resets_certificate ON pin_resets (certificate_id);
