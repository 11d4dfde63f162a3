"""
The reference client's session with another client (client.peer
PeerSessionCore, wire.peer_messages), sans-IO: two cores wired together
set the session up with their credentials, switch to the session key and
exchange messages and acks both ways; forged credentials, wrong
signatures, a wrong peer and records keyed for another session fail.
"""

import random

from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.trial.unittest import TestCase

from blissnode.client.event import presence_record
from blissnode.client.login import generate_user_key
from blissnode.client.peer import (
    INITIATOR,
    RESPONDER,
    Identity,
    MessageAcked,
    MessageReceived,
    PeerSessionCore,
    SessionFailed,
    SessionReady,
)
from blissnode.wire.aes_ctr import (
    encode_session_plaintext,
    open_session_record,
    seal_session_record,
    session_key,
)
from blissnode.wire.credentials import build_credential
from blissnode.wire.errors import ChecksumError
from blissnode.wire.objects import Blob, Int, Int64, String
from blissnode.wire.peer_messages import (
    body_bytes,
    check_challenge,
    open_user_record,
    sign_challenge,
)
from blissnode.wire.relay_commands import rekey_session_record
from blissnode.wire.rsa_raw import RsaPrivate
from blissnode.wire.tcp_records import decode_records

_KEYS = {}


def signing_key():
    if "cred" not in _KEYS:
        _KEYS["cred"] = RsaPrivate.from_numbers(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers())
    return _KEYS["cred"]


def identity(name, key=None):
    user = generate_user_key()
    modulus = user.public_key().public_numbers().n.to_bytes(128, "big")
    cred = build_credential(name, modulus, 30000000, {9: 30500000}, (key or signing_key()).raw)
    return Identity(name, cred.raw, user)


def pump(a, b, relay=None):
    """Carry records between two cores until both are quiet; ``relay``:
    (cid) re-key CHK as the relay does.  Returns the events of each."""
    events = {id(a): [], id(b): []}
    moved = True
    while moved:
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.take()
            if not data:
                continue
            moved = True
            for record in _decode(data):
                if relay is not None:
                    record = rekey_session_record(record, relay, dst.session_id)
                events[id(dst)] += dst.receive(record)
    return events[id(a)], events[id(b)]


def _decode(data):
    out = decode_records(data)
    return out[0] if isinstance(out, tuple) else out


