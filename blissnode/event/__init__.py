"""
The event server role (issue 6): contact lists (6028 / 6024), the session
start (6030), event cursors (6016 / 6017), blissnode's own requests for
contact edits, offline messages, search and status (GUESS codes), presence
and broadcasts.  See docs/event.rst.

* :mod:`blissnode.event.codes` -- request / result codes, item ids, codecs;
* :mod:`blissnode.event.interfaces` -- :class:`IEventHandlers`, :class:`EventRefusal`;
* :mod:`blissnode.event.handlers` -- the per-version handler classes;
* :mod:`blissnode.event.presence` -- presence, the directory hook, the broadcaster;
* :mod:`blissnode.event.protocol` -- :class:`EventService`, the factory and protocol.
"""
