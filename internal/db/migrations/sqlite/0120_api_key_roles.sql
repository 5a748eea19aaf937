-- RemSig's roles on API keys (USER, SIGNER, MANAGER), comma-separated; an
-- empty list grants all three, so keys made before roles existed keep
-- working everywhere.
ALTER TABLE api_keys ADD COLUMN roles TEXT NOT NULL DEFAULT '';
