-- Webhook endpoints of an account and environment. The signing secret is
-- kept readable because every delivery is signed with it; during a rotation
-- the previous one signs too until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
	id                          TEXT PRIMARY KEY,
	account_id                  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	environment                 TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	url                         TEXT NOT NULL,
	description                 TEXT NOT NULL DEFAULT '',
	events                      TEXT NOT NULL,
	enabled                     BOOLEAN NOT NULL,
	disabled_reason             TEXT NOT NULL DEFAULT '',
	disabled_at                 TIMESTAMPTZ,
	secret                      TEXT NOT NULL,
	previous_secret             TEXT NOT NULL DEFAULT '',
	previous_secret_expires_at  TIMESTAMPTZ,
	failing_since               TIMESTAMPTZ,
	version                     INTEGER NOT NULL DEFAULT 1,
	created_at                  TIMESTAMPTZ NOT NULL,
	updated_at                  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_scope ON webhook_endpoints (account_id, environment, created_at, id);

-- One row per published event that matched at least one endpoint: the body
-- every delivery of it sends, fixed at publication.
CREATE TABLE webhook_events (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL,
	environment  TEXT NOT NULL,
	type         TEXT NOT NULL,
	payload      BYTEA NOT NULL,
	occurred_at  TIMESTAMPTZ NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- One message to one endpoint, with its retry schedule. generation names the
-- one live schedule: a task carrying an older generation does nothing.
CREATE TABLE webhook_deliveries (
	id                    TEXT PRIMARY KEY,
	endpoint_id           TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
	event_id              TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
	event_type            TEXT NOT NULL,
	ordering_key          TEXT NOT NULL DEFAULT '',
	occurred_at           TIMESTAMPTZ NOT NULL,
	status                TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
	attempts              INTEGER NOT NULL DEFAULT 0,
	retries               INTEGER NOT NULL DEFAULT 0,
	deferrals             INTEGER NOT NULL DEFAULT 0,
	generation            INTEGER NOT NULL DEFAULT 1,
	next_attempt_at       TIMESTAMPTZ,
	last_attempt_at       TIMESTAMPTZ,
	last_response_status  INTEGER,
	last_error            TEXT NOT NULL DEFAULT '',
	created_at            TIMESTAMPTZ NOT NULL,
	updated_at            TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
-- Earlier messages of the same subject still waiting for their first attempt
-- (per-endpoint ordering).
CREATE INDEX webhook_deliveries_unsent ON webhook_deliveries (endpoint_id, ordering_key, occurred_at)
	WHERE status = 'PENDING' AND attempts = 0;

-- Every attempt of a delivery: bounded per delivery and pruned by age.
CREATE TABLE webhook_attempts (
	id               TEXT PRIMARY KEY,
	delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
	endpoint_id      TEXT NOT NULL,
	number           INTEGER NOT NULL,
	trigger          TEXT NOT NULL,
	url              TEXT NOT NULL,
	started_at       TIMESTAMPTZ NOT NULL,
	duration_ms      INTEGER NOT NULL,
	response_status  INTEGER,
	response_body    TEXT NOT NULL DEFAULT '',
	error            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, number);
CREATE INDEX webhook_attempts_started ON webhook_attempts (started_at);
