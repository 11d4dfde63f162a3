#!/usr/bin/env python3
"""
Developer-time generator for the Skype RC4 seed expansion.

The expansion (spec/obfuscation.md section 2) is about 2,100 statements of
deliberately convoluted code.  The vector file
``rc4_expand_ops.json`` holds it as data; this script compiles that data
once, at development time, into two committed source files:

* ``blissnode/wire/_expand_program.py`` -- one readable, straight-line Python
  function per routine ("step"), the three helper tables as tuples, and
  ``PROGRAM_SHA256``, the SHA-256 of the canonical JSON of the program it was
  generated from (so a test can prove the committed code matches the vector
  data without the package ever reading the vectors at run time);
* ``blissnode/wire/_rc4accel.c`` -- the CPython extension module
  ``blissnode.wire._rc4accel``: the same routines in C plus the RC4 key
  schedule and keystream (an ``RC4`` type).

Usage::

    python tools/gen_expand.py [VECTORS_DIR]     # default: tests/vectors

Why generate instead of interpreting: a tree-walking interpreter of the JSON
costs 110-185 us per seed, the compiled Python 16-25 us, the C well under
1 us (spec section 5); every UDP datagram needs one expansion.

The tests import :func:`generate_python` and :func:`generate_c` to check that
the committed files are exactly what this script produces from the
vector data.
"""

import hashlib
import json
import os
import sys

M32 = 0xFFFFFFFF

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_VECTORS = os.path.join(REPO, "tests", "vectors")
PY_OUT = os.path.join(REPO, "blissnode", "wire", "_expand_program.py")
C_OUT = os.path.join(REPO, "blissnode", "wire", "_rc4accel.c")

TABLES = ("sqrt", "cos", "sin")


# ---------------------------------------------------------------------------
# Program loading and fingerprint


def load_program(vectors_dir=DEFAULT_VECTORS):
    with open(os.path.join(vectors_dir, "rc4_expand_ops.json"), "rb") as f:
        return json.load(f)


def canonical_program(doc):
    """The part of the ops file that defines behaviour, as canonical JSON bytes."""
    prog = {"tables": doc["tables"], "steps": doc["steps"]}
    return json.dumps(prog, sort_keys=True, separators=(",", ":")).encode("ascii")


def program_sha256(doc):
    return hashlib.sha256(canonical_program(doc)).hexdigest()


def check_program(doc):
    """Reject data this generator was not written for (fail loudly, not wrongly)."""
    steps = doc["steps"]
    if [s["id"] for s in steps] != list(range(len(steps))):
        raise ValueError("steps must be numbered 0..n-1 in order")
    for name in TABLES:
        t = doc["tables"][name]
        if len(t) != 256 or not all(isinstance(v, int) and 0 <= v < 256 for v in t):
            raise ValueError("table %s must be 256 bytes" % name)
    if doc.get("key_words", 20) != 20 or doc.get("entry_step", 0) != 0:
        raise ValueError("unexpected key size / entry step")


# ---------------------------------------------------------------------------
# Shared helpers


def _is_key(e):
    return isinstance(e, list) and e[0] == "key"


def _uses_jv(body):
    def ex(e):
        if e == "jv":
            return True
        if isinstance(e, list) and e[0] != "key":
            return any(ex(x) for x in e[1:])
        return False

    for s in body:
        op = s["op"]
        if op == "set" and (s["dst"] == "jv" or ex(s["val"])):
            return True
        if op == "call" and ex(s["arg"]):
            return True
        if op == "if_k" and _uses_jv(s["then"]):
            return True
    return False


def _is_pow2(m):
    return m > 0 and m & (m - 1) == 0


# ---------------------------------------------------------------------------
# Python backend
#
# Python integers do not wrap, so results must be reduced modulo 2**32.  The
# low 32 bits of +, -, *, <<, &, |, ^ depend only on the low 32 bits of the
# operands (also for negative intermediates: Python ints are two's
# complement), so those may work on unreduced values; only what looks at
# the high bits (rotations, '<', the selector's 'mod', a stored value) needs
# a reduced operand.  Each expression is compiled to (code, reduced) and a
# mask is added only where it matters -- exact, and fewer masks to read.


