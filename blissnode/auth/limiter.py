"""
Failed-login rate limiting, per source address and per account.

Pure logic with an injectable clock (anything with ``seconds()``, i.e.
:class:`~twisted.internet.interfaces.IReactorTime` or
:class:`twisted.internet.task.Clock`); the login handler asks
:meth:`FailedLoginLimiter.check` *before* it spends an scrypt on a login,
and reports the outcome with :meth:`~FailedLoginLimiter.failed` /
:meth:`~FailedLoginLimiter.succeeded`.

Each key has a token bucket: ``burst`` failures in a row are allowed, then
one more every ``refill_seconds``.  Only failures take tokens, so people who
type their password right are never limited.  Three kinds of key:

* the source **address** (every guess from it, whatever the account);
* the **(address, account)** pair: guessing one account from one address
  stays slow;
* the **account** across addresses (a guess spread over many addresses),
  with a larger burst -- and it only applies to addresses that have
  themselves failed on that account.  So a stranger's wrong passwords can
  never lock the owner out (issue 17.5): the owner's address has no failure
  on the account and passes; only the guessers are slowed.

A success forgives the pair's failures (the owner is back) but not the
address's: otherwise someone holding one valid account could reset their
address between guesses at other people's accounts.

Memory is bounded: at most ``max_keys`` buckets per kind, the least recently
touched dropped first (a dropped bucket is as if full again; the other kind
of limit still holds).  IPv6 sources are grouped by /64, since one host
usually owns a whole /64.
"""

import ipaddress

import attr

from blissnode.ratelimit import TokenBuckets
from blissnode.store.errors import InvalidName
from blissnode.store.names import validate_skype_name


@attr.s(frozen=True, slots=True)
class Limit:
    """``burst`` failures at once, then one more every ``refill_seconds``."""

    burst = attr.ib()
    refill_seconds = attr.ib()

    def __attrs_post_init__(self):
        if self.burst < 1 or self.refill_seconds <= 0:
            raise ValueError("a limit needs burst >= 1 and refill_seconds > 0: %r" % (self,))


#: Per source address: generous, since many users may share one NAT address.
DEFAULT_ADDRESS_LIMIT = Limit(burst=20, refill_seconds=3.0)
#: Per (address, account): 10 guesses, then 2 a minute (about 120 an hour).
DEFAULT_ACCOUNT_LIMIT = Limit(burst=10, refill_seconds=30.0)
#: Per account over every address (only for addresses that failed on it):
#: 100 guesses, then 6 a minute.
DEFAULT_SPREAD_LIMIT = Limit(burst=100, refill_seconds=10.0)
DEFAULT_MAX_KEYS = 100000

REASON_ADDRESS = "address"
REASON_ACCOUNT = "account"


@attr.s(frozen=True, slots=True)
class Decision:
    """The answer of :meth:`FailedLoginLimiter.check`.

    :ivar allowed: may this login attempt be checked at all?
    :ivar reason: ``None``, ``"address"`` or ``"account"`` (which limit hit).
    :ivar retry_after: seconds until one more attempt would be allowed (0 if allowed).
    """

    allowed = attr.ib()
    reason = attr.ib(default=None)
    retry_after = attr.ib(default=0.0)


def _buckets(limit, clock, max_keys):
    """The shared :class:`~blissnode.ratelimit.TokenBuckets` for a :class:`Limit`."""
    return TokenBuckets(1.0 / limit.refill_seconds, limit.burst, clock.seconds, max_keys)


def address_key(host):
    """The key an address is limited under: the IPv4 address, or an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return str(host)
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def account_key(name):
    """The key an account is limited under, or ``None`` for a name no account can have."""
    try:
        return validate_skype_name(name)
    except InvalidName:
        return None


class FailedLoginLimiter:
    """Decides whether a login attempt may be checked, from earlier failures.

    :param clock: provides ``seconds()``; the reactor in the server.
    """

    def __init__(self, clock, per_address=DEFAULT_ADDRESS_LIMIT,
                 per_account=DEFAULT_ACCOUNT_LIMIT, max_keys=DEFAULT_MAX_KEYS,
                 per_account_spread=DEFAULT_SPREAD_LIMIT):
        self.addresses = _buckets(per_address, clock, max_keys)
        #: Keyed by (address key, account key).
        self.accounts = _buckets(per_account, clock, max_keys)
        #: Keyed by account key; consulted only for addresses with failures on it.
        self.spread = _buckets(per_account_spread, clock, max_keys)

    def check(self, host, name):
        """May a login for ``name`` from ``host`` be checked now?  Changes nothing."""
        address = address_key(host)
        wait = self.addresses.retry_after(address)
        if wait > 0:
            return Decision(False, REASON_ADDRESS, wait)
        account = account_key(name)
        if account is not None:
            pair = (address, account)
            wait = self.accounts.retry_after(pair)
            if wait > 0:
                return Decision(False, REASON_ACCOUNT, wait)
            if self.accounts.tokens(pair) < self.accounts.burst:
                # This address has failed on this account: the account-wide
                # limit applies to it (never to an address without failures).
                wait = self.spread.retry_after(account)
                if wait > 0:
                    return Decision(False, REASON_ACCOUNT, wait)
        return Decision(True)

    def failed(self, host, name):
        """Record a failed login (wrong password, unknown user, bad credential blob)."""
        address = address_key(host)
        self.addresses.charge(address)
        account = account_key(name)
        if account is not None:
            self.accounts.charge((address, account))
            self.spread.charge(account)

    def succeeded(self, host, name):
        """Record a successful login: the pair's failures are forgiven, the
        address's and the account-wide ones are not."""
        account = account_key(name)
        if account is not None:
            self.accounts.forget((address_key(host), account))
