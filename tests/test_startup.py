"""Start-up as an operator meets it: the config file, the log options, and
fatal errors that are one line and a non-zero exit (real ``twistd`` runs)."""

import io
import json
import os
import socket
import subprocess
import sys

from twisted.application import service
from twisted.logger import ILogObserver, Logger
from twisted.python import usage
from twisted.trial.unittest import TestCase

from blissnode import tap
from blissnode.datadir import ensure_data_dir, hand_over, run_as_ids
from blissnode.logconfig import make_observer, observer_for_options

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")
OFF = ["--supernode-tcp", "none", "--supernode-udp", "none", "--supernode-https", "none",
       "--event-tcp", "none"]


def run_twistd(args, cwd, timeout=60):
    """``twistd -n blissnode ARGS``: (exit status, output lines)."""
    done = subprocess.run([TWISTD, "-n", "--pidfile=", "blissnode"] + args, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    return done.returncode, done.stdout.splitlines()


class ConfigFileTests(TestCase):
    def write(self, text):
        path = self.mktemp() + ".toml"
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_file_sets_and_flags_override(self):
        path = self.write('public-ip = "192.0.2.10"\nudp_rate = 7\nregistration = "open"\n'
                          'event-addresses = ["192.0.2.1:12350", "192.0.2.2:12350"]\n'
                          'log-json = true\nlog-level = "warn"\n')
        options = tap.Options()
        options.parseOptions(["--config", path, "--udp-rate", "9"])
        self.assertEqual(options["public-ip"], "192.0.2.10")
        self.assertEqual(options["udp-rate"], 9.0)      # the flag wins
        self.assertEqual(options["registration"], "open")
        self.assertEqual(options["event-addresses"], (("192.0.2.1", 12350),
                                                      ("192.0.2.2", 12350)))
        self.assertEqual((options["log-json"], options["log-level"]), (1, "warn"))

    def test_every_option_can_be_set(self):
        options = tap.Options()
        flags = {f[0] for f in options.optFlags}
        lines = []
        for name, value in sorted(options.defaults.items()):
            if name == "config" or name in flags:
                continue
            lines.append('%s = %s' % (name, json.dumps(str(value))))
        options = tap.Options()
        options.parseOptions(["--config=" + self.write("\n".join(lines) + "\n")])

    def test_errors_are_one_line(self):
        for text, words in (('nosuch = 1\n', "unknown option 'nosuch'"),
                            ('public-ip = [1, {a = 2}]\n', "unsupported value"),
                            ('public-ip = \n', "not valid TOML"),
                            ('log-json = "yes"\n', "true or false"),
                            ('udp-rate = true\n', "not true/false")):
            e = self.assertRaises(usage.UsageError, tap.Options().parseOptions,
                                  ["--config", self.write(text)])
            self.assertIn(words, str(e))
            self.assertNotIn("\n", str(e))
        e = self.assertRaises(usage.UsageError, tap.Options().parseOptions,
                              ["--config", "/nonexistent/blissnode.toml"])
        self.assertIn("No such file", str(e))


class LogOptionTests(TestCase):
    def test_json_lines_and_level(self):
        out = io.StringIO()
        observer = make_observer("warn", True, out)
        logger = Logger(namespace="blissnode.test", observer=observer)
        logger.info("quiet {x}", x=1)
        logger.warn("loud {x}", x=2)
        lines = out.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        event = json.loads(lines[0])
        self.assertEqual((event["log_format"], event["x"]), ("loud {x}", 2))

    def test_text_at_debug(self):
        out = io.StringIO()
        logger = Logger(namespace="blissnode.test", observer=make_observer("debug", False, out))
        logger.debug("detail {x}", x=3)
        self.assertIn("detail 3", out.getvalue())

    def test_observer_reaches_the_twistd_application(self):
        options = tap.Options()
        options.parseOptions(OFF + ["--login-tcp", "none", "--log-json",
                                    "--data-dir", self.mktemp()])
        self.assertIsNotNone(observer_for_options(options, io.StringIO()))
        top = tap.makeService(options)
        application = service.Application("blissnode")
        top.setServiceParent(application)
        self.assertIs(application.getComponent(ILogObserver), top.log_observer)
        # Defaults leave twistd's own observer alone.
        options = tap.Options()
        options.parseOptions(OFF + ["--login-tcp", "none", "--data-dir", self.mktemp()])
        self.assertIsNone(observer_for_options(options))
        self.assertRaises(usage.UsageError, tap.Options().parseOptions,
                          ["--log-level", "chatty"])


class RunAsTests(TestCase):
    def test_ids_from_twistd(self):
        class Parent(dict):
            pass
        child = tap.Options()
        self.assertEqual(run_as_ids(child), (None, None))
        child.parent = Parent(uid=0, gid=None)
        self.assertEqual(run_as_ids(child), (0, 0))

    def test_hand_over(self):
        fp = ensure_data_dir(self.mktemp())
        with open(os.path.join(fp.path, "f"), "w"):
            pass
        self.assertFalse(hand_over(fp, None, None))
        if os.getuid() != 0:
            self.assertFalse(hand_over(fp, 12345, 12345))
            return
        self.assertTrue(hand_over(fp, 12345, 23456))
        for path in (fp.path, os.path.join(fp.path, "f")):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (12345, 23456))