class PyExpr:
    def __init__(self, tables_prefix=""):
        self.tp = tables_prefix

    def atom(self, e):
        """True for operands cheap and safe to repeat (inline rotations)."""
        return isinstance(e, str) or _is_key(e)

    def red(self, e):
        """Code for ``e`` reduced to 0..2**32-1."""
        code, ok = self.gen(e)
        if ok:
            return code
        return "%s & 0xFFFFFFFF" % _paren(code)

    def gen(self, e):
        if isinstance(e, int):
            if not 0 <= e <= M32:
                raise ValueError("constant out of range: %r" % (e,))
            return (_hex(e), True)
        if isinstance(e, str):
            if e not in ("iv", "jv"):
                raise ValueError("unknown variable %r" % (e,))
            return (e, True)
        op = e[0]
        if op == "key":
            return ("K[%d]" % _key_index(e), True)
        if op in TABLES:
            code, _ = self.gen(e[1])  # & 0xFF needs only the low bits
            return ("%s[%s & 0xFF]" % (op.upper(), _paren(code)), True)
        if op == "ifnz":
            c = e[1]
            if isinstance(c, list) and c[0] == "lt":  # a bool is fine as a condition
                cond = "%s < %s" % (_paren(self.red(c[1])), _paren(self.red(c[2])))
            else:
                cond = self.red(c)
            a, ra = self.gen(e[2])
            b, rb = self.gen(e[3])
            return ("(%s if %s else %s)" % (a, cond, b), ra and rb)
        if op == "lt":
            return ("(1 if %s < %s else 0)" % (_paren(self.red(e[1])), _paren(self.red(e[2]))),
                    True)
        if op in ("rotl", "rotr"):
            return (self.rot(op, e[1], e[2]), True)
        a, ra = self.gen(e[1])
        b, rb = self.gen(e[2])
        sym = {"add": "+", "sub": "-", "mul": "*", "xor": "^", "and": "&",
               "or": "|", "shl": "<<"}.get(op)
        if sym is None:
            raise ValueError("unknown operator %r" % (op,))
        if op == "shl":
            if not isinstance(e[2], int) or e[2] > 31:
                raise ValueError("shl by a non-constant or >= 32: %r" % (e,))
            return ("(%s << %d)" % (_paren(a), e[2]), False)
        if op in ("add", "sub", "mul"):
            reduced = False
        elif op == "and":
            reduced = ra or rb
        else:
            reduced = ra and rb
        return ("(%s %s %s)" % (_paren(a), sym, _paren(b)), reduced)

    def rot(self, op, x, amount):
        xc = self.red(x)
        if isinstance(amount, int):
            r = amount & 31
            if r == 0:
                return xc
            left = r if op == "rotl" else 32 - r
            if self.atom(x):
                return "((%s << %d) & 0xFFFFFFFF | %s >> %d)" % (xc, left, xc, 32 - left)
            return "%s(%s, %d)" % (op, xc, r)
        ac, _ = self.gen(amount)  # only the low 5 bits of the amount count
        return "%s(%s, %s)" % (op, xc, ac)


def _simple(code):
    """A name, a number, a subscript ``NAME[...]`` or a call ``name(...)``."""
    if code.replace("_", "").isalnum():
        return True
    for open_, close in (("[", "]"), ("(", ")")):
        head = code.split(open_, 1)[0]
        if (head and head.replace("_", "").isalnum() and code.endswith(close)
                and _closes_at_end(code[len(head):], open_, close)):
            return True
    return False


def _closes_at_end(code, open_, close):
    depth = 0
    for i, ch in enumerate(code):
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i == len(code) - 1
    return False


