"""The asyncio front end of the SSH client: sockets, timeouts, streams and processes around
the protocol core (connection.py).

``async with connect(host, username=..., ...) as conn`` gives an :class:`SSHClientConnection`;
``await conn.run(cmd)`` runs a command to completion, ``await conn.create_process(cmd)``
gives stdin/stdout/stderr streams, ``await conn.forward_local_port(...)`` listens locally
and forwards through direct-tcpip channels.
"""

import asyncio
import codecs
import inspect
import os
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import (TYPE_CHECKING, Any, Callable, Coroutine, Deque, Dict, Generator, List, Literal, Mapping,
                    Optional, Sequence, Set, Tuple, Union, overload)

from M2Sec.SSH import channel as ch
from M2Sec.SSH import connection as core
from M2Sec.SSH import kex as _kex
from M2Sec.SSH.errors import (BY_APPLICATION, PROTOCOL_ERROR, ChannelOpenError, ChannelRequestError, ConnectionLost,
                              ConnectTimeout, DisconnectError, HostKeyNotVerifiable, ProcessError, SSHKeyError)

if TYPE_CHECKING:  # imported where used (the SFTP client loads on demand)
    from M2Sec.SSH.sftp_client import _SFTPStarter

KeyArg = Union[str, "os.PathLike[str]", Any]

# ---- host key policy -----------------------------------------------------------------------


def _default_known_hosts() -> Optional[str]:
    path = os.path.expanduser("~/.ssh/known_hosts")
    return path if os.path.exists(path) else None


def _expand(path_or_key: Any) -> Any:
    """A str path with ``~`` expanded; a key object or other path as it is."""
    return os.path.expanduser(path_or_key) if isinstance(path_or_key, str) else path_or_key


def _load_keys(client_keys: Optional[Sequence[KeyArg]], passphrase: Any) -> List[Any]:
    from M2Sec.SSH import keys
    out = []
    for k in client_keys or ():
        if isinstance(k, str):
            k = os.path.expanduser(k)
        if isinstance(k, tuple):
            key_arg, cert_arg = (_expand(x) for x in k)
            key = key_arg if hasattr(key_arg, "sign") else keys.load_private_key(key_arg, passphrase)
            cert = cert_arg if hasattr(cert_arg, "sign") else keys.load_certificate(cert_arg)
            out.append(cert.with_private_key(key))
        elif hasattr(k, "sign"):
            out.append(k)
        else:
            key = keys.load_private_key(k, passphrase)
            certpath = (os.fspath(k) + "-cert.pub") if isinstance(k, (str, os.PathLike)) else None
            if certpath and os.path.exists(certpath):
                out.append(keys.load_certificate(certpath, key))
            out.append(key)
    return out


# ---- results ---------------------------------------------------------------------------------


@dataclass
class SSHCompletedProcess:
    """What :meth:`SSHClientConnection.run` returns."""

    command: Optional[str]
    exit_status: Optional[int]
    exit_signal: Optional[Tuple[str, bool, str, str]]
    stdout: Union[bytes, str]
    stderr: Union[bytes, str]

    @property
    def returncode(self) -> Optional[int]:
        """The exit status, or minus the signal number (-1 if the name is unknown)."""
        if self.exit_status is not None:
            return self.exit_status
        if self.exit_signal is not None:
            import signal as _signal
            return -int(getattr(_signal, "SIG" + self.exit_signal[0], 1))
        return None


# ---- streams ---------------------------------------------------------------------------------


