"""
Decoding both directions of a connection to a login or event server from
its first byte: the TLS-lookalike records of login.md 2-4 / tcp.md 8, the
key exchange, the AES-256-CTR data records and the requests and replies in
them.

Three openings lead to the same records:

* ``plain``: hellos ``16 03 01 00 00`` (clients send two, the second
  sometimes in the key exchange's segment, and servers answer each:
  ERRATA), then the key exchange in clear;
* ``dh384``: a 5.5+ client's DH-384 opening, then plain RC4 keyed with the
  shared secret ``K`` (client to server) and ``K`` with its first byte + 1
  (login.md 2.2) -- only decodable with that ``K``;
* ``inner``: the event-server framing a node carries in clear after a
  cmd 7 and a type-4 switch record on a peer connection (ERRATA): no hello.

The AES key comes from the 192-byte session seed, RSA-1536-encrypted to
the login key in BLOB 8 of the key exchange; with the private key of the
server the capture was taken against (``keys``: anything with
``login_decrypt_raw`` and ``credential_public``, such as
:class:`blissnode.keys.ServerKeys`) the records open, seq taken from each
record's trailer.  The credential in a login reply is checked and shown
decoded when the credential key opens it.
"""

import collections

from blissnode.capture.annotate import node_record_json
from blissnode.capture.dh_opening import DhOpening
from blissnode.capture.events import DIR_C2S, DIR_S2C, Unit
from blissnode.wire import objects, rc4
from blissnode.wire.aes_ctr import seq_from_trailer
from blissnode.wire.credentials import minutes_to_datetime, parse_credential
from blissnode.wire.errors import ProtocolError
from blissnode.wire.ipv4 import format_dotted_quad
from blissnode.wire.login_messages import (
    LOGIN_REQUEST_CODES,
    RESULT_AUTH_FAILED,
    RESULT_OK,
    parse_event_request,
    parse_login_reply,
    parse_login_request,
    parse_request_header,
)
from blissnode.wire.server_transport import (
    CONTENT_DATA,
    CONTENT_KEY_EXCHANGE,
    X_CLIENT_TO_SERVER,
    X_SERVER_TO_CLIENT,
    ServerRecordParser,
    check_session_seed,
    login_session_key,
    open_server_record,
    parse_key_exchange,
    server_rc4_keys,
)

__all__ = ["OPENING_PLAIN", "OPENING_DH384", "OPENING_INNER", "ROLE_LOGIN", "ROLE_EVENT",
           "ServerTransportDecoder", "credential_json", "WHY_NO_KEYS"]

OPENING_PLAIN = "plain"
OPENING_DH384 = "dh384"
OPENING_INNER = "inner"
ROLE_LOGIN = "login"
ROLE_EVENT = "event"

RESULT_NAMES = {RESULT_OK: "ok", RESULT_AUTH_FAILED: "authentication failed"}

WHY_NO_KEYS = ("AES records: the session seed is RSA-encrypted to the server's login key; "
               "give --data-dir of the server that holds it (the real Skype servers' keys are "
               "not known)")
WHY_NO_KEY_EXCHANGE = "AES records: the key exchange carrying the session seed was not decoded"
WHY_OTHER_KEY = ("AES records: the session seed is encrypted to another login key than the "
                 "one in --data-dir (%s)")


