"""
One direction of a DH-384 opening as a capture shows it (tcp.md 3,
login.md 2.2, ERRATA)::

    client  A (48 bytes) || filler (0..63) || MD5("O" || K)[:8]
    server  B (48 bytes) || filler (1..64) || MD5("I" || K)[:8]

The fillers are not delimited, so only someone who knows the shared secret
``K`` can find where the hash -- and so the encrypted stream -- starts.
Unauthenticated DH leaves ``K`` in neither capture nor key file: the
private exponents never travel.  A researcher who has ``K`` (from a hooked
client, a test, a log) passes it with ``--dh-secret FLOW=HEX``;
:class:`DhOpening` then locates the hash exactly as the endpoints do.
"""

from blissnode.capture.events import Unit
from blissnode.wire import dh384

__all__ = ["DhOpening", "NO_SECRET"]

NO_SECRET = "encrypted with a DH secret the capture does not hold"


class DhOpening(object):
    """Sans-IO: :meth:`feed` bytes of one direction from its first byte.

    Returns ``(units, rest, state)``: ``state`` is ``"more"`` (waiting),
    ``"done"`` (``rest`` = the bytes after the hash, the start of the
    encrypted stream) or ``"stuck"`` (no secret, or a secret that does not
    match; :attr:`why` says which).
    """

    def __init__(self, side, secret=None):
        self.side = side
        self.secret = None if secret is None else bytes(secret)
        self._buf = bytearray()
        self._reported = False
        self.why = None
        self.done = False
        self.consumed = None  # bytes of the opening, once done

    def unfinished(self):
        """Why the opening never completed (None if it did or never started)."""
        if self.done or not self._buf or self.why is not None:
            return self.why
        if self.secret is None:
            return "the stream ended inside the %s's DH-384 public value" % self.side
        return ("the stream ended before the %s's hash: the --dh-secret does not match, or "
                "the capture stops inside the opening" % self.side)

    def feed(self, data):
        if self.why is not None:
            return [], b"", "stuck"
        self._buf += data
        units = []
        if len(self._buf) < dh384.VALUE_SIZE:
            return units, b"", "more"
        value = bytes(self._buf[:dh384.VALUE_SIZE])
        if self.secret is None:
            if not self._reported:
                self._reported = True
                self.why = NO_SECRET
                units.append(Unit("dh384", {
                    "side": self.side, "public_value": value.hex(),
                    "after_value": bytes(self._buf[dh384.VALUE_SIZE:]).hex(),
                    "why": "filler and hash are not delimited and the stream after them is "
                           + NO_SECRET}, False))
            return units, b"", "stuck"
        expected = (dh384.client_hash if self.side == "client" else dh384.server_hash)(self.secret)
        tail = bytes(self._buf[dh384.VALUE_SIZE:])
        i = tail.find(expected)
        if i < 0 or i > dh384.MAX_FILLER:
            if len(tail) >= dh384.MAX_FILLER + dh384.HASH_SIZE or i > dh384.MAX_FILLER:
                self.why = ("the --dh-secret given for this flow does not match: the %s's hash "
                            "is not within %d bytes of its public value"
                            % (self.side, dh384.MAX_FILLER + dh384.HASH_SIZE))
                units.append(Unit("dh384", {"side": self.side, "public_value": value.hex(),
                                            "why": self.why}, False))
                return units, b"", "stuck"
            return units, b"", "more"
        self.done = True
        self.consumed = dh384.VALUE_SIZE + i + dh384.HASH_SIZE
        rest = tail[i + dh384.HASH_SIZE:]
        self._buf = bytearray()
        units.append(Unit("dh384", {"side": self.side, "public_value": value.hex(),
                                    "filler": tail[:i].hex(), "filler_length": i,
                                    "hash": expected.hex(), "hash_ok": True}))
        return units, rest, "done"
