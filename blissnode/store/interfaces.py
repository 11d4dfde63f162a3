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


class IAccountSearch(Interface):
    """Directory search over the stored accounts (the client's "add contact" search)."""

    def search_accounts(text, mode="prefix", limit=20):
        """Accounts whose name matches ``text``, case-insensitively.

        :param mode: ``"exact"``, ``"prefix"`` or ``"substring"``.
        :param limit: at most this many (and never more than
            :data:`blissnode.store.search.MAX_SEARCH_RESULTS`).
        :return: Deferred firing with a list of
            :class:`~blissnode.store.search.AccountMatch` (name and full name
            only, never the e-mail address), sorted by name; fails with
            :class:`~blissnode.store.errors.InvalidField` for an empty, too
            long or non-text query or an unknown mode.
        """


class IContactStore(Interface):
    """Each user's stored contact list, and authorisation requests between users.

    Every method takes ``owner``: the name of the *authenticated* user whose
    list is read or changed.  No method reads or changes another owner's
    entries except as the documented other side of a request (a request puts
    a ``pending_in`` entry into the target's list, an answer updates the
    requester's entry).  Entries are
    :class:`~blissnode.store.contacts.Contact` values; states are
    ``pending_out`` (I asked them), ``pending_in`` (they asked me),
    ``authorized``, ``blocked`` (and ``removed`` in change lists only).
    Every change to a list takes the owner's next change number.

    Failures: :class:`~blissnode.store.errors.NoSuchAccount` (owner or other
    user unknown), :class:`~blissnode.store.errors.NoSuchContact` (not in
    *your* list), :class:`~blissnode.store.errors.ContactStateError`,
    :class:`~blissnode.store.errors.ContactLimit`,
    :class:`~blissnode.store.errors.QuotaExceeded` (the target's message
    queue is full), :class:`~blissnode.store.errors.InvalidName`,
    :class:`~blissnode.store.errors.InvalidField`.  A failed call changes
    nothing.
    """

    def list_contacts(owner, state=None):
        """Deferred firing with the owner's entries (all live ones, or those in
        ``state``), sorted by name."""

    def get_contact(owner, name):
        """Deferred firing with the owner's entry for ``name``; fails with ``NoSuchContact``."""

    def get_entry(owner, handle):
        """Deferred firing with the owner's entry with this 32-bit handle; fails
        with ``NoSuchContact``."""

    def change_seq(owner):
        """Deferred firing with the owner's current change number (0: never changed)."""

    def changes_since(owner, seq):
        """Deferred firing with a :class:`~blissnode.store.contacts.ContactChanges`:
        the entries changed after change number ``seq`` (removals included), or
        the whole list with ``full=True`` when ``seq`` is too old or unknown."""

    def request_authorization(owner, target, text=None, certificate=None):
        """Add ``target`` to the owner's list and ask for authorisation.

        One transaction: the owner's entry becomes ``pending_out``, the
        target's list gets a ``pending_in`` entry for the owner and the
        target's queue an ``auth_request`` message.  If the target had
        already asked the owner (or still has the owner authorised), both
        become ``authorized`` at once.  ``certificate``: the owner's opaque
        authorisation of the target, stored in the target's entry for the
        owner.  Deferred firing with the owner's entry.
        """

    def accept_authorization(owner, requester, certificate=None):
        """Accept ``requester``'s pending request: both entries become ``authorized``.

        ``certificate`` (the owner's opaque authorisation of the requester)
        goes into the requester's entry for the owner; an ``auth_reply`` is
        queued for the requester.  Deferred firing with the owner's entry.
        """

    def deny_authorization(owner, requester, block=False):
        """Refuse ``requester``'s pending request (and block them if ``block``).

        Deferred firing with ``None``.
        """

    def remove_contact(owner, name):
        """Remove ``name`` from the owner's list (withdrawing a pending request).

        Deferred firing with ``None``.
        """

    def block_contact(owner, name):
        """Block ``name`` (added to the list if absent). Deferred firing with the entry."""

    def unblock_contact(owner, name):
        """Unblock ``name``: the entry is removed. Deferred firing with ``None``."""

    def update_contact(owner, name, **fields):
        """Set ``display_name``, ``group_id``, ``group_name`` and/or ``certificate``
        of the owner's entry (``None`` clears one).  Deferred firing with the entry."""

    def is_blocked(owner, name):
        """Deferred firing with ``True`` if the owner has blocked ``name``."""

    def watchers(owner):
        """Deferred firing with the names that may see the owner's presence
        (authorised in both directions), sorted."""


class IMessageStore(Interface):
    """Offline messages: per-recipient queues, delivered in order and exactly once.

    ``recipient`` is always the authenticated user whose queue is read;
    :meth:`store_message` is the only call that writes into another user's
    queue.  Sequence numbers are per recipient, increasing, never reused.
    """

    def store_message(recipient, sender, kind, body):
        """Queue ``body`` (bytes) of ``kind`` from ``sender`` for ``recipient``.

        Deferred firing with the stored
        :class:`~blissnode.store.messages.OfflineMessage`; fails with
        :class:`~blissnode.store.errors.NoSuchAccount`,
        :class:`~blissnode.store.errors.SenderBlocked`,
        :class:`~blissnode.store.errors.QuotaExceeded`,
        :class:`~blissnode.store.errors.InvalidName` or
        :class:`~blissnode.store.errors.InvalidField`; nothing is stored then.
        """

    def fetch(recipient, limit=None):
        """Deferred firing with the oldest un-acknowledged messages, by sequence
        number; they stay queued (and are returned again) until acknowledged."""

    def ack(recipient, up_to_seq):
        """Delete the fetched messages with sequence number ``<= up_to_seq``.

        Deferred firing with how many were deleted.  Messages no fetch has
        returned yet are kept.
        """

    def counts(recipient):
        """Deferred firing with a :class:`~blissnode.store.messages.QueueCounts`."""