class SSHReader:
    """The read side of a channel's stdout or stderr, asyncio.StreamReader-like.

    Data is returned as bytes, or str when the process has an encoding.  Reading opens the
    channel's window again: a reader that stops reading stops the server's sending.
    """

    def __init__(self, chan: "_ChannelIO", encoding: Optional[str], errors: str) -> None:
        self._chan = chan
        self._buf: Deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._waiter: Optional[asyncio.Future[None]] = None
        self._decoder = codecs.getincrementaldecoder(encoding)(errors) if encoding else None
        self._exc: Optional[BaseException] = None

    def _feed(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        self._wake()

    def _feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _set_exception(self, exc: BaseException) -> None:
        self._exc = exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def _wait(self) -> None:
        if self._exc is not None and not self._eof:
            raise self._exc
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._exc is not None and not self._size and not self._eof:
            raise self._exc

    def _take(self, n: int) -> bytes:
        if n < 0 or n >= self._size:
            data = b"".join(self._buf) if len(self._buf) != 1 else self._buf[0]
            self._buf.clear()
        else:
            parts, got = [], 0
            while got < n:
                part = self._buf.popleft()
                if got + len(part) > n:
                    cut = n - got
                    self._buf.appendleft(part[cut:])
                    part = part[:cut]
                parts.append(part)
                got += len(part)
            data = b"".join(parts)
        self._size -= len(data)
        self._chan._consumed(len(data))
        return data

    def _out(self, data: bytes, final: bool = False) -> Any:
        if self._decoder is None:
            return data
        return self._decoder.decode(data, final)

    def at_eof(self) -> bool:
        return self._eof and not self._size

    async def read(self, n: int = -1) -> Any:
        """Up to n bytes (all until EOF if n < 0); empty at EOF."""
        if n == 0:
            return self._out(b"")
        if n < 0:
            # take what arrives as it arrives: the window opens again while reading to EOF
            parts = []
            while True:
                if self._size:
                    parts.append(self._take(-1))
                if self._eof:
                    break
                await self._wait()
            return self._out(b"".join(parts), True)
        while not self._size and not self._eof:
            await self._wait()
        return self._out(self._take(n), self._eof and n >= self._size)

    async def readexactly(self, n: int) -> Any:
        while self._size < n:
            if self._eof:
                raise asyncio.IncompleteReadError(self._take(-1), n)
            await self._wait()
        return self._out(self._take(n))

    async def readline(self) -> Any:
        """One line with its newline (or what is left at EOF)."""
        while True:
            joined = b"".join(self._buf)
            if len(self._buf) > 1:
                self._buf.clear()
                self._buf.append(joined)
            i = joined.find(b"\n")
            if i >= 0:
                return self._out(self._take(i + 1))
            if self._eof:
                return self._out(self._take(-1), True)
            await self._wait()

    def __aiter__(self) -> "SSHReader":
        return self

    async def __anext__(self) -> Any:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line


class SSHWriter:
    """The stdin side of a channel, asyncio.StreamWriter-like: write() queues, drain() waits
    until the peer's window has taken what was queued."""

    def __init__(self, chan: "_ChannelIO", encoding: Optional[str], errors: str, ext: int = 0) -> None:
        self._chan = chan
        self._encoding = encoding
        self._errors = errors
        self._ext = ext

    def write(self, data: Any) -> None:
        if isinstance(data, str):
            data = data.encode(self._encoding or "utf-8", self._errors)
        self._chan.write(data, self._ext)

    def writelines(self, lines: Sequence[Any]) -> None:
        for line in lines:
            self.write(line)

    async def drain(self) -> None:
        await self._chan.drain()

    def write_eof(self) -> None:
        self._chan.write_eof()

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self._chan.write_eof()

    def is_closing(self) -> bool:
        return self._chan.eof_pending or self._chan.c.eof_sent


# ---- channels --------------------------------------------------------------------------------


class _ChannelIO:
    """The front end's half of one channel: futures and buffers around the core's Channel."""

    def __init__(self, conn: "SSHConnection", c: ch.Channel, encoding: Optional[str] = None,
                 errors: str = "strict", on_data: Optional[Callable[[bytes, int], None]] = None) -> None:
        loop = asyncio.get_running_loop()
        self.conn = conn
        self.c = c
        c.app = self
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.replies: Deque[asyncio.Future[bool]] = deque()
        self.stdout = SSHReader(self, encoding, errors)
        self.stderr = SSHReader(self, encoding, errors)
        self.on_data = on_data
        self._pending: Deque[Tuple[memoryview, int]] = deque()
        self._pending_size = 0
        self.eof_pending = False
        self._drained: Optional[asyncio.Future[None]] = None
        self.error: Optional[BaseException] = None

    # events from the core
    def on_event(self, ev: core.Event) -> None:
        if isinstance(ev, core.ChannelData):
            if self.on_data is not None:
                self.on_data(ev.data, ev.ext)
            else:
                (self.stderr if ev.ext == ch.EXTENDED_DATA_STDERR else self.stdout)._feed(ev.data)
        elif isinstance(ev, core.ChannelWindow):
            self.pump()
        elif isinstance(ev, core.ChannelOpened):
            if not self.opened.done():
                self.opened.set_result(None)
        elif isinstance(ev, core.ChannelOpenFailed):
            if not self.opened.done():
                self.opened.set_exception(ChannelOpenError(ev.code, ev.reason))
            self._finish(ChannelOpenError(ev.code, ev.reason))
        elif isinstance(ev, core.ChannelReply):
            if self.replies:
                f = self.replies.popleft()
                if not f.done():
                    f.set_result(ev.success)
        elif isinstance(ev, core.ChannelEOF):
            self.stdout._feed_eof()
            self.stderr._feed_eof()
        elif isinstance(ev, core.ChannelClosed):
            self._finish(None)

    def _finish(self, exc: Optional[BaseException]) -> None:
        if exc is not None:
            self.error = exc
            self.stdout._set_exception(exc)
            self.stderr._set_exception(exc)
        self.stdout._feed_eof()
        self.stderr._feed_eof()
        for f in self.replies:
            if not f.done():
                f.set_exception(exc or ChannelRequestError("the channel closed"))
        self.replies.clear()
        if self._drained is not None and not self._drained.done():
            if exc is not None:
                self._drained.set_exception(exc)
            else:
                self._drained.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self._finish(exc)

    # requests
    @overload
    def request(self, name: bytes, data: bytes = ..., want_reply: Literal[True] = ...) -> "asyncio.Future[bool]": ...
    @overload
    def request(self, name: bytes, data: bytes, want_reply: Literal[False]) -> None: ...
    @overload
    def request(self, name: bytes, data: bytes = ..., want_reply: bool = ...) -> "Optional[asyncio.Future[bool]]": ...

    def request(self, name: bytes, data: bytes = b"", want_reply: bool = True) -> "Optional[asyncio.Future[bool]]":
        """Send a channel request; the future of its reply (True: success), None without want_reply."""
        self.conn._core.channel_request(self.c, name, data, want_reply)
        fut: "Optional[asyncio.Future[bool]]" = None
        if want_reply:
            fut = asyncio.get_running_loop().create_future()
            self.replies.append(fut)
        self.conn._flush()
        return fut

    # writing
    def write(self, data: bytes, ext: int = 0) -> None:
        if self.eof_pending or not self.c.can_send():
            raise BrokenPipeError("the channel's input is closed")
        if data:
            if not isinstance(data, bytes):
                data = bytes(data)  # the caller may reuse its buffer once write() returns
            self._pending.append((memoryview(data), ext))
            self._pending_size += len(data)
            self.pump()

    def write_eof(self) -> None:
        if not self.eof_pending:
            self.eof_pending = True
            self.pump()

    def pump(self) -> None:
        """Send what is queued as far as the peer's window and the transport allow."""
        conn = self.conn
        if conn._paused:
            return
        core_ = conn._core
        c = self.c
        sent = False
        while self._pending and c.remote_window > 0 and c.can_send():
            head, ext = self._pending[0]
            n = core_.send_data(c, head, ext)
            sent = True
            self._pending_size -= n
            if n == len(head):
                self._pending.popleft()
            else:
                self._pending[0] = (head[n:], ext)
                break
        if not self._pending and self.eof_pending and c.can_send():
            core_.send_eof(c)
            sent = True
        if not self._pending and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if sent:
            conn._flush()

    async def drain(self) -> None:
        if self.error is not None:
            raise self.error
        if not self._pending:
            return
        self._drained = asyncio.get_running_loop().create_future()
        await self._drained

    def _consumed(self, n: int) -> None:
        if n and self.c.state == "open":
            self.conn._core.consumed(self.c, n)
            self.conn._flush()

    def close(self) -> None:
        if self.c.state == "open" and not self.c.close_sent and self.conn._core.state != "closed":
            self.conn._core.close_channel(self.c)
            self.conn._flush()


class SSHClientProcess:
    """A remote command, shell or subsystem on a session channel.

    :attr:`stdin` is an :class:`SSHWriter`, :attr:`stdout` and :attr:`stderr`
    :class:`SSHReader` s.  :meth:`wait` waits for the channel to close and gives an
    :class:`SSHCompletedProcess`.
    """

    def __init__(self, io: _ChannelIO, command: Optional[str], encoding: Optional[str], errors: str) -> None:
        self._io = io
        self.command = command
        self.stdin = SSHWriter(io, encoding, errors)
        self.stdout = io.stdout
        self.stderr = io.stderr
        self._encoding = encoding

    @property
    def exit_status(self) -> Optional[int]:
        return self._io.c.exit_status

    @property
    def exit_signal(self) -> Optional[Tuple[str, bool, str, str]]:
        return self._io.c.exit_signal

    @property
    def returncode(self) -> Optional[int]:
        return self._result(b"", b"").returncode

    def _result(self, out: Any, err: Any) -> SSHCompletedProcess:
        return SSHCompletedProcess(self.command, self.exit_status, self.exit_signal, out, err)

    async def communicate(self, input: Any = None) -> Tuple[Any, Any]:
        """Send input (then EOF), read stdout and stderr to the end, wait for the close."""
        if input:
            self.stdin.write(input)
        self.stdin.write_eof()
        out, err = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self._io.closed
        if self._io.error is not None:
            raise self._io.error
        return out, err

    async def wait(self, check: bool = False) -> SSHCompletedProcess:
        """Read what is left, wait for the channel to close; ProcessError with check when the
        command failed."""
        out, err = await asyncio.gather(self.stdout.read(), self.stderr.read())
        await self._io.closed
        result = self._result(out, err)
        if check and result.returncode != 0:
            raise ProcessError(result)
        return result

    def change_terminal_size(self, cols: int, rows: int, width_px: int = 0, height_px: int = 0) -> None:
        self._io.request(b"window-change", ch.window_change(cols, rows, width_px, height_px), False)

    def send_signal(self, signal: str) -> None:
        """Send a signal by name without "SIG" (``TERM``, ``INT``, ``KILL``)."""
        from M2Sec.SSH.packet import string
        self._io.request(b"signal", string(signal), False)

    def terminate(self) -> None:
        self.send_signal("TERM")

    def kill(self) -> None:
        self.send_signal("KILL")

    def close(self) -> None:
        self._io.close()

    async def wait_closed(self) -> None:
        await self._io.closed

    async def __aenter__(self) -> "SSHClientProcess":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


# ---- forwarding -------------------------------------------------------------------------------


def _port_of(server: asyncio.Server) -> int:
    """The port a listening server's first socket is bound to."""
    port: int = server.sockets[0].getsockname()[1]
    return port


class SSHListener:
    """A local listening socket forwarding each connection through a direct-tcpip channel."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server

    def get_port(self) -> int:
        return _port_of(self._server)

    def close(self) -> None:
        self._server.close()

    async def wait_closed(self) -> None:
        await self._server.wait_closed()

    async def __aenter__(self) -> "SSHListener":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


class SSHRemoteListener:
    """A port the server listens on for this client (:meth:`SSHClientConnection.forward_remote_port`)."""

    def __init__(self, conn: "SSHClientConnection", host: str, port: int) -> None:
        self._conn = conn
        self.host = host
        self.port = port
        self._closed = False

    def get_port(self) -> int:
        return self.port

    def close(self) -> None:
        """Stop the forward (cancel-tcpip-forward)."""
        if self._closed:
            return
        self._closed = True
        conn = self._conn
        conn._remote_forwards.pop((self.host, self.port), None)
        if conn.error is None and conn._core.state == "open":
            from M2Sec.SSH.packet import string, uint32
            if self.port:  # a TCP forward (a UNIX socket forward has no port)
                conn._core.global_request(b"cancel-tcpip-forward", string(self.host) + uint32(self.port), False)
            else:
                conn._core.global_request(b"cancel-streamlocal-forward@openssh.com", string(self.host), False)
            conn._flush()

    async def wait_closed(self) -> None:
        pass

    async def __aenter__(self) -> "SSHRemoteListener":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


async def pipe(io: "_ChannelIO", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy a TCP connection (reader, writer) and a channel both ways until both ends close."""

    async def upstream() -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                io.write(data)
                await io.drain()
            io.write_eof()
        except (OSError, DisconnectError, BrokenPipeError):
            io.close()

    async def downstream() -> None:
        try:
            while True:
                data = await io.stdout.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, DisconnectError):
            pass

    try:
        await asyncio.gather(upstream(), downstream())
        io.close()  # both ways done: close as sshd does (the peer may wait for it)
        await io.closed
    finally:
        io.close()
        writer.close()