class FatalStartupTests(TestCase):
    """Real twistd processes: one line, exit status 1."""

    def test_port_in_use(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cwd = self.mktemp()
        os.makedirs(cwd)
        status, lines = run_twistd(OFF + ["--data-dir", "d", "--login-tcp",
                                          "tcp:%d:interface=127.0.0.1" % (port,)], cwd)
        self.assertEqual(status, 1)
        errors = [l for l in lines if "cannot listen" in l]
        self.assertEqual(len(errors), 1, lines)
        self.assertIn("Address already in use", errors[0])
        self.assertFalse(any("Traceback" in l for l in lines), lines)

    def test_public_ip_required(self):
        cwd = self.mktemp()
        os.makedirs(cwd)
        status, lines = run_twistd(["--data-dir", "d", "--login-tcp", "none",
                                    "--event-tcp", "none", "--supernode-https", "none",
                                    "--supernode-tcp", "tcp:0", "--supernode-udp", "udp:0"], cwd)
        self.assertEqual(status, 1)
        self.assertTrue(any("--public-ip is required" in l for l in lines), lines)
        self.assertFalse(any("Traceback" in l for l in lines), lines)

    def test_unusable_database(self):
        cwd = self.mktemp()
        os.makedirs(os.path.join(cwd, "d"))
        with open(os.path.join(cwd, "d", "blissnode.sqlite3"), "wb") as f:
            f.write(b"not a database" * 100)
        status, lines = run_twistd(OFF + ["--data-dir", "d", "--login-tcp",
                                          "tcp:0:interface=127.0.0.1"], cwd)
        self.assertEqual(status, 1, lines)
        self.assertEqual(len([l for l in lines if "cannot open the database" in l]), 1, lines)


class AdminOptionTests(TestCase):
    def test_bad_admin_options(self):
        for extra in (["--admin", "http://x"], ["--admin-signup", "maybe"],
                      ["--password-min-length", "0"], ["--password-min-length", "x"]):
            self.assertRaises(usage.UsageError, tap.Options().parseOptions, OFF + extra)
        options = tap.Options()
        options.parseOptions(OFF + ["--login-tcp", "none", "--admin", "tcp:notaport",
                                    "--data-dir", self.mktemp()])
        e = self.assertRaises(SystemExit, tap.makeService, options)
        self.assertIn("--admin tcp:notaport is not a server endpoint", str(e.code))


class WorkersTests(TestCase):
    def test_admin_is_refused_with_workers(self):
        options = {"workers": "2", "admin": "tcp:0:interface=127.0.0.1"}
        e = self.assertRaises(SystemExit, tap.make_master, options)
        self.assertIn("--admin is not available with --workers", str(e.code))

    def test_public_ip_checked_in_the_master(self):
        options = dict((name, default) for name, default, _r, _t, _h in tap.LISTENERS)
        options.update({"workers": "2", "admin": "none", "public-ip": "auto"})
        e = self.assertRaises(SystemExit, tap.make_master, options)
        self.assertIn("--public-ip is required", str(e.code))

    def test_workers_do_not_read_the_config_again(self):
        argv = tap.options_to_argv({"config": "/etc/blissnode.toml", "workers": "2"})
        self.assertFalse(any(a.startswith("--config") for a in argv))
