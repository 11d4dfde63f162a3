"""The UDP datagram layer against every case of udp_iv.json,
udp_obfuscation.json and the datagram kinds of udp_packets.json."""

import ipaddress

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire.crc import crc32r
from blissnode.wire.errors import ProtocolError
from blissnode.wire.rc4 import skype_rc4
from blissnode.wire.udp import (
    AckDatagram,
    FragmentDatagram,
    FreshSeeds,
    NackDatagram,
    OpenedDatagram,
    PayloadDatagram,
    ResendDatagram,
    SeedPool,
    decrypt_datagram,
    encrypt_fragment,
    encrypt_payload,
    encrypt_resend,
    ip_crc,
    ip_to_bytes,
    ip_to_int,
    ip_to_str,
    make_type_byte,
    parse_datagram,
    parse_header,
    payload_seed,
    resend_seed,
    seal_fragment,
    seal_payload,
    seed_input,
)
from tests.vectors import cases

H = bytes.fromhex


def h32(text):
    return int(text, 16)


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


# ---------------------------------------------------------------- udp_iv.json

class UdpIvVectorTests(TestCase):
    def test_seed(self):
        for c in cases("udp_iv.json", "seed"):
            pid = c["packet_id"]
            self.assertEqual(pid, h32(c["packet_id_hex"]), c)
            self.assertEqual(seed_input(c["src_ip"], c["dst_ip"], pid).hex(),
                             c["crc_input_hex"], c)
            self.assertEqual(ip_crc(c["src_ip"], c["dst_ip"], pid), h32(c["ip_crc_hex"]), c)
            seed = payload_seed(c["src_ip"], c["dst_ip"], pid, h32(c["iv_hex"]))
            self.assertEqual(seed, h32(c["seed_hex"]), c)
            stream = skype_rc4(seed).crypt(bytes(64))
            self.assertEqual(stream.hex(), c["keystream_hex"], c)

    def test_packet(self):
        for c in cases("udp_iv.json", "packet"):
            pid, iv = c["packet_id"], h32(c["iv_hex"])
            plain = H(c["plaintext_hex"])
            self.assertEqual(seed_input(c["src_ip"], c["dst_ip"], pid).hex(),
                             c["crc_input_hex"], c)
            self.assertEqual(ip_crc(c["src_ip"], c["dst_ip"], pid), h32(c["ip_crc_hex"]), c)
            self.assertEqual(payload_seed(c["src_ip"], c["dst_ip"], pid, iv),
                             h32(c["seed_hex"]), c)
            self.assertEqual(crc32r(plain), h32(c["payload_crc_hex"]), c)
            built = encrypt_payload(c["src_ip"], c["dst_ip"], pid, iv, plain)
            self.assertEqual(built.hex(), c["datagram_hex"], c)
            ks = H(c["keystream_hex"])
            n = min(len(plain), len(ks))
            self.assertEqual(xor(built[11:11 + n], ks[:n]), plain[:n], c)
            dgram, got, ok = decrypt_datagram(H(c["datagram_hex"]), c["src_ip"], c["dst_ip"])
            self.assertIsInstance(dgram, PayloadDatagram)
            self.assertEqual((dgram.packet_id, dgram.iv, dgram.crc),
                             (pid, iv, h32(c["payload_crc_hex"])), c)
            self.assertEqual((got, ok), (plain, True), c)

    def test_resend(self):
        for c in cases("udp_iv.json", "resend"):
            pid, challenge = c["packet_id"], h32(c["challenge_hex"])
            self.assertEqual(pid, h32(c["packet_id_hex"]))
            plain = H(c["plaintext_hex"])
            wire = H(c["datagram_hex"])
            self.assertEqual(resend_seed(pid, challenge), h32(c["seed_hex"]), c)
            self.assertEqual(skype_rc4(h32(c["seed_hex"])).crypt(bytes(64)).hex(),
                             c["keystream_hex"], c)
            self.assertEqual(crc32r(plain), h32(c["payload_crc_hex"]), c)
            built = encrypt_resend(pid, challenge, c["dst_ip"], plain, type_byte=wire[2])
            self.assertEqual(built.hex(), c["datagram_hex"], c)
            # the addresses do not enter the key: wrong ones must not matter
            dgram, got, ok = decrypt_datagram(wire, "203.0.113.1", "203.0.113.2",
                                              expected_nseed=challenge)
            self.assertIsInstance(dgram, ResendDatagram)
            self.assertEqual((dgram.nseed, dgram.peer_ip, dgram.count),
                             (challenge, c["dst_ip"], 1), c)
            self.assertEqual((got, ok), (plain, True), c)

    def test_fragment(self):
        for c in cases("udp_iv.json", "fragment"):
            pid, iv = c["packet_id"], h32(c["iv_hex"])
            flag = h32(c["fragment_byte_hex"])
            plain = H(c["plaintext_hex"])
            wire = H(c["datagram_hex"])
            self.assertEqual(seed_input(c["src_ip"], c["dst_ip"], pid).hex(),
                             c["crc_input_hex"], c)
            self.assertEqual(ip_crc(c["src_ip"], c["dst_ip"], pid), h32(c["ip_crc_hex"]), c)
            seed = payload_seed(c["src_ip"], c["dst_ip"], pid, iv)
            self.assertEqual(seed, h32(c["seed_hex"]), c)
            self.assertEqual(skype_rc4(seed).crypt(bytes(64)).hex(), c["keystream_hex"], c)
            self.assertEqual(crc32r(plain), h32(c["payload_crc_hex"]), c)
            built = encrypt_fragment(c["src_ip"], c["dst_ip"], pid, h32(c["ref_id_hex"]),
                                     flag & 0x7F, flag & 0x80, iv, plain,
                                     type_byte=wire[2])
            self.assertEqual(built.hex(), c["datagram_hex"], c)
            dgram, got, ok = decrypt_datagram(wire, c["src_ip"], c["dst_ip"])
            self.assertIsInstance(dgram, FragmentDatagram)
            self.assertEqual(dgram.flag_byte, flag, c)
            self.assertEqual(dgram.in_reply_to, h32(c["ref_id_hex"]), c)
            self.assertEqual((got, ok), (plain, True), c)

    def test_nack(self):
        for c in cases("udp_iv.json", "nack"):
            self.assertEqual(c["packet_id"], h32(c["packet_id_hex"]))
            nack = NackDatagram(c["packet_id"], c["observed_ip"], h32(c["challenge_hex"]),
                                h32(c["func_byte_hex"]))
            self.assertEqual(nack.to_bytes().hex(), c["datagram_hex"], c)
            self.assertEqual(parse_datagram(H(c["datagram_hex"])), nack, c)


