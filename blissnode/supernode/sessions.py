"""
:class:`SessionTable`: the live TCP sessions of one supernode, indexed for
the questions the protocols ask on every packet.

The UDP path asks, for every datagram, "is there an accepted TCP session of
this client?" (its handler set serves the datagram).  A client's UDP port is
its listening port (supernode.md 3.2), so the table keeps accepted sessions
by ``(ip, listening port)`` and, per IP, in order of acceptance: both
answers are constant time however many sessions share one NAT address (a
scan over them cost ~10k sessions' worth per datagram behind one IP).
"""

import collections
import itertools

__all__ = ["SessionTable"]


class SessionTable(object):
    """Live sessions by id; accepted ones by address (module docstring)."""

    def __init__(self, prefix="s"):
        self._ids = itertools.count(1)
        self._prefix = prefix
        self._by_id = {}
        self._by_addr = {}                    # (ip, listen port) -> session
        self._by_ip = {}                      # ip -> OrderedDict(id -> accepted session)
        self._per_ip = collections.Counter()  # ip -> live sessions (accepted or not)
        self._accepted = 0

    def __len__(self):
        return len(self._by_id)

    def new_id(self):
        return "%s%d" % (self._prefix, next(self._ids))

    def add(self, session):
        self._by_id[session.session_id] = session
        self._per_ip[session.peer[0]] += 1

    def accepted(self, session):
        """``session`` was accepted (its listening port is known)."""
        ip = session.peer[0]
        accepted = self._by_ip.setdefault(ip, collections.OrderedDict())
        if session.session_id not in accepted:
            self._accepted += 1
        accepted[session.session_id] = session
        if session.listen_port is not None:
            self._by_addr[(ip, session.listen_port)] = session

    def remove(self, session):
        """Forget ``session``; False when it was not in the table."""
        if self._by_id.get(session.session_id) is not session:
            return False
        del self._by_id[session.session_id]
        ip = session.peer[0]
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]
        accepted = self._by_ip.get(ip)
        if accepted is not None:
            if accepted.pop(session.session_id, None) is not None:
                self._accepted -= 1
            if not accepted:
                del self._by_ip[ip]
        key = (ip, session.listen_port)
        if self._by_addr.get(key) is session:
            del self._by_addr[key]
            # Another accepted session with the same address takes its place.
            for other in reversed(list((accepted or {}).values())):
                if other.listen_port == session.listen_port:
                    self._by_addr[key] = other
                    break
        return True

    def get(self, session_id):
        return self._by_id.get(session_id)

    def all(self):
        return list(self._by_id.values())

    def accepted_count(self):
        return self._accepted

    def from_ip(self, ip):
        """Live sessions (accepted or not) from ``ip``."""
        return self._per_ip.get(ip, 0)

    def for_udp_peer(self, peer):
        """The accepted session of the client at UDP address ``peer``: the one
        listening on the datagram's source port, else the most recently
        accepted one from that IP, else None."""
        session = self._by_addr.get((peer[0], peer[1]))
        if session is not None:
            return session
        accepted = self._by_ip.get(peer[0])
        if not accepted:
            return None
        return next(reversed(accepted.values()))
