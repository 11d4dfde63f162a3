"""Hostile input into every wire decoder: ProtocolError or a value, nothing else.

The issue's rule is that :class:`ProtocolError` (and its subclasses) is the only
thing a decoder may raise on bad bytes.  The per-codec test modules already
feed random bytes (and, for object lists, mutated vectors) to their decoders;
this module covers the rest of the surface, with inputs built from the shared
vectors and then damaged the way a network or a hostile peer damages them:
bit flips, truncations, insertions, deletions, duplicated chunks and
overwritten bytes.

Decoders that sit behind a checksum (UDP payloads, session records, server
records) are also reached *through* the checksum: the damaged plaintext is
re-encrypted with the vector's key so that the CRC holds and the inner
decoders (commands, object lists) see the damaged bytes.

The decoders, by module (every public function or method that takes bytes
from the network):

* objects: decode_objects, decode_object_lists, decode_object_list_at,
  decode_42_parts, String.text (also with small custom Limits);
* varint: decode_varint; tcp_commands: decode_varint, decode_command,
  decode_commands, Command.objects;
* tcp_records: decode_record_header, decode_body, decode_record,
  decode_records, RecordParser.feed / feed_framed;
* seed_exchange: decode_greeting, parse_seed_exchange; tcp: StreamDecoder.feed,
  decode_stream, record_to_json(objects=True);
* aes_ctr: open_session_record, decode_session_plaintext,
  SessionPlaintext.objects;
* dh384: parse_public, shared_secret(bytes), ServerHandshake.receive;
* server_transport: decode_server_record, ServerRecordParser.feed,
  open_server_record, RecordCipher.open, check_session_seed,
  parse_key_exchange;
* udp: parse_header, parse_datagram, decrypt_datagram and the decrypt
  methods; udp_commands: parse_payload, answer_probe, answer_address_query,
  ack_decision; fragments: Reassembler.add;
* https_prelude: classify_prelude, decide_prelude, parse_client_hello,
  server_hello_record_length;
* jsonview (what ``blissnode decode`` runs on pasted bytes).
"""

import functools

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import (
    aes_ctr,
    dh384,
    fragments,
    https_prelude,
    jsonview,
    objects,
    seed_exchange,
    server_transport,
    tcp,
    tcp_commands,
    tcp_records,
    udp,
    udp_commands,
    varint,
)
from blissnode.wire.errors import ProtocolError
from tests.vectors import cases

SETTINGS = settings(max_examples=250, deadline=None)
FEW = settings(max_examples=150, deadline=None)

H = bytes.fromhex


# --- damaging bytes -----------------------------------------------------------

_pos = st.integers(0, 1 << 16)

mutation = st.one_of(
    st.tuples(st.just("flip"), _pos, st.integers(0, 7)),
    st.tuples(st.just("set"), _pos, st.integers(0, 255)),
    st.tuples(st.just("truncate"), _pos),
    st.tuples(st.just("insert"), _pos, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), _pos, st.integers(1, 8)),
    st.tuples(st.just("duplicate"), _pos, st.integers(1, 32), _pos),
)
mutations = st.lists(mutation, min_size=1, max_size=4)


def mutate(data, edits):
    """Apply ``edits`` (drawn from :data:`mutations`) to ``data``."""
    b = bytearray(data)
    for edit in edits:
        kind, pos = edit[0], edit[1]
        if kind == "insert":
            pos %= len(b) + 1
            b[pos:pos] = edit[2]
            continue
        if not b:
            continue
        pos %= len(b)
        if kind == "flip":
            b[pos] ^= 1 << edit[2]
        elif kind == "set":
            b[pos] = edit[2]
        elif kind == "truncate":
            del b[pos:]
        elif kind == "delete":
            del b[pos : pos + edit[2]]
        else:  # duplicate a chunk somewhere else
            chunk = b[pos : pos + edit[2]]
            at = edit[3] % (len(b) + 1)
            b[at:at] = chunk
    return bytes(b)


