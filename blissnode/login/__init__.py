"""
The login server role (issue 5): authentication through ``twisted.cred``
(:mod:`blissnode.login.auth`) and failed-login rate limiting
(:mod:`blissnode.login.ratelimit`).  The protocol and handlers build on them.
"""
