"""
Traffic for the capture tests, made with the project's wire layer: peer
streams (classic, DH-384, port-443 prelude, cmd 7 switch), login and event
server connections encrypted to a test key, UDP datagrams.  Each builder
returns the bytes of both directions as ``[(direction, bytes)]`` in send
order, plus what a test needs to check the decoded output.
"""

import atexit
import shutil
import tempfile

from blissnode.keys import load_or_create_server_keys
from blissnode.wire import dh384, objects, rc4
from blissnode.wire.credentials import build_credential, md5_credential, one_year_later
from blissnode.wire.https_prelude import SERVER_HELLO_TEMPLATE, build_client_hello
from blissnode.wire.login_messages import (
    LoginBody,
    RequestHeader,
    RESULT_OK,
    build_reply,
    success_body_6x,
    build_reply,
    encode_event_request,
    encode_login_request,
)
from blissnode.wire.rsa_raw import raw_public
from blissnode.wire.seed_exchange import Greeting, build_seed_exchange, build_server_start
from blissnode.wire.server_transport import (
    CLIENT_HELLO,
    SERVER_HELLO,
    RecordCipher,
    key_exchange_record,
    login_session_key,
    server_rc4_keys,
    session_seed_from_random,
)
from blissnode.wire.tcp_commands import Command
from blissnode.wire.tcp_records import ClearStreamRecord, PacketRecord

CLIENT_SEED = 0x798A13EC
SERVER_SEED = 0xDADB19EB
USER_MODULUS = b"\xc3" + bytes(range(127))
R24 = bytes(range(1, 25))

_KEYS = {}


def server_keys():
    """A data dir with fresh server keys (generated once per test run, in
    a temporary directory removed at exit)."""
    if "dir" not in _KEYS:
        path = tempfile.mkdtemp(prefix="blissnode-capture-keys-")
        atexit.register(shutil.rmtree, path, True)
        _KEYS["dir"] = path
        _KEYS["keys"] = load_or_create_server_keys(path)
    return _KEYS["dir"], _KEYS["keys"]


def packet(packet_id, cmd, kind, request_id, items, compressed=False):
    body = objects.encode_objects(objects.ObjectList(items), compressed=compressed)
    return PacketRecord(packet_id, [Command(cmd, kind, request_id, body)]).encode()


class PeerDirection(object):
    """One direction of a peer stream: the seed exchange, then records."""

    def __init__(self, seed, server=False, extra=b""):
        if server:
            self.start, self.state = build_server_start(seed, tag=0x82A0, extra=extra)
        else:
            self.start, self.state = build_seed_exchange(seed, Greeting(1, 3), extra=extra)

    def records(self, *records):
        return self.state.crypt(b"".join(records))


def classic_stream(public_ip="198.51.100.7", public_port=50000):
    """Client cmd 30, supernode cmd 31 reply naming the client's address."""
    c, s = PeerDirection(CLIENT_SEED), PeerDirection(SERVER_SEED, server=True)
    cmd30 = packet(0x6D30, 30, 2, 0x6D2F, [objects.Int(1, 15), objects.Int64(0xD, 0x1122334455667788),
                                          objects.Int(0x10, 50001)], compressed=True)
    cmd31 = packet(0xB8ED, 31, 3, 0x6D2F, [
        objects.Int(0xB, 44), objects.Int(0x10, 40001),
        objects.Addr(0x11, objects.NetAddr(public_ip, public_port)),
        objects.String(0x22, "Grüße".encode("utf-8")), objects.String(0x23, b"\xff\xfe")])
    return [("c2s", c.start + c.records(cmd30)), ("s2c", s.start + s.records(cmd31))]


def dh_peer_stream():
    """A 5.5+ DH-384 peer stream; returns (chunks, K)."""
    client = dh384.ClientHandshake(filler=b"\x11" * 13)
    server = dh384.ServerHandshake(filler=b"\x22" * 9, hash_with_public=False)
    a_and_filler = client.start()
    b_and_filler, _ = server.receive(a_and_filler)
    client_hash, _ = client.receive(b_and_filler)
    server_hash, done = server.receive(client_hash)
    assert done and client.receive(server_hash)[1]
    K = client.K
    c, s = PeerDirection(CLIENT_SEED, extra=K), PeerDirection(SERVER_SEED, server=True, extra=K)
    cmd30 = packet(0x0101, 30, 2, 0x0100, [objects.Int(1, 15), objects.Int(0xB, 52)])
    cmd31 = packet(0x0202, 31, 3, 0x0100, [objects.Int(0xB, 44)])
    chunks = [("c2s", a_and_filler), ("s2c", b_and_filler), ("c2s", client_hash),
              ("s2c", server_hash), ("s2c", s.start + s.records(cmd31)),
              ("c2s", c.start + c.records(cmd30))]
    return chunks, K


def prelude_stream(server_hello=True):
    c, s = PeerDirection(CLIENT_SEED), PeerDirection(SERVER_SEED, server=True)
    cmd30 = packet(0x0303, 30, 2, 0x0302, [objects.Int(1, 15)])
    hello = build_client_hello(bytes(range(16)))
    chunks = [("c2s", hello), ("c2s", c.start + c.records(cmd30))]
    chunks.append(("s2c", (SERVER_HELLO_TEMPLATE if server_hello else b"") + s.start))
    return chunks


class ServerConnection(object):
    """Client and server sides of a login/event connection with the session
    key derived from :data:`R24`, the seed encrypted to ``login_modulus``."""

    def __init__(self, login_modulus, compressed=True):
        self.seed = session_seed_from_random(R24)
        self.key = login_session_key(self.seed)
        blob = raw_public(self.seed, int.from_bytes(login_modulus, "big"))
        items = [objects.Blob(8, blob), objects.Int(9, 0x2000), objects.Int(0xC, 1)]
        if compressed:
            items.append(objects.Blob(0x13EBBD8, b"\x01" * 12))
        self.key_exchange = key_exchange_record(objects.encode_objects(items, compressed=compressed))
        self.tx = RecordCipher(self.key, 0)
        self.rx = RecordCipher(self.key, 1)


