"""TCP session layer: records, commands, packets, RecordParser, seed exchange
(spec/tcp.md 2, 4, 5) against every case of vectors/tcp_frames.json."""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import rc4
from blissnode.wire.errors import LimitExceeded, ProtocolError
from blissnode.wire.tcp import (
    TYPE_CLEAR,
    AckRecord,
    ClearStreamRecord,
    Command,
    Greeting,
    IdCounter,
    PacketRecord,
    PaddingRecord,
    RecordParser,
    SessionRecord,
    StreamDecoder,
    UnknownRecord,
    build_seed_exchange,
    build_server_start,
    decode_command,
    decode_commands,
    decode_greeting,
    decode_record,
    decode_record_header,
    decode_records,
    decode_stream,
    decode_varint,
    encode_record_header,
    encode_varint,
    parse_seed_exchange,
    random_greeting_tag,
    random_seed,
)
from tests.vectors import cases

FILE = "tcp_frames.json"
SETTINGS = settings(max_examples=300, deadline=None)


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


class RecordHeaderTests(TestCase):
    def test_vectors(self):
        for case in cases(FILE, "record_header"):
            raw = h(case["header_hex"])
            self.assertEqual(encode_record_header(case["length"], case["typed"]), raw, case)
            header, end = decode_record_header(raw)
            self.assertEqual((header.length, header.typed, header.H), (case["length"], case["typed"], case["H"]), case)
            self.assertEqual(end, len(raw), case)
            self.assertEqual(header.encode(), raw, case)

    def test_spec_examples(self):
        # tcp.md 4: 24 untyped -> 30, 30 -> 3c, 64 -> 80 01, 654 -> 9c 0a, typed 3 -> 07, typed 16 -> 21
        for length, typed, raw in [(24, 0, "30"), (30, 0, "3c"), (64, 0, "8001"), (654, 0, "9c0a"), (3, 1, "07"), (16, 1, "21")]:
            self.assertEqual(encode_record_header(length, typed), h(raw))

    def test_invalid(self):
        for raw in ["", "80", "ffff", "ffffffffff01", "8080808080", "ffffffff1f"]:
            self.assertRaises(ProtocolError, decode_record_header, h(raw))

    def test_non_minimal_accepted(self):
        header, end = decode_record_header(h("8600"))
        self.assertEqual((header.length, header.typed, end), (3, 0, 2))


class VarintTests(TestCase):
    @given(st.integers(0, 2**32 - 1))
    @SETTINGS
    def test_round_trip(self, n):
        raw = encode_varint(n)
        self.assertEqual(decode_varint(raw + b"\x99"), (n, len(raw)))


class CommandTests(TestCase):
    def test_vectors(self):
        for case in cases(FILE, "command"):
            raw = h(case["command_hex"])
            command, end = decode_command(raw)
            self.assertEqual(end, len(raw), case)
            self.assertEqual(command.cmd, case["cmd"], case)
            self.assertEqual(command.kind, case["cmd_kind"], case)
            self.assertEqual(command.C, case["C"], case)
            self.assertEqual(command.request_id, case.get("request_id"), case)
            self.assertEqual(command.body, h(case["body_hex"]), case)
            built = Command(case["cmd"], case["cmd_kind"], case.get("request_id"), h(case["body_hex"]))
            self.assertEqual(built.encode(), raw, case)

    def test_udp_examples(self):
        # tcp.md 5.2: UDP probe 04 da 01 0e 18 42 15 = cmd 27 kind 2 request 0x0E18
        command, _ = decode_command(h("04da010e184215"))
        self.assertEqual((command.cmd, command.kind, command.request_id, command.body), (27, 2, 0x0E18, h("4215")))

    def test_invalid(self):
        for raw in [
            "",  # nothing
            "05",  # no C
            "0532",  # length past the end
            "01326d",  # request without a full request id
            "02326d31",  # request id but no body
            "03596d3133",  # body not an object list
            "ffffffffff01",  # overlong varint
        ]:
            self.assertRaises(ProtocolError, decode_command, h(raw))

    def test_encode_rejects_inconsistent(self):
        self.assertRaises(ValueError, Command(6, 2, None).encode)
        self.assertRaises(ValueError, Command(6, 1, 5).encode)
        self.assertRaises(ValueError, Command(6, 2, 0x10000).encode)
        self.assertRaises(ValueError, Command(6, 8, None).encode)

    @given(
        st.integers(0, 2**29 - 1),
        st.sampled_from([1, 2, 3]),
        st.integers(0, 0xFFFF),
        st.sampled_from([b"\x41", b"\x42"]),
        st.binary(max_size=64),
    )
    @SETTINGS
    def test_round_trip(self, cmd, kind, rid, marker, rest):
        command = Command(cmd, kind, rid if kind in (2, 3) else None, marker + rest)
        raw = command.encode()
        self.assertEqual(decode_command(raw), (command, len(raw)))
        self.assertEqual(decode_commands(raw * 3), [command] * 3)

    @given(st.binary(max_size=64))
    @SETTINGS
    def test_random_bytes(self, data):
        try:
            decode_commands(data)
        except ProtocolError:
            pass


