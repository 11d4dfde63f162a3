"""
The database schema, as an ordered list of migrations.

A database records which migrations it has had in ``schema_migrations``; on
open, the missing ones are applied in order, each in its own transaction
together with its ``schema_migrations`` row, so a failure leaves the database
exactly at the previous version.  A database with a version this code does
not know (written by a newer blissnode) is refused.

Adding a table (contacts, offline messages, ...): append a
:class:`Migration` with the next version number to :data:`MIGRATIONS`.  Never
edit a migration that has been released: databases in the field already have
it.  Rows of other users' data reference ``accounts(id)`` with
``ON DELETE CASCADE`` so that deleting an account deletes what it owns.
SQLite DDL is transactional; a step may also be a callable taking the cursor,
for changes that need data copying (SQLite's "12-step" table rebuild).
"""

import time

import attr

from blissnode.store.errors import SchemaTooNew, StoreError


@attr.s(frozen=True, slots=True)
class Migration:
    """One schema step: a version number, a name, and SQL statements (or callables)."""

    version = attr.ib()
    name = attr.ib()
    steps = attr.ib(converter=tuple)


_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  INTEGER NOT NULL
)"""

#: Every migration, in order.  Version numbers are 1, 2, 3, ... without gaps.
MIGRATIONS = (
    Migration(1, "accounts", [
        # id: a stable number other tables reference (AUTOINCREMENT: a deleted
        # account's number is never given to a new one).  name: lower case.
        # Times are Unix seconds (UTC).  The credential is only ever stored as
        # scrypt(cred16, salt) with its parameters (blissnode.store.hashing).
        """
        CREATE TABLE accounts (
            id                     INTEGER PRIMARY KEY AUTOINCREMENT,
            name                   TEXT NOT NULL UNIQUE
                                   CHECK (name = lower(name) AND length(name) BETWEEN 6 AND 32),
            email                  TEXT,
            full_name              TEXT,
            created_at             INTEGER NOT NULL,
            kdf                    TEXT NOT NULL CHECK (kdf = 'scrypt'),
            kdf_n                  INTEGER NOT NULL,
            kdf_r                  INTEGER NOT NULL,
            kdf_p                  INTEGER NOT NULL,
            salt                   BLOB NOT NULL CHECK (length(salt) >= 16),
            credential_hash        BLOB NOT NULL CHECK (length(credential_hash) >= 32),
            credential_changed_at  INTEGER NOT NULL
        )
        """,
    ]),
)


def check_migrations(migrations):
    """Raise :class:`StoreError` unless versions run 1, 2, 3, ... in order."""
    for expected, migration in enumerate(migrations, 1):
        if migration.version != expected:
            raise StoreError("migration list out of order: %r at position %d"
                             % (migration.version, expected))


def schema_version(cursor):
    """The highest migration applied to the database (0 for a new one)."""
    row = cursor.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = cursor.execute(
        "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return version


def migrate(database, migrations=MIGRATIONS, clock=time.time):
    """Bring ``database`` (a :class:`~blissnode.store.sqlite.SQLiteDatabase`) up to date.

    Each pending migration runs in its own write transaction, which also
    re-reads the version, so two processes opening a new database at once
    apply every migration exactly once.  Returns the versions applied.
    """
    check_migrations(migrations)
    latest = len(migrations)
    applied = []
    with database.transaction() as cursor:
        cursor.execute(_SCHEMA_MIGRATIONS)
        current = schema_version(cursor)
    if current > latest:
        raise SchemaTooNew(
            "the database is at schema version %d but this blissnode only knows "
            "versions up to %d; use a newer blissnode" % (current, latest))
    for migration in migrations[current:]:
        with database.transaction() as cursor:
            if schema_version(cursor) >= migration.version:
                continue  # another process was quicker
            for step in migration.steps:
                if callable(step):
                    step(cursor)
                else:
                    cursor.execute(step)
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(clock())))
        applied.append(migration.version)
    return applied
