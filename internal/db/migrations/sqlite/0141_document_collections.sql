-- Signicat's document collections: an ordered group of an account's
-- documents that are signed together and packaged (package_to, comma-
-- separated PackageTypes) when every signing session of it is signed.
CREATE TABLE document_collections (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment  TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	package_to   TEXT NOT NULL DEFAULT '',
	created_at   DATETIME NOT NULL
);
CREATE INDEX document_collections_account ON document_collections (account_id, environment, created_at);

CREATE TABLE document_collection_documents (
	collection_id  TEXT NOT NULL REFERENCES document_collections(id) ON DELETE CASCADE,
	position       INTEGER NOT NULL,
	document_id    TEXT NOT NULL,
	PRIMARY KEY (collection_id, position),
	UNIQUE (collection_id, document_id)
);
CREATE INDEX document_collection_documents_document ON document_collection_documents (document_id);