class RecordTests(TestCase):
    def test_packet_vectors(self):
        for case in cases(FILE, "packet_record"):
            raw = h(case["record_hex"])
            record, end = decode_record(raw)
            self.assertEqual(end, len(raw), case)
            self.assertIsInstance(record, PacketRecord)
            self.assertEqual(record.packet_id, case["packet_id"], case)
            self.assertEqual([c.encode() for c in record.commands], [h(c) for c in case["commands_hex"]], case)
            commands = [decode_command(h(c))[0] for c in case["commands_hex"]]
            self.assertEqual(PacketRecord(case["packet_id"], commands).encode(), raw, case)

    def test_ack_vectors(self):
        for case in cases(FILE, "ack_record"):
            raw = h(case["record_hex"])
            self.assertEqual(decode_record(raw), (AckRecord(case["packet_id"]), len(raw)), case)
            self.assertEqual(AckRecord(case["packet_id"]).encode(), raw, case)

    def test_padding_vectors(self):
        for case in cases(FILE, "padding_record"):
            raw = h(case["record_hex"])
            self.assertEqual(decode_record(raw), (PaddingRecord(h(case["filler_hex"])), len(raw)), case)
            self.assertEqual(PaddingRecord(h(case["filler_hex"])).encode(), raw, case)

    def test_worked_example_5_4(self):
        # tcp.md 5.4 (the 44-byte 0x42 list of cmd 37 is elided in the spec,
        # so a stand-in of the same length is used): 80 01 | 6d 33 | cmd 37
        # notification | cmd 38 notification 42 15 | cmd 6 request 0x6D34.
        cmd37 = Command(37, 1, None, b"\x42" + bytes(43))
        cmd38 = Command(38, 1, None, h("4215"))
        cmd6 = Command(6, 2, 0x6D34, h("4232 40f6 4ff7"))
        raw = PacketRecord(0x6D33, [cmd37, cmd38, cmd6]).encode()
        self.assertEqual(raw[:6], h("8001 6d33 2ca9"))
        self.assertEqual(len(raw), 2 + 64)
        self.assertEqual(raw[4 + 3 + 44 :], h("02b1024215 08326d344232 40f64ff7"))
        record, _ = decode_record(raw)
        self.assertEqual([(c.cmd, c.kind, c.request_id) for c in record.commands], [(37, 1, None), (38, 1, None), (6, 2, 0x6D34)])
        # the supernode's answer starts 5c b9 11 2a 43 6d 34 42: packet 0xB911, reply cmd 8 to 0x6D34
        answer = h("5cb911") + Command(8, 3, 0x6D34, b"\x42" + bytes(39)).encode()
        self.assertEqual(answer[:8], h("5cb9112a436d3442"))
        record, _ = decode_record(answer)
        self.assertEqual((record.packet_id, record.commands[0].cmd, record.commands[0].kind), (0xB911, 8, 3))

    def test_session_and_unknown(self):
        record, _ = decode_record(h("1b05e64c6d7fc315e340363c32cf"))
        self.assertEqual(record, SessionRecord(0xE64C, h("6d7fc315e340363c"), 0xCF32))
        record, _ = decode_record(h("0709aabb"))
        self.assertEqual(record, UnknownRecord(9, h("aabb")))
        self.assertEqual(record.encode(), h("0709aabb"))

    def test_invalid(self):
        for raw in [
            "01",  # typed record without a type byte
            "0401",  # packet without a full packet id
            "046d30",  # packet without commands (GUESS: rejected)
            "0501b8",  # ack too short
            "0901b8ee00",  # ack too long
            "0905e64c6d",  # session record without room for CHK + TRL
            "07",  # truncated
            "306d30",  # truncated packet
        ]:
            self.assertRaises(ProtocolError, decode_record, h(raw))

    def test_limit(self):
        self.assertRaises(LimitExceeded, decode_record, encode_record_header(5000, 1) + b"\x03" * 5000, 0, 4096)

    def test_decode_records(self):
        raw = h("0701b8ee") + h("0303") + h("0b03b4ca0d7a")
        records, offsets = decode_records(raw)
        self.assertEqual(records, [AckRecord(0xB8EE), PaddingRecord(), PaddingRecord(h("b4ca0d7a"))])
        self.assertEqual(offsets, [0, 4, 6])


