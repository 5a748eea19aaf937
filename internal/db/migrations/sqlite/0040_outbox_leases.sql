-- Short, renewed claims. claim_token names the worker run holding a running
-- task, so only it renews or releases its claim; takeovers counts the claims
-- the dispatcher took over from a run that stopped renewing (a dead
-- worker), and names the Asynq task it relays then (id#takeovers), since
-- the dead run's task may still sit in Redis under the plain id.
ALTER TABLE outbox_tasks ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox_tasks ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;
