"""The deployment files in contrib/ name only options the server has."""

import os
import re
import shlex

from twisted.trial.unittest import TestCase

from blissnode import tap
from blissnode.config import apply_config, load_config

CONTRIB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "contrib")


class ContribTests(TestCase):
    def test_example_config_parses(self):
        options = tap.Options()
        path = os.path.join(CONTRIB, "blissnode.toml")
        apply_config(options, load_config(path), path)
        options.parseOptions([])
        self.assertEqual(options["public-ip"], "192.0.2.10")
        self.assertEqual(options["registration"], "closed")
        self.assertEqual(options["admin"], "tcp:8080:interface=127.0.0.1")

    def test_systemd_unit_runs_twistd_blissnode(self):
        with open(os.path.join(CONTRIB, "blissnode.service")) as f:
            text = f.read()
        (line,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
        argv = shlex.split(line)
        self.assertTrue(argv[0].endswith("/twistd"))
        plugin_args = argv[argv.index("blissnode") + 1:]
        tap.Options().parseOptions(
            [a.replace("/etc/blissnode/blissnode.toml", os.path.join(CONTRIB, "blissnode.toml"))
             for a in plugin_args])
        self.assertIn("User=blissnode", text)

    def test_docker_files_agree(self):
        with open(os.path.join(CONTRIB, "Dockerfile")) as f:
            dockerfile = f.read()
        with open(os.path.join(CONTRIB, "docker-compose.yml")) as f:
            compose = f.read()
        self.assertIn("USER blissnode", dockerfile)
        for port in ("33000/udp", "33033", "12350", "8080"):
            self.assertIn(port, dockerfile)
            self.assertIn(port, compose)
        self.assertIn('"127.0.0.1:8080:8080/tcp"', compose)
