"""
The UDP hot path's shortcuts give the answers of the general path: the
kind-2 opener, the lone-probe matcher, the probe fast path, synchronous
handler answers, the direct reply write and the expiring caches'
housekeeping (issue 14).
"""

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, task
from twisted.trial import unittest

from blissnode.supernode.handlers import SupernodeHandlers
from blissnode.supernode.limits import ExpiringDict
from blissnode.wire import udp as wire_udp
from blissnode.wire import udp_commands
from blissnode.wire.errors import ProtocolError
from blissnode.wire.tcp_commands import KIND_NOTIFICATION, KIND_REPLY, KIND_REQUEST, Command
from tests.supernode_helpers import (
    SERVER_IP,
    client_datagram,
    make_node,
    open_reply,
    request_plaintext,
    udp_protocol,
)

PEER = ("10.1.2.3", 40000)


def general_probe_id(plaintext):
    """What the general path makes of ``plaintext``: the request id when it
    is exactly one cmd-27 request, else None."""
    try:
        commands = udp_commands.parse_payload(plaintext)
    except ProtocolError:
        return None
    if len(commands) == 1 and commands[0].cmd == 27 and commands[0].kind == KIND_REQUEST:
        return commands[0].request_id
    return None


class ProbeMatcherTests(unittest.TestCase):

    def test_probe(self):
        self.assertEqual(udp_commands.probe_request_id(request_plaintext(27, 0x1234)), 0x1234)
        self.assertEqual(udp_commands.probe_request_id(
            request_plaintext(27, 7, body=b"\x41\x01\x00\x01\x05")), 7)

    def test_not_a_lone_probe(self):
        for plain in (request_plaintext(35, 1), request_plaintext(27, 1, kind=KIND_REPLY),
                      request_plaintext(27, 1) + request_plaintext(35, 2),
                      request_plaintext(27, 1)[:-1], request_plaintext(27, 1, body=b"\x00"),
                      request_plaintext(27, 1, body=b"\x41" + bytes(200)), b"", b"\x04"):
            self.assertIsNone(udp_commands.probe_request_id(plain), plain.hex())

    @settings(max_examples=400, deadline=None)
    @given(st.binary(max_size=40))
    def test_agrees_with_parse_payload_on_any_bytes(self, tail):
        for plain in (tail, b"\x04\xda\x01" + tail, bytes([len(tail) + 2]) + b"\xda\x01" + tail):
            fast = udp_commands.probe_request_id(plain)
            if fast is not None:
                self.assertEqual(fast, general_probe_id(plain), plain.hex())

    @settings(max_examples=200, deadline=None)
    @given(st.integers(0, 0xFFFF), st.sampled_from([b"\x42\x15", b"\x41\x00", b"\x41\x01\x00\x01\x05"]))
    def test_finds_every_canonical_probe(self, rid, body):
        plain = Command(27, KIND_REQUEST, rid, body).encode()
        self.assertEqual(udp_commands.probe_request_id(plain), rid)


class OpenPayloadTests(unittest.TestCase):

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=1, max_size=60), st.integers(0, 0xFFFF), st.integers(0, 2 ** 32 - 1),
           st.booleans(), st.integers(0, 7))
    def test_same_as_parse_and_decrypt(self, plain, pid, iv, right_key, bits):
        data = bytearray(wire_udp.encrypt_payload("10.1.2.3" if right_key else "10.9.9.9",
                                                  SERVER_IP, pid, iv, plain))
        data[2] = wire_udp.make_type_byte(2, bits)
        data = bytes(data)
        datagram = wire_udp.parse_datagram(data)
        expected = (datagram.packet_id,) + datagram.decrypt("10.1.2.3", SERVER_IP)
        self.assertEqual(wire_udp.open_payload(data, "10.1.2.3", SERVER_IP), expected)

    def test_other_kinds_go_to_the_parser(self):
        nack = wire_udp.NackDatagram(5, SERVER_IP, 9).to_bytes()
        bit7 = bytearray(client_datagram(request_plaintext(27, 1), 3, PEER[0]))
        bit7[2] |= 0x80
        for data in (nack, bytes(bit7), b"\x00\x01\x02", b"\x00\x01\x02" + bytes(7)):
            self.assertIsNone(wire_udp.open_payload(data, PEER[0], SERVER_IP), data.hex())


