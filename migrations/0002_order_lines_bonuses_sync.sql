-- The release of 2026-11-23 (f728d68): item lines and order milestones, the bonus program, POS sync.
-- That release put its new columns inside CREATE TABLE, which never reached an existing table: a
-- database of the first release kept running without them, and every order endpoint answered 500.

CREATE INDEX IF NOT EXISTS table_sessions_by_table ON table_sessions (table_id, closed_at);

ALTER TABLE orders ADD COLUMN confirmed_at TEXT;
ALTER TABLE orders ADD COLUMN ready_at TEXT;
ALTER TABLE orders ADD COLUMN delivered_at TEXT;

-- line numbers an order's items 1, 2, ... in the order they were added; the first release had none,
-- so its items are numbered by when they were created (the id breaks ties).
ALTER TABLE order_items ADD COLUMN line INTEGER NOT NULL DEFAULT 0;

-- The first release's events carry orders without the fields above: a client resuming from one of them gets
-- resync_required (and refetches over REST) instead of frames in an older shape. Its items are the ones
-- without a line yet (a later release's database has none of those, unless it has no items at all).
UPDATE event_counters SET pruned_through = last_position
WHERE EXISTS (SELECT 1 FROM order_items WHERE line = 0) OR NOT EXISTS (SELECT 1 FROM order_items);

UPDATE order_items SET line = (
    SELECT COUNT(*) FROM order_items AS earlier
    WHERE earlier.order_id = order_items.order_id
      AND (earlier.created_at < order_items.created_at
           OR (earlier.created_at = order_items.created_at AND earlier.id <= order_items.id))
) WHERE line = 0;

CREATE TABLE IF NOT EXISTS bonus_accounts (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    company_id TEXT NOT NULL REFERENCES companies (id),
    balance_cents BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS bonus_operations (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    type TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    balance_after_cents BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS bonus_operations_by_user ON bonus_operations (user_id, created_at);

-- POS sync: a job per new order or status change, written in the change's transaction.
CREATE TABLE IF NOT EXISTS sync_jobs (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS sync_jobs_due ON sync_jobs (next_attempt_at) WHERE status = 'pending';
