-- Certificates issued by the platform PKI, for the OCSP responder and CRLs.
CREATE TABLE pki_certificates (
	serial      TEXT PRIMARY KEY,
	subject     TEXT NOT NULL,
	not_after   TIMESTAMPTZ NOT NULL,
	issued_at   TIMESTAMPTZ NOT NULL,
	revoked_at  TIMESTAMPTZ,
	reason      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pki_certificates_revoked ON pki_certificates (not_after) WHERE revoked_at IS NOT NULL;
