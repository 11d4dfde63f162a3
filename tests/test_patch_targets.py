"""--server and the per-role options (blissnode.patch.targets)."""

from twisted.trial.unittest import TestCase

from blissnode.patch.targets import Endpoint, TargetError, server_targets


class TargetTests(TestCase):
    def test_defaults_are_blissnode_listener_ports(self):
        t = server_targets("192.0.2.10")
        self.assertEqual(t, {"login": Endpoint("192.0.2.10", 33033),
                             "event": Endpoint("192.0.2.10", 12350),
                             "supernode": Endpoint("192.0.2.10", 33000)})

    def test_ports_in_order(self):
        t = server_targets("skype.example.org:1:2:3")
        self.assertEqual([str(t[r]) for r in ("login", "event", "supernode")],
                         ["skype.example.org:1", "skype.example.org:2", "skype.example.org:3"])
        self.assertFalse(t["login"].is_ipv4)

    def test_per_role_override(self):
        t = server_targets("192.0.2.10", event="198.51.100.7", supernode="198.51.100.8:40030")
        self.assertEqual(str(t["event"]), "198.51.100.7:12350")
        self.assertEqual(str(t["supernode"]), "198.51.100.8:40030")
        self.assertEqual(str(t["login"]), "192.0.2.10:33033")

    def test_bad_values(self):
        for server in ("", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:x", "1.2.3:4",
                       "1.2.3.4:1:2:3:4", "bad_host", "300.1.1.1"):
            self.assertRaises(TargetError, server_targets, server)
        e = self.assertRaises(TargetError, server_targets, "1.2.3.4", login="h:99999")
        self.assertIn("--login", str(e))
