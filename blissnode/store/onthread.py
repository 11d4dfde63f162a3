"""
The one way the asynchronous contact and message stores work: every call
runs the synchronous store's method of the same name on a database thread
of the store service (:class:`~blissnode.store.sqlite.StoreService` or
:class:`~blissnode.store.postgresql.PostgreSQLStoreService`) and returns a
Deferred, so the reactor never waits for the disk or the network.
"""

__all__ = ["OnStoreThread"]


class OnStoreThread:
    """Base of :class:`~blissnode.store.sqlite.SQLiteAccountStore`,
    :class:`~blissnode.store.contacts.SQLiteContactStore` and
    :class:`~blissnode.store.messages.SQLiteMessageStore`.

    :param store_service: the :class:`~blissnode.store.sqlite.StoreService`
        whose thread (and database) the calls share.
    """

    #: The synchronous store on the opened database: ``"accounts"``,
    #: ``"contacts"`` or ``"messages"``.
    _part = None

    def __init__(self, store_service):
        self._service = store_service

    def _run(self, method, *args, **kwargs):
        part = self._part
        return self._service.run(
            lambda opened: getattr(getattr(opened, part), method)(*args, **kwargs))
