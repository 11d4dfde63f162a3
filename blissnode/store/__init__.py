"""
Storage behind interfaces that know no protocol (docs/accounts.rst).

Accounts, contact lists and offline messages live in one database (SQLite
by default, :mod:`blissnode.store.sqlite`; PostgreSQL to share it between
processes, :mod:`blissnode.store.postgresql`), migrated on first use
(:mod:`blissnode.store.migrations`); the online directory
(:mod:`blissnode.store.directory`) is in memory, or in Redis
(:mod:`blissnode.store.redisdirectory`); :mod:`blissnode.store.bus` carries
messages between processes (docs/scaling.rst).
"""

from blissnode.store.account import Account
from blissnode.store.errors import (
    AccountExists,
    BadCredentials,
    ContactLimit,
    ContactStateError,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    NoSuchContact,
    QuotaExceeded,
    SchemaTooNew,
    SenderBlocked,
    StoreError,
    UnknownAccount,
    WrongCredential,
)
from blissnode.store.interfaces import (
    IAccountSearch,
    IAccountStore,
    IContactStore,
    IMessageStore,
)
from blissnode.store.names import validate_skype_name

__all__ = [
    "Account",
    "AccountExists",
    "BadCredentials",
    "ContactLimit",
    "ContactStateError",
    "DatabaseError",
    "IAccountSearch",
    "IAccountStore",
    "IContactStore",
    "IMessageStore",
    "InvalidField",
    "InvalidName",
    "NoSuchAccount",
    "NoSuchContact",
    "QuotaExceeded",
    "SchemaTooNew",
    "SenderBlocked",
    "StoreError",
    "UnknownAccount",
    "WrongCredential",
    "validate_skype_name",
]