def login_request(name="alice.smith", password="secret", code=5027):
    header = RequestHeader(code, 1, name, md5_credential(name, password))
    node = bytes.fromhex("65f124417c036c95") + b"\x01" + bytes([192, 168, 1, 75, 0xE1, 0x08]) \
        + bytes([64, 4, 23, 176, 0x9C, 0x46]) + bytes([178, 65, 50, 174, 0xE1, 0x08])
    body = LoginBody(USER_MODULUS, host_id1=0x0102030405060708, language="en",
                     host_id2=[1, 2, 3, 4, 5], version="0/6.16.0.10//", public_ip=0xB2413AAE,
                     node_record=node)
    return encode_login_request(header, body)


def login_connection(keys, name="alice.smith", expiry=24000000):
    """Plain transport, two hellos (the second with the key exchange), a
    login request and a success reply carrying a credential."""
    conn = ServerConnection(keys.login_modulus)
    credential = build_credential(name, USER_MODULUS, expiry, {9: one_year_later(expiry)},
                                  keys.credential_sign_raw)
    reply = build_reply(RESULT_OK, 1, success_body_6x(credential.raw))
    chunks = [("c2s", CLIENT_HELLO), ("s2c", SERVER_HELLO),
              ("c2s", CLIENT_HELLO + conn.key_exchange + conn.tx.seal(login_request(name))),
              ("s2c", SERVER_HELLO), ("s2c", conn.rx.seal(reply))]
    return chunks, conn, credential


def event_request(code, request_id, items, name="alice.smith", password="secret"):
    header = RequestHeader(code, request_id, name, md5_credential(name, password))
    return encode_event_request(header, items, name, "0/6.16.0.10//", 0xC6336407)


def event_records(conn):
    """Two requests and three replies (the first answered by two records)."""
    c = [conn.tx.seal(event_request(6016, 3, [objects.Int(0x14, 1)])),
         conn.tx.seal(event_request(6028, 7, [objects.String(0x17, b"bob.jones")]))]
    s = [conn.rx.seal(build_reply(4200, 3, [objects.Int(1, 5)])),
         conn.rx.seal(build_reply(4200, 3, [])),
         conn.rx.seal(build_reply(8401, 7, []))]
    return [("c2s", c[0]), ("s2c", s[0] + s[1]), ("c2s", c[1]), ("s2c", s[2])]


def event_connection(keys):
    conn = ServerConnection(keys.login_modulus, compressed=False)
    return ([("c2s", CLIENT_HELLO), ("s2c", SERVER_HELLO), ("c2s", CLIENT_HELLO),
             ("s2c", SERVER_HELLO), ("c2s", conn.key_exchange)] + event_records(conn)), conn


#: The node record of the cmd 7 sample layout: 27 bytes + 08 01 (ERRATA /
#: the 7.x client), public address 203.0.113.9:13021.
CMD7_NODE_RECORD = (bytes.fromhex("b98349cd388d9ddf") + b"\x01" + bytes([10, 0, 0, 2, 0x32, 0xDD])
                    + bytes([192, 0, 2, 10, 0x9C, 0x48]) + bytes([203, 0, 113, 9, 0x32, 0xDD])
                    + b"\x08\x01")


def cmd7_switch(keys):
    """cmd 7, cmd 1 reply, both type-4 records, then the inner event framing in clear."""
    c, s = PeerDirection(CLIENT_SEED), PeerDirection(SERVER_SEED, server=True)
    cmd7 = packet(0x7DC6, 7, 2, 0x7DC5, [
        objects.Int(0xB, 52), objects.Int(0xC, 1503252026),
        objects.Addr(0x11, objects.NetAddr("192.0.2.50", 12350)),
        objects.String(0x26, b"3/7.7.0.335"), objects.Blob(0x2A, CMD7_NODE_RECORD)],
        compressed=True)
    reply = packet(0x072D, 1, 3, 0x7DC5, [], compressed=True)
    switch = ClearStreamRecord().encode()
    conn = ServerConnection(keys.login_modulus)
    inner = event_records(conn)
    chunks = [("c2s", c.start + c.records(cmd7)), ("s2c", s.start + s.records(reply)),
              ("c2s", c.records(switch)), ("s2c", s.records(switch)),
              ("c2s", conn.key_exchange)] + inner
    return chunks, conn


def dh_server_connection(keys):
    """A 5.5+ login connection: DH-384, then plain RC4 of the records."""
    client = dh384.ClientHandshake(filler=b"\x33" * 5)
    server = dh384.ServerHandshake(filler=b"\x44" * 6, hash_with_public=True)
    a = client.start()
    b, _ = server.receive(a)
    client_hash, done = client.receive(b)
    K = client.K
    c2s, s2c = server_rc4_keys(K)
    out_c, out_s = rc4.RC4(c2s), rc4.RC4(s2c)
    conn = ServerConnection(keys.login_modulus)
    credential = build_credential("carol.white", USER_MODULUS, 24000000, {9: 24525600},
                                  keys.credential_sign_raw)
    chunks = [("c2s", a), ("s2c", b), ("c2s", client_hash),
              ("c2s", out_c.crypt(conn.key_exchange + conn.tx.seal(login_request("carol.white")))),
              ("s2c", out_s.crypt(conn.rx.seal(build_reply(RESULT_OK, 1, success_body_6x(credential.raw)))))]
    return chunks, K
