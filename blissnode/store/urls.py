"""
Which database a server or a command uses, as one URL (``--database``).

``sqlite:``
    the default: ``blissnode.sqlite3`` in the data directory;
``sqlite:///absolute/path`` or ``sqlite:relative/path``
    another SQLite file;
``postgresql://user:password@host:port/dbname?...`` (or ``postgres://``)
    a PostgreSQL database, as libpq reads it (``?sslmode=require``,
    ``?options=-csearch_path%3Dblissnode``, a unix socket as
    ``postgresql:///dbname?host=/run/postgresql``...).

:func:`open_database` opens one synchronously (the command line),
:func:`make_store_service` builds the Twisted service for the server.
"""

import os

import attr

from blissnode.store.errors import StoreError
from blissnode.store.postgresql import PostgreSQLDatabase, PostgreSQLStoreService, redact_url
from blissnode.store.sqlite import SQLiteDatabase, StoreService, database_path

__all__ = ["DEFAULT_DATABASE", "DatabaseURL", "InvalidDatabaseURL", "make_store_service",
           "open_database", "parse_database_url"]

DEFAULT_DATABASE = "sqlite:"

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class InvalidDatabaseURL(StoreError, ValueError):
    """The text is not a database URL blissnode understands (the message says why)."""


@attr.s(frozen=True, slots=True)
class DatabaseURL:
    """A parsed ``--database``.

    :ivar engine: ``"sqlite"`` or ``"postgresql"``.
    :ivar path: the SQLite file (``None``: the data directory's default).
    :ivar url: the PostgreSQL URL, as given.
    """

    engine = attr.ib()
    path = attr.ib(default=None)
    url = attr.ib(default=None)

    def sqlite_path(self, data_dir=None):
        """The SQLite file: :attr:`path`, or the default file of ``data_dir``."""
        if self.path is not None:
            return self.path
        if data_dir is None:
            raise InvalidDatabaseURL("'sqlite:' needs a data directory")
        return database_path(os.path.abspath(getattr(data_dir, "path", data_dir)))

    def describe(self, data_dir=None):
        """For log lines: the file, or the URL without its password."""
        if self.engine == SQLITE:
            return self.sqlite_path(data_dir)
        return redact_url(self.url)


def parse_database_url(text):
    """A :class:`DatabaseURL`, or :class:`InvalidDatabaseURL`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidDatabaseURL("a database URL must not be empty")
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon:
        raise InvalidDatabaseURL("%r is not a database URL (sqlite:, sqlite:///path or "
                                 "postgresql://...)" % (_short(text),))
    if scheme == SQLITE:
        if rest == "":
            return DatabaseURL(SQLITE)
        if rest.startswith("//"):
            if not rest.startswith("///"):
                raise InvalidDatabaseURL("an SQLite URL names a file: sqlite:///absolute/path "
                                         "or sqlite:relative/path, not %r" % (_short(text),))
            return DatabaseURL(SQLITE, path=rest[2:])
        return DatabaseURL(SQLITE, path=os.path.abspath(rest))
    if scheme in ("postgresql", "postgres"):
        if not rest.startswith("//"):
            raise InvalidDatabaseURL("a PostgreSQL URL starts postgresql://")
        return DatabaseURL(POSTGRESQL, url=text)
    raise InvalidDatabaseURL("unknown database %r: use sqlite: (the default), "
                             "sqlite:///path or postgresql://..." % (scheme,))


def open_database(url, data_dir=None, create=True, **kwargs):
    """The database of ``url`` (text or :class:`DatabaseURL`), open and migrated.

    ``create=False``: an SQLite file that does not exist is an error instead
    of a new database.
    """
    url = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    if url.engine == SQLITE:
        path = url.sqlite_path(data_dir)
        if not create and not os.path.exists(path):
            raise StoreError("no database at %s" % (path,))
        return SQLiteDatabase(path, **kwargs)
    return PostgreSQLDatabase(url.url, **kwargs)


def make_store_service(url, data_dir=None, **kwargs):
    """The store service (not started) of ``url``: SQLite's one thread, or
    PostgreSQL's pool; ``kwargs`` go to the service."""
    url = url if isinstance(url, DatabaseURL) else parse_database_url(url)
    if url.engine == SQLITE:
        return StoreService(url.sqlite_path(data_dir), **kwargs)
    return PostgreSQLStoreService(url.url, **kwargs)


def _short(text):
    return text if len(text) <= 60 else text[:57] + "..."
