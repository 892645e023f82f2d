-- Voids and comps (issue 22): who cancelled an order the kitchen had started, or closed one with money
-- still due, when and why. void_kind is 'void' or 'comp' (NULL for every other order); written_off_cents
-- is what the order still owed at that moment.
ALTER TABLE orders ADD COLUMN void_kind TEXT;
ALTER TABLE orders ADD COLUMN voided_by TEXT REFERENCES users (id);
ALTER TABLE orders ADD COLUMN voided_at TEXT;
ALTER TABLE orders ADD COLUMN void_reason TEXT;
ALTER TABLE orders ADD COLUMN written_off_cents BIGINT NOT NULL DEFAULT 0;
-- The report (GET /api/cafe/orders/?voided=true) reads a company's voided orders, newest first.
CREATE INDEX IF NOT EXISTS orders_voided ON orders (company_id, voided_at);
-- Events stored before this migration carry orders without `void`: the documents make it optional (absent
-- means null), so a resume across the upgrade replays them instead of asking for a resync.
