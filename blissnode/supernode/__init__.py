"""
The main supernode role: UDP key exchange and probes, the TCP and port-443
handshakes, client accept, and the online directory's front door.
"""