# ------------------------------------------------------- udp_obfuscation.json

class UdpObfuscationVectorTests(TestCase):
    def test_payload(self):
        for c in cases("udp_obfuscation.json", "payload"):
            pid, iv = c["packet_id"], h32(c["iv"])
            plain = H(c["plaintext_hex"])
            self.assertEqual(seed_input(c["src_ip"], c["dst_ip"], pid).hex(),
                             c["seed_crc_input_hex"], c)
            self.assertEqual(payload_seed(c["src_ip"], c["dst_ip"], pid, iv), h32(c["seed"]), c)
            self.assertEqual(crc32r(plain), h32(c["crc"]), c)
            self.assertEqual(encrypt_payload(c["src_ip"], c["dst_ip"], pid, iv, plain).hex(),
                             c["datagram_hex"], c)
            opened = decrypt_datagram(H(c["datagram_hex"]), c["src_ip"], c["dst_ip"])
            self.assertEqual((opened.plaintext, opened.crc_ok), (plain, True), c)
            self.assertEqual(opened.datagram.seed(c["src_ip"], c["dst_ip"]), h32(c["seed"]))

    def test_resend(self):
        for c in cases("udp_obfuscation.json", "resend"):
            pid, challenge = c["packet_id"], h32(c["challenge"])
            plain = H(c["plaintext_hex"])
            wire = H(c["datagram_hex"])
            self.assertEqual(resend_seed(pid, challenge), h32(c["seed"]), c)
            self.assertEqual(crc32r(plain), h32(c["crc"]), c)
            self.assertEqual(encrypt_resend(pid, challenge, c["dst_ip"], plain,
                                            type_byte=wire[2]).hex(), c["datagram_hex"], c)
            dgram = parse_datagram(wire)
            self.assertEqual(dgram.seed, h32(c["seed"]), c)
            self.assertEqual(dgram.peer_ip, c["dst_ip"], c)
            self.assertEqual(dgram.decrypt(), (plain, True), c)

    def test_validate(self):
        for c in cases("udp_obfuscation.json", "validate"):
            dgram, plain, ok = decrypt_datagram(H(c["datagram_hex"]), c["src_ip"], c["dst_ip"])
            self.assertEqual(plain.hex(), c["decrypted_hex"], c)
            self.assertEqual(crc32r(plain), h32(c["crc_of_decrypted"]), c)
            self.assertIs(ok, c["crc_valid"], c)
            self.assertFalse(ok, c)


