-- Browser sessions (issue 18): a rotated refresh token remembers its successor and when it was rotated,
-- so presenting it again within REFRESH_REUSE_GRACE answers the same new pair instead of revoking.
ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
ALTER TABLE refresh_tokens ADD COLUMN rotated_at INTEGER;

-- How an order reaches its guest: dine_in, pickup or delivery. Every insert names it; '' marks the rows
-- written before the column, which the backfill gives the default they would get today.
ALTER TABLE orders ADD COLUMN type TEXT NOT NULL DEFAULT '';
UPDATE orders SET type = CASE WHEN table_id IS NULL THEN 'pickup' ELSE 'dine_in' END WHERE type = '';
