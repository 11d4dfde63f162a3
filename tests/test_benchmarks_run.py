"""
Every benchmark still runs to the end, at the smallest sizes (no figure is
checked: speed goals live in the benchmarks' own output, docs/performance.rst).

Why: the benchmarks drive real servers with loads from one address, so a
new server limit (per-address admission, closed registration, an output
guard on the transport) can break them silently; this caught four such
breaks.  Each run is bounded by a timeout and must exit 0 with no failed
operation where the benchmark counts them.
"""

import os
import subprocess
import sys

from twisted.trial.unittest import TestCase

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_benchmark(case, name, *args, timeout=240):
    command = [sys.executable, os.path.join(HERE, "benchmarks", name)] + list(args)
    try:
        done = subprocess.run(command, cwd=HERE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        case.fail("%s did not finish in %d s:\n%s" % (name, timeout, (e.output or b"")[-3000:]))
    output = done.stdout.decode("utf-8", "replace")
    case.assertEqual(done.returncode, 0, "%s exited %d:\n%s" % (name, done.returncode,
                                                               output[-3000:]))
    return output


class BenchmarksRunTests(TestCase):

    def test_login(self):
        out = run_benchmark(self, "login.py", "--seconds", "0.5", "--repeats", "1",
                            "--concurrency", "4")
        self.assertIn("6.16.0.105 (DH-384 + RC4)", out)
        self.assertIn("idle   during 4.1.0.130", out)
        self.assertIn("low    during 6.16.0.105", out)

    def test_event(self):
        out = run_benchmark(self, "event.py", "--contacts", "20", "--messages", "20",
                            "--rounds", "1")
        self.assertIn("offline messages: 20 delivered", out)

    def test_relay(self):
        out = run_benchmark(self, "relay.py", "--quick", "--seconds", "0.2",
                            "--connections", "20")
        self.assertIn("idle relayed connections held: 20", out)

    def test_supernode(self):
        out = run_benchmark(self, "supernode.py", "--quick", "--sessions", "20",
                            "--behind-ip", "50")
        self.assertIn("5000/5000", out)
        self.assertIn("(0 errors)", out)
        self.assertNotIn("errors)", out.replace("(0 errors)", ""))

    def test_soak(self):
        out = run_benchmark(self, "soak.py", "--seconds", "0.5", "--restarts", "1")
        self.assertIn("attempted, 0 failed", out)  # the baseline, before any attack
        self.assertRegex(out, r"kill -9 restarts: 1 rounds, [1-9]\d* acknowledged "
                              r"registrations, 0 lost")

    def test_scaleout(self):
        out = run_benchmark(self, "scaleout.py", "--quick", "--seconds", "0.5",
                            "--sessions", "20")
        self.assertIn("lookup_name", out)
        self.assertRegex(out, r"logins refused or failed\s+0\s+0\n")
        self.assertRegex(out, r"idle 1.4 sessions held\s+20\s+20\n")
