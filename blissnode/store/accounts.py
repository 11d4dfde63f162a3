"""
The accounts table, for either engine, in two layers.

* :class:`SyncAccountStore`: plain blocking Python over an open database
  (:class:`~blissnode.store.sqlite.SQLiteDatabase` or
  :class:`~blissnode.store.postgresql.PostgreSQLDatabase`).  The command
  line uses it directly.  Each method is also split into the steps that
  touch the database (:meth:`~SyncAccountStore.credential_row`,
  :meth:`~SyncAccountStore.insert_account`, ...) and the steps that hash,
  so that the asynchronous store can run them on different threads.
* :class:`AccountStore`: the :class:`~blissnode.store.interfaces.IAccountStore`
  of the running server.  Database steps run on the store service's
  database thread(s), scrypt runs on the service's hash pool
  (:mod:`blissnode.store.hashpool`), never on the database thread: a burst
  of logins keeps the hash threads busy while every other store call still
  gets the database at once.

Hashing is the same in both layers (:class:`Hasher`): an unknown name and a
wrong password cost one scrypt each, so timing does not tell them apart.
"""

import threading
import time

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from blissnode.store.account import Account, from_unix
from blissnode.store.errors import (
    AccountExists,
    DatabaseError,
    InvalidField,
    InvalidName,
    NoSuchAccount,
    UnknownAccount,
    WrongCredential,
)
from blissnode.store.hashing import (
    DEFAULT_PARAMS,
    CredentialHash,
    ScryptParams,
    check_credential16,
    dummy_hash,
    hash_credential,
    verify_credential,
)
from blissnode.store.interfaces import IAccountSearch, IAccountStore
from blissnode.store.names import validate_skype_name
from blissnode.store.proofs import VerifiedCredentials
from blissnode.store.search import search_accounts

__all__ = ["AccountStore", "CredentialRow", "Hasher", "SyncAccountStore",
           "MAX_EMAIL_LENGTH", "MAX_FULL_NAME_LENGTH", "MAX_SUSPENSION_REASON_LENGTH"]

log = Logger()

#: Longest e-mail address (RFC 5321 path limit) and full name accepted.
MAX_EMAIL_LENGTH = 254
MAX_FULL_NAME_LENGTH = 200

#: Longest suspension reason (the schema's CHECK constraint, migration 4).
MAX_SUSPENSION_REASON_LENGTH = 500

_COLUMNS = ("id", "name", "created_at", "email", "full_name", "credential_changed_at",
            "kdf", "kdf_n", "kdf_r", "kdf_p", "salt", "credential_hash",
            "suspended", "suspended_at", "suspension_reason")
_SELECT = "SELECT %s FROM accounts" % (", ".join(_COLUMNS),)
_AT = {column: i for i, column in enumerate(_COLUMNS)}


def _account_from_row(row):
    def get(column):
        return row[_AT[column]]
    return Account(name=get("name"), created=from_unix(get("created_at")), email=get("email"),
                   full_name=get("full_name"),
                   credential_changed=from_unix(get("credential_changed_at")),
                   kdf="%s n=%d r=%d p=%d" % (get("kdf"), get("kdf_n"), get("kdf_r"), get("kdf_p")),
                   suspended=bool(get("suspended")),
                   suspended_at=from_unix(get("suspended_at")),
                   suspension_reason=get("suspension_reason"))


def _hash_from_row(row):
    return CredentialHash(
        params=ScryptParams(n=row[_AT["kdf_n"]], r=row[_AT["kdf_r"]], p=row[_AT["kdf_p"]]),
        salt=bytes(row[_AT["salt"]]), digest=bytes(row[_AT["credential_hash"]]),
        kdf=row[_AT["kdf"]])