async def connect_channel(conn: "SSHConnection", c: ch.Channel, host: str, port: int) -> None:
    """Answer a channel the peer opened towards host:port (forwarded-tcpip on the client,
    direct-tcpip on the server): connect, confirm and pipe, or refuse with CONNECT_FAILED."""
    await answer_channel(conn, c, lambda: asyncio.open_connection(host, port), "%s port %d" % (host, port))


async def answer_channel(conn: "SSHConnection", c: ch.Channel, opener: Callable[[], Any], what: str) -> None:
    """Answer a channel the peer opened: opener() gives the local (reader, writer) to pipe it
    to (a TCP or UNIX socket, the agent); refused with CONNECT_FAILED when that fails."""
    try:
        reader, writer = await opener()
    except OSError as e:
        if c.state == "opening" and conn._core.state == "open":
            conn._core.reject_channel(c, ch.OPEN_CONNECT_FAILED, "cannot connect to %s: %s"
                                      % (what, e.strerror or e))
            conn._flush()
        return
    if c.state != "opening" or conn._core.state != "open":
        writer.close()
        return
    io = _ChannelIO(conn, c)
    conn._core.accept_channel(c)
    io.opened.set_result(None)
    conn._flush()
    await pipe(io, reader, writer)


#: the channel type an agent connection arrives on (agent forwarding, OpenSSH's PROTOCOL)
AGENT_CHANNEL = b"auth-agent@openssh.com"


# ---- the connection -------------------------------------------------------------------------


class _Protocol(asyncio.Protocol):
    conn: "SSHConnection"

    def __init__(self, conn: "SSHConnection") -> None:
        self.conn = conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # a stream protocol gets a stream transport
            raise TypeError("an SSH connection runs on a stream transport, not %r" % (transport,))
        self.conn._connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.conn._data_received(data)

    def eof_received(self) -> Optional[bool]:
        self.conn._data_received(b"")
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.conn._connection_lost(exc)

    def pause_writing(self) -> None:
        self.conn._paused = True

    def resume_writing(self) -> None:
        self.conn._paused = False
        self.conn._pump_all()


