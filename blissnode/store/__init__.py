"""
Storage behind interfaces that know no protocol (docs/accounts.rst).

Accounts today; contacts and offline messages will live in the same
database, as further migrations (:mod:`blissnode.store.migrations`).
"""

from blissnode.store.account import Account
from blissnode.store.errors import (
    AccountExists,
    BadCredentials,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    SchemaTooNew,
    StoreError,
    UnknownAccount,
    WrongCredential,
)
from blissnode.store.interfaces import IAccountStore
from blissnode.store.names import validate_skype_name

__all__ = [
    "Account",
    "AccountExists",
    "BadCredentials",
    "DatabaseError",
    "IAccountStore",
    "InvalidField",
    "InvalidName",
    "NoSuchAccount",
    "SchemaTooNew",
    "StoreError",
    "UnknownAccount",
    "WrongCredential",
    "validate_skype_name",
]
