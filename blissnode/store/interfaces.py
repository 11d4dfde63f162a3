"""
The storage interfaces the servers program against.

They know no protocol: an account is a name, some profile fields and a
secret check.  Every method returns a :class:`~twisted.internet.defer.Deferred`
because real implementations block (SQLite on a thread, a network database);
callers on the reactor thread never wait.
"""

from zope.interface import Interface


class IAccountStore(Interface):
    """Accounts: create, look up, check a login, change, delete, list.

    Names are Skype names (:func:`blissnode.store.names.validate_skype_name`);
    they are stored in lower case and looked up case-insensitively.  A
    ``credential16`` is the 16-byte MD5 credential of login.md §6; the store
    keeps only a salted, slow hash of it.
    """

    def create_account(name, credential16, email=None, full_name=None):
        """Create an account.

        :return: Deferred firing with the new :class:`~blissnode.store.account.Account`;
            fails with :class:`~blissnode.store.errors.InvalidName`,
            :class:`~blissnode.store.errors.InvalidField` or
            :class:`~blissnode.store.errors.AccountExists`.
        """

    def get_account(name):
        """Deferred firing with the :class:`Account` called ``name``, or ``None``.

        Fails with :class:`~blissnode.store.errors.InvalidName` for a name that
        can never exist.
        """

    def check_credential(name, credential16):
        """Check a login.

        :return: Deferred firing with the :class:`Account` if the credential is
            right; otherwise failing with a
            :class:`~blissnode.store.errors.BadCredentials`: its subclass
            :class:`~blissnode.store.errors.UnknownAccount` (no such name, or
            not a valid name) or :class:`~blissnode.store.errors.WrongCredential`.
            Both cost one hash computation, so timing does not tell them apart.
        """

    def set_credential(name, credential16):
        """Replace the credential (a password change).

        :return: Deferred firing with the updated :class:`Account`; fails with
            :class:`~blissnode.store.errors.NoSuchAccount`.
        """

    def delete_account(name):
        """Delete the account (and, through foreign keys, everything it owns).

        :return: Deferred firing with ``None``; fails with
            :class:`~blissnode.store.errors.NoSuchAccount`.
        """

    def list_accounts():
        """Deferred firing with a list of every :class:`Account`, sorted by name."""