def _all_vector_records():
    out = b""
    for kind in ("packet_record", "ack_record", "padding_record", "session_record"):
        for case in cases(FILE, kind):
            out += h(case["record_hex"])
    return out


class RecordParserTests(TestCase):
    def test_whole_stream(self):
        stream = _all_vector_records()
        expected, _ = decode_records(stream)
        parser = RecordParser()
        self.assertEqual(parser.feed(stream), expected)
        self.assertEqual(parser.buffered, 0)
        self.assertEqual(len(expected), 5 + 3 + 6 + 24)

    def test_byte_by_byte(self):
        stream = _all_vector_records()
        parser = RecordParser()
        got = []
        for i in range(len(stream)):
            got += parser.feed(stream[i : i + 1])
        self.assertEqual(got, decode_records(stream)[0])

    def test_framed(self):
        parser = RecordParser()
        triples = parser.feed_framed(h("0701b8ee0303"))
        self.assertEqual([(o, r) for o, r, _ in triples], [(0, h("0701b8ee")), (4, h("0303"))])

    def test_limit_before_buffering(self):
        parser = RecordParser(max_body=4096)
        self.assertRaises(LimitExceeded, parser.feed, encode_record_header(4097, 0))
        # poisoned afterwards
        self.assertRaises(ProtocolError, parser.feed, h("0303"))

    def test_overlong_header(self):
        self.assertRaises(ProtocolError, RecordParser().feed, h("8080808080"))

    def test_partial_header_waits(self):
        parser = RecordParser()
        self.assertEqual(parser.feed(h("80")), [])
        self.assertEqual(parser.buffered, 1)

    @given(st.data())
    @SETTINGS
    def test_random_chunks(self, data):
        stream = _all_vector_records()
        expected = decode_records(stream)[0]
        parser = RecordParser()
        got, pos = [], 0
        while pos < len(stream):
            n = data.draw(st.integers(1, 80))
            got += parser.feed(stream[pos : pos + n])
            pos += n
        self.assertEqual(got, expected)

    @given(st.binary(max_size=200), st.integers(1, 16))
    @SETTINGS
    def test_random_bytes(self, data, chunk):
        parser = RecordParser(max_body=128)
        try:
            for i in range(0, len(data), chunk):
                parser.feed(data[i : i + chunk])
        except ProtocolError:
            pass
        self.assertLessEqual(parser.buffered, 5 + 128)

    @given(st.binary(min_size=1, max_size=300), st.integers(0, 299), st.integers(0, 255))
    @SETTINGS
    def test_mutated(self, _unused, index, value):
        stream = bytearray(_all_vector_records()[:400])
        stream[index % len(stream)] = value
        try:
            RecordParser().feed(bytes(stream))
        except ProtocolError:
            pass

    @given(st.binary(max_size=100))
    @SETTINGS
    def test_random_into_decoders(self, data):
        for func in (decode_record, decode_record_header, decode_command):
            try:
                func(data)
            except ProtocolError:
                pass

    @given(
        st.lists(
            st.one_of(
                st.builds(AckRecord, st.integers(0, 0xFFFF)),
                st.builds(PaddingRecord, st.binary(max_size=70)),
                st.builds(SessionRecord, st.integers(0, 0xFFFF), st.binary(max_size=40), st.integers(0, 0xFFFF)),
                st.builds(UnknownRecord, st.sampled_from([0, 2, 6, 0x7F, 0xFF]), st.binary(max_size=10)),
                st.builds(
                    PacketRecord,
                    st.integers(0, 0xFFFF),
                    st.lists(
                        st.builds(
                            Command,
                            st.integers(0, 5000),
                            st.just(2),
                            st.integers(0, 0xFFFF),
                            st.binary(max_size=150).map(lambda b: b"\x42" + b),
                        ),
                        min_size=1,
                        max_size=3,
                    ),
                ),
            ),
            max_size=8,
        )
    )
    @SETTINGS
    def test_build_parse_round_trip(self, records):
        stream = b"".join(r.encode() for r in records)
        self.assertEqual(RecordParser().feed(stream), records)


