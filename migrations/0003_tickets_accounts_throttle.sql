-- The release of 2026-11-30 (cbc31d8): socket tickets, the account lifecycle, login throttling, and two
-- indexes for the write path.

-- The branch's next order number is MAX(number) + 1, taken in every order's INSERT.
CREATE INDEX IF NOT EXISTS orders_by_number ON orders (branch_id, number);

-- The relay's prune looks for old events only.
CREATE INDEX IF NOT EXISTS events_by_time ON events (created_at);

-- Single-use socket tickets (POST /api/auth/ws-ticket): the claims of the access token that asked for
-- one, under the ticket's SHA-256, so every process can redeem it and a database reader cannot.
CREATE TABLE IF NOT EXISTS ws_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    claims TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS ws_tickets_by_expiry ON ws_tickets (expires_at);

-- Account lifecycle. token_version is carried in every token and compared on each REST request and
-- socket connect; raising it revokes every token of the user at once.
ALTER TABLE users ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

-- Refresh tokens by their jti: each is used once (used_at), and a second use revokes the user's tokens.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE INDEX IF NOT EXISTS refresh_tokens_by_user ON refresh_tokens (user_id, expires_at);

-- Failed logins per key ("account:<sha256 of the email>" or "address:<client address>"), shared by
-- every process: `failures` since `window_start`, and a lock until `locked_until` once over the limit.
CREATE TABLE IF NOT EXISTS login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    locked_until TEXT
);

CREATE INDEX IF NOT EXISTS login_throttle_window ON login_throttle (window_start);
