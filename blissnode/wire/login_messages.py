"""
Plaintexts of the login and event server conversations (login.md 5, 7;
event.md 3): what is inside the AES-CTR of the ``17 03 01`` records.

A request is two 0x41 lists back to back::

    header  {INT 0 = request code, INT 2 = request id,
             STRING 4 = Skype name, BLOB 5 = MD5 credential (16 bytes)}
    body    request-specific items

    login   5027 (6.x)  {BLOB 0x21 user modulus (128), INT64 0x3A host id 1,
                         STRING 0x36 language, INTARRAY 0x33 host id 2 (5),
                         STRING 0x0D version, INT 0x0E public IPv4, BLOB 0x13 node record}
            5017 (4.x)  {BLOB 0x21, INT64 0x31, INTARRAY 0x33, STRING 0x0D, INT 0x0E}
    register 5018       {BLOB 0x21, INT64 0x31, INTARRAY 0x33, STRING 0x20 e-mail,
                         INT 0x26 (1), STRING 0x2F version, STRING 0x37 full name,
                         STRING 0x0D version, INT 0x0E}
    event   6016..6030  {request items..., STRING 4 name, STRING 0x0D version, INT 0x0E ip}

A reply is a header ``{INT 1 = result code, INT 2 = request id}`` and one
body list: on a successful login ``{INT 0x3A = 2, INT 0x3C = 0, BLOB 0x24 =
credential, LIST 0x32 = {}}`` (6.x) or ``{BLOB 0x24, LIST 0x32 = {INT 9 =
t_year}}`` (4.x); on failure an empty list.

Parsers are strict about the items a server needs and lenient about the
rest (unknown items are kept in the decoded lists and otherwise ignored);
they raise only :class:`~blissnode.wire.errors.ProtocolError`.
"""

import attr

from blissnode.wire import objects
from blissnode.wire.errors import ProtocolError
from blissnode.wire.node_record import decode_node_record

__all__ = [
    "REQUEST_LOGIN_4X",
    "REQUEST_REGISTER",
    "REQUEST_LOGIN_6X",
    "LOGIN_REQUEST_CODES",
    "RESULT_OK",
    "RESULT_AUTH_FAILED",
    "RequestHeader",
    "parse_request_header",
    "VersionString",
    "parse_version_string",
    "LoginBody",
    "LoginRequest",
    "parse_login_request",
    "encode_login_request",
    "EventRequest",
    "parse_event_request",
    "encode_event_request",
    "build_reply",
    "success_body_6x",
    "success_body_4x",
    "build_refusal",
    "LoginReply",
    "parse_login_reply",
]

# -- codes ----------------------------------------------------------------------

#: Password login of the 4.x clients (SEAN, 4.1.0.130).
REQUEST_LOGIN_4X = 5017
#: Account registration (SEAN); answered like a login on success.
REQUEST_REGISTER = 5018
#: Password login of the 5.5 ... 6.16 clients (SOS2).
REQUEST_LOGIN_6X = 5027
#: Codes :func:`parse_login_request` accepts.  GUESS: the request codes of
#: 1.x-3.x clients are unknown (login.md 9); extend here when found.
LOGIN_REQUEST_CODES = (REQUEST_LOGIN_4X, REQUEST_REGISTER, REQUEST_LOGIN_6X)

#: Success (all real success replies 2009-2016).
RESULT_OK = 4200
#: "Name or password incorrect" (the event server's answer, event.md 3;
#: recommended for the login server, login.md 7.2).
RESULT_AUTH_FAILED = 8401



# -- item ids -------------------------------------------------------------------

H_CODE, H_SEQ, H_NAME, H_CRED = 0, 2, 4, 5
R_RESULT, R_SEQ = 1, 2

B_MODULUS = 0x21
B_HOST_ID1_4X = 0x31
B_HOST_ID1_6X = 0x3A
B_LANGUAGE = 0x36
B_HOST_ID2 = 0x33
B_EMAIL = 0x20
B_REG_FLAG = 0x26
B_REG_VERSION = 0x2F
B_FULL_NAME = 0x37
B_VERSION = 0x0D
B_PUBLIC_IP = 0x0E
B_NODE = 0x13