class SSHConnection:
    """What an SSH connection on asyncio is in either role (asyncssh's name): the transport
    plumbing around a protocol core, channels, keepalives, introspection and closing.
    :class:`SSHClientConnection` (below) and ``SSHServerConnection`` (_asyncio_server.py) are
    its two sides, each handling the events of its role in :meth:`_handle_event`.
    """

    def __init__(self, core_: core.Connection) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._core = core_
        self._transport: Optional[asyncio.Transport] = None
        self._paused = False
        self._authenticated: asyncio.Future[bytes] = loop.create_future()
        self._closed: asyncio.Future[None] = loop.create_future()
        self._global: Deque[asyncio.Future[Tuple[bool, bytes]]] = deque()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._listeners: List[Any] = []
        self._tasks: Set["asyncio.Task[Any]"] = set()
        self.error: Optional[BaseException] = None
        self.banners: List[str] = []
        #: connections this one runs through and closes with it (ProxyJump hops)
        self._owned: List[Any] = []
        self._proxy_proc: Any = None
        #: (interval, count_max) of keepalive requests; interval 0: none
        self._keepalive: Tuple[float, int] = (0.0, 3)
        self._unanswered = 0
        self._keepalive_timer: Optional[asyncio.TimerHandle] = None

    # ---- properties ----
    @property
    def negotiated(self) -> Dict[str, bytes]:
        """The algorithms of the last key exchange: kex, host_key, cipher_out/in, mac_out/in, ..."""
        return self._core.negotiated

    # ---- the transport side ----
    def _connection_made(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # a vanished peer is found
            except OSError:
                pass
        self._flush()
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        secs = self._core.config.rekey_seconds
        if secs and secs < 1e9:
            self._timer = self._loop.call_later(min(secs, 60.0), self._tick)

    def _tick(self) -> None:
        if self._core.state == "closed":
            return
        self._core.tick(self._loop.time())
        self._flush()
        self._schedule_tick()

    def _flush(self) -> None:
        data = self._core.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _data_received(self, data: bytes) -> None:
        self._unanswered = 0  # the peer is alive
        self._core.wall_time = time.time()
        try:
            events = self._core.receive(data)
        except DisconnectError as e:
            self._flush()
            self._abort(e)
            return
        except Exception as e:  # a bug or a callback's error: the connection cannot go on
            self._core.disconnect(PROTOCOL_ERROR, "internal error")
            self._flush()
            self._abort(e)
            return
        for ev in events:
            self._handle_event(ev)
        self._flush()

    def _handle_event(self, ev: core.Event) -> None:
        c = getattr(ev, "channel", None)
        if c is not None:
            if c.app is not None:
                c.app.on_event(ev)
        elif isinstance(ev, core.Authenticated):
            if not self._authenticated.done():
                self._authenticated.set_result(ev.method)
        elif isinstance(ev, core.Banner):
            self.banners.append(ev.text)
        elif isinstance(ev, core.GlobalReply):
            if self._global:
                self._global.popleft().set_result((ev.success, ev.data))

    def _spawn(self, coro: Any) -> "asyncio.Task[Any]":
        """A task the connection keeps until it ends (asyncio holds tasks only weakly)."""
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _pump_all(self) -> None:
        for c in list(self._core._channels.values()):
            if c.app is not None:
                c.app.pump()

    def _abort(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self._authenticated.done():
            self._authenticated.set_exception(exc)
            self._authenticated.exception()
        for c in list(self._core._channels.values()):
            if c.app is not None:
                c.app.fail(exc)
        for f in self._global:
            if not f.done():
                f.set_exception(exc)
        if self._transport is not None:
            self._transport.close()
        if self._timer is not None:
            self._timer.cancel()
        for listener in self._listeners:
            listener.close()
        self._release()

    def _release(self) -> None:
        """Stop keepalives, close the hops this connection ran through, end a ProxyCommand."""
        if self._keepalive_timer is not None:
            self._keepalive_timer.cancel()
        for other in self._owned:
            other.close()
        self._owned = []
        proc, self._proxy_proc = self._proxy_proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2)
            except Exception:
                proc.kill()
                proc.wait()

    def _connection_lost(self, exc: Optional[Exception]) -> None:
        err = self.error
        if err is None:
            err = ConnectionLost("the connection was lost%s" % (": %s" % exc if exc else ""), local=False)
            if self._core.state == "closed" and self._core.error is not None:
                err = self._core.error
        self._abort(err)  # also after close(): what still waits on a channel is told
        if not self._closed.done():
            self._closed.set_result(None)

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    # ---- liveness ----
    def _start_keepalive(self) -> None:
        interval = self._keepalive[0]
        if interval > 0 and self.error is None:
            self._keepalive_timer = self._loop.call_later(interval, self._keepalive_tick)

    def _keepalive_tick(self) -> None:
        """Ask for a reply (keepalive@openssh.com, as ssh's ServerAliveInterval) after a quiet
        interval; end the connection when keepalive_count_max went unanswered."""
        if self.error is not None or self._core.state != "open":
            return
        interval, count_max = self._keepalive
        if self._unanswered >= count_max:
            self._abort(ConnectionLost("no answer from the peer to %d keepalives %s seconds apart"
                                       % (count_max, interval), local=True))
            return
        self._unanswered += 1
        fut = self._loop.create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody awaits it
        self._global.append(fut)
        self._core.global_request(b"keepalive@openssh.com", b"", True)
        self._flush()
        self._start_keepalive()

    # ---- introspection (asyncssh's names) ----
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """What is known of the connection: ``peername``, ``sockname``, ``client_version``,
        ``server_version``, ``kex_alg``, ``server_host_key_alg``, ``send_cipher``,
        ``send_mac``, ``send_compression``, ``recv_cipher``, ``recv_mac``,
        ``recv_compression``, ``username``, ``host``, ``port``, or default."""
        n = self._core.negotiated
        names = {"kex_alg": "kex", "server_host_key_alg": "host_key", "send_cipher": "cipher_out",
                 "recv_cipher": "cipher_in", "send_mac": "mac_out", "recv_mac": "mac_in",
                 "send_compression": "comp_out", "recv_compression": "comp_in"}
        if name in names:
            alg = n.get(names[name])
            return alg.decode() if alg is not None else default
        if name in ("peername", "sockname", "socket"):
            t = self._transport
            return t.get_extra_info(name, default) if t is not None else default
        core_ = self._core
        values = {"client_version": getattr(core_, "client_version", None) or getattr(core_.config, "client_version", None),
                  "server_version": getattr(core_, "server_version", None),
                  "username": getattr(core_.config, "username", None),
                  "host": getattr(core_.config, "host", None), "port": getattr(core_.config, "port", None)}
        value = values.get(name)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        return default if value is None else value

    # ---- sessions ----
    def _give(self, answer: Callable[..., List[core.Event]], *args: Any) -> None:
        """Hand the application's answer to the core (answer(*args)) and handle what follows."""
        if self.error is not None or self._core.state == "closed":
            return
        try:
            events = answer(*args)
        except DisconnectError as e:
            self._flush()
            self._abort(e)
            return
        for ev in events:
            self._handle_event(ev)
        self._flush()

    def _channel_for(self, kind: bytes, extra: Callable[[Tuple[str, int]], bytes]) -> Callable[..., Any]:
        """A stream server's handler: each connection it accepts opens a channel of kind (its
        extra data made from the connection's peer address) and is piped to it."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            if not isinstance(peer, tuple):  # a UNIX socket's peer has no address
                peer = ("127.0.0.1", 0)
            try:
                io = await self._open(kind, extra(peer))
            except Exception:
                writer.close()
                return
            await pipe(io, reader, writer)
        return handle

    async def _open(self, kind: bytes, extra: bytes = b"", **kw: Any) -> _ChannelIO:
        self._check()
        c = self._core.open_channel(kind, extra)
        io = _ChannelIO(self, c, **kw)
        self._flush()
        await io.opened
        return io

    # ---- the end ----
    def rekey(self) -> None:
        """Start a key exchange now."""
        self._core.rekey()
        self._flush()

    def close(self) -> None:
        """Send DISCONNECT and close the socket."""
        if self._core.state != "closed":
            self._core.disconnect(BY_APPLICATION, "closed by the application")
            self._flush()
        if self.error is None:
            self.error = ConnectionLost("the connection was closed by the application", local=True)
        if self._transport is not None:
            self._transport.close()
        for listener in self._listeners:
            listener.close()
        if self._timer is not None:
            self._timer.cancel()
        self._release()

    async def wait_closed(self) -> None:
        await self._closed

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


class SSHClientConnection(SSHConnection):
    """An SSH client connection on asyncio (made by :func:`connect`): sessions, forwarding,
    agent and X11 forwarding, host keys learned; its sibling on the server is
    ``SSHServerConnection``."""

    _core: core.ClientConnection

    def __init__(self, config: Any) -> None:
        super().__init__(core.ClientConnection(config, now=asyncio.get_running_loop().time()))
        self._remote_forwards: Dict[Tuple[str, int], Tuple[str, int]] = {}
        #: the agent socket that auth-agent@openssh.com channels reach (agent forwarding)
        self._agent_forward_path: Optional[str] = None
        #: (display, fake cookie, screen, real cookie) when X11 connections are forwarded
        self._x11: Optional[Tuple[str, bytes, int, Optional[bytes]]] = None
        #: (KnownHosts, host, port, hashed) when the server's other host keys are learned
        self._update_host_keys: Optional[Tuple[Any, str, int, bool]] = None

    def _handle_event(self, ev: core.Event) -> None:
        if isinstance(ev, core.ChannelOpenRequest):
            self._channel_open_requested(ev.channel, ev.extra)
        elif isinstance(ev, core.SignatureRequest):
            self._spawn(self._sign_for_auth(ev))
        elif isinstance(ev, core.HostKeyCheck):
            self._decide(self._core.config.host_key_check, (ev.key,), self._core.host_key_checked, verdict=True)
        elif isinstance(ev, core.KbdIntPrompt):
            self._decide(self._core.config.kbdint, (ev.name, ev.instruction, ev.prompts), self._core.decision_done)
        elif isinstance(ev, core.PasswordChangePrompt):
            self._decide(self._core.config.password_change, (ev.prompt,), self._core.decision_done)
        elif isinstance(ev, core.HostKeysAnnounced):
            self._learn_host_keys(ev.blobs)
        else:
            super()._handle_event(ev)

    @property
    def server_version(self) -> bytes:
        return self._core.server_version

    @property
    def host_key(self) -> Any:
        return self._core.host_key

    def _learn_host_keys(self, blobs: List[bytes]) -> None:
        """update_host_keys: ask the server to prove the host keys known_hosts lacks, then
        record them (OpenSSH's UpdateHostKeys)."""
        learn = self._update_host_keys
        if learn is None:
            return
        from M2Sec.SSH import keys
        kh, host, port, hashed = learn
        known = {e.blob for e in kh.lookup(host, port) if e.marker is None}
        new = []
        for blob in blobs:
            try:
                keys.decode_public_blob(blob)
            except (ValueError, SSHKeyError):
                continue  # a key type M2Sec cannot check
            if blob not in known:
                new.append(blob)
        if not new or self.error is not None:
            return
        fut: asyncio.Future[Tuple[bool, bytes]] = self._loop.create_future()
        self._global.append(fut)
        self._core.hostkeys_prove_request(new)
        self._flush()

        def proven(f: "asyncio.Future[Tuple[bool, bytes]]") -> None:
            if f.cancelled() or f.exception() is not None or not f.result()[0]:
                return
            try:
                proved = self._core.hostkeys_proven(new, f.result()[1])
            except (DisconnectError, ValueError):
                return  # a bad proof: nothing is learned
            for key in proved:
                kh.add(host, port, key, hashed=hashed)
            try:
                kh.save()
            except OSError:
                pass
        fut.add_done_callback(proven)

    def _decide(self, fn: Optional[Callable[..., Any]], args: Tuple[Any, ...],
                answer: Callable[..., List[core.Event]], verdict: bool = False) -> None:
        """Ask the application (fn may be a plain function or a coroutine function) and give
        the core its answer: a value, or for a host key verdict the exception it raised."""
        try:
            if fn is None:  # the core asks only when the configuration has the callback
                raise TypeError("no callback to decide %r" % (args,))
            result = fn(*args)
        except Exception as e:
            if not verdict:
                raise
            self._give(answer, e)
            return
        if inspect.isawaitable(result):
            self._spawn(self._decide_later(result, answer, verdict))
        else:
            self._give(answer, None if verdict else result)

    async def _decide_later(self, pending: Any, answer: Callable[..., List[core.Event]], verdict: bool) -> None:
        try:
            value = await pending
        except Exception as e:
            if verdict:
                self._give(answer, e)
            else:
                self._core.disconnect(PROTOCOL_ERROR, "internal error")
                self._flush()
                self._abort(e)
            return
        self._give(answer, None if verdict else value)

    async def _sign_for_auth(self, ev: core.SignatureRequest) -> None:
        """Ask a key outside the core (an agent's) for the authentication signature."""
        from M2Sec.SSH.errors import SSHError
        try:
            sig: Optional[bytes] = await ev.key.sign_async(ev.data, ev.algorithm)
        except (SSHError, OSError):
            sig = None  # the agent failed or went away: the next key or method is tried
        self._give(self._core.decision_done, sig)

    def _channel_open_requested(self, c: ch.Channel, extra: bytes) -> None:
        """A channel from the server: a forwarded-tcpip or forwarded-streamlocal connection
        (to the forward's destination) or an agent connection (to the local agent)."""
        from M2Sec.SSH.packet import SSHReader as WireReader
        if c.kind == b"x11":
            if self._x11 is None:
                self._core.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "X11 forwarding is off")
                return
            self._spawn(self._x11_channel(c))
            return
        if c.kind == AGENT_CHANNEL:
            path = self._agent_forward_path
            if path is None:
                self._core.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "agent forwarding is off")
                return
            self._spawn(answer_channel(self, c, lambda: asyncio.open_unix_connection(path), "the agent"))
            return
        try:
            r = WireReader(extra)
            addr = r.get_text()
            port = r.get_uint32() if c.kind == b"forwarded-tcpip" else 0
        except ValueError:
            self._core.reject_channel(c, ch.OPEN_CONNECT_FAILED, "malformed %s" % c.kind.decode(errors="replace"))
            return
        dest = self._remote_forwards.get((addr, port))
        if dest is None:
            self._core.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "no such forward")
            return
        if c.kind == b"forwarded-tcpip":
            self._spawn(connect_channel(self, c, dest[0], dest[1]))
        else:
            target = str(dest[0])
            self._spawn(answer_channel(self, c, lambda: asyncio.open_unix_connection(target), target))

    async def _x11_channel(self, c: ch.Channel) -> None:
        """An X connection from the server: to the local display, the fake cookie replaced."""
        from M2Sec.SSH import x11
        assert self._x11 is not None
        display, fake, _screen, real = self._x11
        try:
            reader, writer = await x11.open_display(display)
        except OSError as e:
            if c.state == "opening" and self._core.state == "open":
                self._core.reject_channel(c, ch.OPEN_CONNECT_FAILED, "cannot open display %s: %s" % (display, e))
                self._flush()
            return
        io = _ChannelIO(self, c)
        self._core.accept_channel(c)
        io.opened.set_result(None)
        self._flush()
        try:
            head = await io.stdout.readexactly(12)
            rest = await io.stdout.readexactly(x11.setup_length(head) - 12)
            writer.write(x11.replace_cookie(head + rest, fake, real))
        except (x11.X11Error, asyncio.IncompleteReadError, DisconnectError):
            io.close()
            writer.close()
            return
        await pipe(io, reader, writer)

    async def create_process(self, command: Optional[str] = None, *, subsystem: Optional[str] = None,
                             env: Optional[Mapping[str, str]] = None, term_type: Optional[str] = None,
                             term_size: Optional[Tuple[int, int]] = None, encoding: Optional[str] = None,
                             errors: str = "strict", request_pty: Optional[bool] = None) -> SSHClientProcess:
        """Start command (or a shell when None, or subsystem) on a new session channel.

        :param env: environment variables to ask for (the server may refuse them silently).
        :param term_type: request a pty of this type (``term_size`` (cols, rows)).
        :param encoding: streams in str with this encoding (default: bytes).
        :raises ChannelOpenError: the server refused the session.
        :raises ChannelRequestError: it refused the command, subsystem or pty.
        """
        from M2Sec.SSH.packet import string
        io = await self._open(b"session", encoding=encoding, errors=errors)
        try:
            replies: List[Tuple[bytes, asyncio.Future[bool]]] = []
            if request_pty or (request_pty is None and term_type):
                cols, rows = term_size or (80, 24)
                replies.append((b"pty-req", io.request(b"pty-req", ch.pty_request(term_type or "xterm", cols, rows))))
            for name, value in (env or {}).items():
                io.request(b"env", string(name) + string(value), False)
            if self._agent_forward_path is not None:
                io.request(b"auth-agent-req@openssh.com", b"", False)
            if self._x11 is not None:
                from M2Sec.SSH import x11
                io.request(b"x11-req", x11.x11_request(self._x11[1], self._x11[2]), False)
            if subsystem is not None:
                replies.append((b"subsystem", io.request(b"subsystem", string(subsystem))))
            elif command is not None:
                replies.append((b"exec", io.request(b"exec", string(command))))
            else:
                replies.append((b"shell", io.request(b"shell")))
            for what, fut in replies:
                if not await fut:
                    raise ChannelRequestError("the server refused the %s request" % what.decode())
        except BaseException:
            io.close()
            raise
        return SSHClientProcess(io, command if subsystem is None else subsystem, encoding, errors)

    async def run(self, command: Optional[str] = None, *, input: Any = None, check: bool = False,
                  encoding: Optional[str] = None, errors: str = "strict", **kw: Any) -> SSHCompletedProcess:
        """Run command, send input, and return its output and exit status.

        :param check: raise ProcessError if the command exits non-zero or by a signal.
        :param encoding: decode stdout and stderr (default: bytes).
        """
        proc = await self.create_process(command, encoding=encoding, errors=errors, **kw)
        out, err = await proc.communicate(input)
        result = proc._result(out, err)
        if check and result.returncode != 0:
            raise ProcessError(result)
        return result

    async def open_connection(self, host: str, port: int, *, orig_host: str = "127.0.0.1",
                              orig_port: int = 0) -> Tuple[SSHReader, SSHWriter]:
        """A direct-tcpip channel to host:port as the server sees it, as (reader, writer)."""
        io = await self._open(b"direct-tcpip", ch.direct_tcpip(host, port, orig_host, orig_port))
        return io.stdout, SSHWriter(io, None, "strict")

    async def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                                 dest_port: int) -> SSHListener:
        """Listen on listen_host:listen_port (0: any free port, see get_port()) and forward
        each connection to dest_host:dest_port through the server (direct-tcpip)."""

        handle = self._channel_for(b"direct-tcpip", lambda peer: ch.direct_tcpip(dest_host, dest_port, *peer[:2]))
        server = await asyncio.start_server(handle, listen_host, listen_port)
        listener = SSHListener(server)
        self._listeners.append(listener)
        return listener

    async def _global_request(self, name: bytes, data: bytes) -> Tuple[bool, bytes]:
        self._check()
        fut: asyncio.Future[Tuple[bool, bytes]] = self._loop.create_future()
        self._global.append(fut)
        self._core.global_request(name, data, True)
        self._flush()
        return await fut

    async def forward_remote_port(self, listen_host: str, listen_port: int, dest_host: str,
                                  dest_port: int) -> "SSHRemoteListener":
        """Ask the server to listen on listen_host:listen_port (0: a port it chooses, see
        get_port()) and forward each connection to dest_host:dest_port as this side sees it
        (tcpip-forward, RFC 4254 section 7.1).

        :raises ChannelRequestError: the server refused.
        """
        from M2Sec.SSH.packet import SSHReader as WireReader, string, uint32
        ok, data = await self._global_request(b"tcpip-forward", string(listen_host) + uint32(listen_port))
        if not ok:
            raise ChannelRequestError("the server refused to listen on %s port %d" % (listen_host, listen_port))
        port = listen_port or WireReader(data).get_uint32()
        self._core.channel_open_kinds.add(b"forwarded-tcpip")
        self._remote_forwards[(listen_host, port)] = (dest_host, dest_port)
        listener = SSHRemoteListener(self, listen_host, port)
        self._listeners.append(listener)
        return listener

    async def forward_local_path(self, listen_path: str, dest_path: str) -> SSHListener:
        """Listen on the UNIX socket listen_path and forward each connection to the server's
        UNIX socket dest_path (direct-streamlocal@openssh.com, as ``ssh -L path:path``)."""

        handle = self._channel_for(b"direct-streamlocal@openssh.com", lambda peer: ch.direct_streamlocal(dest_path))
        server = await asyncio.start_unix_server(handle, listen_path)
        listener = SSHListener(server)
        self._listeners.append(listener)
        return listener

    async def forward_remote_path(self, listen_path: str, dest_path: str) -> "SSHRemoteListener":
        """Ask the server to listen on its UNIX socket listen_path and forward each connection
        to the local UNIX socket dest_path (streamlocal-forward@openssh.com, ``ssh -R``).

        :raises ChannelRequestError: the server refused.
        """
        from M2Sec.SSH.packet import string
        ok, _ = await self._global_request(b"streamlocal-forward@openssh.com", string(listen_path))
        if not ok:
            raise ChannelRequestError("the server refused to listen on %s" % listen_path)
        self._core.channel_open_kinds.add(b"forwarded-streamlocal@openssh.com")
        self._remote_forwards[(listen_path, 0)] = (dest_path, 0)
        listener = SSHRemoteListener(self, listen_path, 0)
        self._listeners.append(listener)
        return listener

    async def forward_socks(self, listen_host: str, listen_port: int) -> SSHListener:
        """A SOCKS 4, 4a and 5 proxy on listen_host:listen_port (0: any free port) whose
        CONNECT requests go out through the server (direct-tcpip), as ``ssh -D``."""
        from M2Sec.SSH.socks import SOCKSError, read_request, reply

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
            try:
                version, host, port = await asyncio.wait_for(read_request(reader, writer), 30)
            except (SOCKSError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                writer.close()
                return
            try:
                io = await self._open(b"direct-tcpip", ch.direct_tcpip(host, port, peer[0], peer[1]))
            except Exception:
                writer.write(reply(version, False))
                writer.close()
                return
            writer.write(reply(version, True))
            await pipe(io, reader, writer)

        server = await asyncio.start_server(handle, listen_host, listen_port)
        listener = SSHListener(server)
        self._listeners.append(listener)
        return listener

    # ---- SFTP ----
    def start_sftp_client(self, **kw: Any) -> "_SFTPStarter":
        """An SFTP session (``async with conn.start_sftp_client() as sftp``); see
        :class:`M2Sec.SSH.sftp_client.SFTPClient` for the keyword arguments."""
        from M2Sec.SSH.sftp_client import _SFTPStarter, start_sftp_client
        return _SFTPStarter(start_sftp_client(self, **kw))


class _Connector:
    """The awaitable / async context manager :func:`connect` returns."""

    def __init__(self, coro: Coroutine[Any, Any, SSHClientConnection]) -> None:
        self._coro = coro
        self._conn: Optional[SSHClientConnection] = None

    def __await__(self) -> Generator[Any, Any, SSHClientConnection]:
        return self._coro.__await__()

    async def __aenter__(self) -> SSHClientConnection:
        self._conn = await self._coro
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            await self._conn.__aexit__(*exc)


# ---- a transport over a channel (tunnels, ProxyJump) ----------------------------------------


class _TunnelIO(_ChannelIO):
    """A direct-tcpip channel carrying another SSH connection's bytes."""

    HIGH_WATER = 1 << 20

    def __init__(self, conn: "SSHClientConnection", c: ch.Channel) -> None:
        super().__init__(conn, c, on_data=self._deliver)
        self.protocol: Optional[asyncio.Protocol] = None
        self._writing_paused = False
        # what arrives between the open confirmation and attach() (the server's version line
        # may come in the same read as the confirmation)
        self._early: List[Any] = []

    def attach(self, protocol: asyncio.Protocol, transport: asyncio.BaseTransport) -> None:
        """Start protocol on this channel, giving it what already arrived."""
        self.protocol = protocol
        protocol.connection_made(transport)
        early, self._early = self._early, []
        for item in early:
            if self.protocol is None:
                break
            if isinstance(item, core.Event):
                self.on_event(item)
            else:
                self._deliver(item, 0)

    def _deliver(self, data: bytes, ext: int) -> None:
        if ext:
            self._consumed(len(data))
        elif self.protocol is None:
            self._early.append(bytes(data))
        else:
            self.protocol.data_received(data)
            self._consumed(len(data))

    def on_event(self, ev: core.Event) -> None:
        if self.protocol is None and self._early is not None and isinstance(ev, (core.ChannelEOF,
                                                                                   core.ChannelClosed)):
            super().on_event(ev)
            self._early.append(ev)
            return
        super().on_event(ev)
        if self.protocol is None:
            return
        if isinstance(ev, core.ChannelEOF):
            self.protocol.eof_received()
        elif isinstance(ev, (core.ChannelClosed, core.ChannelOpenFailed)):
            self._lost(None)

    def fail(self, exc: BaseException) -> None:
        super().fail(exc)
        self._lost(exc if isinstance(exc, Exception) else None)

    def _lost(self, exc: Optional[Exception]) -> None:
        p, self.protocol = self.protocol, None
        if p is not None:
            p.connection_lost(exc)

    def pump(self) -> None:
        super().pump()
        p = self.protocol
        if p is None:
            return
        if not self._writing_paused and self._pending_size > self.HIGH_WATER:
            self._writing_paused = True
            p.pause_writing()
        elif self._writing_paused and self._pending_size <= self.HIGH_WATER // 4:
            self._writing_paused = False
            p.resume_writing()


class _TunnelTransport(asyncio.Transport):
    """The asyncio transport an SSH connection runs on when it goes through another one."""

    def __init__(self, io: _TunnelIO, peer: Tuple[str, int]) -> None:
        super().__init__()
        self._io = io
        self._peer = peer
        self._closing = False

    def write(self, data: Any) -> None:
        if not self._closing and data:
            self._io.write(bytes(data))

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._io.close()

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self._peer}.get(name, default)