# ---------------------------------------------- udp_packets.json: datagrams

class UdpPacketsVectorTests(TestCase):
    def test_crc32r(self):
        for c in cases("udp_packets.json", "crc32r"):
            self.assertEqual(crc32r(H(c["data_hex"])), h32(c["crc32r"]), c)

    def test_header_parse(self):
        for c in cases("udp_packets.json", "header_parse"):
            hdr = parse_header(H(c["datagram_hex"]))
            self.assertEqual(
                (hdr.packet_id, hdr.type_byte, hdr.kind, hdr.kind_name, hdr.bits_4_6,
                 hdr.bit_7),
                (c["packet_id"], h32(c["type_byte"]), c["kind_nibble"], c["kind_name"],
                 c["bits_4_6"], c["bit_7"]), c)
            if c["bit_7"] == 0:
                self.assertEqual(make_type_byte(c["kind_nibble"], c["bits_4_6"]),
                                 h32(c["type_byte"]), c)
            else:
                # bit 7 was never observed: parse_datagram refuses it
                self.assertRaises(ProtocolError, parse_datagram, H(c["datagram_hex"]))

    def test_payload_seed(self):
        for c in cases("udp_packets.json", "payload_seed"):
            pid = c["packet_id"]
            self.assertEqual(seed_input(c["src_ip"], c["dst_ip"], pid).hex(),
                             c["seed_input_hex"], c)
            self.assertEqual(ip_crc(c["src_ip"], c["dst_ip"], pid), h32(c["crc32r_of_input"]), c)
            self.assertEqual(payload_seed(c["src_ip"], c["dst_ip"], pid, h32(c["iv"])),
                             h32(c["seed"]), c)

    def test_payload_header(self):
        for c in cases("udp_packets.json", "payload_header"):
            plain = H(c["plaintext_hex"])
            self.assertEqual(crc32r(plain), h32(c["crc"]), c)
            dgram = PayloadDatagram(c["packet_id"], h32(c["iv"]), crc32r(plain), b"")
            self.assertEqual(dgram.to_bytes().hex(), c["header_hex"], c)
            self.assertEqual(parse_datagram(H(c["header_hex"])), dgram, c)

    def test_nack(self):
        for c in cases("udp_packets.json", "nack"):
            nack = NackDatagram(c["packet_id"], c["your_ip"], h32(c["nseed"]),
                                h32(c["type_byte"]))
            self.assertEqual(nack.to_bytes().hex(), c["datagram_hex"], c)
            parsed = parse_datagram(H(c["datagram_hex"]))
            self.assertEqual(parsed, nack, c)
            self.assertEqual(parsed.resend_seed, h32(c["resend_seed"]), c)

    def test_ack(self):
        for c in cases("udp_packets.json", "ack"):
            ack = AckDatagram(c["packet_id"], c["your_ip"], h32(c["value"]),
                              h32(c["type_byte"]))
            self.assertEqual(ack.to_bytes().hex(), c["datagram_hex"], c)
            self.assertEqual(parse_datagram(H(c["datagram_hex"])), ack, c)

    def test_resend_header(self):
        for c in cases("udp_packets.json", "resend_header"):
            plain = H(c["plaintext_hex"])
            nseed = h32(c["nseed"])
            self.assertEqual(crc32r(plain), h32(c["crc"]), c)
            self.assertEqual(resend_seed(c["packet_id"], nseed), h32(c["seed"]), c)
            hdr = ResendDatagram(c["packet_id"], nseed, c["peer_ip"], h32(c["crc"]), b"",
                                 c["count"], h32(c["type_byte"]))
            self.assertEqual(hdr.to_bytes().hex(), c["header_hex"], c)
            self.assertEqual(parse_datagram(H(c["header_hex"])), hdr, c)
            wire = encrypt_resend(c["packet_id"], nseed, c["peer_ip"], plain,
                                  c["count"], h32(c["type_byte"]))
            self.assertEqual(wire[:16].hex(), c["header_hex"], c)
            if "ciphertext_hex" in c:
                self.assertEqual(wire[16:].hex(), c["ciphertext_hex"], c)
            self.assertEqual(parse_datagram(wire).decrypt(), (plain, True), c)

    def test_fragment_header(self):
        for c in cases("udp_packets.json", "fragment_header"):
            plain = H(c["plaintext_hex"])
            self.assertEqual(crc32r(plain), h32(c["crc"]), c)
            hdr = FragmentDatagram(c["packet_id"], c["in_reply_to"], c["index"], c["last"],
                                   h32(c["iv"]), crc32r(plain), b"", h32(c["type_byte"]))
            self.assertEqual(hdr.flag_byte, h32(c["flag_byte"]), c)
            self.assertEqual(hdr.to_bytes().hex(), c["header_hex"], c)
            self.assertEqual(parse_datagram(H(c["header_hex"])), hdr, c)

    def test_invalid(self):
        for c in cases("udp_packets.json", "invalid"):
            self.assertRaises(ProtocolError, parse_datagram, H(c["datagram_hex"]))
            self.assertRaises(ProtocolError, decrypt_datagram, H(c["datagram_hex"]),
                              "1.2.3.4", "5.6.7.8")


