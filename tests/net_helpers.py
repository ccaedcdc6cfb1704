"""Loopback ports for the tests' servers and forwards."""

import random
import socket

#: below Linux's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default): a port
#: from here is never the local end of some outgoing connection, nor what a listener bound to
#: port 0 gets, in the time between free_port() and the bind by the program it is given to
_LOW, _HIGH = 20000, 32767


def _ephemeral() -> range:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
        return range(lo, hi + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing holds now, outside the ephemeral range (so that no
    other socket of this machine is handed it before the caller's program binds it)."""
    eph = _ephemeral()
    for _ in range(200):
        port = random.randint(_LOW, _HIGH)
        if port in eph:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in %d-%d" % (_LOW, _HIGH))
