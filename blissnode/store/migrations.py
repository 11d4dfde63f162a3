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
The same list and the same runner serve both engines (SQLite and
PostgreSQL, whose DDL is transactional too): a step is SQL in SQLite's
spelling, which :meth:`blissnode.store.dialects.Dialect.ddl` turns into
PostgreSQL's (types only), a :class:`~blissnode.store.dialects.PerEngine`
pair where the two really differ, or a callable taking the cursor, for
changes that need data copying (SQLite's "12-step" table rebuild).
"""

import time

import attr

from blissnode.store.dialects import SQLITE, PerEngine
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
    Migration(2, "contacts", [
        # One row per account that has ever had a contact-list change:
        # change_seq is the owner's change counter (every change to the
        # owner's list takes the next value, so a client can ask for "changes
        # since N"); pruned_seq is the highest change_seq of a removal record
        # that was pruned: asking for changes since an older N gets the whole
        # list instead (blissnode.store.contacts).
        """
        CREATE TABLE contact_lists (
            owner_id    INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            change_seq  INTEGER NOT NULL DEFAULT 0 CHECK (change_seq >= 0),
            pruned_seq  INTEGER NOT NULL DEFAULT 0 CHECK (pruned_seq >= 0)
        )
        """,
        # One row per entry "u/<contact_name>" of the owner's list.  handle:
        # the stable 32-bit entry id of the event server's 6028/6024 (random,
        # unique per owner, kept across remove/re-add).  state 'removed' is a
        # removal record kept so "changes since N" can report the removal;
        # its other fields are cleared.  certificate: the opaque authorisation
        # certificate (0x188 bytes in the real network) signed by the contact
        # for the owner; request_text: the text of a received/sent request.
        """
        CREATE TABLE contacts (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            owner_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            handle        INTEGER NOT NULL CHECK (handle BETWEEN 1 AND 4294967295),
            contact_name  TEXT NOT NULL
                          CHECK (contact_name = lower(contact_name)
                                 AND length(contact_name) BETWEEN 6 AND 32),
            state         TEXT NOT NULL
                          CHECK (state IN ('pending_out', 'pending_in', 'authorized',
                                           'blocked', 'removed')),
            display_name  TEXT CHECK (display_name IS NULL OR length(display_name) <= 200),
            group_id      INTEGER CHECK (group_id IS NULL OR group_id BETWEEN 0 AND 2147483647),
            group_name    TEXT CHECK (group_name IS NULL OR length(group_name) <= 100),
            certificate   BLOB CHECK (certificate IS NULL OR length(certificate) <= 4096),
            request_text  TEXT CHECK (request_text IS NULL OR length(request_text) <= 1000),
            created_at    INTEGER NOT NULL,
            updated_at    INTEGER NOT NULL,
            change_seq    INTEGER NOT NULL CHECK (change_seq >= 1),
            UNIQUE (owner_id, contact_name),
            UNIQUE (owner_id, handle)
        )
        """,
        "CREATE INDEX contacts_changes ON contacts (owner_id, change_seq)",
        # "who has me in their list" (the other side of a request, watchers)
        "CREATE INDEX contacts_by_contact ON contacts (contact_name, owner_id)",
        # A deleted account disappears from every other list too (as a
        # removal, so those owners see it in their changes): otherwise a new
        # account registered under the same name would inherit the old one's
        # authorisations.  Its own rows go by ON DELETE CASCADE.
        PerEngine(sqlite="""
        CREATE TRIGGER contacts_forget_deleted_account AFTER DELETE ON accounts
        BEGIN
            UPDATE contact_lists SET change_seq = change_seq + 1
             WHERE owner_id IN (SELECT owner_id FROM contacts
                                 WHERE contact_name = OLD.name AND state != 'removed');
            UPDATE contacts
               SET state = 'removed', display_name = NULL, group_id = NULL,
                   group_name = NULL, certificate = NULL, request_text = NULL,
                   updated_at = CAST(strftime('%s', 'now') AS INTEGER),
                   change_seq = (SELECT l.change_seq FROM contact_lists AS l
                                  WHERE l.owner_id = contacts.owner_id)
             WHERE contact_name = OLD.name AND state != 'removed';
        END
""", postgresql="""
        CREATE FUNCTION contacts_forget_deleted_account() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE contact_lists SET change_seq = change_seq + 1
             WHERE owner_id IN (SELECT owner_id FROM contacts
                                 WHERE contact_name = OLD.name AND state != 'removed');
            UPDATE contacts
               SET state = 'removed', display_name = NULL, group_id = NULL,
                   group_name = NULL, certificate = NULL, request_text = NULL,
                   updated_at = CAST(extract(epoch FROM now()) AS BIGINT),
                   change_seq = (SELECT l.change_seq FROM contact_lists AS l
                                  WHERE l.owner_id = contacts.owner_id)
             WHERE contact_name = OLD.name AND state != 'removed';
            RETURN OLD;
        END
        $$
        """),
        PerEngine(sqlite=None, postgresql="""
        CREATE TRIGGER contacts_forget_deleted_account AFTER DELETE ON accounts
        FOR EACH ROW EXECUTE FUNCTION contacts_forget_deleted_account()
        """),
    ]),
    Migration(3, "offline_messages", [
        # last_seq: the last delivery sequence number given to a message for
        # this recipient; never reused, so after an ack every new message has
        # a higher number than anything acknowledged.
        """
        CREATE TABLE message_queues (
            recipient_id  INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
            last_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
        )
        """,
        # One row per stored, not yet acknowledged message.  sender is a name,
        # not a reference: a message outlives its sender's account.
        # delivered_at: first time a fetch returned it (only delivered
        # messages can be acknowledged); fetch_count: how many fetches did.
        """
        CREATE TABLE offline_messages (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            recipient_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            sender        TEXT NOT NULL
                          CHECK (sender = lower(sender) AND length(sender) BETWEEN 6 AND 32),
            kind          TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 32),
            body          BLOB NOT NULL CHECK (length(body) <= 65536),
            created_at    INTEGER NOT NULL,
            delivered_at  INTEGER,
            fetch_count   INTEGER NOT NULL DEFAULT 0,
            UNIQUE (recipient_id, seq)
        )
        """,
        "CREATE INDEX offline_messages_sender ON offline_messages (recipient_id, sender)",
    ]),
    Migration(4, "account_suspension", [
        # An operator's "this account may not sign in" (blissnode user
        # suspend): suspended is the flag, suspended_at (Unix seconds) and
        # suspension_reason (free text for the operators, never sent to a
        # client) say when and why.  Cleared together by unsuspending.
        "ALTER TABLE accounts ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0 "
        "CHECK (suspended IN (0, 1))",
        "ALTER TABLE accounts ADD COLUMN suspended_at INTEGER",
        "ALTER TABLE accounts ADD COLUMN suspension_reason TEXT "
        "CHECK (suspension_reason IS NULL OR length(suspension_reason) <= 500)",
    ]),
)

#: The tables the stores write, parents before children (the order to copy
#: them in, blissnode.store.copy).
DATA_TABLES = ("accounts", "contact_lists", "contacts", "message_queues", "offline_messages")


def check_migrations(migrations):
    """Raise :class:`StoreError` unless versions run 1, 2, 3, ... in order."""
    for expected, migration in enumerate(migrations, 1):
        if migration.version != expected:
            raise StoreError("migration list out of order: %r at position %d"
                             % (migration.version, expected))


def schema_version(cursor, dialect=SQLITE):
    """The highest migration applied to the database (0 for a new one)."""
    if not dialect.table_exists(cursor, "schema_migrations"):
        return 0
    (version,) = cursor.execute(
        "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return version


def check_not_newer(current, migrations):
    """Raise :class:`SchemaTooNew` if a database at version ``current`` is newer than ``migrations``."""
    latest = len(migrations)
    if current > latest:
        raise SchemaTooNew(
            "the database is at schema version %d but this blissnode only knows "
            "versions up to %d; use a newer blissnode" % (current, latest))


def migrate(database, migrations=MIGRATIONS, clock=time.time):
    """Bring ``database`` up to date (an :class:`~blissnode.store.sqlite.SQLiteDatabase`
    or a :class:`~blissnode.store.postgresql.PostgreSQLDatabase`).

    Each pending migration runs in its own transaction, which holds the
    database exclusively and re-reads the version, so two processes opening
    a new database at once apply every migration exactly once.  Returns the
    versions applied.
    """
    check_migrations(migrations)
    dialect = database.dialect
    applied = []
    with database.transaction(exclusive=True) as cursor:
        cursor.execute(dialect.ddl(_SCHEMA_MIGRATIONS))
        current = schema_version(cursor, dialect)
    check_not_newer(current, migrations)
    for migration in migrations[current:]:
        with database.transaction(exclusive=True) as cursor:
            if schema_version(cursor, dialect) >= migration.version:
                continue  # another process was quicker
            for step in migration.steps:
                if callable(step):
                    step(cursor)
                    continue
                sql = dialect.ddl(step)
                if sql is not None:
                    cursor.execute(sql)
            cursor.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(clock())))
        applied.append(migration.version)
    return applied
