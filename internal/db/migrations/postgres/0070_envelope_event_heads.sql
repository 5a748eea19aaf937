-- The newest event of each envelope's hash chain, written with every append,
-- so that removing the last events of a chain breaks its verification too.
-- Chains of version 2 start from a hash of the envelope id and hash it into
-- every event; those begun before this migration are version 1 (all-zero
-- start, envelope id not hashed) and keep verifying as they were written.
CREATE TABLE envelope_event_heads (
	envelope_id TEXT PRIMARY KEY REFERENCES envelopes(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	hash        TEXT NOT NULL,
	version     INTEGER NOT NULL
);
INSERT INTO envelope_event_heads (envelope_id, seq, hash, version)
SELECT e.envelope_id, e.seq, e.hash, 1 FROM envelope_events e
WHERE e.seq = (SELECT MAX(x.seq) FROM envelope_events x WHERE x.envelope_id = e.envelope_id);
