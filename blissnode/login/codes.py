"""
The result codes blissnode's login server answers, by reason.

Only 8401 is known (L5; SOS2 knows no other).  Every other number is
blissnode's own choice (GUESS), shared by the server's handlers and the
reference client so that logs and tests can tell the reasons apart; a
version's handlers can use another table (``LoginHandlers.REFUSAL_CODES``).
"""

import attr

from blissnode.wire.login_messages import RESULT_AUTH_FAILED

__all__ = ["RefusalCodes", "REFUSAL_CODES"]


@attr.s(frozen=True, slots=True)
class RefusalCodes:
    """Result codes of the refusals a login server sends, by reason.

    Only 8401 is known (L5).  GUESS for everything else:

    * ``unknown_user`` = 8401 as well: the client is only known to tell
      success from failure, and the same code does not reveal which names
      exist;
    * ``account_blocked`` 8402, ``name_taken`` 8403, ``invalid_name`` 8404,
      ``version_too_old`` 8405, ``registration_closed`` 8406,
      ``rate_limited`` 8409: invented, distinct numbers in the same range so
      that logs and our own client can tell them apart.  A version's
      handlers use another instance once real codes are known.
    """

    wrong_password = attr.ib(default=RESULT_AUTH_FAILED)
    unknown_user = attr.ib(default=RESULT_AUTH_FAILED)
    account_blocked = attr.ib(default=8402)
    name_taken = attr.ib(default=8403)
    invalid_name = attr.ib(default=8404)
    version_too_old = attr.ib(default=8405)
    registration_closed = attr.ib(default=8406)
    rate_limited = attr.ib(default=8409)

    def code(self, reason):
        """The code for ``reason`` (an attribute name such as ``"rate_limited"``)."""
        if reason not in attr.fields_dict(type(self)):
            raise ValueError("unknown refusal reason %r" % (reason,))
        return getattr(self, reason)


REFUSAL_CODES = RefusalCodes()
