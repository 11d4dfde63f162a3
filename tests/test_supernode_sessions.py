"""SessionTable: the supernode's live sessions, indexed so the UDP path's
"which accepted session is this datagram's client?" costs the same with one
or ten thousand sessions behind one NAT address."""

from twisted.trial.unittest import TestCase

from blissnode.supernode.sessions import SessionTable


class S(object):
    def __init__(self, sid, ip, listen_port=None):
        self.session_id = sid
        self.peer = (ip, 40000)
        self.listen_port = listen_port


class SessionTableTests(TestCase):
    def setUp(self):
        self.table = SessionTable()

    def test_ids_are_unique(self):
        self.assertEqual(len({self.table.new_id() for _ in range(100)}), 100)

    def test_udp_peer_by_listening_port_then_most_recent(self):
        a, b = S("a", "10.0.0.1", 1111), S("b", "10.0.0.1", 2222)
        for s in (a, b):
            self.table.add(s)
        self.assertIsNone(self.table.for_udp_peer(("10.0.0.1", 1111)))  # not accepted yet
        self.table.accepted(a)
        self.table.accepted(b)
        self.assertIs(self.table.for_udp_peer(("10.0.0.1", 1111)), a)
        self.assertIs(self.table.for_udp_peer(("10.0.0.1", 2222)), b)
        self.assertIs(self.table.for_udp_peer(("10.0.0.1", 9)), b)
        self.assertIsNone(self.table.for_udp_peer(("10.0.0.2", 1111)))

    def test_removal_keeps_the_indexes_right(self):
        old, new = S("old", "10.0.0.1", 1111), S("new", "10.0.0.1", 1111)
        for s in (old, new):
            self.table.add(s)
            self.table.accepted(s)
        self.assertEqual(self.table.accepted_count(), 2)
        self.assertIs(self.table.for_udp_peer(("10.0.0.1", 1111)), new)
        self.assertTrue(self.table.remove(new))
        self.assertIs(self.table.for_udp_peer(("10.0.0.1", 1111)), old)
        self.assertFalse(self.table.remove(new))
        self.assertTrue(self.table.remove(old))
        self.assertIsNone(self.table.for_udp_peer(("10.0.0.1", 1111)))
        self.assertEqual((len(self.table), self.table.accepted_count(),
                          self.table.from_ip("10.0.0.1")), (0, 0, 0))

    def test_many_sessions_behind_one_address(self):
        sessions = [S("s%d" % i, "203.0.113.9", 10000 + i) for i in range(10000)]
        for s in sessions:
            self.table.add(s)
            self.table.accepted(s)
        self.assertIs(self.table.for_udp_peer(("203.0.113.9", 10042)), sessions[42])
        self.assertIs(self.table.for_udp_peer(("203.0.113.9", 5)), sessions[-1])
        self.assertEqual(self.table.from_ip("203.0.113.9"), 10000)
        self.assertEqual(self.table.accepted_count(), 10000)