class GreetingTests(TestCase):
    def test_decode(self):
        self.assertEqual(decode_greeting(h("00010000000100000003")), Greeting(1, 3))
        self.assertEqual(decode_greeting(h("82a00000000100000003")), Greeting(0x82A0, 3))
        # final byte 01 (1.2.0.18) and 0F (SOS2) are accepted
        self.assertEqual(decode_greeting(h("0001000000010000000f")).final, 0x0F)
        self.assertEqual(decode_greeting(h("00010000000100000001")).final, 0x01)

    def test_invalid(self):
        for raw in ["00010000000200000003", "000100000001000000", "0001000000010100000300"]:
            self.assertRaises(ProtocolError, decode_greeting, h(raw))

    def test_random_values(self):
        for _ in range(50):
            seed = random_seed()
            raw = seed.to_bytes(4, "big")
            self.assertTrue(any(b & 0x80 for b in raw) and raw[0] != 0x80)
            tag = random_greeting_tag()
            self.assertEqual(tag & ~0x81FF, 0)
            self.assertNotEqual(tag, 1)


class SeedExchangeTests(TestCase):
    def test_rc4_keystream_vectors(self):
        for case in cases(FILE, "rc4_keystream"):
            extra = h(case.get("dh_secret_hex", ""))
            self.assertEqual(case["seed"], int(case["seed_hex"], 16), case)
            state = rc4.skype_rc4(case["seed"], extra)
            self.assertEqual(state.crypt(bytes(48)), h(case["keystream_hex"]), case)
            stream, _ = build_seed_exchange(
                case["seed"], h(case["greeting_plain_hex"]), h(case["first_record_plain_hex"]), extra
            )
            self.assertEqual(stream, h(case["stream_hex"]), case)
            exchange, state = parse_seed_exchange(stream, extra)
            self.assertEqual(exchange.seed, case["seed"], case)
            self.assertEqual(exchange.greeting.encode(), h(case["greeting_plain_hex"]), case)
            self.assertEqual(state.crypt(stream[14:]), h(case["first_record_plain_hex"]), case)
            decoded = decode_stream(stream, extra)
            self.assertIsNone(decoded.error, case)
            self.assertEqual([r for _, _, r in decoded.records], [decode_record(h(case["first_record_plain_hex"]))[0]])

    def test_wrong_extra_rejected(self):
        for case in cases(FILE, "rc4_keystream"):
            if "dh_secret_hex" in case:
                self.assertRaises(ProtocolError, parse_seed_exchange, h(case["stream_hex"]))

    def test_worked_example_2_3(self):
        # tcp.md 2.3: BATO capture, Skype 1.4.0.84 -> supernode
        client = h("798a13ec ac558100 65f2949c 289b 9c39b11397f2f9b3")
        exchange, state = parse_seed_exchange(client)
        self.assertEqual(exchange.seed, 0x798A13EC)
        self.assertEqual(exchange.greeting, Greeting(0x0001, 3))
        self.assertEqual(state.crypt(client[14:]), h("306d3013f2016d2f"))
        server = h("dadb19eb 1443416bb655ae970393 f9e0")
        exchange, state = parse_seed_exchange(server)
        self.assertEqual(exchange, type(exchange)(0xDADB19EB, Greeting(0x82A0, 3)))
        self.assertEqual(state.crypt(server[14:]), h("6f03"))
        built, _ = build_seed_exchange(0xDADB19EB, Greeting(0x82A0, 3), h("6f03"))
        self.assertEqual(built, server)

    def test_server_start(self):
        data, out_state = build_server_start(padding=PaddingRecord(bytes(20)))
        decoder = StreamDecoder()
        self.assertEqual(decoder.feed(data), [PaddingRecord(bytes(20))])
        self.assertEqual(decoder.exchange.greeting.final, 3)
        # the states continue in step
        more = AckRecord(7).encode()
        self.assertEqual(decoder.feed(out_state.crypt(more)), [AckRecord(7)])

    def test_too_short(self):
        self.assertRaises(ProtocolError, parse_seed_exchange, bytes(13))

    @given(st.binary(min_size=14, max_size=60))
    @settings(max_examples=200, deadline=None)
    def test_random_streams(self, data):
        try:
            parse_seed_exchange(data)
        except ProtocolError:
            pass
        result = decode_stream(data)  # never raises
        self.assertTrue(result.error is None or isinstance(result.error, str))

    @given(st.data())
    @settings(max_examples=100, deadline=None)
    def test_stream_decoder_chunks(self, data):
        records = [PaddingRecord(bytes(30)), AckRecord(0x1234), PacketRecord(5, [Command(30, 2, 6, h("4215"))])]
        stream, _ = build_seed_exchange(0x12345678, Greeting(), b"".join(r.encode() for r in records))
        decoder = StreamDecoder()
        got, pos = [], 0
        while pos < len(stream):
            n = data.draw(st.integers(1, 20))
            got += decoder.feed(stream[pos : pos + n])
            pos += n
        self.assertEqual(got, records)

    def test_decode_stream_json_and_error(self):
        records = [PaddingRecord(b"ab"), AckRecord(1)]
        stream, state = build_seed_exchange(1, Greeting(), b"".join(r.encode() for r in records))
        stream += state.crypt(h("01") + h("0303"))  # bad typed record, then more
        result = decode_stream(stream)
        self.assertEqual([r for _, _, r in result.records], records)
        self.assertIsNotNone(result.error)
        js = result.to_json()
        self.assertEqual(js["seed"], "00000001")
        self.assertEqual([r["type"] for r in js["records"]], ["padding", "ack"])
        self.assertEqual(js["records"][1]["offset"], 4)
        self.assertEqual(js["trailing"], "010303")


