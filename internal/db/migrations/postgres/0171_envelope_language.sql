-- The language the envelope speaks to its recipients (signing page,
-- e-mails), and a recipient's own locale, which wins over it; both BCP 47
-- tags, empty for "ask the browser" (Accept-Language).
ALTER TABLE envelopes ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_recipients ADD COLUMN locale TEXT NOT NULL DEFAULT '';