# ----------------------------------------------------------- worked examples

class WorkedExampleTests(TestCase):
    """The real datagrams quoted in udp.md 4.3 / 10 and obfuscation.md 3.10."""

    def test_bato_probe_needs_nack(self):
        wire = H("0e19020f4685c645615efcd5ea3d50d75537")
        # the client keyed with 0.0.0.0: decrypts with that...
        _, plain, ok = decrypt_datagram(wire, "0.0.0.0", "193.217.106.133")
        self.assertEqual((plain.hex(), ok), ("04da010e184215", True))
        self.assertEqual(payload_seed("0.0.0.0", "193.217.106.133", 0x0E19, 0x0F4685C6),
                         0x79BA9DD0)
        # ...but a server keys with the real source address: CRC fails -> NACK
        _, _, ok = decrypt_datagram(wire, "78.36.112.176", "193.217.106.133")
        self.assertFalse(ok)

    def test_bato_nack_resend_accept(self):
        nack = parse_datagram(H("6d2c474e2470b0a98b0587"))
        self.assertEqual((nack.your_ip, nack.nseed, nack.resend_seed),
                         ("78.36.112.176", 0xA98B0587, 0xA98B68AB))
        wire = H("6d2c1301a98b05875347205b4adf5dd84f7b05c7e53d0c")
        _, plain, ok = decrypt_datagram(wire, "78.36.112.176", "83.71.32.91",
                                        expected_nseed=nack.nseed)
        self.assertEqual((plain.hex(), ok), ("04da016d2b4215", True))
        accept = H("b8d90256be6b5e69aa0bbd3696d207740b9b")
        _, plain, ok = decrypt_datagram(accept, "83.71.32.91", "78.36.112.176")
        self.assertEqual((plain.hex(), ok), ("04e3016d2b4215", True))
        self.assertEqual(
            encrypt_payload("83.71.32.91", "78.36.112.176", 0xB8D9, 0x56BE6B5E, plain), accept)

    def test_irc06(self):
        probe = H("15f202e2b459e6644a654d81763ac9dbf536")
        _, plain, ok = decrypt_datagram(probe, "0.0.0.0", "165.124.253.241")
        self.assertTrue(ok)
        self.assertEqual(parse_datagram(probe).seed("0.0.0.0", "165.124.253.241"), 0xA2534D50)
        nack = parse_datagram(H("15f2775680f57324499eb8"))
        self.assertEqual((nack.your_ip, nack.nseed), ("86.128.245.115", 0x24499EB8))
        resend = H("15f20301" "24499eb8" "a57cfdf1" "644a654d" "9c316e2ce98fc0")
        _, plain2, ok = decrypt_datagram(resend, "86.128.245.115", "165.124.253.241")
        self.assertEqual((plain2, ok), (plain, True))
        self.assertEqual(plain.hex(), "04da0115f14215")
        accepted = H("7a5002b5565522e04eef166813ad5c98eef8")
        _, plain, ok = decrypt_datagram(accepted, "68.206.150.243", "86.128.245.115")
        self.assertEqual((plain.hex(), ok), ("04e3011601" "4215", True))
        ack = parse_datagram(H("1653255680f5730beb2ca9"))
        self.assertEqual((ack.packet_id, ack.your_ip, ack.value),
                         (0x1653, "86.128.245.115", 0x0BEB2CA9))
        frag0 = FragmentDatagram(0xAA30, 0x1674, 0, False, 0x7E8B0936, 0xB25F9FE6, b"", 0x3F)
        self.assertEqual(frag0.to_bytes().hex(), "aa303f167400027e8b0936b25f9fe6")
        self.assertEqual(frag0.seed("24.28.248.6", "86.128.245.115"), 0x95A81FC9)
        last = parse_datagram(H("aa305f16748802a4106366c982c445"))
        self.assertEqual((last.index, last.last, last.in_reply_to), (8, True, 0x1674))

    def test_obfuscation_3_10(self):
        plain = H("04da012a504215")
        self.assertEqual(seed_input("0.0.0.0", "192.0.2.10", 0x2A51).hex(),
                         "000000000a0200c0512a0000")
        self.assertEqual(ip_crc("0.0.0.0", "192.0.2.10", 0x2A51), 0x2D0B775B)
        self.assertEqual(encrypt_payload("0.0.0.0", "192.0.2.10", 0x2A51, 0x3C0DE5F1,
                                         plain).hex(),
                         "2a51023c0de5f114b8baed4d5dfc72c40b1f")
        self.assertEqual(encrypt_resend(0x2A51, 0x5E0C7D21, "192.0.2.10", plain,
                                        type_byte=0x13).hex(),
                         "2a5113015e0c7d21c000020a14b8baedf7f689e3773ba9")