def _paren(code):
    if _simple(code) or (code.startswith("(") and _balanced_outer(code)):
        return code
    return "(%s)" % code


def _balanced_outer(code):
    return code.startswith("(") and _closes_at_end(code, "(", ")")


def _hex(v):
    return str(v) if v < 256 else "0x%08X" % v


def _key_index(e):
    i = e[1]
    if not (isinstance(i, int) and 0 <= i < 20):
        raise ValueError("bad key index %r" % (e,))
    return i


def _py_stmts(body, out, ind, px):
    pad = "    " * ind
    for s in body:
        op = s["op"]
        if op == "set":
            dst = s["dst"]
            tgt = "K[%d]" % _key_index(dst) if _is_key(dst) else dst
            if tgt not in ("iv", "jv") and not _is_key(dst):
                raise ValueError("bad set target %r" % (dst,))
            val = s["val"]
            # 'K[i] ^= x' style for the bitwise ops, when the result stays reduced.
            if (isinstance(val, list) and val[0] in ("xor", "or", "and")
                    and val[1] == dst):
                rhs, r = px.gen(val[2])
                if r:
                    sym = {"xor": "^=", "or": "|=", "and": "&="}[val[0]]
                    out.append("%s%s %s %s" % (pad, tgt, sym, _strip(rhs)))
                    continue
            out.append("%s%s = %s" % (pad, tgt, _strip(px.red(val))))
        elif op == "if_k":
            out.append("%sif k == %d:" % (pad, s["k"]))
            if s["then"]:
                _py_stmts(s["then"], out, ind + 1, px)
            else:
                out.append("%s    pass" % pad)
        elif op == "call":
            out.append("%sstep%d(K, %s)" % (pad, s["step"], _strip(px.red(s["arg"]))))
        elif op == "ret_if_odd":
            out.append("%sif K[%d] & 1:" % (pad, s["word"]))
            out.append("%s    if _tracer is not None:" % pad)
            out.append("%s        _tracer.leave()" % pad)
            out.append("%s    return" % pad)
        else:
            raise ValueError("unknown statement %r" % (op,))


def _strip(code):
    """Drop one redundant pair of outer parentheses at statement level."""
    if code.startswith("(") and code.endswith(")") and _balanced_outer(code):
        return code[1:-1]
    return code