class PeerCoreTests(TestCase):

    def setUp(self):
        self.alice, self.bob = identity("alice"), identity("bob")
        self.key = signing_key().public

    def pair(self, relay=None, peer_name="bob"):
        a = PeerSessionCore(INITIATOR, self.alice, self.key, session_id=0x1111,
                            peer_name=peer_name, node_record=b"n" * 27, relay_id=relay)
        b = PeerSessionCore(RESPONDER, self.bob, self.key, session_id=0x2222, relay_id=relay)
        return a, b

    def test_set_up_and_messages_both_ways(self):
        a, b = self.pair()
        a.start()
        ea, eb = pump(a, b)
        self.assertEqual(ea, [SessionReady("bob")])
        self.assertEqual(eb, [SessionReady("alice")])
        self.assertEqual(a.key, b.key)
        self.assertEqual(a.key, session_key(a._nonce, b._nonce))
        self.assertNotEqual(a.key, bytes(32))
        self.assertEqual((a.x_out, a.x_in), (b.x_in, b.x_out))
        self.assertEqual(a.x_out, 0x11112222)
        tid = a.send_message("hello bob")
        ea, eb = pump(a, b)
        self.assertEqual(eb, [MessageReceived("alice", "hello bob", tid)])
        self.assertEqual(ea, [MessageAcked(tid)])
        tid2 = b.send_message("hi alice")
        ea, eb = pump(a, b)
        self.assertEqual(ea, [MessageReceived("bob", "hi alice", tid2)])
        self.assertEqual(eb, [MessageAcked(tid2)])
        self.assertEqual(a.unacked, {})

    def test_through_a_relay_chk_keyed_with_the_connection_id(self):
        a, b = self.pair(relay=0x5151)
        a.start()
        first = _decode(a.take())[0]
        # The sender keys CHK with the connection id; unchanged it fails the
        # receiver's check, re-keyed by the relay it opens.
        with self.assertRaises(ChecksumError):
            open_session_record(first, bytes(32), 0, sid_rx=0x2222)
        self.assertEqual(b.receive(rekey_session_record(first, 0x5151, 0x2222)), [])
        ea, eb = pump(a, b, relay=0x5151)
        self.assertEqual((ea, eb), ([SessionReady("bob")], [SessionReady("alice")]))
        a.send_message("via relay")
        ea, eb = pump(a, b, relay=0x5151)
        self.assertEqual(eb[0].text, "via relay")

    def test_unrekeyed_relay_records_are_refused(self):
        a, b = self.pair(relay=0x5151)
        a.start()
        (first,) = _decode(a.take())
        (event,) = b.receive(first)
        self.assertIsInstance(event, SessionFailed)

    def test_wrong_peer_answering(self):
        a, b = self.pair(peer_name="carol")
        a.start()
        ea, eb = pump(a, b)
        # bob refuses a request for carol.
        self.assertEqual(len(eb), 1)
        self.assertIsInstance(eb[0], SessionFailed)
        self.assertEqual(ea, [])

    def test_credential_from_another_key_fails(self):
        other = RsaPrivate.from_numbers(
            rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers())
        self.bob = identity("bob", other)
        a, b = self.pair()
        a.start()
        ea, eb = pump(a, b)
        self.assertEqual(len(ea), 1)
        self.assertIsInstance(ea[0], SessionFailed)

    def test_stolen_credential_without_the_key_fails(self):
        thief = Identity("alice", self.alice.credential, generate_user_key())
        a = PeerSessionCore(INITIATOR, thief, self.key, peer_name="bob")
        b = PeerSessionCore(RESPONDER, self.bob, self.key)
        a.start()
        ea, eb = pump(a, b)
        self.assertIsInstance(eb[0], SessionFailed)
        self.assertIn("did not sign", eb[0].reason)

    def test_challenge_signature(self):
        signer = self.alice.signer()
        modulus = self.alice.user_key.public_key().public_numbers().n.to_bytes(128, "big")
        sig = sign_challenge(0x0102030405060708, "alice", signer)
        self.assertTrue(check_challenge(sig, 0x0102030405060708, "alice", modulus))
        self.assertFalse(check_challenge(sig, 0x0102030405060709, "alice", modulus))
        self.assertFalse(check_challenge(sig, 0x0102030405060708, "bob", modulus))

    def test_open_user_record(self):
        record = presence_record(self.alice.credential, self.alice.user_key, b"r" * 27)
        cred, node = open_user_record(record, self.key)
        self.assertEqual((cred.name, node), ("alice", b"r" * 27))
        broken = bytearray(record)
        broken[-5] ^= 1
        with self.assertRaises(Exception):
            open_user_record(bytes(broken), self.key)


class PeerCoreBadInputTests(TestCase):
    """Garbage from the peer ends the session with SessionFailed; it never
    raises into the transport."""

    def test_random_plaintexts_under_the_bootstrap_key(self):
        rng = random.Random(5)
        key = signing_key().public
        me = identity("bob")
        bodies = [b"", b"\x41", b"\x41\x05", body_bytes([Int(3, 1)]),
                  body_bytes([Int(3, 1), Int64(9, 2), String(0, b"bob")]),
                  body_bytes([Blob(5, b"x" * 260), Blob(0xA, b"y" * 128), Blob(6, b"z" * 128)])]
        for i in range(300):
            core = PeerSessionCore(RESPONDER if i % 2 else INITIATOR, me, key, session_id=7,
                                   peer_name="alice")
            if core.role == INITIATOR:
                core.start()
                core.take()
            body = rng.choice(bodies) + bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
            cmd = rng.choice([0x43, 0x44, 0x45, 0x57, 0x6D, 0x47, rng.randrange(300)])
            try:
                plaintext = encode_session_plaintext(rng.randrange(1 << 16), cmd, body)
            except Exception:
                plaintext = bytes(rng.randrange(256) for _ in range(20))
            record = seal_session_record(plaintext, bytes(32), 0, 0, 7)
            events = core.receive(record)
            self.assertTrue(all(isinstance(e, SessionFailed) for e in events), events)
            if core.failed is not None:
                # After a failure the core stays quiet.
                self.assertEqual(core.receive(record), [])
