"""The asyncio front end of the SSH client: sockets, timeouts, streams and processes around
the protocol core (connection.py).

``async with connect(host, username=..., ...) as conn`` gives an :class:`SSHClientConnection`;
``await conn.run(cmd)`` runs a command to completion, ``await conn.create_process(cmd)``
gives stdin/stdout/stderr streams, ``await conn.forward_local_port(...)`` listens locally
and forwards through direct-tcpip channels.
"""

import asyncio
import codecs
import os
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from M2Sec.SSH import channel as ch
from M2Sec.SSH import connection as core
from M2Sec.SSH.errors import (BY_APPLICATION, PROTOCOL_ERROR, ChannelOpenError, ChannelRequestError, ConnectionLost,
                              ConnectTimeout, DisconnectError, HostKeyNotVerifiable, ProcessError)

KeyArg = Union[str, "os.PathLike[str]", Any]

# ---- host key policy -----------------------------------------------------------------------


def _default_known_hosts() -> Optional[str]:
    path = os.path.expanduser("~/.ssh/known_hosts")
    return path if os.path.exists(path) else None


def make_host_key_check(host: str, port: int, known_hosts: Any) -> Optional[Callable[[Any], None]]:
    """The core's host key callback for a ``known_hosts`` argument.

    ``known_hosts`` may be a path or KnownHosts object (the key must be listed for the host:
    an unknown, changed or revoked key raises HostKeyNotVerifiable), a callable(key) ->
    bool, or None to accept any key (which the caller must choose explicitly).
    """
    if known_hosts is None:
        return None
    if callable(known_hosts) and not hasattr(known_hosts, "match"):
        def check_callable(key: Any) -> None:
            if not known_hosts(key):
                raise HostKeyNotVerifiable("the host key callback refused %s" % key.fingerprint())
        return check_callable
    from M2Sec.SSH.knownhosts import KnownHosts
    kh = known_hosts if hasattr(known_hosts, "match") else KnownHosts(known_hosts)

    def check(key: Any) -> None:
        result = kh.match(host, port, key)
        if not result.ok:
            why = {"revoked": "is revoked", "changed": "has CHANGED (possible man-in-the-middle attack)",
                   "unknown": "is not in known_hosts"}.get(result.status, result.status)
            extra = (": " + result.reason) if result.reason else ""
            raise HostKeyNotVerifiable("the host key %s for %s port %d %s%s"
                                       % (key.fingerprint(), host, port, why, extra))
    return check


def _load_keys(client_keys: Optional[Sequence[KeyArg]], passphrase: Any) -> List[Any]:
    from M2Sec.SSH import keys
    out = []
    for k in client_keys or ():
        if isinstance(k, tuple):
            key, cert = k
            key = key if hasattr(key, "sign") else keys.load_private_key(key, passphrase)
            cert = cert if hasattr(cert, "sign") else keys.load_certificate(cert)
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
        self._waiter: Optional[asyncio.Future] = None
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

    def __init__(self, conn: "SSHClientConnection", c: ch.Channel, encoding: Optional[str] = None,
                 errors: str = "strict", on_data: Optional[Callable[[bytes, int], None]] = None) -> None:
        loop = asyncio.get_running_loop()
        self.conn = conn
        self.c = c
        c.app = self
        self.opened: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.replies: Deque[asyncio.Future] = deque()
        self.stdout = SSHReader(self, encoding, errors)
        self.stderr = SSHReader(self, encoding, errors)
        self.on_data = on_data
        self._pending: Deque[Tuple[memoryview, int]] = deque()
        self._pending_size = 0
        self.eof_pending = False
        self._drained: Optional[asyncio.Future] = None
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
    def request(self, name: bytes, data: bytes = b"", want_reply: bool = True) -> Optional[asyncio.Future]:
        self.conn._core.channel_request(self.c, name, data, want_reply)
        fut = None
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


class SSHListener:
    """A local listening socket forwarding each connection through a direct-tcpip channel."""

    def __init__(self, server: asyncio.AbstractServer) -> None:
        self._server = server

    def get_port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

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
            conn._core.global_request(b"cancel-tcpip-forward", string(self.host) + uint32(self.port), False)
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


