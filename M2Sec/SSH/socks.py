"""The SOCKS 4, 4a and 5 requests a dynamic forward (``ssh -D``) answers: CONNECT only, no
authentication (RFC 1928; SOCKS 4 and 4a as their specifications by NEC describe them).

:func:`read_request` reads one request from an asyncio stream (answering SOCKS 5's method
negotiation) and gives (version, host, port); :func:`reply` is the answer to send.  Anything
else, BIND, UDP ASSOCIATE, a method list without "no authentication", a name too long, is a
:class:`SOCKSError` (the caller closes the connection).
"""

import asyncio
import ipaddress
from typing import Tuple

from M2Sec.SSH.errors import SSHError

#: the longest SOCKS 4 user id or 4a host name read (255, as SOCKS 5 allows for names)
MAX_FIELD = 255


class SOCKSError(SSHError):
    """A SOCKS request the proxy does not serve or cannot read."""


async def _until_nul(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        b = await reader.readexactly(1)
        if b == b"\0":
            return bytes(out)
        if len(out) >= MAX_FIELD:
            raise SOCKSError("a SOCKS 4 field longer than %d bytes" % MAX_FIELD)
        out += b


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Tuple[int, str, int]:
    """(version, host, port) of a CONNECT request; SOCKS 5's method reply is written here."""
    version = (await reader.readexactly(1))[0]
    if version == 4:
        cmd4, port4, addr = await reader.readexactly(1), await reader.readexactly(2), await reader.readexactly(4)
        await _until_nul(reader)  # the user id
        if cmd4 != b"\x01":
            raise SOCKSError("SOCKS 4 command %d is not served" % cmd4[0])
        if addr[:3] == b"\0\0\0" and addr[3]:  # 4a: the name follows
            host = (await _until_nul(reader)).decode("ascii", "replace")
        else:
            host = str(ipaddress.IPv4Address(addr))
        return 4, host, int.from_bytes(port4, "big")
    if version != 5:
        raise SOCKSError("SOCKS version %d" % version)
    n = (await reader.readexactly(1))[0]
    methods = await reader.readexactly(n)
    if 0 not in methods:
        writer.write(b"\x05\xff")
        raise SOCKSError("the SOCKS 5 client offers no method without authentication")
    writer.write(b"\x05\x00")
    ver, cmd, _rsv, atyp = await reader.readexactly(4)
    if ver != 5 or cmd != 1:
        writer.write(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
        raise SOCKSError("SOCKS 5 command %d is not served" % cmd)
    if atyp == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif atyp == 4:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    elif atyp == 3:
        length = (await reader.readexactly(1))[0]
        host = (await reader.readexactly(length)).decode("ascii", "replace")
    else:
        writer.write(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
        raise SOCKSError("SOCKS 5 address type %d" % atyp)
    port = int.from_bytes(await reader.readexactly(2), "big")
    return 5, host, port


def reply(version: int, ok: bool) -> bytes:
    """The answer to a CONNECT (no bound address is reported: ssh -D does the same)."""
    if version == 4:
        return b"\x00" + (b"\x5a" if ok else b"\x5b") + bytes(6)
    return b"\x05" + (b"\x00" if ok else b"\x05") + b"\x00\x01" + bytes(6)