# ---- connect ------------------------------------------------------------------------------------

_UNSET: Any = object()
#: the identity files tried when neither client_keys nor IdentityFile name any, as ssh does
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
DEFAULT_CONFIG = "~/.ssh/config"
#: the most hops a chain of ProxyJump hosts may have (a loop ends here with an error)
MAX_JUMPS = 8


def connect(host: str, port: int = _UNSET, *, username: Optional[str] = _UNSET, password: Optional[str] = None,
            client_keys: Optional[Sequence[KeyArg]] = _UNSET, passphrase: Any = None,
            known_hosts: Any = _UNSET, kex_algs: Any = _UNSET, encryption_algs: Any = _UNSET,
            mac_algs: Any = _UNSET, server_host_key_algs: Any = _UNSET, compression_algs: Any = _UNSET,
            connect_timeout: Optional[float] = _UNSET, rekey_bytes: int = _UNSET,
            rekey_seconds: float = _UNSET, kbdint_handler: Any = None,
            password_change_handler: Any = None, sock: Optional[socket.socket] = None,
            config: Any = _UNSET, agent_path: Optional[str] = _UNSET, preferred_auth: Any = _UNSET,
            strict_host_key_checking: str = _UNSET, tunnel: Any = _UNSET, proxy_command: Any = _UNSET,
            keepalive_interval: float = _UNSET, keepalive_count_max: int = _UNSET,
            agent_forwarding: bool = _UNSET, update_host_keys: bool = _UNSET,
            hash_known_hosts: bool = _UNSET, x11_forwarding: bool = _UNSET,
            x11_display: Optional[str] = _UNSET) -> _Connector:
    """Connect, exchange keys and authenticate: ``async with connect(...) as conn``.

    Options not given are taken from OpenSSH's configuration for the host (``config``), then
    from OpenSSH's defaults.  ``~`` is expanded in every path.

    :param config: ssh_config files to read (default ``~/.ssh/config``; None or [] for none):
        Hostname, Port, User, IdentityFile, IdentitiesOnly, IdentityAgent, CertificateFile,
        UserKnownHostsFile, StrictHostKeyChecking, HostKeyAlgorithms, KexAlgorithms, Ciphers,
        MACs, Compression, ConnectTimeout, ServerAliveInterval/CountMax, ProxyJump,
        ProxyCommand, RekeyLimit and PreferredAuthentications apply.
    :param known_hosts: a known_hosts path or KnownHosts (default ``~/.ssh/known_hosts``), a
        callable(key) -> bool, or None to accept any host key (insecure, must be asked for).
        The host key algorithms the file lists for the host are preferred in key exchange.
    :param strict_host_key_checking: ``"yes"`` (default: an unknown host fails),
        ``"accept-new"`` (an unknown host's key is added to the known_hosts file; a changed
        key still fails) or ``"no"`` (unknown keys are added, changed keys accepted).
    :param client_keys: private keys: SSHKey objects, paths (a ``-cert.pub`` beside one is
        used too), or (key, certificate) pairs.  ``passphrase`` decrypts the files.  Default:
        the agent's keys, then ``~/.ssh/id_ed25519``, ``id_ecdsa`` and ``id_rsa``.
    :param agent_path: the ssh-agent socket (default ``$SSH_AUTH_SOCK``; None: no agent).
    :param x11_forwarding: forward the X connections of the commands started to the local
        display (``x11_display``, default $DISPLAY; as ``ssh -X``, ForwardX11); the display's
        cookie (``xauth``) stays here, the server gets a fake one.
    :param update_host_keys: learn the server's other host keys into the known_hosts file
        once it proves it holds them (hostkeys-00@openssh.com; OpenSSH's UpdateHostKeys).
    :param hash_known_hosts: names added to known_hosts are hashed (``|1|``, HashKnownHosts).
    :param agent_forwarding: let the processes this connection starts use the agent
        (auth-agent-req@openssh.com, as ``ssh -A``; default: the configuration's ForwardAgent).
    :param preferred_auth: the methods to try, in order (default publickey, password,
        keyboard-interactive).
    :param tunnel: an SSHClientConnection to reach the host through, or a
        ``[user@]host[:port]`` string (a comma-separated list hops in turn, as ProxyJump).
    :param proxy_command: a command whose stdin/stdout carry the connection (``%h %p %r``).
    :param keepalive_interval: seconds of silence after which the server is asked for a
        reply (0: never); after ``keepalive_count_max`` (default 3) unanswered, the
        connection ends with ConnectionLost.
    :param connect_timeout: seconds for TCP connect, key exchange and authentication.
    :param kbdint_handler: callback(name, instruction, [(prompt, echo)]) -> answers.
    :param password_change_handler: callback(prompt) -> new password.
        These two and a known_hosts callable may be plain functions or coroutine functions:
        the protocol core asks for them through events and waits for the answer.
    :raises DisconnectError: (subclasses) HostKeyNotVerifiable, AuthenticationFailed,
        KeyExchangeFailed, ConnectTimeout, ...; OSError if the TCP connection fails;
        SSHConfigError for an unusable configuration.
    """
    args = dict(locals())
    return _Connector(_connect(args, depth=0))


