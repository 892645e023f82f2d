-- Idempotency-Key answers (DESIGN.md, "Safe to retry"): one row per (user, method, path, key).
-- The first request inserts the row with status NULL (its claim: a retry meanwhile is 409); its answer
-- (status and JSON body) is written in the same transaction as its change. Rows older than
-- IDEMPOTENCY_TTL are pruned by the relay loop.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    claim TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, method, path, idempotency_key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);