class FakeSocket(object):
    def __init__(self, fail=False):
        self.sent = []
        self.fail = fail

    def sendto(self, data, addr):
        if self.fail:
            raise OSError(11, "EAGAIN")
        self.sent.append((data, addr))


class ProbeFastPathTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.proto = udp_protocol(self.node)

    def answers(self, fast, datagrams):
        node = make_node()
        node.seeds = wire_udp.FreshSeeds(lambda r=random.Random(5): r.getrandbits(32))
        proto = udp_protocol(node)
        proto.ids = type(proto.ids)(100)
        proto.fast_probes = fast
        out = []
        for data in datagrams:
            proto.datagramReceived(data, PEER)
            out.extend(proto.transport.take())
        return out, proto

    def test_fast_and_general_path_send_the_same_bytes(self):
        grams = [client_datagram(request_plaintext(27, rid), rid + 1, PEER[0])
                 for rid in (2, 4, 0xFFFE)]
        fast, fast_proto = self.answers(True, grams)
        general, general_proto = self.answers(False, grams)
        self.assertEqual(len(fast), 3)
        self.assertEqual(fast, general)
        self.assertEqual(fast_proto.stats, general_proto.stats)
        for (data, _), rid in zip(fast, (2, 4, 0xFFFE)):
            (reply,) = open_reply(data, PEER[0])
            self.assertEqual((reply.cmd, reply.kind, reply.request_id, reply.body),
                             (28, KIND_REPLY, rid, b"\x42\x15"))
        # Both remember the reply for a kind-7 resend.
        self.assertEqual(fast_proto.sent.items(), general_proto.sent.items())

    def test_fast_path_skips_request_and_reply_cache(self):
        def boom(command):
            raise AssertionError("the probe body was decoded")
        self.patch(__import__("blissnode.supernode.udp", fromlist=["x"]), "decode_body", boom)
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0]), PEER)
        self.assertEqual(len(self.proto.transport.take()), 1)
        self.assertEqual(len(self.proto.replies), 0)
        # A repeated probe (real clients never repeat one, udp.md 7) is answered again.
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0],
                                                    iv=0x777), PEER)
        self.assertEqual(len(self.proto.transport.take()), 1)

    def test_handlers_with_their_own_probe_take_the_general_path(self):
        class Own(SupernodeHandlers):
            def udp_probe(self, request):
                return [request.reply(29)]
        own = Own()
        self.node.handler_sets.for_udp_peer = lambda session: own
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0]), PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].cmd, 29)

    def test_overridden_body_is_used(self):
        class Body(SupernodeHandlers):
            def probe_reply_body(self):
                return b"\x41\x00"
        handlers = Body()
        self.node.handler_sets.for_udp_peer = lambda session: handlers
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0]), PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].body, b"\x41\x00")

    def test_bad_key_still_nacked(self):
        self.proto.datagramReceived(
            client_datagram(request_plaintext(27, 8), 9, "10.9.9.9"), PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(wire_udp.parse_datagram(data).kind, wire_udp.KIND_NACK)

    def test_reply_written_with_the_socket(self):
        sock = self.proto.transport.socket = FakeSocket()
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0]), PEER)
        self.assertEqual(len(sock.sent), 1)
        self.assertEqual(sock.sent[0][1], PEER)
        self.assertEqual(self.proto.transport.take(), [])

    def test_socket_error_falls_back_to_transport_write(self):
        self.proto.transport.socket = FakeSocket(fail=True)
        self.proto.datagramReceived(client_datagram(request_plaintext(27, 8), 9, PEER[0]), PEER)
        self.assertEqual(len(self.proto.transport.take()), 1)


