-- A signing link can be replaced (rotate-link, or a reminder that reopens an
-- expired link): the token is derived from the session id and its
-- generation, so a new generation is a new token and the old one no longer
-- matches token_hash. A wrong access code locks the link for a while, longer
-- after each lockout, instead of for ever; the sender can lift the lock.
ALTER TABLE signing_sessions ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE signing_sessions ADD COLUMN auth_locked_until TIMESTAMPTZ;
ALTER TABLE signing_sessions ADD COLUMN auth_lockouts INTEGER NOT NULL DEFAULT 0;