# ------------------------------------------------------------ API behaviour

class AddressTests(TestCase):
    def test_forms(self):
        for form in ("192.0.2.10", b"\xc0\x00\x02\x0a", 0xC000020A,
                     ipaddress.IPv4Address("192.0.2.10"), bytearray(b"\xc0\x00\x02\x0a")):
            self.assertEqual(ip_to_int(form), 0xC000020A, form)
            self.assertEqual(ip_to_str(form), "192.0.2.10", form)
            self.assertEqual(ip_to_bytes(form), b"\xc0\x00\x02\x0a", form)

    def test_bad(self):
        for bad in ("1.2.3", "1.2.3.256", "1.2.3.4.5", " 1.2.3.4", "1.2.3.-4", "a.b.c.d",
                    "1.2.3.\u0664", b"\x01\x02\x03", -1, 2 ** 32, None, 1.5, True):
            self.assertRaises(ValueError, ip_to_int, bad)


class DecryptApiTests(TestCase):
    def test_clear_kinds_are_not_decrypted(self):
        for wire in (NackDatagram(1, "1.2.3.4", 5).to_bytes(),
                     AckDatagram(1, "1.2.3.4", 5).to_bytes()):
            self.assertRaises(ProtocolError, decrypt_datagram, wire, "1.1.1.1", "2.2.2.2")

    def test_unknown_challenge_refused(self):
        wire = encrypt_resend(7, 0x1234, "9.9.9.9", b"\x02\x61\x41\x00")
        self.assertEqual(decrypt_datagram(wire, "1.1.1.1", "2.2.2.2").crc_ok, True)
        self.assertRaises(ProtocolError, decrypt_datagram, wire, "1.1.1.1", "2.2.2.2",
                          expected_nseed=0x1235)

    def test_opened_unpacks(self):
        wire = encrypt_payload("1.1.1.1", "2.2.2.2", 9, 10, b"abc")
        opened = decrypt_datagram(wire, "1.1.1.1", "2.2.2.2")
        self.assertIsInstance(opened, OpenedDatagram)
        self.assertEqual(tuple(opened), (opened.datagram, b"abc", True))

    def test_bit7_option(self):
        wire = bytearray(AckDatagram(1, "1.2.3.4", 5).to_bytes())
        wire[2] |= 0x80
        self.assertRaises(ProtocolError, parse_datagram, bytes(wire))
        self.assertEqual(parse_datagram(bytes(wire), reject_bit7=False).type_byte, 0x85)

    def test_fragment_inner_kind(self):
        wire = bytearray(FragmentDatagram(1, 2, 3, False, 4, 5, b"x").to_bytes())
        wire[6] = 0x03
        self.assertRaises(ProtocolError, parse_datagram, bytes(wire))

    def test_unsupported_kinds(self):
        for kind in (0, 1, 4, 6, 8, 9, 0xA, 0xB, 0xC, 0xD, 0xE):
            self.assertRaises(ProtocolError, parse_datagram, bytes([0, 1, kind]) + bytes(20))

    def test_builder_validation(self):
        self.assertRaises(ValueError, PayloadDatagram, 0x10000, 0, 0, b"")
        self.assertRaises(ValueError, NackDatagram, 1, "1.2.3.4", 2 ** 32)
        self.assertRaises(ValueError, NackDatagram, 1, "1.2.3.4", 1, type_byte=0x05)
        self.assertRaises(ValueError, FragmentDatagram, 1, 2, 128, True, 0, 0, b"")
        self.assertRaises(ValueError, make_type_byte, 7, 8)


