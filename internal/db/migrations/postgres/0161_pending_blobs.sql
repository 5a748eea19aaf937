-- Blobs written ahead of the transaction that makes them current (document
-- revisions, audit trails, packages). The row commits before the blob is
-- written and is deleted in the committing transaction; a row left behind
-- by a crash in between names an orphan, which the worker's sweep deletes
-- after a grace period.
CREATE TABLE pending_blobs (
	blob_key    TEXT PRIMARY KEY,
	envelope_id TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_blobs_created ON pending_blobs (created_at);
