"""SSH channels (RFC 4254): the state of one channel as the protocol core keeps it.

A :class:`Channel` holds its numbers, both windows and maximum packet sizes, what has been
sent and received (EOF, CLOSE), the replies it still waits for and, for sessions, the exit
status or signal.  It has no I/O: the connection core sends what its methods build and turns
incoming channel messages into events.  Flow control: :meth:`take_window` hands out at most
what the peer's window allows, and the local window is opened again only as the application
reports data consumed (:meth:`consumed`), so a slow reader stops the peer instead of filling
memory.
"""

from typing import Any, Deque, List, Optional, Tuple
from collections import deque

from M2Sec.SSH.packet import Buffer, boolean, byte, string, uint32

from M2Sec.SSH.messages import (MSG_CHANNEL_CLOSE, MSG_CHANNEL_DATA, MSG_CHANNEL_EOF,  # noqa: F401
                                MSG_CHANNEL_EXTENDED_DATA, MSG_CHANNEL_FAILURE, MSG_CHANNEL_OPEN,
                                MSG_CHANNEL_OPEN_CONFIRMATION, MSG_CHANNEL_OPEN_FAILURE, MSG_CHANNEL_REQUEST,
                                MSG_CHANNEL_SUCCESS, MSG_CHANNEL_WINDOW_ADJUST, MSG_GLOBAL_REQUEST,
                                MSG_REQUEST_FAILURE, MSG_REQUEST_SUCCESS)

EXTENDED_DATA_STDERR = 1

#: Channel open failure reason codes (RFC 4254 section 5.1).
OPEN_ADMINISTRATIVELY_PROHIBITED = 1
OPEN_CONNECT_FAILED = 2
OPEN_UNKNOWN_CHANNEL_TYPE = 3
OPEN_RESOURCE_SHORTAGE = 4

#: The local window and largest packet this side offers (OpenSSH's session defaults are 2 MiB
#: and 32 KiB; a larger packet means fewer packets per byte).
WINDOW = 4 * 1024 * 1024
MAX_PACKET = 128 * 1024

_TERMINAL_MODES_END = b"\x00"


class Channel:
    """One channel's protocol state (see the module's docstring)."""

    def __init__(self, local_id: int, kind: bytes, window: int = WINDOW, max_packet: int = MAX_PACKET) -> None:
        self.local_id = local_id
        self.remote_id = -1
        self.kind = kind
        self.local_window = window
        self.local_window_size = window
        self.local_max_packet = max_packet
        self.remote_window = 0
        self.remote_max_packet = 0
        self.state = "opening"          # opening, open, closed (or failed)
        self.eof_sent = False
        self.eof_received = False
        self.close_sent = False
        self.close_received = False
        self.pending_replies: Deque[Any] = deque()
        self.exit_status: Optional[int] = None
        self.exit_signal: Optional[Tuple[str, bool, str, str]] = None
        self.unacked = 0
        self.app: Any = None             # what the front end attaches (its channel object)
        self.pending_open: Any = None    # (id, window, max packet) of a peer's open not answered yet

    def __repr__(self) -> str:
        return "<Channel %d/%d %s %s>" % (self.local_id, self.remote_id, self.kind.decode(), self.state)

    # ---- opening ----
    def open_message(self, extra: bytes = b"") -> bytes:
        return (byte(MSG_CHANNEL_OPEN) + string(self.kind) + uint32(self.local_id)
                + uint32(self.local_window) + uint32(self.local_max_packet) + extra)

    def confirmed(self, remote_id: int, window: int, max_packet: int) -> None:
        self.remote_id = remote_id
        self.remote_window = window
        self.remote_max_packet = max(1, min(max_packet, 256 * 1024 - 1024))
        self.state = "open"

    # ---- sending ----
    def can_send(self) -> bool:
        return self.state == "open" and not self.eof_sent and not self.close_sent

    def take_window(self, n: int) -> int:
        """How much of n bytes may go now (the peer's window), taken from the window."""
        n = min(n, self.remote_window)
        self.remote_window -= n
        return n

    def data_messages(self, data: Buffer, ext: int = 0) -> List[Tuple[bytes, memoryview]]:
        """(header, data) pairs of CHANNEL_DATA / EXTENDED_DATA messages for data, cut to the
        peer's maximum packet."""
        step = self.remote_max_packet
        rid = uint32(self.remote_id)
        head = byte(MSG_CHANNEL_EXTENDED_DATA) + rid + uint32(ext) if ext else byte(MSG_CHANNEL_DATA) + rid
        out = []
        mv = memoryview(data)
        for i in range(0, len(mv), step):
            chunk = mv[i:i + step]
            out.append((head + uint32(len(chunk)), chunk))
        return out

    def eof_message(self) -> bytes:
        self.eof_sent = True
        return byte(MSG_CHANNEL_EOF) + uint32(self.remote_id)

    def close_message(self) -> bytes:
        self.close_sent = True
        return byte(MSG_CHANNEL_CLOSE) + uint32(self.remote_id)

    def request_message(self, request: bytes, want_reply: bool, data: bytes = b"") -> bytes:
        return (byte(MSG_CHANNEL_REQUEST) + uint32(self.remote_id) + string(request)
                + boolean(want_reply) + data)

    # ---- receiving ----
    def received(self, n: int) -> bool:
        """Account n bytes received; False if they overrun the local window."""
        if n > self.local_window:
            return False
        self.local_window -= n
        return True

    def consumed(self, n: int) -> Optional[bytes]:
        """The application has used n bytes: a WINDOW_ADJUST once half the window is used."""
        self.unacked += n
        if self.unacked >= self.local_window_size // 2 and self.state == "open" and not self.close_sent:
            grow, self.unacked = self.unacked, 0
            self.local_window += grow
            return byte(MSG_CHANNEL_WINDOW_ADJUST) + uint32(self.remote_id) + uint32(grow)
        return None


# ---- session requests (RFC 4254 section 6) ----


def pty_request(term: str, cols: int, rows: int, width_px: int = 0, height_px: int = 0,
                modes: bytes = b"") -> bytes:
    """The pty-req data: terminal type, size in characters and pixels, encoded modes."""
    return (string(term) + uint32(cols) + uint32(rows) + uint32(width_px) + uint32(height_px)
            + string(modes + _TERMINAL_MODES_END))


def window_change(cols: int, rows: int, width_px: int = 0, height_px: int = 0) -> bytes:
    return uint32(cols) + uint32(rows) + uint32(width_px) + uint32(height_px)


def direct_tcpip(host: str, port: int, orig_host: str, orig_port: int) -> bytes:
    """The extra data of a direct-tcpip open (RFC 4254 section 7.2)."""
    return string(host) + uint32(port) + string(orig_host) + uint32(orig_port)


def direct_streamlocal(path: str) -> bytes:
    """The extra data of a direct-streamlocal@openssh.com open (OpenSSH's PROTOCOL 2.4)."""
    return string(path) + string(b"") + uint32(0)