def damaged(data, pool):
    """Random bytes, or a damaged member of ``pool`` (a list of bytes)."""
    if data.draw(st.integers(0, 4)) == 0:
        return data.draw(st.binary(max_size=80))
    base = data.draw(st.sampled_from(pool))
    return mutate(base, data.draw(mutations))


def chunks(data, raw):
    """Split ``raw`` at random points (a TCP stream arriving in pieces)."""
    out, pos = [], 0
    while pos < len(raw):
        n = data.draw(st.integers(1, 40))
        out.append(raw[pos : pos + n])
        pos += n
    return out


def value_or_protocol_error(test, fn, *args, **kwargs):
    """Call ``fn``; return its value, or None if it raised ProtocolError.

    Anything else (IndexError, struct.error, ValueError that is not a
    ProtocolError, RecursionError, MemoryError, ...) fails the test with the
    offending input in the message.
    """
    try:
        return fn(*args, **kwargs)
    except ProtocolError:
        return None
    except Exception as e:  # noqa: BLE001 -- that is the point of the test
        shown = [a.hex() if isinstance(a, (bytes, bytearray)) else repr(a) for a in args]
        test.fail("%s(%s) raised %s: %s" % (
            getattr(fn, "__name__", fn), ", ".join(shown)[:400], type(e).__name__, e))


# --- pools of valid inputs, from the shared vectors ------------------------------


def _hexes(filename, field, kind=None):
    return [H(c[field]) for c in cases(filename, kind) if c.get(field)]


@functools.lru_cache(maxsize=None)
def object_pool():
    return (_hexes("objects41.json", "encoded_hex", "list")
            + _hexes("objects41.json", "encoded_hex", "invalid")
            + _hexes("objects42.json", "encoded_hex"))


@functools.lru_cache(maxsize=None)
def command_pool():
    """UDP payloads and command runs (the same codec on both transports)."""
    out = _hexes("tcp_frames.json", "command_hex", "command")
    out += _hexes("udp_packets.json", "command_hex", "command_encoding")
    out += _hexes("udp_packets.json", "request_plaintext_hex")
    out += _hexes("udp_packets.json", "reply_plaintext_hex")
    for c in cases("tcp_frames.json", "packet_record"):
        out.append(b"".join(H(x) for x in c["commands_hex"]))
    return out


@functools.lru_cache(maxsize=None)
def record_pool():
    out = []
    for kind in ("packet_record", "ack_record", "padding_record", "session_record"):
        out += _hexes("tcp_frames.json", "record_hex", kind)
    out += _hexes("tcp_frames.json", "header_hex", "record_header")
    # A few records back to back, as they travel.
    out.append(b"".join(out[:6]))
    return out


@functools.lru_cache(maxsize=None)
def session_cases():
    return cases("tcp_frames.json", "session_record")


@functools.lru_cache(maxsize=None)
def stream_cases():
    """(stream bytes, DH extra) of every rc4_keystream case."""
    return [(H(c["stream_hex"]), H(c.get("dh_secret_hex") or ""))
            for c in cases("tcp_frames.json", "rc4_keystream")]


@functools.lru_cache(maxsize=None)
def server_record_cases():
    return cases("tcp_frames.json", "server_record")


@functools.lru_cache(maxsize=None)
def server_stream_pool():
    out = _hexes("tcp_frames.json", "record_hex", "server_record")
    out += [H(c["record"]) for c in cases("login.json", "key_exchange_record")]
    for c in cases("login.json", "event_record"):
        out += [H(c["client_stream"]), H(c["server_stream"])]
    out += [server_transport.CLIENT_HELLO, server_transport.SERVER_HELLO]
    return out


