"""
blissnode.logthrottle.LogThrottle: at most one line per (source, kind) per
interval, the suppressed lines counted and reported (on the source's next
line, or as a summary once its window is over), bounded memory; and the
supernode still imports it from blissnode.supernode.limits.
"""

from twisted.internet import task
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.trial.unittest import TestCase

from blissnode.logthrottle import LogThrottle


class Collect(object):
    """A twisted.logger observer keeping every event."""

    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def texts(self):
        return [formatEvent(e) for e in self.events]


class GlobalCapTests(TestCase):
    """Issue 17.9: a flood from many sources stays under a global cap, and
    peer data is truncated."""

    def setUp(self):
        self.clock = task.Clock()
        self.seen = Collect()
        self.throttle = LogThrottle(self.clock.seconds, 60.0, max_sources=100,
                                    logger=Logger(namespace="test", observer=self.seen),
                                    global_rate=10.0, global_burst=50)

    def test_many_sources_capped(self):
        for i in range(10000):
            self.throttle.info("10.%d.%d.1" % (i // 256, i % 256), "bad", "{source}: x")
        self.assertEqual(len(self.seen.events), 50)
        self.clock.advance(1.0)  # ten more lines' worth
        self.throttle.info("192.0.2.1", "bad", "{source}: x")
        texts = self.seen.texts()
        self.assertEqual(texts[-2], "9950 peer-caused log lines suppressed by the global cap")
        self.assertEqual(texts[-1], "192.0.2.1: x")
        self.throttle.flush()
        self.assertEqual(len(self.seen.events), 52)  # nothing more held back

    def test_peer_data_truncated(self):
        self.throttle.warn("203.0.113.5", "version", "{source}: {text!r} {error}",
                           text="A" * 30000, error=ValueError("B" * 30000))
        text, = self.seen.texts()
        self.assertLess(len(text), 600)
        self.assertIn("(30000 characters)", text)


class LogThrottleTests(TestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.seen = Collect()
        self.throttle = LogThrottle(self.clock.seconds, 60.0, max_sources=100,
                                    logger=Logger(namespace="test", observer=self.seen))

    def bad(self, source, n=1, kind="bad"):
        return [self.throttle.info(source, kind, "{source}: garbage {i}", i=i)
                for i in range(n)]

    def test_flood_from_one_source_is_one_line_per_interval(self):
        written = self.bad("203.0.113.5", 1000)
        self.assertEqual(written, [True] + [False] * 999)
        self.assertEqual(self.seen.texts(), ["203.0.113.5: garbage 0"])
        self.assertEqual(self.throttle.suppressed("203.0.113.5", "bad"), 999)
        self.assertEqual(self.seen.events[0]["log_level"], LogLevel.info)
        # Still within the interval: nothing.
        self.clock.advance(59)
        self.bad("203.0.113.5", 10)
        self.assertEqual(len(self.seen.events), 1)
        # The next interval: one line, carrying the count.
        self.clock.advance(1)
        self.bad("203.0.113.5", 500)
        self.assertEqual(len(self.seen.events), 2)
        last = self.seen.events[-1]
        self.assertEqual(last["suppressed"], 1009)
        self.assertEqual(formatEvent(last),
                         "203.0.113.5: garbage 0 (and 1009 similar since the last such line)")
        self.assertEqual(self.throttle.suppressed("203.0.113.5", "bad"), 499)

    def test_quiet_source_gets_a_summary_line(self):
        self.bad("203.0.113.5", 42)
        self.clock.advance(61)
        # Another source's line (any use of the throttle) writes the summary.
        self.bad("198.51.100.7")
        self.assertEqual(sorted(self.seen.texts()[1:]),
                         ["198.51.100.7: garbage 0",
                          "203.0.113.5: 41 more bad lines suppressed"])
        summary = [e for e in self.seen.events if "kind" in e][0]
        self.assertEqual((summary["source"], summary["kind"], summary["suppressed"]),
                         ("203.0.113.5", "bad", 41))
        self.assertEqual(summary["log_level"], LogLevel.info)
        # Written once: the window is forgotten (B's has nothing to report).
        self.assertEqual(len(self.throttle), 1)
        self.clock.advance(61)
        self.throttle.flush()
        self.assertEqual(len(self.seen.events), 3)
        self.assertEqual(len(self.throttle), 0)

    def test_flush_and_no_summary_without_suppressed_lines(self):
        self.bad("203.0.113.5", 3)
        self.bad("198.51.100.7", 1)
        self.clock.advance(60)
        self.throttle.flush()
        self.assertEqual(self.seen.texts(), ["203.0.113.5: garbage 0",
                                             "198.51.100.7: garbage 0",
                                             "203.0.113.5: 2 more bad lines suppressed"])

    def test_sources_and_kinds_are_independent(self):
        self.bad("203.0.113.5", 50)
        self.bad("198.51.100.7", 50)
        self.bad("203.0.113.5", 50, kind="timeout")
        self.assertEqual(self.seen.texts(), ["203.0.113.5: garbage 0",
                                             "198.51.100.7: garbage 0",
                                             "203.0.113.5: garbage 0"])

    def test_many_sources_bounded_memory_and_lines(self):
        # A flood from 10 000 addresses, each repeating: one line per source
        # plus at most one summary for each source evicted with a count
        # (without the global cap, tested below).
        self.throttle = LogThrottle(self.clock.seconds, 60.0, max_sources=100,
                                    logger=Logger(namespace="test", observer=self.seen),
                                    global_rate=None)
        for i in range(10000):
            self.bad("10.%d.%d.1" % (i // 256, i % 256), 3)
            self.assertLessEqual(len(self.throttle), 100)
        lines = self.seen.texts()
        self.assertEqual(len([t for t in lines if "garbage" in t]), 10000)
        summaries = [e for e in self.seen.events if "kind" in e]
        self.assertEqual(len(summaries), 10000 - 100)
        self.assertEqual({e["suppressed"] for e in summaries}, {2})

    def test_warn_and_failure_levels(self):
        self.assertTrue(self.throttle.warn("a", "w", "{source} warned"))
        self.assertFalse(self.throttle.warn("a", "w", "{source} warned"))
        try:
            1 / 0
        except ZeroDivisionError:
            self.assertTrue(self.throttle.failure("a", "bug", "{source} failed"))
            self.assertFalse(self.throttle.failure("a", "bug", "{source} failed"))
        self.assertEqual([e["log_level"] for e in self.seen.events],
                         [LogLevel.warn, LogLevel.critical])
        self.assertIsInstance(self.seen.events[1]["log_failure"].value, ZeroDivisionError)
        self.clock.advance(60)
        self.throttle.flush()
        # The failure's summary is a warning, not a traceback.
        self.assertEqual([e["log_level"] for e in self.seen.events[2:]],
                         [LogLevel.warn, LogLevel.warn])

    def test_allow_kept_for_callers(self):
        self.assertTrue(self.throttle.allow("a"))
        self.assertFalse(self.throttle.allow("a"))
        self.assertEqual(self.throttle.suppressed("a"), 1)

    def test_supernode_import_still_works(self):
        from blissnode.supernode import limits
        from blissnode.supernode.node import LogThrottle as used

        self.assertIs(limits.LogThrottle, LogThrottle)
        self.assertIs(used, LogThrottle)