async def connect_channel(conn: "SSHClientConnection", c: ch.Channel, host: str, port: int) -> None:
    """Answer a channel the peer opened towards host:port (forwarded-tcpip on the client,
    direct-tcpip on the server): connect, confirm and pipe, or refuse with CONNECT_FAILED."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        if c.state == "opening" and conn._core.state == "open":
            conn._core.reject_channel(c, ch.OPEN_CONNECT_FAILED, "cannot connect to %s port %d: %s"
                                      % (host, port, e.strerror or e))
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


# ---- the connection -------------------------------------------------------------------------


class _Protocol(asyncio.Protocol):
    def __init__(self, conn: "SSHClientConnection") -> None:
        self.conn = conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.conn._connection_made(transport)  # type: ignore[arg-type]

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


class SSHClientConnection:
    """An SSH client connection on asyncio (made by :func:`connect`).

    The server's connection (_asyncio_server.py) shares this transport plumbing: it passes its
    own protocol core and handles the events of its role in :meth:`_handle_event`.
    """

    def __init__(self, config: Any, core_: Optional[core.ClientConnection] = None) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._core = core_ if core_ is not None else core.ClientConnection(config, now=loop.time())
        self._transport: Optional[asyncio.Transport] = None
        self._paused = False
        self._authenticated: asyncio.Future = loop.create_future()
        self._closed: asyncio.Future = loop.create_future()
        self._global: Deque[asyncio.Future] = deque()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._listeners: List[Any] = []
        self._remote_forwards: Dict[Tuple[str, int], Tuple[str, int]] = {}
        self._tasks: set = set()
        self.error: Optional[BaseException] = None
        self.banners: List[str] = []

    # ---- properties ----
    @property
    def server_version(self) -> bytes:
        return self._core.server_version

    @property
    def host_key(self) -> Any:
        return self._core.host_key

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
        if isinstance(ev, core.ChannelOpenRequest):
            self._channel_open_requested(ev.channel, ev.extra)
            return
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

    def _channel_open_requested(self, c: ch.Channel, extra: bytes) -> None:
        """A forwarded-tcpip channel from the server: connect to the forward's destination."""
        from M2Sec.SSH.packet import SSHReader as WireReader
        try:
            r = WireReader(extra)
            addr, port = r.get_text(), r.get_uint32()
        except ValueError:
            self._core.reject_channel(c, ch.OPEN_CONNECT_FAILED, "malformed forwarded-tcpip")
            return
        dest = self._remote_forwards.get((addr, port))
        if dest is None:
            self._core.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "no such forward")
            return
        self._spawn(connect_channel(self, c, dest[0], dest[1]))

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

    def _connection_lost(self, exc: Optional[Exception]) -> None:
        if self.error is None:
            err = ConnectionLost("the connection was lost%s" % (": %s" % exc if exc else ""), local=False)
            if self._core.state == "closed" and self._core.error is not None:
                err = self._core.error  # type: ignore[assignment]
            self._abort(err)
        if not self._closed.done():
            self._closed.set_result(None)

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    # ---- sessions ----
    async def _open(self, kind: bytes, extra: bytes = b"", **kw: Any) -> _ChannelIO:
        self._check()
        c = self._core.open_channel(kind, extra)
        io = _ChannelIO(self, c, **kw)
        self._flush()
        await io.opened
        return io

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
            replies = []
            if request_pty or (request_pty is None and term_type):
                cols, rows = term_size or (80, 24)
                replies.append((b"pty-req", io.request(b"pty-req", ch.pty_request(term_type or "xterm", cols, rows))))
            for name, value in (env or {}).items():
                io.request(b"env", string(name) + string(value), False)
            if subsystem is not None:
                replies.append((b"subsystem", io.request(b"subsystem", string(subsystem))))
            elif command is not None:
                replies.append((b"exec", io.request(b"exec", string(command))))
            else:
                replies.append((b"shell", io.request(b"shell")))
            for name, fut in replies:
                if not await fut:
                    raise ChannelRequestError("the server refused the %s request" % name.decode())
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

    # ---- forwarding ----
    async def open_connection(self, host: str, port: int, *, orig_host: str = "127.0.0.1",
                              orig_port: int = 0) -> Tuple[SSHReader, SSHWriter]:
        """A direct-tcpip channel to host:port as the server sees it, as (reader, writer)."""
        io = await self._open(b"direct-tcpip", ch.direct_tcpip(host, port, orig_host, orig_port))
        return io.stdout, SSHWriter(io, None, "strict")

    async def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str,
                                 dest_port: int) -> SSHListener:
        """Listen on listen_host:listen_port (0: any free port, see get_port()) and forward
        each connection to dest_host:dest_port through the server (direct-tcpip)."""

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
            try:
                io = await self._open(b"direct-tcpip", ch.direct_tcpip(dest_host, dest_port, peer[0], peer[1]),
                                      on_data=None)
            except Exception:
                writer.close()
                return
            await pipe(io, reader, writer)

        server = await asyncio.start_server(handle, listen_host, listen_port)
        listener = SSHListener(server)
        self._listeners.append(listener)
        return listener

    async def _global_request(self, name: bytes, data: bytes) -> Tuple[bool, bytes]:
        self._check()
        fut = self._loop.create_future()
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

    # ---- SFTP ----
    def start_sftp_client(self, **kw: Any) -> Any:
        """An SFTP session (``async with conn.start_sftp_client() as sftp``); see
        :class:`M2Sec.SSH.sftp_client.SFTPClient` for the keyword arguments."""
        from M2Sec.SSH.sftp_client import _SFTPStarter, start_sftp_client
        return _SFTPStarter(start_sftp_client(self, **kw))

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

    async def wait_closed(self) -> None:
        await self._closed

    async def __aenter__(self) -> "SSHClientConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