@functools.lru_cache(maxsize=None)
def datagram_pool():
    """(datagram, src, dst) of every datagram in the UDP vector files."""
    out = []
    for name in ("udp_packets.json", "udp_iv.json", "udp_obfuscation.json"):
        for c in cases(name):
            if c.get("datagram_hex"):
                out.append((H(c["datagram_hex"]), c.get("src_ip", "0.0.0.0"),
                            c.get("dst_ip", "0.0.0.0")))
    return out


@functools.lru_cache(maxsize=None)
def prelude_pool():
    out = _hexes("udp_packets.json", "first_bytes_hex", "tcp_prelude_classify")
    for c in cases("udp_packets.json", "ssl_templates"):
        out.append(H(c["client_hello_template_hex"]) + bytes(range(16)))
        out.append(H(c["server_hello_hex"]))
    out.append(https_prelude.build_client_hello(bytes(16)) + b"\x12\x34\x56\x78")
    return out


# --- object lists: the entry points the per-codec tests do not reach ---------------


class ObjectListFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_decode_at_offsets(self, data):
        raw = damaged(data, object_pool())
        offset = data.draw(st.integers(0, len(raw) + 2))
        got = value_or_protocol_error(self, objects.decode_object_list_at, raw, offset)
        if got is not None:
            objlist, end = got
            self.assertIsInstance(objlist, objects.ObjectList)
            self.assertTrue(offset < end <= len(raw), (offset, end, len(raw)))

    @SETTINGS
    @given(st.data())
    def test_decode_42_parts(self, data):
        raw = b"\x42" + damaged(data, object_pool())[1:]
        got = value_or_protocol_error(self, objects.decode_42_parts, raw)
        if got is not None:
            _, tail, end = got
            self.assertTrue(1 <= tail <= end <= len(raw), (tail, end, len(raw)))

    @SETTINGS
    @given(st.data())
    def test_small_limits_and_text(self, data):
        """Tight custom limits only ever give LimitExceeded (a ProtocolError);
        STRING.text only ever UnicodeDecodeError turned into ProtocolError."""
        raw = damaged(data, object_pool())
        limits = objects.Limits(
            max_depth=data.draw(st.integers(1, 4)),
            max_list_items=data.draw(st.integers(0, 8)),
            max_total_items=data.draw(st.integers(0, 16)),
            max_value_bytes=data.draw(st.integers(0, 64)),
            max_input_size=data.draw(st.integers(0, 128)),
        )
        value_or_protocol_error(self, objects.decode_objects, raw, limits=limits)
        got = value_or_protocol_error(self, objects.decode_object_lists, raw)
        if got is None:
            return
        stack = list(got[0])
        while stack:
            for item in stack.pop():
                if isinstance(item, objects.String):
                    value_or_protocol_error(self, lambda: item.text)
                elif isinstance(item, objects.NestedList):
                    stack.append(item.value)

    @SETTINGS
    @given(st.data())
    def test_json_view(self, data):
        raw = damaged(data, object_pool())
        got = value_or_protocol_error(self, jsonview.object_payload_to_json, raw)
        if got is not None:
            self.assertIn(got["format"], ("41", "42"))

    @SETTINGS
    @given(st.binary(max_size=12), st.integers(0, 12))
    def test_varints(self, raw, offset):
        value_or_protocol_error(self, varint.decode_varint, raw, offset)
        got = value_or_protocol_error(self, tcp_commands.decode_varint, raw, offset)
        if got is not None:
            self.assertLessEqual(got[0], 0xFFFFFFFF)


# --- commands (TCP packets and UDP payloads) -------------------------------------------


class CommandFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_decode_commands(self, data):
        raw = damaged(data, command_pool())
        got = value_or_protocol_error(self, tcp_commands.decode_commands, raw)
        for command in got or ():
            self.assertIn(command.body[:1], (b"\x41", b"\x42"))
            value_or_protocol_error(self, command.objects)
        offset = data.draw(st.integers(0, len(raw) + 2))
        value_or_protocol_error(self, tcp_commands.decode_command, raw, offset)

    @SETTINGS
    @given(st.data())
    def test_udp_payload(self, data):
        raw = damaged(data, command_pool())
        commands = value_or_protocol_error(self, udp_commands.parse_payload, raw)
        if commands is not None:
            self.assertIn(udp_commands.ack_decision(commands), (
                udp_commands.ACTION_REPLY, udp_commands.ACTION_ACK,
                udp_commands.ACTION_NOTHING))
        value_or_protocol_error(self, udp_commands.answer_probe, raw)
        value_or_protocol_error(self, udp_commands.answer_address_query, raw,
                                "192.0.2.1", 33033)
        value_or_protocol_error(self, jsonview.commands_to_json, raw)


# --- TCP records, streams, session records -------------------------------------------


class RecordFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_records(self, data):
        raw = damaged(data, record_pool())
        value_or_protocol_error(self, tcp_records.decode_record_header, raw)
        value_or_protocol_error(self, tcp_records.decode_body, 0, raw)
        value_or_protocol_error(self, tcp_records.decode_body, 1, raw)
        value_or_protocol_error(self, tcp_records.decode_record, raw)
        whole = value_or_protocol_error(self, tcp_records.decode_records, raw)
        parser = tcp_records.RecordParser()
        got = []
        for piece in chunks(data, raw):
            framed = value_or_protocol_error(self, parser.feed_framed, piece)
            if framed is None:
                break
            got += framed
        else:
            # Whatever arrives in pieces decodes like the whole buffer.
            if whole is not None:
                self.assertEqual([r for _, _, r in got], whole[0])
        for _, _, record in got:
            value_or_protocol_error(self, tcp.record_to_json, record, True)

    @SETTINGS
    @given(st.data())
    def test_session_records(self, data):
        case = data.draw(st.sampled_from(session_cases()))
        key, x = H(case["aes256_key_hex"]), case["x"]
        raw = mutate(H(case["record_hex"]), data.draw(mutations))
        got = value_or_protocol_error(self, tcp_records.decode_record, raw)
        if got is not None and isinstance(got[0], tcp_records.SessionRecord):
            value_or_protocol_error(self, aes_ctr.open_session_record, got[0], key, x,
                                    case["sid_rx"])
            opened = value_or_protocol_error(self, aes_ctr.open_session_record,
                                             got[0], key, x)
            if opened is not None:
                self.assertEqual(len(opened), 2)
        # Through the CRC16: a damaged plaintext sealed with the right key.
        plain = mutate(H(case["plaintext_hex"]), data.draw(mutations))
        record = aes_ctr.seal_session_record(plain, key, x, case["seq"], case["sid_rx"])
        seq, opened = aes_ctr.open_session_record(record, key, x, case["sid_rx"])
        self.assertEqual((seq, opened), (case["seq"] & 0xFFFF, plain))
        session = value_or_protocol_error(self, aes_ctr.decode_session_plaintext, opened)
        if session is not None:
            value_or_protocol_error(self, session.objects)

    @FEW
    @given(st.data())
    def test_streams(self, data):
        stream, extra = data.draw(st.sampled_from(stream_cases()))
        # Damage the stream, or keep its seed and greeting and append damaged records.
        if data.draw(st.booleans()):
            raw = mutate(stream, data.draw(mutations))
        else:
            plain = mutate(data.draw(st.sampled_from(record_pool())), data.draw(mutations))
            seed = int.from_bytes(stream[:4], "big")
            raw, _ = seed_exchange.build_seed_exchange(
                seed, seed_exchange.Greeting(1, 3), plain, extra)
        value_or_protocol_error(self, seed_exchange.parse_seed_exchange, raw, extra)
        value_or_protocol_error(self, seed_exchange.decode_greeting, raw[4:14])
        decoded = value_or_protocol_error(self, tcp.decode_stream, raw, extra)
        if decoded is not None:
            value_or_protocol_error(self, decoded.to_json, True)
        value_or_protocol_error(self, tcp.decode_stream, raw[14:], extra, seed=1)
        decoder = tcp.StreamDecoder(extra)
        for piece in chunks(data, raw):
            if value_or_protocol_error(self, decoder.feed, piece) is None:
                break
        value_or_protocol_error(self, jsonview.tcp_stream_to_json, raw, from_start=True,
                                extra=extra)
        value_or_protocol_error(self, jsonview.tcp_stream_to_json, raw[14:], seed=7,
                                extra=extra)


