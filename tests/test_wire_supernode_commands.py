"""The typed supernode command bodies (wire.supernode_commands): each reads
and writes the item ids of the spec's worked examples and real bytes."""

from twisted.trial.unittest import TestCase

from blissnode.wire.objects import (
    Addr,
    Blob,
    Int,
    Int64,
    IntArray,
    NestedList,
    NetAddr,
    ObjectList,
    String,
    decode_objects,
    encode_objects,
)
from blissnode.wire.supernode_commands import (
    AcceptReply,
    ClientAccept,
    ClientInfo,
    EventConnect,
    FirewallReply,
    Publish,
    Push,
    SlotQuery,
    UserSearch,
)


def roundtrip(items, compressed=False):
    return decode_objects(encode_objects(ObjectList(items), compressed=compressed))


class ReadTests(TestCase):
    def test_cmd30_of_1x_and_5x(self):
        old = ClientAccept.from_objects(roundtrip(
            [Int(1, 2), Int64(0xD, 0xCB979E2BCFB3746B), Int(0x10, 37058)]))
        self.assertEqual(old, ClientAccept(2, None, 0xCB979E2BCFB3746B, 37058))
        new = ClientAccept.from_objects(roundtrip(
            [Int(1, 15), Int(0xB, 52), Int64(0xD, 7), Int(0x10, 54260), Int(0x23, 0),
             Int(0x2C, 1)], compressed=True))
        self.assertEqual((new.stack_version, new.listen_port), (52, 54260))

    def test_cmd37_version_string_new_then_old_id(self):
        self.assertEqual(ClientInfo.from_objects(roundtrip(
            [String(0xE, b"old"), String(0x5D, b"0/1.4.0.84")])).version_string, "0/1.4.0.84")
        self.assertEqual(ClientInfo.from_objects(roundtrip(
            [String(0xE, b"0/1.2.0.18")])).version_string, "0/1.2.0.18")
        self.assertIsNone(ClientInfo.from_objects(roundtrip([])).version_string)

    def test_cmd7_as_the_real_7_7_client_sent_it(self):
        # ERRATA (nDPI 2015): the item layout of the real cmd 7.
        body = roundtrip([Int(0xB, 52), Int(0xC, 1503252026),
                          Addr(0x11, NetAddr("91.190.218.125", 12350)),
                          String(0x26, b"3/7.7.0.335"), Blob(0x2A, bytes(29))], compressed=True)
        cmd7 = EventConnect.from_objects(body)
        self.assertEqual(cmd7, EventConnect(52, ("91.190.218.125", 12350), "3/7.7.0.335",
                                            bytes(29)))

    def test_slot_query_and_refill(self):
        self.assertEqual(SlotQuery.from_objects(roundtrip([Int(0, 45), Int(5, 5)])),
                         SlotQuery(45, None, 5))
        self.assertEqual(SlotQuery.from_objects(roundtrip([Int(4, 16), Int(5, 6)])),
                         SlotQuery(None, 16, 6))

    def test_search_push_publish(self):
        search = UserSearch.from_objects(roundtrip(
            [NestedList(0, [String(0, b"alice01"), Int(1, 0), Int(2, 16)]),
             IntArray(1, [16, 11])]))
        self.assertEqual(search, UserSearch("alice01", 0))
        self.assertEqual(UserSearch.from_objects(roundtrip([])), UserSearch())
        push = Push.from_objects(roundtrip(
            [Int(0, 2), Blob(1, b"r" * 21), Int(2, 67), NestedList(3, [String(0, b"bob0001")]),
             Int(4, 28)]))
        self.assertEqual((push.inner_cmd, push.target_name, push.target_record),
                         (67, "bob0001", b"r" * 21))
        self.assertEqual(Publish.from_objects(roundtrip([Blob(0xB, b"rec")])).record, b"rec")
        self.assertIsNone(Publish.from_objects(roundtrip([Int(0xB, 1)])).record)  # wrong type


class WriteTests(TestCase):
    def test_cmd31_items_in_the_order_of_the_worked_example(self):
        # supernode.rst / BATO: INT 0xB, INT 0xC, INT 0x10, ADDR 0x11, INTARRAY 0x21.
        items = AcceptReply(44, 802011429, 33000, NetAddr("203.0.113.7", 1184), (0, 0)).items()
        self.assertEqual([(it.TYPE, it.id) for it in items],
                         [(0, 0xB), (0, 0xC), (0, 0x10), (2, 0x11), (6, 0x21)])
        extra = AcceptReply(53, 1, 2, NetAddr("1.2.3.4", 5), (0, 0), [Int(0x99, 1)]).items()
        self.assertEqual(extra[-1], Int(0x99, 1))

    def test_cmd42(self):
        self.assertEqual(FirewallReply(NetAddr("1.2.3.4", 5), 7794).items(),
                         [Addr(0x11, NetAddr("1.2.3.4", 5)), Int(0x19, 7794)])
