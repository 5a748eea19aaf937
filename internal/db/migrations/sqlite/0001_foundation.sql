CREATE TABLE accounts (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	email       TEXT NOT NULL DEFAULT '',
	created_at  DATETIME NOT NULL
);

CREATE TABLE api_keys (
	id            TEXT PRIMARY KEY,
	account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name          TEXT NOT NULL DEFAULT '',
	environment   TEXT NOT NULL CHECK (environment IN ('test', 'live')),
	prefix        TEXT NOT NULL,
	secret_hash   TEXT NOT NULL UNIQUE,
	created_at    DATETIME NOT NULL,
	last_used_at  DATETIME,
	revoked_at    DATETIME
);
CREATE INDEX api_keys_account ON api_keys (account_id, environment);

-- The transactional outbox: a row per task, written in the same transaction
-- as the state change that implies it, relayed to Asynq by the dispatcher and
-- kept until its handler has finished.
CREATE TABLE outbox_tasks (
	id              TEXT PRIMARY KEY,
	type            TEXT NOT NULL,
	queue           TEXT NOT NULL,
	payload         BLOB NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'enqueued', 'running', 'done', 'failed')),
	max_retry       INTEGER NOT NULL,
	timeout_seconds INTEGER NOT NULL,
	run_at          DATETIME NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	relays          INTEGER NOT NULL DEFAULT 0,
	relayed_at      DATETIME,
	claimed_until   DATETIME,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      DATETIME NOT NULL,
	updated_at      DATETIME NOT NULL,
	finished_at     DATETIME
);
CREATE INDEX outbox_tasks_open ON outbox_tasks (run_at) WHERE status IN ('pending', 'enqueued', 'running');
CREATE INDEX outbox_tasks_finished ON outbox_tasks (finished_at) WHERE status IN ('done', 'failed');
