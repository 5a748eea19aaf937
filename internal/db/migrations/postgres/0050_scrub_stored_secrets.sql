-- Secrets at rest. Idempotency-Key records of requests whose response carried
-- a secret (API key creation, webhook creation and secret rotation) held that
-- secret for 24 hours; they are dropped (a retry with such a key now runs
-- afresh). Webhook event payloads held the recipients' live signUrl (a
-- signing credential) for 30 days; the field is removed from each stored body.
DELETE FROM idempotency_keys
WHERE path = '/api/v1/keys' OR path = '/api/v1/webhooks' OR path LIKE '/api/v1/webhooks/%/rotate-secret';

UPDATE webhook_events
SET payload = convert_to(
	regexp_replace(
		regexp_replace(convert_from(payload, 'UTF8'), '"signUrl":"[^"]*",', '', 'g'),
		',"signUrl":"[^"]*"', '', 'g'),
	'UTF8')
WHERE position('"signUrl"' IN convert_from(payload, 'UTF8')) > 0;
