-- Named counters behind numeric ids (RemSig addresses persons, certificates
-- and requests by integer), one row per counter.
CREATE TABLE sequences (
	name   TEXT PRIMARY KEY,
	value  BIGINT NOT NULL
);

-- People of an account and environment who hold long-lived certificates
-- (RemSig's persons, Signex's portal users). email_key is the lower-cased
-- address: one portal login per address across the deployment.
CREATE TABLE persons (
	id             TEXT PRIMARY KEY,
	number         BIGINT NOT NULL,
	account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment    TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	unique_id      TEXT NOT NULL,
	email          TEXT NOT NULL,
	email_key      TEXT NOT NULL UNIQUE,
	name           TEXT NOT NULL,
	national_id    TEXT NOT NULL DEFAULT '',
	password_hash  TEXT NOT NULL DEFAULT '',
	disabled       BOOLEAN NOT NULL DEFAULT FALSE,
	version        INTEGER NOT NULL DEFAULT 1,
	created_at     DATETIME NOT NULL,
	updated_at     DATETIME NOT NULL,
	UNIQUE (account_id, environment, unique_id),
	UNIQUE (account_id, environment, number)
);
CREATE INDEX persons_scope ON persons (account_id, environment, created_at, id);

-- A person's certificates. The private key, when held, is encrypted with a
-- per-key data key (key_ciphertext); the data key is wrapped twice: under
-- the PIN and the key-encryption key (key_pin_wrap), and under the recovery
-- key and the key-encryption key (key_recovery_wrap). See README "Key protection".
CREATE TABLE person_certificates (
	id                  TEXT PRIMARY KEY,
	number              BIGINT NOT NULL,
	account_id          TEXT NOT NULL,
	environment         TEXT NOT NULL,
	person_id           TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	idx                 INTEGER NOT NULL,
	type                TEXT NOT NULL CHECK (type IN ('PERSONAL', 'SEAL', 'SERVER')),
	origin              TEXT NOT NULL CHECK (origin IN ('issued', 'imported', 'linked')),
	platform_issued     BOOLEAN NOT NULL DEFAULT FALSE,
	is_primary          BOOLEAN NOT NULL DEFAULT FALSE,
	disabled            BOOLEAN NOT NULL DEFAULT FALSE,
	revoked_at          DATETIME,
	revocation_reason   INTEGER NOT NULL DEFAULT 0,
	template            TEXT NOT NULL DEFAULT '',
	algorithm           TEXT NOT NULL,
	serial_number       TEXT NOT NULL,
	thumbprint_sha1     TEXT NOT NULL,
	thumbprint_sha256   TEXT NOT NULL,
	subject             TEXT NOT NULL,
	issuer              TEXT NOT NULL,
	not_before          DATETIME NOT NULL,
	not_after           DATETIME NOT NULL,
	der                 BLOB NOT NULL,
	linked_at           DATETIME NOT NULL,
	key_ciphertext      BLOB,
	key_pin_wrap        BLOB,
	key_recovery_wrap   BLOB,
	pin_salt            BLOB,
	pin_params          TEXT NOT NULL DEFAULT '',
	failed_attempts     INTEGER NOT NULL DEFAULT 0,
	locked_at           DATETIME,
	version             INTEGER NOT NULL DEFAULT 1,
	created_at          DATETIME NOT NULL,
	updated_at          DATETIME NOT NULL,
	UNIQUE (person_id, idx),
	UNIQUE (account_id, environment, number),
	UNIQUE (account_id, environment, thumbprint_sha256)
);
CREATE UNIQUE INDEX person_certificates_primary ON person_certificates (person_id) WHERE is_primary;
CREATE INDEX person_certificates_serial ON person_certificates (account_id, environment, serial_number);

-- Challenges a person signs to prove possession of a certificate's key
-- before linking it; single use.
CREATE TABLE person_link_challenges (
	challenge_hash  TEXT PRIMARY KEY,
	person_id       TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
	expires_at      DATETIME NOT NULL,
	created_at      DATETIME NOT NULL
);
CREATE INDEX person_link_challenges_person ON person_link_challenges (person_id, expires_at);

-- A value sealed under each deployment key when the first private key is
-- stored, so a process started with another key refuses to run instead of
-- failing on every use.
CREATE TABLE key_encryption_checks (
	purpose     TEXT PRIMARY KEY CHECK (purpose IN ('use', 'recovery')),
	sealed      BLOB NOT NULL,
	created_at  DATETIME NOT NULL
);
