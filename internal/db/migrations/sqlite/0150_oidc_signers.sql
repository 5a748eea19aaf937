-- Recipients who authenticate through an operator-configured OpenID
-- Connect provider (auth.method OIDC): the provider's name, the national
-- identification number its ID token must carry (empty: not checked), and
-- the identity the provider vouched for once the recipient logged in
-- (JSON; it goes into the audit trail and the signer's certificate).
ALTER TABLE envelope_recipients ADD COLUMN auth_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_recipients ADD COLUMN national_id TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_recipients ADD COLUMN identity TEXT;
ALTER TABLE envelope_recipients ADD COLUMN identified_at DATETIME;
-- A login in progress: the hash of the OAuth state (the callback finds the
-- session by it), the hash of the browser-binding cookie set when the
-- login started (the callback and the signature need the same browser),
-- and when it started. The nonce and the PKCE verifier are derived from
-- the token key and the state, so no secret of the flow is stored.
ALTER TABLE signing_sessions ADD COLUMN oidc_state_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_sessions ADD COLUMN oidc_binding_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_sessions ADD COLUMN oidc_started_at DATETIME;

-- auth_method admits OIDC. SQLite cannot change a CHECK constraint in
-- place, and rebuilding the table would cascade to its children (foreign
-- keys are on and migrations run in a transaction). Widening the CHECK's
-- list is the kind of change SQLite's documentation allows through
-- writable_schema (ALTER TABLE, "Making Other Kinds Of Table Schema
-- Changes"): edit the stored CREATE TABLE text, then set the schema
-- version, which makes every connection, this one included, reload the
-- schema (the value only has to differ from the current one; the CREATE
-- INDEX below moves it on again).
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''ACCESS_CODE''))', '''ACCESS_CODE'', ''OIDC''))')
WHERE type = 'table' AND name = 'envelope_recipients';
PRAGMA writable_schema = OFF;
PRAGMA schema_version = 150150;
CREATE INDEX signing_sessions_oidc_state ON signing_sessions (oidc_state_hash);