def _given(value: Any) -> bool:
    return value is not _UNSET


def _config_for(args: Dict[str, Any]) -> Dict[str, Any]:
    from M2Sec.SSH.config import SSHConfig
    config = args["config"]
    if not _given(config):
        config = [DEFAULT_CONFIG]
    if not config:
        return {"hostname": args["host"]}
    if isinstance(config, (str, os.PathLike)):
        config = [config]
    user = args["username"] if _given(args["username"]) else None
    return SSHConfig(config).lookup(args["host"], user=user)


def _algs(args: Dict[str, Any], name: str, opts: Dict[str, Any], key: str, default: List[bytes],
          supported: List[bytes]) -> Any:
    if _given(args[name]):
        return args[name]
    if key in opts:
        from M2Sec.SSH.config import algorithm_list
        return algorithm_list(opts[key], default, supported)
    return None


def _yes(value: Any) -> bool:
    return str(value).lower() in ("yes", "true", "on")


def _preferred_host_key_algs(kh: Any, host: str, port: int) -> Optional[List[bytes]]:
    """OpenSSH's order: the algorithms of the keys known_hosts holds for the host first."""
    listed = kh.host_key_algorithms(host, port) if hasattr(kh, "host_key_algorithms") else []
    if not listed:
        return None
    suffix = b"-cert-v01@openssh.com"

    def key_type(alg: bytes) -> bytes:
        base = alg[:-len(suffix)] if alg.endswith(suffix) else alg
        base = b"ssh-rsa" if base.startswith(b"rsa-sha2-") else base
        return base + (suffix if alg.endswith(suffix) else b"")

    first = [a for a in core.DEFAULT_HOST_KEY_ALGS if key_type(a) in listed]
    if b"ssh-rsa" in listed and not any(a.startswith(b"rsa-sha2-") and not a.endswith(suffix) for a in first):
        first.append(b"ssh-rsa")
    return first + [a for a in core.DEFAULT_HOST_KEY_ALGS if a not in first]