class GeneralPathTests(unittest.TestCase):

    def setUp(self):
        self.node = make_node()
        self.proto = udp_protocol(self.node)

    def test_deferred_handler_answered_when_it_fires(self):
        pending = defer.Deferred()
        handlers = self.node.handler_sets.for_udp_peer(None)
        self.patch(handlers, "udp_address_query", lambda request: pending)
        self.proto.datagramReceived(client_datagram(request_plaintext(35, 8), 9, PEER[0]), PEER)
        self.assertEqual(self.proto.transport.take(), [])
        pending.callback([Command(36, KIND_REPLY, 8, b"\x41\x00")])
        (data, _), = self.proto.transport.take()
        self.assertEqual(open_reply(data, PEER[0])[0].cmd, 36)

    def test_synchronous_handler_error_is_contained(self):
        handlers = self.node.handler_sets.for_udp_peer(None)

        def broken(request):
            raise ValueError("handler bug")
        self.patch(handlers, "udp_address_query", broken)
        self.proto.datagramReceived(client_datagram(request_plaintext(35, 8), 9, PEER[0]), PEER)
        self.assertEqual(self.proto.transport.take(), [])
        self.assertEqual(self.proto.stats["errors"], 1)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        # The cache entry is gone: a retransmission is handled again.
        self.assertEqual(len(self.proto.replies), 0)

    def test_notification_acked_synchronously(self):
        plain = request_plaintext(12, None, kind=KIND_NOTIFICATION)
        self.proto.datagramReceived(client_datagram(plain, 9, PEER[0]), PEER)
        (data, _), = self.proto.transport.take()
        self.assertEqual(wire_udp.parse_datagram(data).kind, wire_udp.KIND_ACK)


class ExpiringDictTests(unittest.TestCase):

    def test_entries_expire_after_ttl(self):
        clock = task.Clock()
        cache = ExpiringDict(10.0, 100, clock.seconds)
        cache.set("a", 1)
        clock.advance(5)
        cache.set("b", 2)
        clock.advance(5)
        self.assertEqual(cache.items(), [("b", 2)])
        clock.advance(4.9)
        cache.set("c", 3)
        self.assertEqual(sorted(cache._data), ["b", "c"])
        clock.advance(0.2)
        cache.set("d", 4)
        self.assertEqual(sorted(cache._data), ["c", "d"])

    def test_reset_entry_moves_to_the_end(self):
        clock = task.Clock()
        cache = ExpiringDict(10.0, 100, clock.seconds)
        cache.set("a", 1)
        clock.advance(6)
        cache.set("a", 3)
        clock.advance(6)
        cache.set("c", 4)
        self.assertEqual(list(cache._data), ["a", "c"])
        self.assertEqual(cache.get("a"), 3)
        clock.advance(4.5)
        cache.set("d", 5)
        self.assertEqual(list(cache._data), ["c", "d"])

    def test_walks_only_when_the_oldest_is_due(self):
        clock = task.Clock()
        cache = ExpiringDict(10.0, 1000, clock.seconds)
        walks = []
        original = cache._expire

        def counting(now):
            if now >= cache._due:
                walks.append(now)
            return original(now)
        cache._expire = counting
        for _ in range(500):
            cache.set(clock.seconds(), None)
            clock.advance(0.01)
        self.assertEqual(walks, [])
        clock.advance(10)
        cache.set("x", None)
        self.assertEqual(len(walks), 1)
        self.assertEqual(list(cache._data), ["x"])

    def test_bounded(self):
        clock = task.Clock()
        cache = ExpiringDict(10.0, 3, clock.seconds)
        for i in range(10):
            cache.set(i, i)
        self.assertEqual(sorted(cache._data), [7, 8, 9])
        clock.advance(11)
        cache.set("new", 0)
        self.assertEqual(list(cache._data), ["new"])
