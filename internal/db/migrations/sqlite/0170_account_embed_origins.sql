-- Origins allowed to frame an account's signing pages (embedded signing):
-- a JSON array of "scheme://host[:port]"; empty means the page cannot be
-- framed. version backs the account's ETag / If-Match.
ALTER TABLE accounts ADD COLUMN embed_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