# --- server connections (login / event) ----------------------------------------------


class ServerTransportFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_records_and_key_exchange(self, data):
        raw = damaged(data, server_stream_pool())
        value_or_protocol_error(self, server_transport.decode_server_record, raw)
        value_or_protocol_error(self, server_transport.parse_key_exchange, raw)
        parser = server_transport.ServerRecordParser()
        for piece in chunks(data, raw):
            records = value_or_protocol_error(self, parser.feed, piece)
            if records is None:
                break
            for record in records:
                value_or_protocol_error(self, server_transport.parse_key_exchange, record)
                value_or_protocol_error(self, server_transport.open_server_record,
                                        record, bytes(32), 1)

    @SETTINGS
    @given(st.data())
    def test_data_records(self, data):
        case = data.draw(st.sampled_from(server_record_cases()))
        key, x, seq = H(case["aes256_key_hex"]), case["x"], case["seq"]
        raw = mutate(H(case["record_hex"]), data.draw(mutations))
        got = value_or_protocol_error(self, server_transport.decode_server_record, raw)
        if got is not None:
            cipher = server_transport.RecordCipher(key, x, seq)
            value_or_protocol_error(self, cipher.open, got[0])
            value_or_protocol_error(self, server_transport.open_server_record, got[0], key, x)
        # Through the trailer: a damaged plaintext sealed with the right key.
        plain = mutate(H(case["plaintext_hex"]), data.draw(mutations))
        record, _ = server_transport.decode_server_record(
            server_transport.seal_server_record(plain, key, x, seq))
        opened = server_transport.RecordCipher(key, x, seq).open(record)
        self.assertEqual(opened, plain)
        value_or_protocol_error(self, objects.decode_object_lists, opened)

    @SETTINGS
    @given(st.data())
    def test_session_seed(self, data):
        pool = [H(c["X"]) for c in cases("login.json", "session_key")]
        raw = damaged(data, pool)
        got = value_or_protocol_error(self, server_transport.check_session_seed, raw)
        if got is not None:
            self.assertEqual(server_transport.session_seed_from_random(got), raw)

    @FEW
    @given(st.data())
    def test_dh_handshake(self, data):
        case = data.draw(st.sampled_from(cases("tcp_frames.json", "dh384")))
        opening = (H(case["A_hex"]) + data.draw(st.binary(max_size=48))
                   + H(case["client_hash_hex"]) + b"after")
        raw = mutate(opening, data.draw(mutations)) if data.draw(st.booleans()) else opening
        value_or_protocol_error(self, dh384.parse_public, raw)
        value_or_protocol_error(self, dh384.shared_secret, 12345, raw)
        server = dh384.ServerHandshake(dh384.KeyPair(int(case["b_hex"], 16)),
                                       hash_with_public=data.draw(st.booleans()))
        for piece in chunks(data, raw):
            got = value_or_protocol_error(self, server.receive, piece)
            if got is None:
                break
            if got[1]:
                self.assertEqual(server.K, H(case["K_hex"]))


# --- UDP --------------------------------------------------------------------------------


class UdpFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_datagrams(self, data):
        base, src, dst = data.draw(st.sampled_from(datagram_pool()))
        raw = mutate(base, data.draw(mutations)) if data.draw(st.integers(0, 5)) else base
        value_or_protocol_error(self, udp.parse_header, raw)
        value_or_protocol_error(self, udp.parse_datagram, raw)
        value_or_protocol_error(self, udp.parse_datagram, raw, False)
        nseed = data.draw(st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)))
        opened = value_or_protocol_error(self, udp.decrypt_datagram, raw, src, dst, nseed)
        if opened is not None and opened.crc_ok:
            value_or_protocol_error(self, udp_commands.parse_payload, opened.plaintext)
        value_or_protocol_error(self, jsonview.udp_datagram_to_json, raw, src, dst)

    @SETTINGS
    @given(st.data())
    def test_damaged_payload_behind_a_good_crc(self, data):
        """The command decoders behind the CRC: a damaged plaintext sent as a
        proper kind-2, kind-3 or kind-F datagram."""
        plain = damaged(data, command_pool())
        src, dst = "198.51.100.7", "203.0.113.9"
        pid = data.draw(st.integers(0, 0xFFFF))
        which = data.draw(st.sampled_from(["payload", "resend", "fragment"]))
        if which == "payload":
            raw = udp.encrypt_payload(src, dst, pid, 0x01020304, plain)
        elif which == "resend":
            raw = udp.encrypt_resend(pid, 0x0BADF00D, dst, plain)
        else:
            raw = udp.encrypt_fragment(src, dst, pid, 7, data.draw(st.integers(0, 127)),
                                       data.draw(st.booleans()), 0x0A0B0C0D, plain)
        opened = udp.decrypt_datagram(raw, src, dst)
        self.assertEqual((opened.plaintext, opened.crc_ok), (plain, True))
        value_or_protocol_error(self, udp_commands.parse_payload, opened.plaintext)
        got = value_or_protocol_error(self, jsonview.udp_datagram_to_json, raw, src, dst)
        self.assertIsNotNone(got)
        self.assertTrue(got["crc_ok"])


class ReassemblerFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_fragment_streams(self, data):
        """Vector fragments reordered, duplicated, altered and mixed with noise:
        add() returns bytes, None or raises ProtocolError, and the limits hold
        after every call."""
        pieces = []
        for c in cases("udp_packets.json", "fragment_reassembly"):
            pieces += [(f["index"], f["last"], H(f["plaintext_hex"]))
                       for f in c["fragments_in_arrival_order"]]
        r = fragments.Reassembler(max_pending=3, max_message_bytes=200,
                                  max_fragment_bytes=64, max_total_bytes=300)
        steps = data.draw(st.lists(st.tuples(
            st.integers(0, 3),                        # key
            st.one_of(st.sampled_from(pieces), st.tuples(
                st.integers(-2, 130), st.booleans(), st.binary(max_size=80))),
            st.booleans(),                            # flip "last"
        ), max_size=30))
        for key, (index, last, chunk), flip in steps:
            got = value_or_protocol_error(self, r.add, key, index, last != flip, chunk)
            self.assertTrue(got is None or isinstance(got, bytes), got)
            self.assertLessEqual(len(r), r.max_pending)
            self.assertLessEqual(r.total_bytes, r.max_total_bytes)
            self.assertGreaterEqual(r.total_bytes, 0)
        r.expire(1e9)
        self.assertEqual((len(r), r.total_bytes), (0, 0))


# --- the first bytes of a TCP connection -----------------------------------------------


class PreludeFuzzTests(TestCase):
    @SETTINGS
    @given(st.data())
    def test_prelude(self, data):
        raw = damaged(data, prelude_pool())
        cls = value_or_protocol_error(self, https_prelude.classify_prelude, raw)
        self.assertIsNotNone(cls)
        decision = value_or_protocol_error(self, https_prelude.decide_prelude, raw)
        if decision is not None:
            self.assertTrue(decision.consume is None or 0 <= decision.consume <= len(raw))
        got = value_or_protocol_error(self, https_prelude.parse_client_hello, raw)
        if got is not None:
            self.assertLessEqual(got[1], len(raw))
        value_or_protocol_error(self, https_prelude.server_hello_record_length, raw)
