"""X11 forwarding helpers (RFC 4254 section 6.3, as ``ssh -X`` and sshd do it).

The client asks for forwarding with a fake MIT-MAGIC-COOKIE-1 cookie; each X connection the
server forwards starts with the X client's connection setup, carrying that fake cookie, which
the client replaces with the real one of its display before passing the bytes on, so the real
cookie never reaches the server.  :func:`parse_display`, :func:`replace_cookie` and
:func:`x11_request` are the protocol parts; :func:`real_cookie` asks ``xauth`` (front ends only).
"""

import asyncio
import os
import struct
from typing import Optional, Tuple

from M2Sec.SSH.packet import boolean, string, uint32

PROTOCOL = "MIT-MAGIC-COOKIE-1"
#: the first X11 display number a server offers (sshd's X11DisplayOffset)
DISPLAY_OFFSET = 10
MAX_DISPLAYS = 1000


class X11Error(ValueError):
    """A display name or an X connection setup that cannot be used."""


def parse_display(display: str) -> Tuple[Optional[str], int, int]:
    """``[host]:N[.S]`` -> (host or None for the local socket, display N, screen S)."""
    host, sep, rest = display.rpartition(":")
    if not sep:
        raise X11Error("not an X display: %r" % display)
    number, _, screen = rest.partition(".")
    try:
        n, s = int(number), int(screen or 0)
    except ValueError:
        raise X11Error("not an X display: %r" % display) from None
    if host in ("", "unix") or host.startswith("/"):
        return None, n, s
    return host, n, s


async def open_display(display: str) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the X server of display (its UNIX socket, or TCP port 6000+N)."""
    host, n, _ = parse_display(display)
    if host is None:
        return await asyncio.open_unix_connection("/tmp/.X11-unix/X%d" % n)
    return await asyncio.open_connection(host, 6000 + n)


async def real_cookie(display: str) -> Optional[bytes]:
    """The display's MIT-MAGIC-COOKIE-1 from ``xauth list`` ($XAUTHORITY), or None."""
    try:
        proc = await asyncio.create_subprocess_exec("xauth", "list", display, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    except (OSError, asyncio.TimeoutError):
        return None
    for line in out.decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == PROTOCOL:
            try:
                return bytes.fromhex(fields[2])
            except ValueError:
                return None
    return None


def x11_request(fake_cookie: bytes, screen: int, single_connection: bool = False) -> bytes:
    """The x11-req channel request's data."""
    return boolean(single_connection) + string(PROTOCOL) + string(fake_cookie.hex()) + uint32(screen)


def _pad(n: int) -> int:
    return (n + 3) & ~3


def setup_length(head: bytes) -> int:
    """From the first 12 bytes of an X connection setup, its whole length."""
    if len(head) < 12 or head[:1] not in (b"B", b"l"):
        raise X11Error("not an X11 connection setup")
    fmt = ">HH" if head[:1] == b"B" else "<HH"
    name_len, data_len = struct.unpack(fmt, head[6:10])
    return 12 + _pad(name_len) + _pad(data_len)


def replace_cookie(setup: bytes, fake: bytes, real: Optional[bytes]) -> bytes:
    """The X connection setup with the fake cookie replaced by real (or the authorization
    removed when the display needs none).

    :raises X11Error: a setup that does not carry the fake cookie (refused, as ssh does).
    """
    order = ">" if setup[:1] == b"B" else "<"
    name_len, data_len = struct.unpack(order + "HH", setup[6:10])
    name = setup[12:12 + name_len]
    data_at = 12 + _pad(name_len)
    data = setup[data_at:data_at + data_len]
    if name != PROTOCOL.encode() or data != fake:
        raise X11Error("an X11 connection with the wrong authorization")
    if real is None:
        return setup[:6] + struct.pack(order + "HH", 0, 0) + setup[10:12]
    auth = PROTOCOL.encode() + bytes(_pad(name_len) - name_len) + real + bytes(_pad(len(real)) - len(real))
    return setup[:6] + struct.pack(order + "HH", name_len, len(real)) + setup[10:12] + auth


def display_for(number: int, screen: int = 0) -> str:
    """The DISPLAY a server gives its sessions for a forwarded display (TCP on localhost)."""
    return "localhost:%d.%d" % (number, screen)


def fake_cookie() -> bytes:
    return os.urandom(16)
