-- Kitchen stations, due times, late alarms, served portions and screens online (issue 19).
-- Every menu item and portion that exists already is the hot kitchen's (the column's default), and has
-- no preparation time, so no due time: nothing old is announced late after the upgrade.
ALTER TABLE menu_items ADD COLUMN station TEXT NOT NULL DEFAULT 'kitchen';
ALTER TABLE menu_items ADD COLUMN prep_minutes INTEGER;
ALTER TABLE kitchen_tasks ADD COLUMN station TEXT NOT NULL DEFAULT 'kitchen';
ALTER TABLE kitchen_tasks ADD COLUMN due_at TEXT;
ALTER TABLE kitchen_tasks ADD COLUMN served_at TEXT;
ALTER TABLE kitchen_tasks ADD COLUMN late_announced_at TEXT;

-- The late watch reads portions still open past their due time and not yet announced.
CREATE INDEX IF NOT EXISTS kitchen_tasks_due ON kitchen_tasks (due_at)
    WHERE late_announced_at IS NULL AND status IN ('pending', 'in_progress');
CREATE INDEX IF NOT EXISTS kitchen_tasks_by_station ON kitchen_tasks (company_id, branch_id, station, status);

-- Screens online: each process writes its own open feed sockets here every few seconds (one row per
-- branch, feed, station and user) and beats its heartbeat; the rows of a process whose heartbeat is old
-- are ignored, then removed. station is '' for a feed without one.
CREATE TABLE IF NOT EXISTS screen_processes (
    process_id TEXT PRIMARY KEY,
    heartbeat_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS screen_sockets (
    process_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    feed TEXT NOT NULL,
    station TEXT NOT NULL,
    user_id TEXT NOT NULL,
    sockets INTEGER NOT NULL,
    since TEXT NOT NULL,
    PRIMARY KEY (process_id, company_id, branch_id, feed, station, user_id)
);

CREATE INDEX IF NOT EXISTS screen_sockets_by_branch ON screen_sockets (company_id, branch_id);

-- Whether a kitchen station has a screen, as last announced: offline only after SCREEN_GRACE without
-- one (empty_since), changed by a conditional UPDATE so one process announces each change.
CREATE TABLE IF NOT EXISTS kitchen_screens (
    company_id TEXT NOT NULL,
    branch_id TEXT NOT NULL,
    station TEXT NOT NULL,
    online INTEGER NOT NULL,
    empty_since TEXT,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (company_id, branch_id, station)
);

-- Every kitchen task an event carries now has station, due_at, served_at and late_at, and every menu item
-- station and prep_minutes: events written before this migration carry the older shape, so a resume from
-- one of them gets resync_required (and refetches) instead of a replay.
UPDATE event_counters SET pruned_through = last_position;
