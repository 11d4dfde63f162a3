"""
The login server role (issue 5): authentication through ``twisted.cred``
(:mod:`blissnode.auth.cred`) and failed-login rate limiting
(:mod:`blissnode.auth.limiter`).  The protocol and handlers build on them.
"""