def make_host_key_check(host: str, port: int, known_hosts: Any, policy: str = "yes",
                        hashed: bool = False) -> Optional[core.HostKeyCallback]:
    """The core's host key callback for a ``known_hosts`` argument and a policy
    (``yes``, ``accept-new`` or ``no``; see :func:`connect`).

    ``known_hosts`` may be a path or KnownHosts object (the key must be listed for the host:
    an unknown, changed or revoked key raises HostKeyNotVerifiable), a callable(key) ->
    bool, or None to accept any key (which the caller must choose explicitly).
    """
    if known_hosts is None:
        return None
    if policy not in ("yes", "accept-new", "no"):
        raise ValueError("strict_host_key_checking is 'yes', 'accept-new' or 'no', not %r" % (policy,))
    if callable(known_hosts) and not hasattr(known_hosts, "match"):
        def refused(key: Any) -> HostKeyNotVerifiable:
            return HostKeyNotVerifiable("the host key callback refused %s" % key.fingerprint())

        if inspect.iscoroutinefunction(known_hosts):
            async def check_coroutine(key: Any) -> None:
                if not await known_hosts(key):
                    raise refused(key)
            return check_coroutine

        def check_callable(key: Any) -> None:
            if not known_hosts(key):
                raise refused(key)
        return check_callable
    from M2Sec.SSH.knownhosts import KnownHosts
    kh = known_hosts if hasattr(known_hosts, "match") else KnownHosts(known_hosts, missing_ok=True)

    def check(key: Any) -> None:
        result = kh.match(host, port, key)
        if result.ok:
            return
        if result.status == "unknown" and policy != "yes" or result.status == "changed" and policy == "no":
            if result.status == "unknown" and kh.path is not None:
                kh.add(host, port, key, hashed=hashed)
                try:
                    kh.save()
                except OSError as e:
                    raise HostKeyNotVerifiable("cannot record the host key of %s in %s: %s"
                                               % (host, kh.path, e.strerror or e)) from None
            return
        why = {"revoked": "is revoked", "changed": "has CHANGED (possible man-in-the-middle attack)",
               "unknown": "is not in known_hosts"}.get(result.status, result.status)
        extra = (": " + result.reason) if result.reason else ""
        raise HostKeyNotVerifiable("the host key %s for %s port %d %s%s"
                                   % (key.fingerprint(), host, port, why, extra))
    return check


def _load_identity(path: str, passphrase: Any, certs: Sequence[str], strict: bool) -> List[Any]:
    """An identity file's key (with its certificates), or [] when it cannot be used and was
    not named by the caller."""
    from M2Sec.SSH import keys
    try:
        key = keys.load_private_key(path, passphrase)
    except (OSError, SSHKeyError):
        if strict:
            raise
        return []
    out = []
    for certpath in list(certs) + [path + "-cert.pub"]:
        if os.path.exists(certpath):
            try:
                out.append(keys.load_certificate(certpath, key))
            except (OSError, SSHKeyError):
                if strict:
                    raise
    return out + [key]


def _public_of(path: str) -> Optional[bytes]:
    from M2Sec.SSH import keys
    try:
        return keys.load_public_key(path + ".pub").public_blob()
    except (OSError, SSHKeyError, ValueError):
        return None


def _agent_path(args: Dict[str, Any], opts: Dict[str, Any]) -> Optional[str]:
    """agent_path=, else the configuration's IdentityAgent, else $SSH_AUTH_SOCK."""
    from M2Sec.SSH import agent as _agent
    if _given(args["agent_path"]):
        path: Optional[str] = args["agent_path"]
        return path
    ia = opts.get("identityagent")
    if not ia or ia == "SSH_AUTH_SOCK":
        return _agent.default_agent_path()
    return None if ia.lower() == "none" else os.path.expanduser(ia)


async def _client_keys(args: Dict[str, Any], opts: Dict[str, Any]) -> Tuple[List[Any], Any]:
    """The keys to offer, and the agent client to close after authentication."""
    from M2Sec.SSH import agent as _agent
    if _given(args["client_keys"]) and args["client_keys"] is not None:
        return _load_keys(args["client_keys"], args["passphrase"]), None
    agent_path = _agent_path(args, opts)
    agent, agent_keys = None, []
    if agent_path:
        agent = await _agent.connect_agent(agent_path)
        if agent is not None:
            try:
                agent_keys = await agent.get_keys()
            except _agent.AgentError:
                agent_keys = []
    named = opts.get("identityfile")
    paths = named or [os.path.expanduser(p) for p in DEFAULT_IDENTITIES]
    certs = opts.get("certificatefile", [])
    file_keys = [k for p in paths for k in _load_identity(p, args["passphrase"], certs, strict=False)]
    if _yes(opts.get("identitiesonly", "no")):
        wanted = {k.public_blob() for k in file_keys} | {b for b in map(_public_of, paths) if b}
        agent_keys = [k for k in agent_keys if k.public_blob() in wanted]
    in_agent = {k.public_blob() for k in agent_keys}
    return agent_keys + [k for k in file_keys if k.public_blob() not in in_agent], agent


async def _open_tunnel(via: "SSHClientConnection", host: str, port: int) -> Tuple[_TunnelIO, Any]:
    via._check()
    c = via._core.open_channel(b"direct-tcpip", ch.direct_tcpip(host, port, "127.0.0.1", 0))
    io = _TunnelIO(via, c)
    via._flush()
    await io.opened
    return io, (host, port)


async def _jump_hosts(spec: str, args: Dict[str, Any], depth: int) -> "SSHClientConnection":
    """Connect through each ``[user@]host[:port]`` of a ProxyJump list in turn; the last."""
    from M2Sec.SSH.config import parse_jump
    prev: Optional[SSHClientConnection] = None
    try:
        for hop in [h.strip() for h in spec.split(",") if h.strip()]:
            user, jhost, jport = parse_jump(hop)
            hop_args = dict(args, host=jhost, port=jport if jport else _UNSET,
                            username=user if user else _UNSET, tunnel=prev if prev is not None else _UNSET,
                            proxy_command=_UNSET, sock=None, client_keys=_UNSET, known_hosts=_UNSET,
                            password=None)
            conn = await _connect(hop_args, depth + 1)
            if prev is not None:
                conn._owned.append(prev)
            prev = conn
    except BaseException:
        if prev is not None:
            prev.close()
        raise
    assert prev is not None
    return prev


