-- Recipients who authenticate through an operator-configured OpenID
-- Connect provider (auth.method OIDC): the provider's name, the national
-- identification number its ID token must carry (empty: not checked), and
-- the identity the provider vouched for once the recipient logged in
-- (JSON; it goes into the audit trail and the signer's certificate).
ALTER TABLE envelope_recipients DROP CONSTRAINT envelope_recipients_auth_method_check;
ALTER TABLE envelope_recipients ADD CONSTRAINT envelope_recipients_auth_method_check
	CHECK (auth_method IN ('NONE', 'EMAIL_OTP', 'ACCESS_CODE', 'OIDC'));
ALTER TABLE envelope_recipients ADD COLUMN auth_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_recipients ADD COLUMN national_id TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_recipients ADD COLUMN identity TEXT;
ALTER TABLE envelope_recipients ADD COLUMN identified_at TIMESTAMPTZ;
-- A login in progress: the hash of the OAuth state (the callback finds the
-- session by it), the hash of the browser-binding cookie set when the
-- login started (the callback and the signature need the same browser),
-- and when it started. The nonce and the PKCE verifier are derived from
-- the token key and the state, so no secret of the flow is stored.
ALTER TABLE signing_sessions ADD COLUMN oidc_state_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_sessions ADD COLUMN oidc_binding_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_sessions ADD COLUMN oidc_started_at TIMESTAMPTZ;
CREATE INDEX signing_sessions_oidc_state ON signing_sessions (oidc_state_hash);
