"""
The contract between the event server's protocol and per-version handlers.

:class:`blissnode.event.protocol.EventServerProtocol` runs the transport (the
login server's: hello or DH-384 + RC4, RSA key exchange with the login key,
AES-CTR records; event.md 2), authenticates every request by the MD5
credential in its header through ``twisted.cred`` and then calls **one
handler method per request code**.  Every decision a client version may
change is a method or a class constant of an :class:`IEventHandlers`
provider, chosen per client version by the version registry (role
``"event"``; a version without its own entry inherits the nearest older
one's).

A handler method gets one :class:`EventCall` and returns the items of the
reply's body list (or a Deferred firing with them), or raises
:class:`EventRefusal`; it never writes bytes.  Methods whose request code
is blissnode's own invention are named ``guess_...`` (docs/event.rst).
"""

from zope.interface import Attribute, Interface

ROLE = "event"


class EventRefusal(Exception):
    """Answer the request with the refusal code of ``reason`` (an attribute
    name of :class:`blissnode.event.codes.EventRefusalCodes`)."""

    def __init__(self, reason, why="", strike=False):
        Exception.__init__(self, why or reason)
        self.reason = reason
        self.why = why or reason
        #: Counts towards closing the connection (unreadable requests,
        #: wrong credentials), unlike a refusal of a well-formed request.
        self.strike = strike


class IEventCall(Interface):
    """One authenticated request, as a handler method sees it."""

    user = Attribute("The authenticated Skype name (lower case): whose data the call may touch.")
    request = Attribute("The decoded EventRequest (header, body items, trailer).")
    items = Attribute("The request-specific body items (an ObjectList).")
    request_id = Attribute("Header INT 2, echoed in the reply.")
    service = Attribute("The shared EventService (stores, presence, broadcaster, directory).")
    connection = Attribute("The EventServerProtocol the request arrived on.")
    version = Attribute("The version label serving this client.")


class IEventHandlers(Interface):
    """What the event server answers to one client version."""

    transport = Attribute("TRANSPORT_CLASSIC or TRANSPORT_DH384 (blissnode.wire.server_session).")
    request_codes = Attribute(
        "Mapping request code -> method name: the known codes (6030, 6028, 6024, "
        "6016, 6017) and blissnode's own GUESS codes.")

    def parse_request(plaintext):
        """Decode a request plaintext (EventRequest) or raise ProtocolError."""

    def method_for(code):
        """The name of the method serving ``code`` (``"unknown_request"`` if none)."""

    def build_success(request_id, items):
        """The reply plaintext ``{INT 1 = 4200, INT 2 = id}`` + body list."""

    def build_refusal(request_id, reason):
        """The reply plaintext for a refusal ``reason``."""

    def build_push(code, items):
        """The plaintext of a server-initiated record (GUESS, event.md E9)."""

    # -- known request codes --------------------------------------------------------

    def session_start(call):
        """6030: session start; the answer carries INT 0x0A = 3000."""

    def entry_handles(call):
        """6028: BLOB 0x35 = the handles of the user's entries (changes
        since GUESS INT 0x2E if the client sends one)."""

    def entry_fetch(call):
        """6024: STRING 0x34 key and BLOB 0x33 value of the entry INT 0x32."""

    def pending_events(call):
        """6016: the event cursor INT 0x2D (meaning unknown, E10)."""

    def pending_events_other(call):
        """6017: as 6016 for another class of events (E10)."""

    def unknown_request(call):
        """Any other code: logged with its decoded body and answered (event.md 6)."""

    # -- blissnode's own request codes (GUESS) -----------------------------------------

    def guess_add_contact(call):
        """Add a contact and ask for authorisation."""

    def guess_accept_authorization(call):
        """Accept a pending authorisation request."""

    def guess_deny_authorization(call):
        """Refuse a pending request (and optionally block)."""

    def guess_remove_contact(call):
        """Remove an entry of the own list."""

    def guess_block_contact(call):
        """Block a user."""

    def guess_unblock_contact(call):
        """Unblock a user."""

    def guess_update_contact(call):
        """Change display name, group or certificate of an own entry."""

    def guess_send_message(call):
        """Queue an offline message for another user."""

    def guess_fetch_inbox(call):
        """The oldest un-acknowledged messages of the user."""

    def guess_ack_inbox(call):
        """Delete fetched messages up to a sequence number."""

    def guess_search(call):
        """Directory search: account store and online directory."""

    def guess_set_status(call):
        """Set the own online status and mood (broadcast to the watchers)."""

    def guess_presence(call):
        """The presence of the user's mutually authorised contacts."""

    # -- what the server pushes ----------------------------------------------------------

    def presence_push(state):
        """The plaintext of a presence broadcast record for one PresenceState."""

    def inbox_push(pending):
        """The plaintext of an "inbox changed" record (``pending`` messages
        queued), or ``None``."""

