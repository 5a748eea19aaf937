-- Page geometry and signature form fields read at upload, so envelope
-- creation can check placements and field names without re-reading the PDF;
-- and the envelope fields placed by a named form field or an anchor text.
ALTER TABLE documents ADD COLUMN page_boxes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE documents ADD COLUMN signature_fields TEXT NOT NULL DEFAULT '[]';
ALTER TABLE envelope_fields ADD COLUMN field_name TEXT NOT NULL DEFAULT '';
ALTER TABLE envelope_fields ADD COLUMN anchor_string TEXT NOT NULL DEFAULT '';
