"""
Checking who a peer is, shared by the login and the event servers:
:mod:`~blissnode.auth.cred` (the ``twisted.cred`` portal, checker and realm
for a Skype name and its MD5 credential) and :mod:`~blissnode.auth.limiter`
(the failed-login limits per address and per account, shared so that an
attacker cannot switch servers to guess faster).
"""
