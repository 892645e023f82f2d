"""The versioned schema: `migrations/NNNN_name.sql`, applied in order, each once, in its own transaction.

A small runner of our own rather than Alembic: the schema is raw SQL that runs unchanged on SQLite and
PostgreSQL, so all a migration needs is "run these statements, then record the version", under a lock.
Alembic would add SQLAlchemy's engine and a Python file per step to say the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.values import normalize_database_url, utc_now
from storage.sql import Database, Statements

MIGRATIONS_PATH = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works: it only keeps two processes from migrating at the same moment.
MIGRATION_LOCK_KEY = 4_211_705
# Migrations up to this one predate schema_migrations: a database made before it may hold any part of them,
# so they are written to be idempotent (IF NOT EXISTS; an ADD COLUMN runs only where the column is missing).
LAST_UNVERSIONED = 3

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""
SELECT_VERSIONS = "SELECT version FROM schema_migrations ORDER BY version"
INSERT_VERSION = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, :name, :applied_at)"
SQLITE_HAS_MIGRATIONS_TABLE = "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
POSTGRES_HAS_MIGRATIONS_TABLE = """
SELECT 1 AS found FROM information_schema.tables
WHERE table_schema = current_schema() AND table_name = 'schema_migrations'
"""
SQLITE_HAS_COLUMN = "SELECT 1 AS found FROM pragma_table_info(:table) WHERE name = :column"
POSTGRES_HAS_COLUMN = """
SELECT 1 AS found FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = :table AND column_name = :column
"""


class SchemaError(Exception):
    """The database cannot be brought to this code's schema: the service must not start."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class MigrationReport:
    before: int
    after: int
    applied: tuple[str, ...]


def load_migrations(folder: Path = MIGRATIONS_PATH) -> list[Migration]:
    """Every migration file, in order; numbered 1, 2, 3, ... without a gap."""
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise SchemaError(f"{path.name}: a migration is named NNNN_lowercase_words.sql")
        migrations.append(Migration(int(match[1]), path.stem, tuple(_statements(path.read_text()))))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise SchemaError(f"migration {expected:04d} is missing before {migration.name}")
    return migrations


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


async def migrate(database: Database, migrations: list[Migration] | None = None) -> MigrationReport:
    """Bring the database to the newest migration; idempotent, and safe to run from several processes at once."""
    migrations = load_migrations() if migrations is None else migrations
    newest = migrations[-1].version if migrations else 0
    done = await _applied(database)
    _refuse_newer(done, newest)
    before = max(done, default=0)
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        if await _apply(database, migration, newest):
            applied.append(migration.name)
    return MigrationReport(before, max(await _applied(database), default=0), tuple(applied))


async def _applied(database: Database) -> set[int]:
    """The versions recorded; none for a database made before versions were (or a new one)."""
    has_table = SQLITE_HAS_MIGRATIONS_TABLE if database.is_sqlite else POSTGRES_HAS_MIGRATIONS_TABLE
    if await database.fetch_one(has_table) is None:
        return set()
    return {row["version"] for row in await database.fetch_all(SELECT_VERSIONS)}


def _refuse_newer(done: set[int], newest: int) -> None:
    if done and max(done) > newest:
        raise SchemaError(
            f"the database's schema is at version {max(done)}, newer than this code's {newest}: "
            "run the release that made it (or newer); this one would not understand its data"
        )


async def _apply(database: Database, migration: Migration, newest: int) -> bool:
    """One migration in one transaction, unless another process applied it while this one waited for the lock."""
    async with database.transaction() as db:
        if not database.is_sqlite:
            # SQLite's BEGIN IMMEDIATE already holds its only write lock.
            await db.execute("SELECT pg_advisory_xact_lock(:key)", {"key": MIGRATION_LOCK_KEY})
        await db.execute(CREATE_MIGRATIONS_TABLE)
        done = {row["version"] for row in await db.fetch_all(SELECT_VERSIONS)}
        _refuse_newer(done, newest)
        if migration.version in done:
            return False
        try:
            for statement in migration.statements:
                await _run(db, database.is_sqlite, migration, statement)
        except Exception as error:
            raise SchemaError(
                f"migration {migration.name} failed, nothing of it was applied "
                f"(the database stays at version {max(done, default=0)}): {error}"
            ) from error
        await db.execute(
            INSERT_VERSION, {"version": migration.version, "name": migration.name, "applied_at": utc_now()}
        )
    return True


async def _run(db: Statements, is_sqlite: bool, migration: Migration, statement: str) -> None:
    added = _ADD_COLUMN.match(statement)
    if added and migration.version <= LAST_UNVERSIONED:
        has_column = SQLITE_HAS_COLUMN if is_sqlite else POSTGRES_HAS_COLUMN
        if await db.fetch_one(has_column, {"table": added[1].lower(), "column": added[2].lower()}) is not None:
            return
    await db.execute(statement)


async def open_database(url: str) -> Database:
    """Connect, and bring the schema to this code's version; refuses (SchemaError) a database it cannot."""
    database = Database(normalize_database_url(url))
    await database.connect()
    try:
        await migrate(database)
    except BaseException:
        await database.disconnect()
        raise
    return database
