-- The schema of cafe_rt's first release (ed11cf2, 2026-11-23), as it shipped.
-- Ids are UUID text, money is integer cents, timestamps are ISO 8601 UTC text (they sort as text).
-- Migrations 0001-0003 predate the schema_migrations table: a database made before it may hold any
-- part of them (each release applied its schema.sql with IF NOT EXISTS), so their statements are
-- idempotent, and an ADD COLUMN runs only where the column is missing.

CREATE TABLE IF NOT EXISTS companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS branches (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    city_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    company_id TEXT REFERENCES companies (id),
    branch_id TEXT REFERENCES branches (id),
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS user_cities (
    user_id TEXT NOT NULL REFERENCES users (id),
    city_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, city_id)
);

CREATE TABLE IF NOT EXISTS zones (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    title TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS cafe_tables (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    zone_id TEXT REFERENCES zones (id),
    number INTEGER NOT NULL,
    places INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (branch_id, number)
);

CREATE TABLE IF NOT EXISTS table_sessions (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    table_id TEXT NOT NULL REFERENCES cafe_tables (id),
    session_code TEXT NOT NULL,
    guests_count INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT
);

CREATE TABLE IF NOT EXISTS menu_items (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT REFERENCES branches (id),
    title TEXT NOT NULL,
    price_cents BIGINT NOT NULL,
    is_active INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS clients (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    number INTEGER NOT NULL,
    table_id TEXT REFERENCES cafe_tables (id),
    client_id TEXT REFERENCES clients (id),
    waiter_id TEXT REFERENCES users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    guests INTEGER NOT NULL,
    status TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    paid_cents BIGINT NOT NULL,
    bonuses_used_cents BIGINT NOT NULL,
    bonuses_earned_cents BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    UNIQUE (branch_id, number)
);

CREATE INDEX IF NOT EXISTS orders_by_table ON orders (table_id, status);
CREATE INDEX IF NOT EXISTS orders_by_branch ON orders (company_id, branch_id, created_at);

CREATE TABLE IF NOT EXISTS order_items (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    menu_item_id TEXT NOT NULL REFERENCES menu_items (id),
    quantity INTEGER NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS order_items_by_order ON order_items (order_id);

CREATE TABLE IF NOT EXISTS kitchen_tasks (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    branch_id TEXT NOT NULL REFERENCES branches (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    order_item_id TEXT NOT NULL REFERENCES order_items (id),
    menu_item_id TEXT NOT NULL REFERENCES menu_items (id),
    unit_index INTEGER NOT NULL,
    status TEXT NOT NULL,
    cook_id TEXT REFERENCES users (id),
    created_at TEXT NOT NULL,
    started_at TEXT,
    ready_at TEXT
);

CREATE INDEX IF NOT EXISTS kitchen_tasks_by_branch ON kitchen_tasks (company_id, branch_id, status);
CREATE INDEX IF NOT EXISTS kitchen_tasks_by_order ON kitchen_tasks (order_id);

CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    method TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    recipient_id TEXT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    acknowledged_at TEXT
);

CREATE INDEX IF NOT EXISTS notifications_by_recipient ON notifications (recipient_id, created_at);

-- The outbox. position is gapless per company and taken under the event_counters row lock,
-- so positions are in commit order; channels is a space-separated list.
CREATE TABLE IF NOT EXISTS event_counters (
    company_id TEXT PRIMARY KEY REFERENCES companies (id),
    last_position BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    company_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    type TEXT NOT NULL,
    channels TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    published INTEGER NOT NULL,
    PRIMARY KEY (company_id, position)
);

CREATE INDEX IF NOT EXISTS events_unpublished ON events (created_at) WHERE published = 0;
