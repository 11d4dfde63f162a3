"""
TCP_NODELAY on every accepted connection.

Real clients read some handshake steps with one ``recv()`` each (SOS2 reads
the supernode's DH-384 hash alone, then its seed exchange); Nagle's
algorithm would hold a small write back and glue it to the next one.  Every
listener's protocol calls :func:`set_no_delay` when the connection is made.
"""

__all__ = ["set_no_delay"]


def set_no_delay(transport):
    """Switch Nagle off on ``transport`` where it is a TCP socket (test
    transports and bridges without the option are left alone)."""
    setter = getattr(transport, "setTcpNoDelay", None)
    if setter is None:
        return False
    try:
        setter(True)
    except (OSError, NotImplementedError):
        return False
    return True