class SeedSourceTests(TestCase):
    def test_pool_iv_is_ip_crc_xor_seed(self):
        pool = SeedPool([0x11111111, 0x22222222, 0x7])
        self.assertEqual(len(pool), 3)
        src, dst = "198.51.100.1", "203.0.113.77"
        for i, seed in enumerate([0x11111111, 0x22222222, 0x7, 0x11111111]):
            plain = bytes(range(i * 10))
            wire = seal_payload(pool, src, dst, 0x100 + i, plain)
            dgram, got, ok = decrypt_datagram(wire, src, dst)
            self.assertEqual((got, ok), (plain, True))
            self.assertEqual(dgram.seed(src, dst), seed)
            self.assertEqual(dgram.iv, ip_crc(src, dst, 0x100 + i) ^ seed)

    def test_pool_replace_and_fragment(self):
        pool = SeedPool([1])
        pool.replace(0, 0xDEADBEEF)
        wire = seal_fragment(pool, "1.2.3.4", "5.6.7.8", 0xAA30, 0x1674, 8, True,
                             b"tail", type_byte=0x5F)
        dgram, got, ok = decrypt_datagram(wire, "1.2.3.4", "5.6.7.8")
        self.assertEqual((got, ok, dgram.seed("1.2.3.4", "5.6.7.8")),
                         (b"tail", True, 0xDEADBEEF))
        self.assertRaises(ValueError, SeedPool, [])

    def test_fresh_seeds(self):
        values = iter([5, 0x1_0000_0006])
        fresh = FreshSeeds(lambda: next(values))
        for expected in (5, 6):
            wire = seal_payload(fresh, "1.1.1.1", "2.2.2.2", 1, b"hello")
            dgram, got, ok = decrypt_datagram(wire, "1.1.1.1", "2.2.2.2")
            self.assertEqual((got, ok, dgram.seed("1.1.1.1", "2.2.2.2")),
                             (b"hello", True, expected))


# --------------------------------------------------------------- properties

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ips = st.integers(0, 0xFFFFFFFF).map(ip_to_str)
bits = st.integers(0, 7)

