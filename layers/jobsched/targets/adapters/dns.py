"""DNS resolution for the target guard: the addresses a host name answers with, from the system resolver.

The guard (jobsched.targets.guard) decides which addresses a job may call; this adapter only asks DNS,
and is injected where the guard needs it (the job service at create/replace, the HTTP invoker per call),
so the guard's rules are tested without a network.
"""

from __future__ import annotations

import socket


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection to ``port``, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