def generate_python(doc):
    check_program(doc)
    px = PyExpr()
    sha = program_sha256(doc)
    out = []
    w = out.append
    w("# GENERATED by tools/gen_expand.py from vectors/rc4_expand_ops.json -- DO NOT EDIT.")
    w("# Regenerate with: python tools/gen_expand.py [VECTORS_DIR]")
    w('"""')
    w("The Skype RC4 seed expansion, compiled to straight-line Python.")
    w("")
    w("One function per routine of spec/obfuscation.md section 2.3 (``step0`` is")
    w("the entry).  ``K`` is the shared list of 20 key words, ``iv`` the routine's")
    w("argument, ``k`` its selector (fixed on entry), ``jv`` its scratch word.  A")
    w("``return`` inside the body is a LEAVE (ret_if_odd).  Only values whose high")
    w("bits matter are masked to 32 bits (see tools/gen_expand.py).")
    w("")
    w("Use :func:`blissnode.wire.rc4.expand_key`, not this module directly.")
    w('"""')
    w("")
    w("# SHA-256 of the canonical JSON ({tables, steps}, sorted keys, no spaces)")
    w("# of the program this file was generated from.")
    w('PROGRAM_SHA256 = "%s"' % sha)
    w("")
    for name in TABLES:
        t = doc["tables"][name]
        w("%s = (" % name.upper())
        for i in range(0, 256, 16):
            w("    " + ", ".join(str(v) for v in t[i:i + 16]) + ",")
        w(")")
        w("")
    w("# Debug hook (see blissnode.wire.rc4.trace_expansion); None in normal use.")
    w("# An object with enter(step, iv, k), exit() and leave() methods.")
    w("_tracer = None")
    w("")
    w("")
    w("def set_tracer(tracer):")
    w('    """Install (or with None remove) the trace hook; returns the old one."""')
    w("    global _tracer")
    w("    old, _tracer = _tracer, tracer")
    w("    return old")
    w("")
    w("")
    w("def rotl(x, r):")
    w('    """Rotate the 32-bit ``x`` left by ``r mod 32`` bits."""')
    w("    r &= 31")
    w("    return ((x << r) & 0xFFFFFFFF) | (x >> (32 - r))")
    w("")
    w("")
    w("def rotr(x, r):")
    w('    """Rotate the 32-bit ``x`` right by ``r mod 32`` bits."""')
    w("    r &= 31")
    w("    return (x >> r) | ((x << (32 - r)) & 0xFFFFFFFF)")
    w("")
    w("")
    w("def expand_words(seed):")
    w('    """The 20 key words for ``seed`` (an int in 0..2**32-1, not checked here)."""')
    w("    K = [seed] * 20")
    w("    step0(K, seed)")
    w("    return K")
    for st in doc["steps"]:
        w("")
        w("")
        n = st["id"]
        w("def step%d(K, iv):" % n)
        m = st["mod"]
        sel = px.red(st["select"])
        if _is_pow2(m):
            w("    k = %s & %d" % (_paren(sel), m - 1))
        else:
            w("    k = %s %% %d" % (_paren(sel), m))
        if _uses_jv(st["body"]):
            w("    jv = 0")
        w("    if _tracer is not None:")
        w("        _tracer.enter(%d, iv, k)" % n)
        _py_stmts(st["body"], out, 1, px)
        w("    if _tracer is not None:")
        w("        _tracer.exit()")
    w("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# C backend: uint32_t arithmetic wraps by itself.


def _c_gen(e):
    if isinstance(e, int):
        if not 0 <= e <= M32:
            raise ValueError("constant out of range: %r" % (e,))
        return "%du" % e if e < 256 else "0x%08Xu" % e
    if isinstance(e, str):
        return e
    op = e[0]
    if op == "key":
        return "K[%d]" % _key_index(e)
    if op in TABLES:
        return "(uint32_t)%s[(%s) & 0xFFu]" % (op.upper(), _c_gen(e[1]))
    if op == "ifnz":
        return "(%s ? %s : %s)" % (_c_gen(e[1]), _c_gen(e[2]), _c_gen(e[3]))
    if op == "lt":
        return "(uint32_t)(%s < %s)" % (_c_gen(e[1]), _c_gen(e[2]))
    if op in ("rotl", "rotr"):
        amount = e[2]
        if isinstance(amount, int):
            r = amount & 31
            if r == 0:
                return _c_gen(e[1])
            return "%s32(%s, %du)" % (op, _c_gen(e[1]), r)
        return "%s32(%s, %s)" % (op, _c_gen(e[1]), _c_gen(amount))
    if op == "shl":
        if not isinstance(e[2], int) or e[2] > 31:
            raise ValueError("shl by a non-constant or >= 32: %r" % (e,))
        return "(uint32_t)(%s << %d)" % (_c_gen(e[1]), e[2])
    sym = {"add": "+", "sub": "-", "mul": "*", "xor": "^", "and": "&", "or": "|"}.get(op)
    if sym is None:
        raise ValueError("unknown operator %r" % (op,))
    return "(uint32_t)(%s %s %s)" % (_c_gen(e[1]), sym, _c_gen(e[2]))


def _c_stmts(body, out, ind):
    pad = "    " * ind
    for s in body:
        op = s["op"]
        if op == "set":
            dst = s["dst"]
            tgt = "K[%d]" % _key_index(dst) if _is_key(dst) else dst
            if tgt not in ("iv", "jv") and not _is_key(dst):
                raise ValueError("bad set target %r" % (dst,))
            out.append("%s%s = %s;" % (pad, tgt, _c_gen(s["val"])))
        elif op == "if_k":
            out.append("%sif (k == %du) {" % (pad, s["k"]))
            _c_stmts(s["then"], out, ind + 1)
            out.append("%s}" % pad)
        elif op == "call":
            out.append("%sstep%d(K, %s);" % (pad, s["step"], _c_gen(s["arg"])))
        elif op == "ret_if_odd":
            out.append("%sif (K[%d] & 1u) return;" % (pad, s["word"]))
        else:
            raise ValueError("unknown statement %r" % (op,))


def _c_table(name, values):
    lines = ["static const uint8_t %s[256] = {" % name.upper()]
    for i in range(0, 256, 16):
        lines.append("    " + ", ".join(str(v) for v in values[i:i + 16]) + ",")
    lines.append("};")
    return "\n".join(lines)


def generate_c(doc):
    check_program(doc)
    sha = program_sha256(doc)
    out = []
    w = out.append
    w("/* GENERATED by tools/gen_expand.py from vectors/rc4_expand_ops.json -- DO NOT EDIT.")
    w(" * Regenerate with: python tools/gen_expand.py [VECTORS_DIR]")
    w(" *")
    w(" * blissnode.wire._rc4accel: optional C accelerator for blissnode.wire.rc4.")
    w(" * The Skype RC4 seed expansion (spec/obfuscation.md section 2), the RC4 key")
    w(" * schedule and keystream.  Same behaviour as the pure-Python path; the tests")
    w(" * run every vector against both.")
    w(" */")
    w("#define PY_SSIZE_T_CLEAN")
    w("#include <Python.h>")
    w("#include <stdint.h>")
    w("#include <string.h>")
    w("")
    w('#define PROGRAM_SHA256 "%s"' % sha)
    w("")
    for name in TABLES:
        w(_c_table(name, doc["tables"][name]))
        w("")
    w(C_HELPERS)
    for st in doc["steps"]:
        w("static void step%d(uint32_t *K, uint32_t iv);" % st["id"])
    for st in doc["steps"]:
        w("")
        w("static void step%d(uint32_t *K, uint32_t iv)" % st["id"])
        w("{")
        m = st["mod"]
        sel = _c_gen(st["select"])
        if _is_pow2(m):
            w("    const uint32_t k = (%s) & %du;" % (sel, m - 1))
        else:
            w("    const uint32_t k = (%s) %% %du;" % (sel, m))
        if _uses_jv(st["body"]):
            w("    uint32_t jv = 0;")
        w("    (void)k; (void)iv;")
        _c_stmts(st["body"], out, 1)
        w("}")
    w("")
    w(C_MODULE)
    return "\n".join(out)


C_HELPERS = r"""
static inline uint32_t rotl32(uint32_t x, uint32_t r)
{
    r &= 31u;
    return (x << r) | (x >> ((32u - r) & 31u));
}

static inline uint32_t rotr32(uint32_t x, uint32_t r)
{
    r &= 31u;
    return (x >> r) | (x << ((32u - r) & 31u));
}
"""

C_MODULE = r"""
/* ------------------------------------------------------------------------ */
/* Expansion entry point and key bytes                                      */

static void expand_words(uint32_t seed, uint32_t K[20])
{
    int i;
    for (i = 0; i < 20; i++)
        K[i] = seed;
    step0(K, seed);
}

/* 80 key bytes: the words little-endian (independent of host byte order),
 * then the first min(len(extra), 80) bytes XORed with extra. */
static void expand_key80(uint32_t seed, const uint8_t *extra, Py_ssize_t nextra,
                         uint8_t out[80])
{
    uint32_t K[20];
    int i;
    expand_words(seed, K);
    for (i = 0; i < 20; i++) {
        out[4 * i] = (uint8_t)K[i];
        out[4 * i + 1] = (uint8_t)(K[i] >> 8);
        out[4 * i + 2] = (uint8_t)(K[i] >> 16);
        out[4 * i + 3] = (uint8_t)(K[i] >> 24);
    }
    if (nextra > 80)
        nextra = 80;
    for (i = 0; i < nextra; i++)
        out[i] ^= extra[i];
}

/* seed argument: an int in 0..2**32-1; ValueError outside, TypeError for
 * non-integers (the same contract as the pure-Python path). */
static int parse_seed(PyObject *obj, uint32_t *seed)
{
    unsigned long long v;
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "seed must be an int, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            goto range;
        }
        return -1;
    }
    if (v > 0xFFFFFFFFull)
        goto range;
    *seed = (uint32_t)v;
    return 0;
range:
    PyErr_SetString(PyExc_ValueError, "seed must be in 0..2**32-1");
    return -1;
}

static int check_extra(Py_buffer *extra)
{
    if (extra->len % 4 != 0) {
        PyErr_SetString(PyExc_ValueError,
                        "extra length must be a multiple of 4");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* RC4                                                                      */

typedef struct {
    PyObject_HEAD
    uint8_t S[256];
    uint8_t i, j;
} RC4Object;

static PyTypeObject RC4_Type;

static void rc4_ksa(RC4Object *self, const uint8_t *key, Py_ssize_t keylen)
{
    unsigned int i, j = 0;
    Py_ssize_t n = 0;
    uint8_t *S = self->S;
    for (i = 0; i < 256; i++)
        S[i] = (uint8_t)i;
    for (i = 0; i < 256; i++) {
        uint8_t t = S[i];
        j = (j + t + key[n]) & 0xFFu;
        S[i] = S[j];
        S[j] = t;
        if (++n == keylen)
            n = 0;
    }
    self->i = 0;
    self->j = 0;
}

static void rc4_xor(RC4Object *self, const uint8_t *in, uint8_t *out, Py_ssize_t n)
{
    uint8_t *S = self->S;
    unsigned int i = self->i, j = self->j;
    Py_ssize_t p;
    for (p = 0; p < n; p++) {
        uint8_t si, sj;
        i = (i + 1) & 0xFFu;
        si = S[i];
        j = (j + si) & 0xFFu;
        sj = S[j];
        S[i] = sj;
        S[j] = si;
        out[p] = in[p] ^ S[(si + sj) & 0xFFu];
    }
    self->i = (uint8_t)i;
    self->j = (uint8_t)j;
}

static RC4Object *rc4_alloc(void)
{
    return PyObject_New(RC4Object, &RC4_Type);
}

static int RC4_init(RC4Object *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"key", NULL};
    Py_buffer key;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*:RC4", kwlist, &key))
        return -1;
    if (key.len < 1) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "RC4 key must not be empty");
        return -1;
    }
    rc4_ksa(self, (const uint8_t *)key.buf, key.len);
    PyBuffer_Release(&key);
    return 0;
}

static PyObject *RC4_crypt(RC4Object *self, PyObject *arg)
{
    Py_buffer data;
    PyObject *res;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    res = PyBytes_FromStringAndSize(NULL, data.len);
    if (res != NULL) {
        uint8_t *out = (uint8_t *)PyBytes_AS_STRING(res);
        rc4_xor(self, (const uint8_t *)data.buf, out, data.len);
    }
    PyBuffer_Release(&data);
    return res;
}

static PyObject *RC4_copy(RC4Object *self, PyObject *Py_UNUSED(ignored))
{
    RC4Object *c = PyObject_New(RC4Object, Py_TYPE(self));
    if (c == NULL)
        return NULL;
    memcpy(c->S, self->S, 256);
    c->i = self->i;
    c->j = self->j;
    return (PyObject *)c;
}

static PyObject *RC4_state(RC4Object *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(y#ii)", (const char *)self->S, (Py_ssize_t)256,
                         (int)self->i, (int)self->j);
}

static PyMethodDef RC4_methods[] = {
    {"crypt", (PyCFunction)RC4_crypt, METH_O,
     "crypt(data) -> bytes: XOR data with the next len(data) keystream bytes."},
    {"copy", (PyCFunction)RC4_copy, METH_NOARGS,
     "copy() -> RC4: an independent clone of the current state."},
    {"__copy__", (PyCFunction)RC4_copy, METH_NOARGS, NULL},
    {"state", (PyCFunction)RC4_state, METH_NOARGS,
     "state() -> (sbox: bytes, i: int, j: int)"},
    {NULL, NULL, 0, NULL}
};

static PyTypeObject RC4_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "blissnode.wire._rc4accel.RC4",
    .tp_basicsize = sizeof(RC4Object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RC4(key): RC4 key schedule over key, then a stateful keystream.",
    .tp_methods = RC4_methods,
    .tp_init = (initproc)RC4_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------ */
/* Module functions                                                         */

/* The 80-byte key for the (seed, extra=b'') arguments of both module
   functions; 0 on success, -1 with a Python exception set. */
static int key_from_args(PyObject *args, PyObject *kwds, const char *format,
                         uint8_t key[80])
{
    static char *kwlist[] = {"seed", "extra", NULL};
    PyObject *seedobj;
    Py_buffer extra = {0};
    uint32_t seed;
    int status = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, &seedobj, &extra))
        return -1;
    if (parse_seed(seedobj, &seed) == 0 && !(extra.obj && check_extra(&extra) < 0)) {
        expand_key80(seed, (const uint8_t *)extra.buf, extra.obj ? extra.len : 0, key);
        status = 0;
    }
    if (extra.obj)
        PyBuffer_Release(&extra);
    return status;
}

static PyObject *mod_expand_key(PyObject *mod, PyObject *args, PyObject *kwds)
{
    uint8_t key[80];
    (void)mod;
    if (key_from_args(args, kwds, "O|y*:expand_key", key) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)key, 80);
}

static PyObject *mod_skype_rc4(PyObject *mod, PyObject *args, PyObject *kwds)
{
    uint8_t key[80];
    RC4Object *r;
    (void)mod;
    if (key_from_args(args, kwds, "O|y*:skype_rc4", key) < 0)
        return NULL;
    r = rc4_alloc();
    if (r == NULL)
        return NULL;
    rc4_ksa(r, key, 80);
    return (PyObject *)r;
}

static PyMethodDef module_methods[] = {
    {"expand_key", (PyCFunction)(void (*)(void))mod_expand_key,
     METH_VARARGS | METH_KEYWORDS,
     "expand_key(seed, extra=b'') -> bytes: the 80 bytes fed to the RC4 key schedule."},
    {"skype_rc4", (PyCFunction)(void (*)(void))mod_skype_rc4,
     METH_VARARGS | METH_KEYWORDS,
     "skype_rc4(seed, extra=b'') -> RC4: expansion plus key schedule."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef rc4accel_module = {
    PyModuleDef_HEAD_INIT,
    "blissnode.wire._rc4accel",
    "Optional C accelerator for blissnode.wire.rc4 (generated).",
    -1,
    module_methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__rc4accel(void)
{
    PyObject *m;
    if (PyType_Ready(&RC4_Type) < 0)
        return NULL;
    m = PyModule_Create(&rc4accel_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&RC4_Type);
    if (PyModule_AddObject(m, "RC4", (PyObject *)&RC4_Type) < 0) {
        Py_DECREF(&RC4_Type);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "PROGRAM_SHA256", PROGRAM_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
"""


# ---------------------------------------------------------------------------


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    vectors = argv[0] if argv else DEFAULT_VECTORS
    doc = load_program(vectors)
    for path, text in ((PY_OUT, generate_python(doc)), (C_OUT, generate_c(doc))):
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
        print("wrote %s (%d lines)" % (os.path.relpath(path, REPO), text.count("\n")))
    print("program sha256 %s" % program_sha256(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