datagrams = st.one_of(
    st.builds(lambda p, i, c, b: PayloadDatagram(p, i, c, b), u16, u32, u32,
              st.binary(max_size=64)),
    st.builds(lambda p, n, ip, c, b, cnt, t: ResendDatagram(p, n, ip, c, b, cnt,
                                                            make_type_byte(3, t)),
              u16, u32, ips, u32, st.binary(max_size=64), st.integers(0, 255), bits),
    st.builds(lambda p, ip, n, t: NackDatagram(p, ip, n, make_type_byte(7, t)),
              u16, ips, u32, bits),
    st.builds(lambda p, ip, v, t: AckDatagram(p, ip, v, make_type_byte(5, t)),
              u16, ips, u32, bits),
    st.builds(lambda p, r, i, last, iv, c, b, t: FragmentDatagram(
        p, r, i, last, iv, c, b, make_type_byte(0xF, t)),
        u16, u16, st.integers(0, 127), st.booleans(), u32, u32, st.binary(max_size=64),
        bits),
)


class PropertyTests(TestCase):
    @settings(max_examples=400, deadline=None)
    @given(st.binary(max_size=40))
    def test_random_bytes(self, data):
        for parse in (parse_datagram, parse_header,
                      lambda d: decrypt_datagram(d, "1.2.3.4", "5.6.7.8")):
            try:
                parse(data)
            except ProtocolError:
                pass

    @settings(max_examples=300, deadline=None)
    @given(datagrams, st.data())
    def test_mutated(self, dgram, data):
        wire = bytearray(dgram.to_bytes())
        for _ in range(data.draw(st.integers(1, 4))):
            op = data.draw(st.sampled_from(["flip", "cut", "extend"]))
            if op == "flip" and wire:
                i = data.draw(st.integers(0, len(wire) - 1))
                wire[i] ^= data.draw(st.integers(1, 255))
            elif op == "cut":
                del wire[data.draw(st.integers(0, len(wire))):]
            else:
                wire += data.draw(st.binary(min_size=1, max_size=8))
        try:
            decrypt_datagram(bytes(wire), "10.0.0.1", "10.0.0.2")
        except ProtocolError:
            pass

    @settings(max_examples=300, deadline=None)
    @given(datagrams)
    def test_build_parse_round_trip(self, dgram):
        self.assertEqual(parse_datagram(dgram.to_bytes()), dgram)
        self.assertEqual(parse_header(dgram.to_bytes()).kind, dgram.kind)

    @settings(max_examples=200, deadline=None)
    @given(ips, ips, u16, u32, st.binary(max_size=300))
    def test_payload_round_trip(self, src, dst, pid, iv, plain):
        wire = encrypt_payload(src, dst, pid, iv, plain)
        self.assertEqual(len(wire), 11 + len(plain))
        dgram, got, ok = decrypt_datagram(wire, src, dst)
        self.assertEqual((got, ok), (plain, True))
        self.assertEqual(dgram.seed(src, dst), ip_crc(src, dst, pid) ^ iv)

    @settings(max_examples=200, deadline=None)
    @given(u16, u32, ips, st.binary(max_size=300), st.integers(0, 255))
    def test_resend_round_trip(self, pid, nseed, peer, plain, count):
        wire = encrypt_resend(pid, nseed, peer, plain, count)
        dgram, got, ok = decrypt_datagram(wire, "0.0.0.0", "0.0.0.0", expected_nseed=nseed)
        self.assertEqual((got, ok, dgram.peer_ip, dgram.count), (plain, True, peer, count))

    @settings(max_examples=200, deadline=None)
    @given(ips, ips, u16, u16, st.integers(0, 127), st.booleans(), u32,
           st.binary(max_size=300))
    def test_fragment_round_trip(self, src, dst, pid, ref, index, last, iv, plain):
        wire = encrypt_fragment(src, dst, pid, ref, index, last, iv, plain)
        dgram, got, ok = decrypt_datagram(wire, src, dst)
        self.assertEqual((got, ok), (plain, True))
        self.assertEqual((dgram.in_reply_to, dgram.index, dgram.last), (ref, index, last))
