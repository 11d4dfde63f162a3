"""
blissnode.wire.rc4 against vectors/rc4_seed_expand.json, run on BOTH the
pure-Python and the C implementation; the embedded expansion program against
vectors/rc4_expand_ops.json and (through an independent interpreter written
here) vectors/rc4_expand_tables.json.

The C accelerator must be built (``python setup.py build_ext --inplace``);
its absence is a failure unless BLISSNODE_NO_ACCEL=1.
"""

import importlib.util
import os
import struct
import subprocess
import sys

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import TestCase

from blissnode.wire import _expand_program, rc4
from tests.vectors import cases, load_vectors, vectors_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_ACCEL = os.environ.get("BLISSNODE_NO_ACCEL", "") == "1"
SEED_CASES = "rc4_seed_expand.json"
M32 = 0xFFFFFFFF


def implementations():
    """Every implementation under test; a missing C build raises (fails)."""
    impls = [rc4.get_implementation("python")]
    if not NO_ACCEL:
        impls.append(rc4.get_implementation("c"))
    return impls


def extra_of(case):
    return bytes.fromhex(case["extra_hex"])


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "gen_expand", os.path.join(REPO, "tools", "gen_expand.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class AcceleratorTests(TestCase):
    def test_accelerator_importable(self):
        if NO_ACCEL:
            self.assertEqual(rc4.get_implementation("python").name, "python")
            return
        from blissnode.wire import _rc4accel

        self.assertIs(rc4.c_impl.RC4, _rc4accel.RC4)
        self.assertEqual(rc4.get_implementation("c").name, "c")
        if os.environ.get("BLISSNODE_PURE_PYTHON", "") in ("", "0"):
            self.assertEqual(rc4.IMPLEMENTATION, "c")
            self.assertIs(rc4.skype_rc4, _rc4accel.skype_rc4)

    def test_pure_python_env_forces_python(self):
        env = dict(os.environ, BLISSNODE_PURE_PYTHON="1")
        out = subprocess.check_output(
            [sys.executable, "-c",
             "from blissnode.wire import rc4; print(rc4.IMPLEMENTATION, rc4.RC4.__name__)"],
            cwd=REPO, env=env,
        )
        self.assertEqual(out.split(), [b"python", b"PythonRC4"])

    def test_unknown_implementation(self):
        self.assertRaises(ValueError, rc4.get_implementation, "fortran")


class SeedExpandVectorTests(TestCase):
    """Every case of rc4_seed_expand.json, against every implementation."""

    def test_key80_and_words(self):
        for impl in implementations():
            for case in cases(SEED_CASES):
                key80 = impl.expand_key(case["seed"])
                self.assertEqual(key80.hex(), case["key80_hex"], (impl, case["seed_hex"]))
                words = ["%08x" % w for w in struct.unpack("<20I", key80)]
                self.assertEqual(words, case["key_words_hex"], (impl, case["seed_hex"]))
                self.assertEqual(case["seed"], int(case["seed_hex"], 16))

    def test_key_with_extra(self):
        for impl in implementations():
            for case in cases(SEED_CASES):
                key = impl.expand_key(case["seed"], extra_of(case))
                self.assertEqual(key.hex(), case["key_hex"], (impl, case["seed_hex"], case["note"]))
                self.assertEqual(
                    impl.expand_key(case["seed"], extra=extra_of(case)).hex(), case["key_hex"]
                )

    def test_sbox_and_keystream(self):
        for impl in implementations():
            for case in cases(SEED_CASES):
                msg = (impl, case["seed_hex"], case["note"])
                state = impl.skype_rc4(case["seed"], extra_of(case))
                self.assertEqual(state.state(), (bytes.fromhex(case["sbox_hex"]), 0, 0), msg)
                ks = case.get("keystream_1024_hex", case["keystream_hex"])
                out = state.crypt(bytes(len(ks) // 2))
                self.assertEqual(out.hex(), ks, msg)
                self.assertEqual(out[:64].hex(), case["keystream_hex"], msg)

    def test_keystream_1024_present(self):
        long_cases = [c for c in cases(SEED_CASES) if "keystream_1024_hex" in c]
        self.assertEqual(len(long_cases), 5)
        for impl in implementations():
            for case in long_cases:
                state = impl.skype_rc4(case["seed"], extra_of(case))
                # chunked, with a copy taken in the middle
                first = state.crypt(bytes(300))
                clone = state.copy()
                rest = state.crypt(bytes(724))
                self.assertEqual((first + rest).hex(), case["keystream_1024_hex"], impl)
                self.assertEqual(clone.crypt(bytes(724)), rest, impl)

    def test_rc4_from_key(self):
        for impl in implementations():
            for case in cases(SEED_CASES):
                state = impl.RC4(bytes.fromhex(case["key_hex"]))
                self.assertEqual(state.state()[0].hex(), case["sbox_hex"], (impl, case["seed_hex"]))
                self.assertEqual(
                    state.crypt(bytes(64)).hex(), case["keystream_hex"], (impl, case["seed_hex"])
                )

    def test_trace(self):
        traced = [c for c in cases(SEED_CASES) if "trace" in c]
        self.assertEqual(len(traced), 438)
        for case in traced:
            words, events = rc4.trace_expansion(case["seed"])
            got = [
                "leave" if ev == ("leave",) else "E%d x=%08x sel=%d" % ev[:3] for ev in events
            ]
            self.assertEqual(got, case["trace"], case["seed_hex"])
            self.assertEqual(["%08x" % w for w in words], case["key_words_hex"])

    def test_trace_cases(self):
        doc = load_vectors(SEED_CASES)
        self.assertEqual(len(doc["trace_cases"]), 8)
        for case in doc["trace_cases"]:
            _, events = rc4.trace_expansion(case["seed"])
            got = [
                ["leave"] if ev == ("leave",) else [ev[0], "%08x" % ev[1], ev[2], ev[3]]
                for ev in events
            ]
            self.assertEqual(got, case["trace"], case["seed_hex"])

    def test_tracer_removed_after_trace(self):
        rc4.trace_expansion(7)
        self.assertIsNone(_expand_program._tracer)

    def test_tcp_rc4_keystream(self):
        for impl in implementations():
            for case in cases("tcp_frames.json", "rc4_keystream"):
                # tcp.md 2.2: the DH-384 secret is the 'extra' of the expansion
                extra = bytes.fromhex(case.get("dh_secret_hex", ""))
                ks = case["keystream_hex"]
                state = impl.skype_rc4(case["seed"], extra)
                # greeting: keystream bytes 0..9 peeked (copy), not consumed
                greeting = state.copy().crypt(bytes.fromhex(case["greeting_plain_hex"]))
                record = state.copy().crypt(bytes.fromhex(case["first_record_plain_hex"]))
                stream = struct.pack(">I", case["seed"]) + greeting + record
                self.assertEqual(stream.hex(), case["stream_hex"], (impl, case["seed_hex"]))
                out = state.crypt(bytes(len(ks) // 2))
                self.assertEqual(out.hex(), ks, (impl, case["seed_hex"]))


class PlainRC4Tests(TestCase):
    # Well-known RC4 test vectors (key, plaintext, ciphertext), independent
    # of Skype: they pin the generic key schedule for short keys.
    KNOWN = [
        (b"Key", b"Plaintext", "bbf316e8d940af0ad3"),
        (b"Wiki", b"pedia", "1021bf0420"),
        (b"Secret", b"Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ]

    def test_known_answers(self):
        for impl in implementations():
            for key, plain, cipher in self.KNOWN:
                self.assertEqual(impl.RC4(key).crypt(plain).hex(), cipher, (impl, key))
                self.assertEqual(impl.RC4(key).crypt(bytes.fromhex(cipher)), plain)

    def test_buffer_types(self):
        for impl in implementations():
            a = impl.RC4(bytearray(b"Key")).crypt(memoryview(b"Plaintext"))
            self.assertEqual(a.hex(), "bbf316e8d940af0ad3")
            self.assertIsInstance(a, bytes)
            self.assertEqual(impl.RC4(b"k").crypt(b""), b"")

    def test_bad_arguments(self):
        for impl in implementations():
            self.assertRaises(ValueError, impl.RC4, b"")
            self.assertRaises(TypeError, impl.RC4, "text")
            self.assertRaises(TypeError, impl.RC4, 5)
            self.assertRaises(TypeError, impl.RC4(b"k").crypt, "text")
            self.assertRaises(TypeError, impl.RC4(b"k").crypt, [1, 2])


class SeedArgumentTests(TestCase):
    def test_seed_range(self):
        for impl in implementations():
            for f in (impl.expand_key, impl.skype_rc4):
                self.assertRaises(ValueError, f, -1)
                self.assertRaises(ValueError, f, 1 << 32)
                self.assertRaises(ValueError, f, 1 << 70)
                self.assertRaises(ValueError, f, -(1 << 70))
                self.assertRaises(TypeError, f, 1.0)
                self.assertRaises(TypeError, f, "1")
                self.assertRaises(TypeError, f, b"\0\0\0\1")
                self.assertEqual(len(impl.expand_key(0)), rc4.KEY_BYTES)
                self.assertEqual(len(impl.expand_key(M32)), rc4.KEY_BYTES)
        self.assertRaises(ValueError, rc4.trace_expansion, 1 << 32)

    def test_extra_length(self):
        for impl in implementations():
            for f in (impl.expand_key, impl.skype_rc4):
                for n in (1, 2, 3, 5, 47, 49, 81):
                    self.assertRaises(ValueError, f, 1, bytes(n))
                self.assertRaises(TypeError, f, 1, "abcd")
            # only the first 80 bytes of extra count
            self.assertEqual(impl.expand_key(9, bytes(range(80)) + b"\xff" * 40),
                             impl.expand_key(9, bytes(range(80))))
            self.assertEqual(impl.expand_key(9, bytes(48)), impl.expand_key(9))


class ProgramTests(TestCase):
    """The program embedded in the package is the shared one."""

    def test_embedded_program_hash(self):
        gen = load_generator()
        doc = load_vectors("rc4_expand_ops.json")
        sha = gen.program_sha256(doc)
        self.assertEqual(_expand_program.PROGRAM_SHA256, sha)
        for impl in implementations():
            self.assertEqual(impl.program_sha256, sha, impl)

    def test_generated_files_up_to_date(self):
        gen = load_generator()
        doc = gen.load_program(vectors_dir())
        for name, text in (("_expand_program.py", gen.generate_python(doc)),
                           ("_rc4accel.c", gen.generate_c(doc))):
            with open(os.path.join(REPO, "blissnode", "wire", name), encoding="ascii") as f:
                self.assertEqual(f.read(), text, "%s is stale: run tools/gen_expand.py" % name)

    def test_tables(self):
        ops = load_vectors("rc4_expand_ops.json")["tables"]
        tab = load_vectors("rc4_expand_tables.json")["tables"]
        for ours, theirs, name in ((_expand_program.SQRT, tab["ROOT"], "sqrt"),
                                   (_expand_program.COS, tab["COS"], "cos"),
                                   (_expand_program.SIN, tab["SIN"], "sin")):
            self.assertEqual(list(ours), theirs, name)
            self.assertEqual(list(ours), ops[name], name)
        # spec 2.5 closed forms
        import math
        for n in range(256):
            self.assertEqual(_expand_program.SQRT[n], math.isqrt(n + 1))
            self.assertEqual(_expand_program.COS[n], int(math.cos(n) < 0))
            self.assertEqual(_expand_program.SIN[n], int(math.sin(n) < 0))

    def test_agrees_with_tables_encoding(self):
        """An independent interpreter of rc4_expand_tables.json gives the same keys."""
        interp = TablesInterpreter(load_vectors("rc4_expand_tables.json"))
        seeds = [c["seed"] for c in cases(SEED_CASES)]
        seeds += [(s * 0x9E3779B1 + 12345) & M32 for s in range(150)]
        for impl in implementations():
            for seed in seeds:
                want = struct.pack("<20I", *interp.expand(seed))
                self.assertEqual(impl.expand_key(seed), want, (impl, hex(seed)))

    def test_tables_interpreter_against_vectors(self):
        # the interpreter itself must be right for the comparison to mean anything
        interp = TablesInterpreter(load_vectors("rc4_expand_tables.json"))
        for case in cases(SEED_CASES)[:120]:
            words = ["%08x" % w for w in interp.expand(case["seed"])]
            self.assertEqual(words, case["key_words_hex"], case["seed_hex"])


class _Leave(Exception):
    pass


class TablesInterpreter(object):
    """A small tree-walking interpreter of the second encoding (spec 2.4.1).

    Written independently of the generator (different vocabulary: blocks
    E0..E24 with x/sel, named steps S1..S72 with n/t, compound assignment),
    so agreement is evidence that both encodings and the generated code say
    the same thing.
    """

    def __init__(self, doc):
        self.blocks = doc["blocks"]
        self.steps = doc["steps"]
        t = doc["tables"]
        self.tables = {"root": t["ROOT"], "cos": t["COS"], "sin": t["SIN"]}

    def expand(self, seed):
        k = [seed] * 20
        self.block("E0", seed, k)
        return k

    def block(self, name, x, k):
        blk = self.blocks[name]
        env = {"x": x, "t": 0, "n": 0}
        env["sel"] = self.ev(blk["selector"], env, k)
        try:
            self.run(blk["body"], env, k)
        except _Leave:
            pass

    def ev(self, e, env, k):
        if isinstance(e, int):
            return e & M32
        if isinstance(e, str):
            if e[0] == "k" and e[1:].isdigit():
                return k[int(e[1:])]
            return env[e]
        op, args = e[0], e[1:]
        if op == "sel":
            return self.ev(args[1] if self.ev(args[0], env, k) else args[2], env, k)
        if op in self.tables:
            return self.tables[op][self.ev(args[0], env, k) & 0xFF]
        a, b = (self.ev(x, env, k) for x in args)
        r = b & 31
        return {
            "add": lambda: (a + b) & M32,
            "sub": lambda: (a - b) & M32,
            "mul": lambda: (a * b) & M32,
            "xor": lambda: a ^ b,
            "or": lambda: a | b,
            "and": lambda: a & b,
            "shl": lambda: (a << r) & M32,
            "shr": lambda: a >> r,
            "rotl": lambda: ((a << r) | (a >> (32 - r))) & M32,
            "rotr": lambda: ((a >> r) | (a << (32 - r))) & M32,
            "mod": lambda: a % b,
            "lt": lambda: int(a < b),
        }[op]()

    def run(self, body, env, k):
        for s in body:
            kind = s[0]
            if kind == "set":
                _, target, op, expr = s
                v = self.ev(expr, env, k)
                if op != "=":
                    cur = self.ev(target, env, k)
                    v = self.ev([{"+=": "add", "-=": "sub", "*=": "mul", "^=": "xor",
                                  "|=": "or", "&=": "and"}[op], cur, v], env, k)
                if target[0] == "k" and target[1:].isdigit():
                    k[int(target[1:])] = v
                else:
                    env[target] = v
            elif kind == "leave_if_odd":
                if self.ev(s[1], env, k) & 1:
                    raise _Leave()
            elif kind == "when":
                if env["sel"] == s[1]:
                    self.run(s[2], env, k)
            elif kind == "step":
                if len(s) > 2:
                    env["n"] = self.ev(s[2], env, k)
                self.run(self.steps[s[1]]["body"], env, k)
            elif kind == "call":
                self.block(s[1], self.ev(s[2], env, k), k)
            else:
                raise AssertionError("unknown statement %r" % (s,))


seeds = st.integers(min_value=0, max_value=M32)
extras = st.integers(min_value=0, max_value=26).flatmap(lambda n: st.binary(min_size=4 * n,
                                                                            max_size=4 * n))


class PropertyTests(TestCase):
    @settings(max_examples=300, deadline=None)
    @given(seeds, extras)
    def test_implementations_agree(self, seed, extra):
        impls = implementations()
        results = set()
        for impl in impls:
            state = impl.skype_rc4(seed, extra)
            results.add((impl.expand_key(seed, extra), state.state(), state.crypt(bytes(40))))
        self.assertEqual(len(results), 1)

    @settings(max_examples=200, deadline=None)
    @given(seeds, st.binary(max_size=600))
    def test_crypt_twice_is_identity(self, seed, data):
        for impl in implementations():
            state = impl.skype_rc4(seed)
            enc = state.copy().crypt(data)
            self.assertEqual(state.copy().crypt(enc), data)
            self.assertEqual(len(enc), len(data))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=1, max_size=300), st.binary(max_size=800),
           st.lists(st.integers(min_value=0, max_value=800), max_size=6))
    def test_chunks_equal_whole(self, key, data, cuts):
        for impl in implementations():
            whole = impl.RC4(key).crypt(data)
            state = impl.RC4(key)
            points = sorted(set([0, len(data)] + [c for c in cuts if c <= len(data)]))
            parts = [state.crypt(data[a:b]) for a, b in zip(points, points[1:])]
            self.assertEqual(b"".join(parts), whole)

    @settings(max_examples=100, deadline=None)
    @given(st.binary(min_size=1, max_size=300), st.binary(max_size=300))
    def test_generic_rc4_agrees(self, key, data):
        outs = {impl.RC4(key).crypt(data) for impl in implementations()}
        self.assertEqual(len(outs), 1)

    @settings(max_examples=100, deadline=None)
    @given(seeds, st.binary(max_size=100), st.binary(max_size=100))
    def test_copy_is_independent(self, seed, a, b):
        for impl in implementations():
            state = impl.skype_rc4(seed)
            state.crypt(a)
            clone = state.copy()
            before = clone.state()
            x = state.crypt(b)
            self.assertEqual(clone.state(), before)
            self.assertEqual(clone.crypt(b), x)
            self.assertEqual(clone.state(), state.state())
