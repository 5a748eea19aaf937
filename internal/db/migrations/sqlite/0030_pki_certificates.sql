-- Certificates issued by the platform PKI, for the OCSP responder and CRLs.
CREATE TABLE pki_certificates (
	serial      TEXT PRIMARY KEY,
	subject     TEXT NOT NULL,
	not_after   DATETIME NOT NULL,
	issued_at   DATETIME NOT NULL,
	revoked_at  DATETIME,
	reason      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pki_certificates_revoked ON pki_certificates (not_after) WHERE revoked_at IS NOT NULL;