def _hexify(value):
    """JSON-able form of attrs values (bytes as hex, nested ObjectLists as items)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, objects.ObjectList):
        return objects.objects_to_json(value)
    if isinstance(value, (list, tuple)):
        return [_hexify(v) for v in value]
    return value


def _ip(value):
    return None if value is None else format_dotted_quad(value.to_bytes(4, "big"))


def credential_json(credential):
    """A verified :class:`~blissnode.wire.credentials.Credential` as JSON."""
    out = collections.OrderedDict()
    out["key_id"] = credential.key_id
    out["name"] = credential.name
    out["flags"] = credential.flags
    out["user_modulus"] = credential.user_modulus.hex()
    out["expiry"] = credential.expiry
    try:
        out["expiry_utc"] = minutes_to_datetime(credential.expiry).isoformat()
    except ValueError:
        pass
    out["validity"] = None if credential.validity is None else objects.objects_to_json(
        credential.validity)
    out["extra"] = None if credential.extra is None else objects.objects_to_json(credential.extra)
    return out


def _header_json(header):
    return {"code": header.code, "request_id": header.seq, "name": header.name,
            "credential_md5": header.credential.hex()}


def _login_request_json(request):
    body = request.body
    out = {"header": _header_json(request.header),
           "registration": request.is_registration}
    fields = collections.OrderedDict()
    for name in ("user_modulus", "host_id1", "host_id1_item", "language", "host_id2",
                 "version", "email", "reg_flag", "reg_version", "full_name"):
        value = getattr(body, name)
        if value is not None:
            fields[name] = _hexify(value)
    if body.public_ip is not None:
        fields["public_ip"] = _ip(body.public_ip)
    if body.node_record is not None:
        fields["node_record"] = node_record_json(body.node_record) or body.node_record.hex()
    out["body"] = fields
    return out


def _event_request_json(request):
    return {"header": _header_json(request.header),
            "items": objects.objects_to_json(request.items),
            "name": request.name, "version": request.version,
            "public_ip": _ip(request.public_ip)}


class _Side(object):
    def __init__(self, direction, opening, secret):
        self.direction = direction
        self.dh = None
        if opening == OPENING_DH384:
            self.dh = DhOpening("client" if direction == DIR_C2S else "server", secret)
        self.rc4 = None
        self.parser = ServerRecordParser()
        self.stopped = None
        self.records = 0
        self.hellos = 0
        self.next_seq = 0
        self.undecoded_why = None


class ServerTransportDecoder(object):
    """Sans-IO: :meth:`feed` ``(direction, bytes)`` of either direction in
    any interleaving; each call returns the :class:`Unit` values completed.
    ``role`` (``login``/``event``) is a hint until a request tells."""

    def __init__(self, opening, keys=None, dh_secret=None, role=None, keys_label="--data-dir"):
        self.opening = opening
        self.keys = keys
        self.keys_label = keys_label
        self.dh_secret = None if dh_secret is None else bytes(dh_secret)
        self.role = role
        self.role_from = "hint" if role else None
        self.key = None
        self.key_why = WHY_NO_KEYS if keys is None else WHY_NO_KEY_EXCHANGE
        self._sides = {d: _Side(d, opening, self.dh_secret) for d in (DIR_C2S, DIR_S2C)}
        self._requests = {}  # request id -> code

    # -- status ---------------------------------------------------------------

    def stopped(self, direction):
        return self._sides[direction].stopped

    def undecoded(self):
        """``[(direction, why)]`` of what did not decode."""
        out = []
        for d in (DIR_C2S, DIR_S2C):
            side = self._sides[d]
            if side.stopped:
                out.append((d, side.stopped))
            elif side.dh is not None and side.dh.unfinished():
                out.append((d, "DH-384 server transport: " + side.dh.unfinished()))
            elif side.undecoded_why:
                out.append((d, side.undecoded_why))
        return out

    def stop(self, direction, why):
        side = self._sides[direction]
        if side.stopped is None:
            side.stopped = why

    # -- input ----------------------------------------------------------------

    def feed(self, direction, data):
        side = self._sides[direction]
        if side.stopped or not data:
            return []
        units = []
        if side.dh is not None and not side.dh.done:
            found, data, state = side.dh.feed(data)
            units.extend(found)
            if state == "stuck":
                side.stopped = "DH-384 server transport: " + side.dh.why
                return units
            if state == "more":
                return units
            c2s, s2c = server_rc4_keys(self.dh_secret)
            side.rc4 = rc4.RC4(c2s if direction == DIR_C2S else s2c)
            units[-1].fields["then"] = ("plain RC4 keyed with K" if direction == DIR_C2S
                                        else "plain RC4 keyed with K, first byte + 1")
            if not data:
                return units
        if side.rc4 is not None:
            data = side.rc4.crypt(data)
        try:
            records = side.parser.feed(data)
        except ProtocolError as e:
            side.stopped = "server transport framing broke: %s" % (e,)
            units.append(Unit("error", {"why": side.stopped}, False))
            return units
        for record in records:
            side.records += 1
            units.append(self._record(side, record))
        return units

    # -- records --------------------------------------------------------------

    def _record(self, side, record):
        client = side.direction == DIR_C2S
        if record.is_hello:
            side.hellos += 1
            meaning = ("client hello %d" % side.hellos if client and
                       record.content_type == CONTENT_KEY_EXCHANGE else
                       "server answer to hello %d" % side.hellos if not client and
                       record.content_type == CONTENT_DATA else "empty record")
            return Unit("server-hello", {"record": record.encode().hex(), "meaning": meaning})
        if record.content_type == CONTENT_KEY_EXCHANGE:
            if not client:
                return Unit("server-record", {"content_type": "key-exchange",
                                              "payload": record.payload.hex(),
                                              "why": "a key exchange from the server is not in "
                                                     "the protocol"}, False)
            return self._key_exchange(record)
        return self._data(side, record)

    def _key_exchange(self, record):
        fields = collections.OrderedDict(content_type="key-exchange", length=len(record.payload))
        try:
            lists, rest, fmt = objects.decode_object_lists(record.payload)
            fields["format"] = fmt
            fields["objects"] = [objects.objects_to_json(o) for o in lists][0] if len(lists) == 1 \
                else [objects.objects_to_json(o) for o in lists]
            kx = parse_key_exchange(record)
        except ProtocolError as e:
            fields["payload"] = record.payload.hex()
            fields["why"] = "not a key exchange: %s" % (e,)
            self.key_why = WHY_NO_KEY_EXCHANGE
            return Unit("key-exchange", fields, False)
        fields["int9"], fields["int12"] = kx.int9, kx.int12
        if self.keys is None:
            fields["session_seed"] = "not opened: " + WHY_NO_KEYS
            self.key_why = WHY_NO_KEYS
            return Unit("key-exchange", fields)
        try:
            X = self.keys.login_decrypt_raw(kx.rsa_blob)
            r24 = check_session_seed(X)
        except (ProtocolError, ValueError) as e:
            fields["session_seed"] = "not opened: %s" % (e,)
            self.key_why = WHY_OTHER_KEY % (self.keys_label,)
            return Unit("key-exchange", fields)
        self.key = login_session_key(X)
        fields["session_seed"] = "opened with the login key of " + self.keys_label
        fields["session_random"] = r24.hex()
        fields["aes_key"] = self.key.hex()
        return Unit("key-exchange", fields)

    def _data(self, side, record):
        client = side.direction == DIR_C2S
        fields = collections.OrderedDict(content_type="data", length=len(record.payload))
        if len(record.payload) < 2:
            fields["why"] = "data record without trailer"
            return Unit("server-record", fields, False)
        ciphertext = record.payload[:-2]
        seq = seq_from_trailer(ciphertext, int.from_bytes(record.payload[-2:], "little"))
        fields["seq"] = seq
        if seq != side.next_seq & 0xFFFF:
            fields["expected_seq"] = side.next_seq & 0xFFFF
        side.next_seq = seq + 1
        if self.key is None:
            fields["ciphertext"] = ciphertext.hex()
            fields["why"] = self.key_why
            side.undecoded_why = self.key_why
            return Unit("server-record", fields, False)
        x = X_CLIENT_TO_SERVER if client else X_SERVER_TO_CLIENT
        _, plaintext = open_server_record(record, self.key, x)
        fields["plaintext"] = plaintext.hex()
        try:
            lists, rest, fmt = objects.decode_object_lists(plaintext)
        except ProtocolError as e:
            fields["why"] = "the plaintext is not object lists (%s): wrong key?" % (e,)
            return Unit("server-record", fields, False)
        fields["lists"] = [objects.objects_to_json(o) for o in lists]
        if rest:
            fields["rest"] = bytes(rest).hex()
        if client:
            self._request(plaintext, lists, fields)
        else:
            self._reply(plaintext, lists, fields)
        return Unit("server-record", fields)

    def _request(self, plaintext, lists, fields):
        try:
            header = parse_request_header(lists[0])
        except (ProtocolError, IndexError) as e:
            fields["request_error"] = str(e)
            return
        self._requests[header.seq] = header.code
        if header.code in LOGIN_REQUEST_CODES:
            self._set_role(ROLE_LOGIN)
            try:
                fields["login_request"] = _login_request_json(parse_login_request(plaintext))
            except ProtocolError as e:
                fields["request_error"] = str(e)
            return
        self._set_role(ROLE_EVENT)
        try:
            fields["event_request"] = _event_request_json(parse_event_request(plaintext))
        except ProtocolError as e:
            fields["request_error"] = str(e)

    def _set_role(self, role):
        if self.role_from != "request":
            self.role, self.role_from = role, "request"

    def _reply(self, plaintext, lists, fields):
        if not lists:
            return
        header = lists[0]
        result, request_id = header.value(1, objects.Int), header.value(2, objects.Int)
        reply = {"result": result, "result_name": RESULT_NAMES.get(result),
                 "request_id": request_id, "request_code": self._requests.get(request_id)}
        fields["reply"] = reply
        if self.role != ROLE_LOGIN:
            return
        try:
            login = parse_login_reply(plaintext)
        except ProtocolError as e:
            reply["login_reply_error"] = str(e)
            return
        if login.credential is None:
            return
        reply["credential_blob"] = login.credential.hex()
        if login.year is not None:
            reply["validity_year"] = login.year
        if self.keys is None:
            reply["credential_error"] = "no credential key given"
            return
        try:
            reply["credential"] = credential_json(
                parse_credential(login.credential, self.keys.credential_public))
        except (ProtocolError, ValueError) as e:
            reply["credential_error"] = "does not open with the credential key of %s: %s" % (
                self.keys_label, e)
