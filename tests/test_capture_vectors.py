"""
Capture files built from the shared vectors' real-format byte streams (not
from our own encoder): every classic stream of tcp_frames.json's
``rc4_keystream`` cases (the ten without a DH secret), written into a pcap, decodes to its seed, its
greeting plaintext and its first record.
"""

import json
import os
import subprocess
import sys

from twisted.trial.unittest import TestCase

from tests.capture_helpers import CaptureBuilder
from tests.vectors import cases

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class VectorStreamCaptureTests(TestCase):

    def test_every_rc4_keystream_stream(self):
        # The cases with a dh_secret are 5.5+ keystreams (the key mixes in
        # K), which only follow a DH-384 opening: not a classic stream.
        vectors = [c for c in cases("tcp_frames.json", "rc4_keystream")
                   if "dh_secret_hex" not in c]
        self.assertEqual(len(vectors), 10)
        capture = CaptureBuilder()
        for i, case in enumerate(vectors):
            conversation = capture.tcp(("192.0.2.10", 20000 + i), ("192.0.2.20", 33033))
            conversation.open()
            conversation.send("c2s", bytes.fromhex(case["stream_hex"]), mss=7)
            conversation.close()
        path = capture.write(os.path.join(self.mktemp() + ".pcap"))
        done = subprocess.run([sys.executable, "-m", "blissnode", "decode", "pcap", path],
                              cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        units = [json.loads(line) for line in done.stdout.decode().splitlines()]
        summary = units.pop()["summary"]
        self.assertEqual(summary["flow_kinds"], {"classic-peer": len(vectors)})
        self.assertEqual(summary["undecoded_units"], 0)
        by_flow = {}
        for unit in units:
            by_flow.setdefault(unit["flow"], []).append(unit)
        self.assertEqual(len(by_flow), len(vectors))
        for flow, case in zip(sorted(by_flow), vectors):
            seed, record = by_flow[flow]
            self.assertEqual(seed["layer"], "seed-exchange")
            self.assertEqual(seed["seed"], case["seed_hex"])
            self.assertEqual(seed["greeting"]["plaintext"], case["greeting_plain_hex"])
            self.assertEqual(record["layer"], "peer-record")
            self.assertEqual(record["raw"], case["first_record_plain_hex"])