def text_field(label, value, limit):
    """``None`` for absent/empty, else the text checked for type, length and control characters."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidField("%s must be text" % (label,))
    if len(value) > limit:
        raise InvalidField("%s is longer than %d characters" % (label, limit))
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        raise InvalidField("%s must not contain control characters or line breaks" % (label,))
    return value


class CredentialRow:
    """What a login check reads from the database: the account, its row id and its hash."""

    __slots__ = ("account_id", "account", "stored")

    def __init__(self, account_id, account, stored):
        self.account_id = account_id
        self.account = account
        self.stored = stored

    def __repr__(self):
        return "<CredentialRow %s %r>" % (self.account.name, self.stored)


class Hasher:
    """The slow part of every credential operation (runs on the hash pool in the server).

    :param params: scrypt parameters of new hashes.
    """

    def __init__(self, params=DEFAULT_PARAMS):
        self.params = params
        self._dummy = None
        self._lock = threading.Lock()

    def hash(self, credential16):
        """A fresh :class:`CredentialHash` of a valid 16-byte credential."""
        return hash_credential(credential16, self.params)

    def verify(self, stored, credential16):
        """Does ``credential16`` match ``stored``?  ``stored=None`` (no such
        account) checks against a dummy hash: one scrypt either way."""
        if stored is None:
            verify_credential(self.dummy(), credential16)
            return False
        return verify_credential(stored, credential16)

    def dummy(self):
        with self._lock:
            if self._dummy is None:
                self._dummy = dummy_hash(self.params)
            return self._dummy

    def needs_rehash(self, stored):
        return stored.params != self.params


class SyncAccountStore:
    """The accounts table, synchronously: the methods of :class:`IAccountStore`, without Deferreds.

    :param database: an open SQLite or PostgreSQL database.
    :param params: scrypt parameters for new hashes; rows hashed with other
        parameters are re-hashed with these at their next successful check.
    :param clock: returns the current Unix time (tests pass a fixed one).
    :param hasher: a :class:`Hasher` (default: one with ``params``).
    """

    def __init__(self, database, params=DEFAULT_PARAMS, clock=time.time, hasher=None):
        self._db = database
        self.hasher = hasher if hasher is not None else Hasher(params)
        self.params = self.hasher.params
        self._clock = clock

    # -- database steps (the database thread) ---------------------------------------

    def _row(self, name):
        rows = self._db.read(_SELECT + " WHERE name = ?", (name,))
        return rows[0] if rows else None

    @staticmethod
    def new_account_fields(name, email=None, full_name=None):
        """``(name, email, full_name)`` checked and normalised, or InvalidName / InvalidField."""
        return (validate_skype_name(name),
                text_field("the e-mail address", email, MAX_EMAIL_LENGTH),
                text_field("the full name", full_name, MAX_FULL_NAME_LENGTH))

    def insert_account(self, name, email, full_name, stored):
        """Insert a checked account with its hash; :class:`AccountExists` if the name is taken."""
        now = int(self._clock())
        with self._db.transaction(accounts=(name,)) as cursor:
            if cursor.execute("SELECT 1 FROM accounts WHERE name = ?", (name,)).fetchone():
                raise AccountExists("the Skype name %r is already taken" % (name,))
            cursor.execute(
                "INSERT INTO accounts (name, email, full_name, created_at, kdf, kdf_n, "
                "kdf_r, kdf_p, salt, credential_hash, credential_changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, email, full_name, now, stored.kdf, stored.params.n, stored.params.r,
                 stored.params.p, stored.salt, stored.digest, now))
        return self.get_account(name)

    def credential_row(self, name):
        """The :class:`CredentialRow` of a validated ``name``, or ``None``."""
        row = self._row(name)
        if row is None:
            return None
        return CredentialRow(row[_AT["id"]], _account_from_row(row), _hash_from_row(row))

    def write_rehash(self, account_id, old, new):
        """Store the re-hashed credential; only if nobody changed the row meanwhile."""
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE accounts SET kdf = ?, kdf_n = ?, kdf_r = ?, kdf_p = ?, salt = ?, "
                "credential_hash = ? WHERE id = ? AND credential_hash = ?",
                (new.kdf, new.params.n, new.params.r, new.params.p, new.salt, new.digest,
                 account_id, old.digest))

    def write_credential(self, name, new):
        """Replace the credential hash of a validated ``name``; :class:`NoSuchAccount` if none."""
        now = int(self._clock())
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE accounts SET kdf = ?, kdf_n = ?, kdf_r = ?, kdf_p = ?, salt = ?, "
                "credential_hash = ?, credential_changed_at = ? WHERE name = ?",
                (new.kdf, new.params.n, new.params.r, new.params.p, new.salt, new.digest,
                 now, name))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))
        return self.get_account(name)

    # -- the IAccountStore methods, synchronously ------------------------------------

    def create_account(self, name, credential16, email=None, full_name=None):
        name, email, full_name = self.new_account_fields(name, email, full_name)
        stored = self.hasher.hash(credential16)  # slow: outside the transaction
        return self.insert_account(name, email, full_name, stored)

    def get_account(self, name):
        row = self._row(validate_skype_name(name))
        return None if row is None else _account_from_row(row)

    def check_credential(self, name, credential16):
        try:
            name = validate_skype_name(name)
        except InvalidName:
            self.hasher.verify(None, credential16)
            raise UnknownAccount("no such account")
        found = self.credential_row(name)
        matches = self.hasher.verify(None if found is None else found.stored, credential16)
        account = checked(found, matches, name)
        if self.hasher.needs_rehash(found.stored):
            self._rehash(found, credential16)
        return account

    def _rehash(self, found, credential16):
        try:
            self.write_rehash(found.account_id, found.stored, self.hasher.hash(credential16))
        except DatabaseError:
            log.failure("could not re-hash the credential of {name}", name=found.account.name)

    def set_credential(self, name, credential16):
        name = validate_skype_name(name)
        return self.write_credential(name, self.hasher.hash(credential16))

    def delete_account(self, name):
        name = validate_skype_name(name)
        # Exclusive: the deletion trigger changes the lists of everybody who
        # had this account as a contact.
        with self._db.transaction(exclusive=True) as cursor:
            cursor.execute("DELETE FROM accounts WHERE name = ?", (name,))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))

    def list_accounts(self):
        return [_account_from_row(row) for row in self._db.read(_SELECT + " ORDER BY name")]

    def suspend_account(self, name, reason=None):
        name = validate_skype_name(name)
        reason = text_field("the suspension reason", reason, MAX_SUSPENSION_REASON_LENGTH)
        now = int(self._clock())
        with self._db.transaction() as cursor:
            # Suspending again keeps the first time and replaces the reason.
            cursor.execute(
                "UPDATE accounts SET suspended = 1, suspension_reason = ?, "
                "suspended_at = coalesce(suspended_at, ?) WHERE name = ?", (reason, now, name))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))
        return self.get_account(name)

    def unsuspend_account(self, name):
        name = validate_skype_name(name)
        with self._db.transaction() as cursor:
            cursor.execute("UPDATE accounts SET suspended = 0, suspended_at = NULL, "
                           "suspension_reason = NULL WHERE name = ?", (name,))
            if cursor.rowcount != 1:
                raise NoSuchAccount("no such account: %r" % (name,))
        return self.get_account(name)

    def search_accounts(self, text, mode="prefix", limit=20):
        """Directory search (:class:`IAccountSearch`, :mod:`blissnode.store.search`)."""
        return search_accounts(self._db, text, mode, limit)


def checked(found, matches, name):
    """The verdict of a credential check: the Account (suspended or not: refusing
    a suspended account is the caller's decision), or UnknownAccount / WrongCredential."""
    if found is None:
        raise UnknownAccount("no such account: %r" % (name,))
    if not matches:
        raise WrongCredential("wrong credential for %r" % (name,))
    return found.account


@implementer(IAccountStore, IAccountSearch)
class AccountStore:
    """:class:`IAccountStore` of a store service: database steps on its
    database thread(s), hashing on its hash pool.

    :param store_service: a :class:`~blissnode.store.sqlite.StoreService` or
        :class:`~blissnode.store.postgresql.PostgreSQLStoreService`: its
        ``run(function)`` runs ``function(opened)`` on a database thread (where
        ``opened.accounts`` is the :class:`SyncAccountStore`), its ``hashing``
        (a :class:`~blissnode.store.hashpool.HashPool`) runs the hashes, its
        ``hasher`` (a :class:`Hasher`) says how.
    """

    def __init__(self, store_service, proofs=None):
        self._service = store_service
        #: Recently verified credentials (:mod:`blissnode.store.proofs`): the
        #: event server's check of a credential the login server just
        #: verified costs no second scrypt.  None: every check hashes.
        self.proofs = proofs if proofs is not None else VerifiedCredentials()

    def _db(self, method, *args):
        return self._service.run(lambda opened: getattr(opened.accounts, method)(*args))

    def _hash(self, function, *args):
        return self._service.hashing.run(function, *args)

    @property
    def _hasher(self):
        return self._service.hasher

    def create_account(self, name, credential16, email=None, full_name=None):
        try:
            fields = SyncAccountStore.new_account_fields(name, email, full_name)
            credential16 = check_credential16(credential16)
        except (InvalidName, InvalidField):
            return defer.fail()
        d = self._hash(self._hasher.hash, credential16)
        d.addCallback(lambda stored: self._db("insert_account", *(fields + (stored,))))
        return d

    def get_account(self, name):
        return self._db("get_account", name)

    @defer.inlineCallbacks
    def check_credential(self, name, credential16):
        hasher = self._hasher
        try:
            name = validate_skype_name(name)
        except InvalidName:
            yield self._hash(hasher.verify, None, credential16)
            raise UnknownAccount("no such account")
        found = yield self._db("credential_row", name)
        proofs = self.proofs
        if found is not None and proofs is not None and proofs.recall(
                name, credential16, found.stored):
            return found.account
        matches = yield self._hash(hasher.verify, None if found is None else found.stored,
                                   credential16)
        account = checked(found, matches, name)
        if hasher.needs_rehash(found.stored):
            try:
                new = yield self._hash(hasher.hash, credential16)
                yield self._db("write_rehash", found.account_id, found.stored, new)
            except DatabaseError:
                # The login is right; upgrading the hash can wait for the next one.
                log.failure("could not re-hash the credential of {name}", name=name)
            else:
                found = CredentialRow(found.account_id, found.account, new)
        if proofs is not None:
            proofs.remember(name, credential16, found.stored)
        return account

    def set_credential(self, name, credential16):
        try:
            name = validate_skype_name(name)
            credential16 = check_credential16(credential16)
        except (InvalidName, InvalidField):
            return defer.fail()
        d = self._hash(self._hasher.hash, credential16)
        d.addCallback(lambda new: self._db("write_credential", name, new))
        return d

    def delete_account(self, name):
        return self._db("delete_account", name)

    def list_accounts(self):
        return self._db("list_accounts")

    def suspend_account(self, name, reason=None):
        return self._db("suspend_account", name, reason)

    def unsuspend_account(self, name):
        return self._db("unsuspend_account", name)

    def search_accounts(self, text, mode="prefix", limit=20):
        return self._service.run(
            lambda opened: opened.accounts.search_accounts(text, mode=mode, limit=limit))