class _Connector:
    """The awaitable / async context manager :func:`connect` returns."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro
        self._conn: Optional[SSHClientConnection] = None

    def __await__(self) -> Any:
        return self._coro.__await__()

    async def __aenter__(self) -> SSHClientConnection:
        self._conn = await self._coro
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            await self._conn.__aexit__(*exc)


_UNSET: Any = object()


def connect(host: str, port: int = 22, *, username: Optional[str] = None, password: Optional[str] = None,
            client_keys: Optional[Sequence[KeyArg]] = None, passphrase: Any = None,
            known_hosts: Any = _UNSET, kex_algs: Any = None, encryption_algs: Any = None,
            mac_algs: Any = None, server_host_key_algs: Any = None, compression_algs: Any = None,
            connect_timeout: Optional[float] = 30.0, rekey_bytes: int = 1 << 30,
            rekey_seconds: float = 3600.0, kbdint_handler: Any = None,
            password_change_handler: Any = None, sock: Optional[socket.socket] = None) -> _Connector:
    """Connect, exchange keys and authenticate: ``async with connect(...) as conn``.

    :param known_hosts: a known_hosts path or KnownHosts (default ``~/.ssh/known_hosts``; a
        host not listed there fails), a callable(key) -> bool, or None to accept any host key
        (insecure, must be asked for).
    :param client_keys: private keys: SSHKey objects, paths (a ``-cert.pub`` beside one is
        used too), or (key, certificate) pairs.  ``passphrase`` decrypts the files.
    :param connect_timeout: seconds for TCP connect, key exchange and authentication.
    :param kbdint_handler: callback(name, instruction, [(prompt, echo)]) -> answers.
    :param password_change_handler: callback(prompt) -> new password.
    :raises DisconnectError: (subclasses) HostKeyNotVerifiable, AuthenticationFailed,
        KeyExchangeFailed, ConnectTimeout, ...; OSError if the TCP connection fails.
    """
    return _Connector(_connect(host, port, username, password, client_keys, passphrase, known_hosts,
                               kex_algs, encryption_algs, mac_algs, server_host_key_algs, compression_algs,
                               connect_timeout, rekey_bytes, rekey_seconds, kbdint_handler,
                               password_change_handler, sock))


async def _connect(host: str, port: int, username: Optional[str], password: Optional[str],
                   client_keys: Any, passphrase: Any, known_hosts: Any, kex_algs: Any, encryption_algs: Any,
                   mac_algs: Any, server_host_key_algs: Any, compression_algs: Any,
                   connect_timeout: Optional[float], rekey_bytes: int, rekey_seconds: float,
                   kbdint_handler: Any, password_change_handler: Any,
                   sock: Optional[socket.socket]) -> SSHClientConnection:
    if known_hosts is _UNSET:
        known_hosts = _default_known_hosts()
        if known_hosts is None:
            from M2Sec.SSH.knownhosts import KnownHosts
            known_hosts = KnownHosts()
    if username is None:
        import getpass
        username = getpass.getuser()
    config = core.ClientConfig(
        username=username, host=host, port=port, password=password,
        client_keys=_load_keys(client_keys, passphrase), kbdint=kbdint_handler,
        password_change=password_change_handler, host_key_check=make_host_key_check(host, port, known_hosts),
        kex_algs=kex_algs, encryption_algs=encryption_algs, mac_algs=mac_algs,
        server_host_key_algs=server_host_key_algs, compression_algs=compression_algs,
        rekey_bytes=rekey_bytes, rekey_seconds=rekey_seconds)
    loop = asyncio.get_running_loop()
    conn = SSHClientConnection(config)

    async def establish() -> None:
        if sock is None:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            last: Optional[BaseException] = None
            for family, type_, proto, _, addr in infos:
                s = socket.socket(family, type_, proto)
                try:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        await asyncio.wait_for(establish(), connect_timeout)
    except asyncio.TimeoutError:
        err = ConnectTimeout("no connection to %s port %d within %s seconds (state: %s)"
                             % (host, port, connect_timeout, conn._core.state))
        conn._abort(err)
        raise err from None
    except BaseException:
        conn.close()
        raise
    return conn
