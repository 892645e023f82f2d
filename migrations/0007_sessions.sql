-- Browser sessions (issue 18): a rotated refresh token remembers its successor and the second it was issued,
-- so presenting it again within REFRESH_REUSE_GRACE answers the same new pair instead of revoking.
ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
ALTER TABLE refresh_tokens ADD COLUMN rotated_at INTEGER;

-- How an order reaches its guests: dine_in, pickup or delivery (every insert names it). The orders written
-- before it get what they would get today: dine_in at a table, else pickup.
ALTER TABLE orders ADD COLUMN type TEXT NOT NULL DEFAULT 'pickup';
UPDATE orders SET type = 'dine_in' WHERE table_id IS NOT NULL;