E_NAME = 4

P_STYLE_A = 0x3A
P_STYLE_C = 0x3C
P_CREDENTIAL = 0x24
P_VALIDITY = 0x32

MD5_SIZE = 16
USER_MODULUS_SIZE = 128


# -- helpers ----------------------------------------------------------------------

def _text(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _get(objlist, item_id, cls, what, required=False):
    it = objlist.get(item_id, cls)
    if it is None:
        if required:
            raise ProtocolError("%s without %s 0x%x" % (what, cls.__name__.upper(), item_id))
        return None
    if cls is objects.String:
        return it.text
    return it.value


def _two_lists(plaintext, what):
    lists, rest, _ = objects.decode_object_lists(plaintext)
    if rest:
        raise ProtocolError("%d bytes after the %s lists" % (len(rest), what))
    if len(lists) < 2:
        raise ProtocolError("%s has %d object list(s), expected header and body"
                            % (what, len(lists)))
    return lists


# -- request header ---------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class RequestHeader:
    """The first list of every login/event request."""

    code = attr.ib()
    seq = attr.ib()
    name = attr.ib()
    credential = attr.ib(converter=bytes)

    def items(self):
        return objects.ObjectList([
            objects.Int(H_CODE, self.code),
            objects.Int(H_SEQ, self.seq),
            objects.String(H_NAME, _text(self.name)),
            objects.Blob(H_CRED, self.credential),
        ])


def parse_request_header(objlist):
    """:class:`RequestHeader` from the decoded header list (all four items
    required, BLOB 5 exactly 16 bytes)."""
    cred = _get(objlist, H_CRED, objects.Blob, "request header", True)
    if len(cred) != MD5_SIZE:
        raise ProtocolError("request credential of %d bytes (expected 16)" % (len(cred),))
    return RequestHeader(
        _get(objlist, H_CODE, objects.Int, "request header", True),
        _get(objlist, H_SEQ, objects.Int, "request header", True),
        _get(objlist, H_NAME, objects.String, "request header", True),
        cred)


# -- version string ---------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class VersionString:
    """``<platform>/<version>/<partner or build>/`` (login.md 5.2):
    ``0/6.16.0.10//`` -> platform "0" (Windows; "2" Linux), version
    "6.16.0.10", partner ""."""

    platform = attr.ib()
    version = attr.ib()
    partner = attr.ib()

    def version_tuple(self):
        """The dotted version as integers, e.g. (6, 16, 0, 10)."""
        try:
            return tuple(int(p) for p in self.version.split("."))
        except ValueError:
            raise ProtocolError("version %r is not dotted numbers" % (self.version,))


def parse_version_string(text):
    parts = text.split("/")
    if len(parts) < 2 or not parts[1]:
        raise ProtocolError("not a client version string: %r" % (text[:80],))
    return VersionString(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


# -- login request ------------------------------------------------------------------

@attr.s(frozen=True, slots=True)
class LoginBody:
    """The body of a login (5017/5027) or registration (5018) request.

    Only ``user_modulus`` is required; everything else is informational and
    ``None`` when absent.  ``host_id1_item`` records whether the 8-byte host
    id came as 0x31 (SEAN, 4.x) or 0x3A (SOS2, 6.x) -- both were accepted by
    the real servers (login.md 5.2).
    """

    user_modulus = attr.ib(converter=bytes)
    host_id1 = attr.ib(default=None)
    host_id1_item = attr.ib(default=B_HOST_ID1_6X)
    language = attr.ib(default=None)
    host_id2 = attr.ib(default=None)
    version = attr.ib(default=None)
    public_ip = attr.ib(default=None)
    node_record = attr.ib(default=None)
    # registration (5018) only
    email = attr.ib(default=None)
    reg_flag = attr.ib(default=None)
    reg_version = attr.ib(default=None)
    full_name = attr.ib(default=None)

    def items(self):
        """The body list, items in the order the real clients send them."""
        out = [objects.Blob(B_MODULUS, self.user_modulus)]
        if self.host_id1 is not None:
            out.append(objects.Int64(self.host_id1_item, self.host_id1))
        if self.language is not None:
            out.append(objects.String(B_LANGUAGE, _text(self.language)))
        if self.host_id2 is not None:
            out.append(objects.IntArray(B_HOST_ID2, self.host_id2))
        if self.email is not None:
            out.append(objects.String(B_EMAIL, _text(self.email)))
        if self.reg_flag is not None:
            out.append(objects.Int(B_REG_FLAG, self.reg_flag))
        if self.reg_version is not None:
            out.append(objects.String(B_REG_VERSION, _text(self.reg_version)))
        if self.full_name is not None:
            out.append(objects.String(B_FULL_NAME, _text(self.full_name)))
        if self.version is not None:
            out.append(objects.String(B_VERSION, _text(self.version)))
        if self.public_ip is not None:
            out.append(objects.Int(B_PUBLIC_IP, self.public_ip))
        if self.node_record is not None:
            out.append(objects.Blob(B_NODE, bytes(self.node_record)))
        return objects.ObjectList(out)

    def node(self):
        """BLOB 0x13 decoded (:class:`~blissnode.wire.node_record.NodeRecord`), or None."""
        return None if self.node_record is None else decode_node_record(self.node_record)


def parse_login_body(objlist):
    what = "login request body"
    modulus = _get(objlist, B_MODULUS, objects.Blob, what, True)
    # GUESS: only RSA-1024 user keys (every sample); the credential carries
    # the modulus verbatim, so another size would be passed on to peers that
    # may not expect it.
    if len(modulus) != USER_MODULUS_SIZE:
        raise ProtocolError("user modulus of %d bytes (expected 128)" % (len(modulus),))
    host_item = B_HOST_ID1_6X
    host = objlist.get(B_HOST_ID1_6X, objects.Int64)
    if host is None:
        host = objlist.get(B_HOST_ID1_4X, objects.Int64)
        host_item = B_HOST_ID1_4X if host is not None else B_HOST_ID1_6X
    node = _get(objlist, B_NODE, objects.Blob, what)
    return LoginBody(
        modulus,
        host_id1=None if host is None else host.value,
        host_id1_item=host_item,
        language=_get(objlist, B_LANGUAGE, objects.String, what),
        host_id2=_get(objlist, B_HOST_ID2, objects.IntArray, what),
        version=_get(objlist, B_VERSION, objects.String, what),
        public_ip=_get(objlist, B_PUBLIC_IP, objects.Int, what),
        node_record=node,
        email=_get(objlist, B_EMAIL, objects.String, what),
        reg_flag=_get(objlist, B_REG_FLAG, objects.Int, what),
        reg_version=_get(objlist, B_REG_VERSION, objects.String, what),
        full_name=_get(objlist, B_FULL_NAME, objects.String, what),
    )


@attr.s(frozen=True, slots=True)
class LoginRequest:
    """A decoded login or registration request; the raw decoded lists are
    kept (``header_objects``, ``body_objects``) for logging unknown items."""

    header = attr.ib()
    body = attr.ib()
    header_objects = attr.ib(default=None, eq=False, repr=False)
    body_objects = attr.ib(default=None, eq=False, repr=False)

    @property
    def is_registration(self):
        return self.header.code == REQUEST_REGISTER

    def encode(self):
        return encode_login_request(self.header, self.body)


def parse_login_request(plaintext):
    """Decode the plaintext of the client's login record (header + body)."""
    lists = _two_lists(plaintext, "login request")
    header = parse_request_header(lists[0])
    if header.code not in LOGIN_REQUEST_CODES:
        raise ProtocolError("request code %d is not a login request" % (header.code,))
    return LoginRequest(header, parse_login_body(lists[1]), lists[0], lists[1])


def encode_login_request(header, body):
    """The two 0x41 lists of a login request (what the client sends)."""
    return objects.encode_objects(header.items()) + objects.encode_objects(body.items())


# -- event requests (event.md 3) -----------------------------------------------

@attr.s(frozen=True, slots=True)
class EventRequest:
    """An event-server request: header, the request-specific body items
    (without the trailing three) and the trailing STRING 4 / STRING 0x0D /
    INT 0x0E (``None`` when absent)."""

    header = attr.ib()
    items = attr.ib(converter=objects.ObjectList)
    name = attr.ib(default=None)
    version = attr.ib(default=None)
    public_ip = attr.ib(default=None)

    def encode(self):
        return encode_event_request(self.header, self.items, self.name,
                                    self.version, self.public_ip)


_TRAILER = ((E_NAME, objects.String), (B_VERSION, objects.String),
            (B_PUBLIC_IP, objects.Int))


def parse_event_request(plaintext):
    """Decode an event request plaintext.  The trailing items are recognised
    by id and type wherever they are; the remaining items keep their order."""
    lists = _two_lists(plaintext, "event request")
    header = parse_request_header(lists[0])
    body = lists[1]
    trailer = {}
    rest = []
    for it in body:
        key = next((i for i, c in _TRAILER if it.id == i and it.TYPE == c.TYPE), None)
        if key is not None and key not in trailer:
            trailer[key] = it.text if it.TYPE == objects.String.TYPE else it.value
        else:
            rest.append(it)
    return EventRequest(header, rest, trailer.get(E_NAME), trailer.get(B_VERSION),
                        trailer.get(B_PUBLIC_IP))


def encode_event_request(header, items, name, version, public_ip):
    body = list(items)
    if name is not None:
        body.append(objects.String(E_NAME, _text(name)))
    if version is not None:
        body.append(objects.String(B_VERSION, _text(version)))
    if public_ip is not None:
        body.append(objects.Int(B_PUBLIC_IP, public_ip))
    return objects.encode_objects(header.items()) + objects.encode_objects(body)


# -- replies (login.md 7) -----------------------------------------------------------

def build_reply(code, seq, body=()):
    """``{INT 1 = code, INT 2 = seq}`` followed by the body list."""
    header = [objects.Int(R_RESULT, code), objects.Int(R_SEQ, seq)]
    return objects.encode_objects(header) + objects.encode_objects(body)


def success_body_6x(credential):
    """The success body of the 5.5-6.x era: ``{INT 0x3A = 2, INT 0x3C = 0,
    BLOB 0x24 = credential, LIST 0x32 = {}}`` (the one-year value travels
    inside the credential's LIST 2)."""
    return [objects.Int(P_STYLE_A, 2), objects.Int(P_STYLE_C, 0),
            objects.Blob(P_CREDENTIAL, bytes(credential)), objects.NestedList(P_VALIDITY, [])]


def success_body_4x(credential, year):
    """The success body of the 4.x era: ``{BLOB 0x24 = credential, LIST 0x32
    = {INT 9 = year}}`` (``year``: minutes, issue + one year)."""
    return [objects.Blob(P_CREDENTIAL, bytes(credential)),
            objects.NestedList(P_VALIDITY, [objects.Int(9, year)])]


def build_refusal(seq, code=RESULT_AUTH_FAILED):
    """A failure reply: ``{INT 1 = code, INT 2 = seq}`` + an empty list
    (11 bytes for 8401; the real one was 14 bytes, content unknown, L5)."""
    return build_reply(code, seq, [])


@attr.s(frozen=True, slots=True)
class LoginReply:
    """A decoded login reply: result code, request id, the credential bytes
    (BLOB 0x24) and reply LIST 0x32's INT 9 when present."""

    code = attr.ib()
    seq = attr.ib()
    credential = attr.ib(default=None)
    year = attr.ib(default=None)
    body = attr.ib(default=None, eq=False, repr=False)

    @property
    def ok(self):
        return self.code == RESULT_OK


def parse_login_reply(plaintext):
    """Decode a login reply (what our reference client reads)."""
    lists, rest, _ = objects.decode_object_lists(plaintext)
    if rest:
        raise ProtocolError("%d bytes after the login reply lists" % (len(rest),))
    header = lists[0]
    body = lists[1] if len(lists) > 1 else objects.ObjectList()
    code = _get(header, R_RESULT, objects.Int, "reply header", True)
    seq = _get(header, R_SEQ, objects.Int, "reply header", True)
    validity = body.value(P_VALIDITY, objects.NestedList)
    year = None if validity is None else validity.value(9, objects.Int)
    return LoginReply(code, seq, _get(body, P_CREDENTIAL, objects.Blob, "reply body"),
                      year, body)