class IdCounterTests(TestCase):
    def test_wrap_and_skip(self):
        counter = IdCounter(0xFFFE)
        self.assertEqual([counter.next(), counter.next(), counter.next()], [0xFFFE, 0xFFFF, 0])
        self.assertEqual(counter.next(in_use={1, 2}), 3)
        self.assertEqual(counter.peek(), 4)

    def test_exhausted(self):
        counter = IdCounter(0)
        self.assertRaises(LimitExceeded, counter.next, range(0x10000))

    def test_random_start(self):
        self.assertTrue(0 <= IdCounter().next() <= 0xFFFF)


class JsonTests(TestCase):
    def test_record_to_json_with_objects(self):
        from blissnode.wire import objects
        from blissnode.wire.tcp import record_to_json

        body = objects.encode_objects([objects.Int(0, 45), objects.Int(5, 5)], compressed=True)
        good = Command(6, 2, 0x6D34, body)
        bad = Command(7, 1, None, h("41ff"))
        js = record_to_json(PacketRecord(0x6D33, [good, bad]), objects=True)
        self.assertEqual(js["commands"][0]["objects"], [{"type": 0, "id": 0, "value": 45}, {"type": 0, "id": 5, "value": 5}])
        self.assertEqual(js["commands"][0]["request_id"], 0x6D34)
        self.assertIn("objects_error", js["commands"][1])
        self.assertEqual(good.objects(), objects.ObjectList([objects.Int(0, 45), objects.Int(5, 5)]))

    @given(st.binary(max_size=12))
    @SETTINGS
    def test_random_greetings(self, data):
        try:
            decode_greeting(data)
        except ProtocolError:
            pass


class ClearStreamRecordTests(TestCase):
    """Typed record 04 (ERRATA, nDPI 2015): both sides of a peer stream sent
    ``05 04 00`` after the node's cmd 1 answer to cmd 7, and the client's
    next bytes were ``16 03 01 00 e7 ...`` in clear (the event server's
    key-exchange record, no RC4)."""

    REAL = bytes.fromhex("050400")

    def test_real_bytes_decode_and_encode(self):
        record, end = decode_record(self.REAL)
        self.assertEqual(end, 3)
        self.assertIsInstance(record, ClearStreamRecord)
        self.assertEqual(record.data, b"\x00")
        self.assertEqual(record.record_type, TYPE_CLEAR)
        self.assertEqual(ClearStreamRecord().encode(), self.REAL)
        self.assertEqual(record.to_json(), {"type": "clear", "data": "00"})

    def test_parser_stops_after_the_switch(self):
        ack = AckRecord(0x7DC5).encode()
        clear = bytes.fromhex("16030100e742cdef")
        parser = RecordParser()
        records = parser.feed(ack + self.REAL + clear)
        self.assertEqual([type(r) for r in records], [AckRecord, ClearStreamRecord])
        self.assertTrue(parser.switched)
        self.assertEqual(parser.take_rest(), clear)
        self.assertEqual(parser.take_rest(), b"")
        with self.assertRaises(ProtocolError):
            parser.feed(b"\x05")

    def test_switch_split_over_feeds(self):
        parser = RecordParser()
        self.assertEqual(parser.feed(self.REAL[:1]), [])
        self.assertFalse(parser.switched)
        self.assertEqual(parser.feed(self.REAL[1:]), [ClearStreamRecord()])
        self.assertTrue(parser.switched)
        self.assertEqual(parser.take_rest(), b"")