def _proxy_socket(command: str) -> Tuple[socket.socket, Any]:
    """A socket whose other end is the stdin and stdout of command (run by /bin/sh)."""
    import subprocess
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(command, shell=True, stdin=theirs.fileno(), stdout=theirs.fileno(), start_new_session=True)
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return ours, proc


async def _connect(args: Dict[str, Any], depth: int) -> SSHClientConnection:
    from M2Sec.SSH.config import SSHConfigError, client_options
    if depth > MAX_JUMPS:
        raise SSHConfigError("more than %d jump hosts: is there a ProxyJump loop?" % MAX_JUMPS)
    opts = _config_for(args)
    conf = client_options(opts)

    def arg(name: str, default: Any) -> Any:
        return args[name] if _given(args[name]) else conf.get(name, default)
    host = opts["hostname"]
    port = arg("port", 22)
    username = args["username"] if _given(args["username"]) and args["username"] is not None else opts.get("user")
    if username is None:
        import getpass
        username = getpass.getuser()
    policy = args["strict_host_key_checking"]
    if not _given(policy):
        policy = {"ask": "yes", "off": "no", "false": "no", "true": "yes", "on": "yes"}.get(
            opts.get("stricthostkeychecking", "yes").lower(), opts.get("stricthostkeychecking", "yes").lower())
    known_hosts = args["known_hosts"]
    if not _given(known_hosts):
        files = opts.get("userknownhostsfile") or ["~/.ssh/known_hosts"]
        from M2Sec.SSH.knownhosts import KnownHosts
        known_hosts = KnownHosts(os.path.expanduser(files[0]), missing_ok=True)
    elif isinstance(known_hosts, (str, os.PathLike)):
        from M2Sec.SSH.knownhosts import KnownHosts
        known_hosts = KnownHosts(os.path.expanduser(os.fspath(known_hosts)), missing_ok=True)
    hashed = args["hash_known_hosts"] if _given(args["hash_known_hosts"]) else \
        _yes(opts.get("hashknownhosts", "no"))
    update = args["update_host_keys"] if _given(args["update_host_keys"]) else \
        _yes(opts.get("updatehostkeys", "no"))
    host_key_algs = _algs(args, "server_host_key_algs", opts, "hostkeyalgorithms", core.DEFAULT_HOST_KEY_ALGS,
                          core.SUPPORTED_HOST_KEY_ALGS)
    if host_key_algs is None and known_hosts is not None:
        host_key_algs = _preferred_host_key_algs(known_hosts, host, port)
    compression = args["compression_algs"]
    if not _given(compression):
        compression = None
        if "compression" in opts:
            compression = ([b"zlib@openssh.com", b"zlib", b"none"] if _yes(opts["compression"]) else [b"none"])
    rekey_bytes, rekey_seconds = arg("rekey_bytes", 1 << 30), arg("rekey_seconds", 3600.0)
    timeout = arg("connect_timeout", 30.0)
    interval = arg("keepalive_interval", 0.0)
    count_max = arg("keepalive_count_max", 3)
    preferred = args["preferred_auth"]
    if not _given(preferred):
        preferred = conf.get("preferred_auth")
    elif preferred is not None:
        preferred = preferred.split(",") if isinstance(preferred, str) else list(preferred)
        from M2Sec.SSH.auth import METHODS
        for m in preferred:
            if (m.encode() if isinstance(m, str) else m) not in METHODS:
                raise ValueError("unknown authentication method %r (known: %s)"
                                 % (m, ", ".join(x.decode() for x in METHODS)))
    tunnel = arg("tunnel", None)
    # the configuration's ProxyCommand had its tokens expanded by the lookup: only the
    # argument's are expanded below (twice would turn a %% into a token)
    proxy_command = args["proxy_command"]
    expand_command = _given(proxy_command)
    if not expand_command:
        proxy_command = conf.get("proxy_command") if tunnel is None else None

    loop = asyncio.get_running_loop()
    owned: List[SSHClientConnection] = []
    proc = None
    sock = args["sock"]
    agent = None
    conn: Optional[SSHClientConnection] = None
    try:
        client_keys, agent = await _client_keys(args, opts)
        config = core.ClientConfig(
            username=username, host=host, port=port, password=args["password"],
            client_keys=client_keys, kbdint=args["kbdint_handler"],
            password_change=args["password_change_handler"],
            host_key_check=make_host_key_check(host, port, known_hosts, policy, hashed),
            kex_algs=_algs(args, "kex_algs", opts, "kexalgorithms", _kex.DEFAULT_KEX, _kex.SUPPORTED_KEX),
            encryption_algs=_algs(args, "encryption_algs", opts, "ciphers", core.DEFAULT_CIPHERS,
                                  core.SUPPORTED_CIPHERS),
            mac_algs=_algs(args, "mac_algs", opts, "macs", core.DEFAULT_MACS, core.SUPPORTED_MACS),
            server_host_key_algs=host_key_algs, compression_algs=compression,
            rekey_bytes=rekey_bytes, rekey_seconds=rekey_seconds,
            preferred_auth=[m.encode() if isinstance(m, str) else m for m in preferred] if preferred else None)
        conn = SSHClientConnection(config)
        conn._keepalive = (float(interval or 0), int(count_max))
        if update and getattr(known_hosts, "path", None):
            conn._update_host_keys = (known_hosts, host, port, hashed)
        x11_on = args["x11_forwarding"] if _given(args["x11_forwarding"]) else _yes(opts.get("forwardx11", "no"))
        display = args["x11_display"] if _given(args["x11_display"]) else os.environ.get("DISPLAY")
        if x11_on and display:
            from M2Sec.SSH import x11
            screen = x11.parse_display(display)[2]
            conn._x11 = (display, x11.fake_cookie(), screen, await x11.real_cookie(display))
            conn._core.channel_open_kinds.add(b"x11")
        forward_agent = args["agent_forwarding"]
        if not _given(forward_agent):
            forward_agent = _yes(opts.get("forwardagent", "no"))
        if forward_agent:
            conn._agent_forward_path = _agent_path(args, opts)
            if conn._agent_forward_path is not None:
                conn._core.channel_open_kinds.add(AGENT_CHANNEL)
        via: Optional[SSHClientConnection] = None
        if isinstance(tunnel, str):
            via = await asyncio.wait_for(_jump_hosts(tunnel, args, depth), timeout)
            owned.append(via)
        elif tunnel is not None:
            via = tunnel
        if via is None and sock is None and proxy_command:
            from M2Sec.SSH.config import _tokens
            command = proxy_command if not expand_command else \
                _tokens(proxy_command, {"h": host, "p": str(port), "r": username, "n": args["host"]})
            sock, proc = _proxy_socket(command)
        conn._owned = owned
        conn._proxy_proc = proc

        async def establish() -> None:
            assert conn is not None
            if via is not None:
                io, peer = await _open_tunnel(via, host, port)
                io.attach(_Protocol(conn), _TunnelTransport(io, peer))
            elif sock is None:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                last: Optional[BaseException] = None
                for family, type_, proto, _, addr in infos:
                    s = socket.socket(family, type_, proto)
                    try:
                        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                        s.setblocking(False)
                        await loop.sock_connect(s, addr)
                    except OSError as e:
                        s.close()
                        last = e
                        continue
                    await loop.create_connection(lambda: _Protocol(conn), sock=s)
                    break
                else:
                    raise last or OSError("cannot resolve %s" % host)
            else:
                await loop.create_connection(lambda: _Protocol(conn), sock=sock)
            await conn._authenticated

        try:
            await asyncio.wait_for(establish(), timeout)
        except asyncio.TimeoutError:
            err = ConnectTimeout("no connection to %s port %d within %s seconds (state: %s)"
                                 % (host, port, timeout, conn._core.state))
            conn._abort(err)
            raise err from None
    except BaseException:
        if conn is not None:
            conn.close()
        else:
            for o in owned:
                o.close()
            if proc is not None:
                proc.kill()
                proc.wait()
        raise
    finally:
        if agent is not None:
            agent.close()
    conn._start_keepalive()
    return conn
