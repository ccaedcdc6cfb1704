"""The asyncio front end of the SSH server: listening sockets, timeouts, limits, sessions and
forwarding around the server's protocol core (server.py).

``server = await listen(host, port, server_host_keys=[...], authorized_client_keys=...,
server_factory=MySSHServer, process_factory=handle)``: each connection gets an
:class:`~M2Sec.SSH.server.SSHServer` from ``server_factory`` (its callbacks decide
authentication and forwarding) and each session an :class:`SSHServerProcess` handed to
``process_factory`` (a coroutine function or a plain function).  The connection plumbing
(writing, flow control, rekey timer, channel streams) is the client's (_asyncio.py).
"""

import asyncio
import inspect
import logging
import os
import socket
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from M2Sec.SSH import channel as ch
from M2Sec.SSH import connection as core
from M2Sec.SSH import server as srv
from M2Sec.SSH._asyncio import (AGENT_CHANNEL, SSHConnection, SSHReader, SSHWriter, _ChannelIO, _load_keys,
                                _Protocol, answer_channel, connect_channel, pipe)
from M2Sec.SSH.errors import BY_APPLICATION, PROTOCOL_ERROR, ConnectionLost, DisconnectError
from M2Sec.SSH.packet import SSHReader as WireReader
from M2Sec.SSH.packet import boolean, string, uint32

log = logging.getLogger("M2Sec.SSH.server")

#: how long a session's window is on the server (OpenSSH's 2 MiB): what a client may have in
#: flight per channel before the application reads it
SERVER_WINDOW = 2 * 1024 * 1024


class SSHServerProcess:
    """A session on the server: the client's command, shell or subsystem.

    :attr:`stdin` is an :class:`~M2Sec.SSH.SSHStreamReader` (what the client sends),
    :attr:`stdout` and :attr:`stderr` are writers.  :attr:`command` (None for a shell),
    :attr:`subsystem`, :attr:`env`, :attr:`term_type`, :attr:`term_size` (cols, rows, width
    and height in pixels) and :attr:`term_modes` are what the client asked for;
    :attr:`username` and :attr:`permissions` (forced command, pty, forwarding) what
    authentication gave.  A window change or signal from the client calls
    :attr:`on_window_change` (cols, rows, width_px, height_px) or :attr:`on_signal` (name),
    if set, and is kept in :attr:`signals`.  :meth:`exit` ends the session with a status.
    """

    def __init__(self, conn: "SSHServerConnection", io: _ChannelIO, encoding: Optional[str] = None,
                 errors: str = "strict") -> None:
        self._conn = conn
        self._io = io
        self.channel = io.c
        self.stdin: SSHReader = io.stdout
        self.stdout = SSHWriter(io, encoding, errors)
        self.stderr = SSHWriter(io, encoding, errors, ch.EXTENDED_DATA_STDERR)
        self.command: Optional[str] = None
        self.original_command: Optional[str] = None
        self.subsystem: Optional[str] = None
        self.env: Dict[str, str] = {}
        self.term_type: Optional[str] = None
        self.term_size: Tuple[int, int, int, int] = (0, 0, 0, 0)
        self.term_modes: bytes = b""
        self.signals: List[str] = []
        self.on_window_change: Optional[Callable[[int, int, int, int], None]] = None
        self.on_signal: Optional[Callable[[str], None]] = None
        self.username = conn.username
        self.permissions = conn.permissions
        self.exit_status: Optional[int] = None
        #: the UNIX socket forwarding to the client's agent (SSH_AUTH_SOCK), if it asked
        self.agent_path: Optional[str] = None
        #: the DISPLAY forwarding X11 to the client (``ssh -X``) and its (protocol, cookie)
        self.x11_display: Optional[str] = None
        self.x11_auth: Optional[Tuple[str, str]] = None
        self._started = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``peername``, ``username``, ``connection`` or the transport's extra info."""
        if name == "username":
            return self.username
        if name == "connection":
            return self._conn
        return self._conn.get_extra_info(name, default)

    @property
    def closed(self) -> "asyncio.Future[None]":
        return self._io.closed

    # ---- requests from the client ----
    def _request(self, name: bytes, data: bytes) -> bool:
        r = WireReader(data)
        perms = self.permissions
        if name == b"pty-req":
            if self._started or not perms.pty or not self._conn._acceptor.allow_pty:
                return False
            self.term_type = r.get_text()
            self.term_size = (r.get_uint32(), r.get_uint32(), r.get_uint32(), r.get_uint32())
            self.term_modes = r.get_string()
            return True
        if name == b"env":
            key, value = r.get_text(), r.get_text()
            if len(self.env) < 64:
                self.env[key] = value
            return True
        if name in (b"exec", b"shell", b"subsystem"):
            if self._started:
                return False
            if name == b"exec":
                self.command = r.get_text()
            elif name == b"subsystem":
                self.subsystem = r.get_text()
                known = getattr(self._conn._acceptor.process_factory, "subsystems", None)
                if self._builtin() is not None:
                    pass
                elif self._conn._acceptor.process_factory is None or (
                        known is not None and self.subsystem not in known and perms.command is None):
                    return False
            if name != b"subsystem" and self._conn._acceptor.process_factory is None and self._builtin() is None:
                return False
            if perms.command is not None:
                self.original_command = self.command if name == b"exec" else None
                self.command, self.subsystem = perms.command, None
            self._started = True
            self._conn._spawn(self._run())
            return True
        if name == b"auth-agent-req@openssh.com":
            # ssh -A: a socket the session's programs reach the client's agent through
            if (self._started or not perms.agent_forwarding or not self._conn._acceptor.allow_agent_forwarding):
                return False
            try:
                self.agent_path = self._conn._agent_socket()
            except OSError:
                return False
            return True
        if name == b"x11-req":
            # ssh -X: a display on localhost whose connections are X11 channels to the client
            if (self._started or self.x11_display is not None or not perms.x11_forwarding
                    or not self._conn._acceptor.allow_x11_forwarding):
                return False
            from M2Sec.SSH import x11
            single, proto, cookie, screen = r.get_boolean(), r.get_text(), r.get_text(), r.get_uint32()
            if proto != x11.PROTOCOL or len(cookie) > 256:
                return False
            try:
                number = self._conn._x11_display(single)
            except OSError:
                return False
            self.x11_display = x11.display_for(number, screen)
            self.x11_auth = (proto, cookie)
            return True
        if name == b"window-change":
            self.term_size = (r.get_uint32(), r.get_uint32(), r.get_uint32(), r.get_uint32())
            if self.on_window_change is not None:
                self._conn._call(self.on_window_change, *self.term_size)
            return True
        if name == b"signal":
            sig = r.get_text()
            self.signals.append(sig)
            if self.on_signal is not None:
                self._conn._call(self.on_signal, sig)
            return True
        return False

    def _builtin(self) -> Any:
        """The built-in handler of this session (SFTP, legacy scp) when ``sftp_factory`` is set."""
        sftp_factory = self._conn._acceptor.sftp_factory
        if sftp_factory is None or self.permissions.command is not None:
            return None
        if self.subsystem == "sftp":
            from M2Sec.SSH.sftp_server import run_sftp_server
            return lambda process: run_sftp_server(process, sftp_factory)
        if self.command is not None and self._conn._acceptor.allow_scp:
            from M2Sec.SSH.scp import scp_server_handler
            return scp_server_handler(self.command, sftp_factory)
        return None

    async def _run(self) -> None:
        factory = self._builtin() or self._conn._acceptor.process_factory
        status: Any = None
        try:
            if factory is None:  # (the acceptor refuses a session request it has nothing for)
                raise TypeError("no process_factory serves this session")
            status = factory(self)
            if inspect.isawaitable(status):
                status = await status
        except (DisconnectError, BrokenPipeError, ConnectionError):
            status = None
        except Exception:
            log.exception("the session handler failed")
            status = 1
        if self.exit_status is None:
            await self._exit(status if isinstance(status, int) else 0)

    # ---- the end ----
    def exit(self, status: int) -> None:
        """Send what is queued, then EOF, exit-status and close."""
        if self.exit_status is None:
            self.exit_status = status
            self._conn._spawn(self._exit(status))

    def exit_with_signal(self, signal: str, core_dumped: bool = False, msg: str = "") -> None:
        """End the session as killed by signal (a name without SIG)."""
        if self.exit_status is None:
            self.exit_status = -1
            self._conn._spawn(self._exit(None, string(signal) + boolean(core_dumped) + string(msg) + string("")))

    async def _exit(self, status: Optional[int], signal: Optional[bytes] = None) -> None:
        self.exit_status = -1 if status is None else status
        io, conn = self._io, self._conn
        c = io.c
        try:
            if c.can_send() and not io.eof_pending:
                io.write_eof()
            await io.drain()
        except (DisconnectError, BrokenPipeError, ConnectionError):
            pass
        if c.state != "open" or c.close_sent or conn._core.state != "open":
            return
        if signal is not None:
            conn._core.channel_request(c, b"exit-signal", signal, False)
        else:
            conn._core.channel_request(c, b"exit-status", uint32(status or 0), False)
        conn._core.close_channel(c)
        conn._flush()

    def close(self) -> None:
        self._io.close()


class _ServerChannelIO(_ChannelIO):
    """A session channel's I/O: requests go to its process."""

    conn: "SSHServerConnection"

    def __init__(self, conn: "SSHServerConnection", c: ch.Channel) -> None:
        super().__init__(conn, c)
        self.process = SSHServerProcess(conn, self)

    def on_event(self, ev: core.Event) -> None:
        if isinstance(ev, srv.SessionRequest):
            try:
                ok = self.process._request(ev.request, ev.data)
            except ValueError:
                ok = False
            if ev.want_reply:
                self.conn._core.channel_reply(self.c, ok)
            return
        super().on_event(ev)


class SSHServerConnection(SSHConnection):
    """One client's connection to an M2Sec server (see the module's docstring)."""

    def __init__(self, acceptor: "SSHAcceptor", addr: Tuple[str, int]) -> None:
        self._acceptor = acceptor
        self._server: srv.SSHServer = acceptor.server_factory()
        loop = asyncio.get_running_loop()
        core_ = srv.ServerConnection(acceptor.config, self._server, addr=addr[0], now=loop.time())
        super().__init__(core_)
        self._core: srv.ServerConnection
        self.peername = addr
        self._grace: Optional[asyncio.TimerHandle] = None
        self._delayed: Optional[asyncio.TimerHandle] = None
        #: remote forwards: the listening socket, then the server serving it once it runs
        self._forwards: Dict[Tuple[str, int], Union[asyncio.Server, socket.socket]] = {}
        self._counted = True
        self._agent_dir: Optional[str] = None
        self._agent_server: Any = None
        self._x11_servers: List[Any] = []
        self._forward_chain: Optional["asyncio.Task[Any]"] = None
        self._keepalive = acceptor.keepalive
        self._idle: Optional[asyncio.TimerHandle] = None

    @property
    def username(self) -> Optional[str]:
        return self._core.username

    @property
    def permissions(self) -> Any:
        return self._core.permissions

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self.peername
        if name == "username":
            return self.username if self.username is not None else default
        return super().get_extra_info(name, default)

    # ---- the transport side ----
    def _connection_made(self, transport: asyncio.Transport) -> None:
        a = self._acceptor
        if a.unauthenticated >= a.max_unauthenticated:
            self._counted = False
            transport.abort()
            return
        a.unauthenticated += 1
        a.connections.add(self)
        super()._connection_made(transport)
        if a.login_timeout:
            self._grace = self._loop.call_later(a.login_timeout, self._grace_expired)
        self._restart_idle()
        self._call(self._server.connection_made, self)

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self._acceptor.unauthenticated -= 1

    def _restart_idle(self) -> None:
        timeout = self._acceptor.idle_timeout
        if timeout:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = self._loop.call_later(timeout, self._idle_expired)

    def _idle_expired(self) -> None:
        if self.error is None:
            self._core.disconnect(BY_APPLICATION, "idle timeout")
            self._flush()
            self._abort(ConnectionLost("no data from the client for %s seconds" % self._acceptor.idle_timeout,
                                       local=True))

    def _data_received(self, data: bytes) -> None:
        self._restart_idle()
        super()._data_received(data)

    def _grace_expired(self) -> None:
        if self._core.state != "open":
            self._core.disconnect(BY_APPLICATION, "login grace time exceeded")
            if self._delayed is not None:
                self._delayed.cancel()
                self._delayed = None
            self._flush()
            self._abort(DisconnectError(BY_APPLICATION, "login grace time exceeded"))

    def _flush(self) -> None:
        if self._delayed is None:
            super()._flush()

    def _end_delay(self) -> None:
        self._delayed = None
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()
        self._flush()

    def _connection_lost(self, exc: Optional[Exception]) -> None:
        if self._transport is None:
            return
        self._uncount()
        for t in (self._grace, self._delayed, self._idle):
            if t is not None:
                t.cancel()
        for key, s in self._forwards.items():
            s.close()
            if key[1] == 0:  # a UNIX socket this connection bound
                self._unlink(key[0])
        self._forwards.clear()
        self._close_agent_socket()
        for x in self._x11_servers:
            x.close()
        self._x11_servers.clear()
        self._acceptor.connections.discard(self)
        super()._connection_lost(exc)
        self._call(self._server.connection_lost, exc)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            log.exception("SSHServer callback %s failed", getattr(fn, "__name__", fn))
            return None

    # ---- events of the server role ----
    def _handle_event(self, ev: core.Event) -> None:
        try:
            self._server_event(ev)
        except DisconnectError as e:
            self._core.disconnect(e.code, e.reason)
            self._flush()
            self._abort(e)
        except Exception as e:  # an application callback failed: the connection cannot go on
            log.exception("the SSH server failed on %s", type(ev).__name__)
            self._core.disconnect(PROTOCOL_ERROR, "internal error")
            self._flush()
            self._abort(e)

    def _server_event(self, ev: core.Event) -> None:
        if isinstance(ev, srv.AuthRequest):
            self._decide(ev)
        elif isinstance(ev, srv.AuthFailure):
            delay = self._acceptor.auth_failure_delay
            if delay and self._delayed is None and self._transport is not None:
                self._transport.pause_reading()
                self._delayed = self._loop.call_later(delay, self._end_delay)
        elif isinstance(ev, core.Authenticated):
            self._uncount()
            if self._grace is not None:
                self._grace.cancel()
            self._start_keepalive()
            self._call(self._server.auth_completed)
            if not self._authenticated.done():
                self._authenticated.set_result(ev.method)
        elif isinstance(ev, core.ChannelOpenRequest):
            self._open_requested(ev.channel, ev.extra)
        elif isinstance(ev, srv.GlobalRequest):
            self._global_requested(ev)
        elif isinstance(ev, srv.SessionRequest) and not isinstance(ev.channel.app, _ServerChannelIO):
            if ev.want_reply:
                self._core.channel_reply(ev.channel, False)
        else:
            super()._handle_event(ev)

    def _decide(self, ev: "srv.AuthRequest") -> None:
        """Ask the SSHServer (a plain function's answer goes back at once, a coroutine's when
        it finishes, while other connections go on)."""
        from M2Sec.SSH.server_auth import AuthCall, PasswordChangeRequired, answer
        try:
            result = answer(self._server, self._acceptor.config.authorized_keys, AuthCall(ev.name, ev.args))
        except PasswordChangeRequired as e:
            self._answer_auth(None, e)
            return
        if inspect.isawaitable(result):
            self._spawn(self._decide_later(result))
        else:
            self._answer_auth(result, None)

    async def _decide_later(self, pending: Any) -> None:
        from M2Sec.SSH.server_auth import PasswordChangeRequired
        error: Optional[BaseException] = None
        value: Any = None
        try:
            value = await pending
        except PasswordChangeRequired as e:
            error = e
        except Exception as e:  # the application failed: the connection cannot go on
            log.exception("SSHServer authentication callback failed")
            self._core.disconnect(PROTOCOL_ERROR, "internal error")
            self._flush()
            self._abort(e)
            return
        self._answer_auth(value, error)

    def _answer_auth(self, value: Any, error: Optional[BaseException]) -> None:
        self._give(self._core.auth_answer, value, error)

    def _open_requested(self, c: ch.Channel, extra: bytes) -> None:
        core_ = self._core
        if c.kind == b"session":
            if (self._acceptor.process_factory is None and self._acceptor.sftp_factory is None) \
                    or not self._server.session_requested():
                core_.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "sessions are not accepted")
                return
            c.local_window = c.local_window_size = SERVER_WINDOW
            _ServerChannelIO(self, c)
            core_.accept_channel(c)
            c.app.opened.set_result(None)
            return
        if c.kind == b"direct-streamlocal@openssh.com":
            path = WireReader(extra).get_text()
            if not (self.permissions.port_forwarding and self._server.unix_connection_requested(path)):
                core_.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding to %s is not allowed" % path)
                return
            self._spawn(answer_channel(self, c, lambda: asyncio.open_unix_connection(path), path))
            return
        # direct-tcpip: local forwarding of the client
        r = WireReader(extra)
        host, port, orig_host, orig_port = r.get_text(), r.get_uint32(), r.get_text(), r.get_uint32()
        if not (self.permissions.allows_open(host, port)
                and self._server.connection_requested(host, port, orig_host, orig_port)):
            core_.reject_channel(c, ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "forwarding to %s port %d is not allowed"
                                 % (host, port))
            return
        self._spawn(connect_channel(self, c, host, port))

    def _global_requested(self, ev: srv.GlobalRequest) -> None:
        if ev.name.endswith(b"streamlocal-forward@openssh.com"):
            self._streamlocal_requested(ev)
            return
        r = WireReader(ev.data)
        host, port = r.get_text(), r.get_uint32()
        core_ = self._core
        if ev.name == b"cancel-tcpip-forward":
            server = self._forwards.pop((host, port), None)
            if server is not None:
                server.close()
            if ev.want_reply:
                core_.global_reply(server is not None)
            return
        ok = (port < 65536 and self.permissions.allows_listen(host, port)
              and self._server.server_requested(host, port))
        # the name resolves without blocking the loop; replies still go out in request order
        previous, self._forward_chain = self._forward_chain, self._spawn(
            self._answer_forward(self._forward_chain, host, port, ok, ev.want_reply))
        del previous

    async def _answer_forward(self, previous: Optional["asyncio.Task[Any]"], host: str, port: int, ok: bool,
                              want_reply: bool) -> None:
        bound = 0
        if ok:
            try:
                bound = await self._listen_forward(host, port)
            except OSError:
                ok = False
        if previous is not None:
            await asyncio.wait([previous])
        if want_reply and self.error is None and self._core.state == "open":
            self._core.global_reply(ok, uint32(bound) if ok and port == 0 else b"")
            self._flush()

    async def _listen_forward(self, host: str, port: int) -> int:
        """Listen for a remote forward; the port bound."""
        bind_host = {"": "0.0.0.0", "localhost": "127.0.0.1", "*": "0.0.0.0"}.get(host, host)
        info = (await self._loop.getaddrinfo(bind_host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(info[4])
            sock.listen(100)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        bound: int = sock.getsockname()[1]

        handle = self._channel_for(b"forwarded-tcpip",
                                   lambda peer: string(host) + uint32(bound) + string(peer[0]) + uint32(peer[1]))

        key = (host, bound)

        async def start() -> None:
            try:
                server = await asyncio.start_server(handle, sock=sock)
            except OSError:
                return
            if self._forwards.get(key) is sock and self.error is None:
                self._forwards[key] = server
            else:
                server.close()

        self._forwards[key] = sock  # the socket until its server runs
        self._spawn(start())
        return bound

    def _streamlocal_requested(self, ev: srv.GlobalRequest) -> None:
        """streamlocal-forward@openssh.com (``ssh -R /path:...``) and its cancel."""
        path = WireReader(ev.data).get_text()
        key = (path, 0)
        if ev.name.startswith(b"cancel-"):
            server = self._forwards.pop(key, None)
            if server is not None:
                server.close()
                self._unlink(path)
            if ev.want_reply:
                self._core.global_reply(server is not None)
            return
        ok = (key not in self._forwards and self.permissions.port_forwarding
              and self._server.unix_server_requested(path))
        if ok:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(path)
                sock.listen(100)
                sock.setblocking(False)
            except OSError:
                sock.close()
                ok = False
        if ok:
            handle = self._channel_for(b"forwarded-streamlocal@openssh.com", lambda peer: string(path) + string(b""))

            async def start() -> None:
                server = await asyncio.start_unix_server(handle, sock=sock)
                if self._forwards.get(key) is sock and self.error is None:
                    self._forwards[key] = server
                else:
                    server.close()
            self._forwards[key] = sock
            self._spawn(start())
        if ev.want_reply:
            self._core.global_reply(ok)

    def _x11_display(self, single: bool) -> int:
        """Listen on localhost for a forwarded X display (6000 + N, N from 10 as sshd's
        X11DisplayOffset); each connection becomes an x11 channel to the client."""
        from M2Sec.SSH import x11
        for number in range(x11.DISPLAY_OFFSET, x11.DISPLAY_OFFSET + x11.MAX_DISPLAYS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind(("127.0.0.1", 6000 + number))
                sock.listen(16)
                sock.setblocking(False)
            except OSError:
                sock.close()
                continue
            break
        else:
            raise OSError("no free X11 display")
        self._core.channel_open_kinds.discard(b"x11")  # the server opens them; never accepts them

        def originator(peer: Tuple[str, int]) -> bytes:
            if single and server is not None:  # single-connection: the display closes after one
                server.close()
            return string(peer[0]) + uint32(peer[1])
        handle = self._channel_for(b"x11", originator)

        server: Any = None

        async def start() -> None:
            nonlocal server
            if sock.fileno() < 0:  # the connection ended first
                return
            server = await asyncio.start_server(handle, sock=sock)
            self._x11_servers.append(server)
            if self.error is not None:
                server.close()
        self._x11_servers.append(sock)
        self._spawn(start())
        return number

    @staticmethod
    def _unlink(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def _agent_socket(self) -> str:
        """The connection's agent socket, made on the first request (in a directory only
        the server's user can enter); each connection to it opens an auth-agent channel."""
        if self._agent_dir is not None:
            return os.path.join(self._agent_dir, "agent.sock")
        import tempfile
        directory = tempfile.mkdtemp(prefix="m2sec-agent-")
        path = os.path.join(directory, "agent.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(16)
            sock.setblocking(False)
        except OSError:
            sock.close()
            import shutil
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self._agent_dir = directory

        handle = self._channel_for(AGENT_CHANNEL, lambda peer: b"")

        async def start() -> None:
            server = await asyncio.start_unix_server(handle, sock=sock)
            if self._agent_dir is None:
                server.close()
            else:
                self._agent_server = server
        self._agent_server = sock
        self._spawn(start())
        return path

    def _close_agent_socket(self) -> None:
        server, self._agent_server = self._agent_server, None
        if server is not None:
            server.close()
        directory, self._agent_dir = self._agent_dir, None
        if directory is not None:
            import shutil
            shutil.rmtree(directory, ignore_errors=True)

    async def wait_authenticated(self) -> bytes:
        return await self._authenticated


class SSHAcceptor:
    """A listening SSH server (what :func:`listen` gives): ``close()``, ``wait_closed()``,
    ``get_port()``, and the live :attr:`connections`."""

    def __init__(self, config: srv.ServerConfig, server_factory: Callable[[], srv.SSHServer],
                 process_factory: Optional[Callable[[SSHServerProcess], Any]], *, login_timeout: float,
                 max_unauthenticated: int, auth_failure_delay: float, allow_pty: bool,
                 allow_agent_forwarding: bool = True, keepalive_interval: float = 0.0,
                 keepalive_count_max: int = 3, idle_timeout: float = 0.0,
                 allow_x11_forwarding: bool = False, sftp_factory: Any = None, allow_scp: bool = True) -> None:
        self.sftp_factory = sftp_factory
        self.allow_scp = allow_scp
        self.config = config
        self.server_factory = server_factory
        self.process_factory = process_factory
        self.login_timeout = login_timeout
        self.max_unauthenticated = max_unauthenticated
        self.auth_failure_delay = auth_failure_delay
        self.allow_pty = allow_pty
        self.allow_agent_forwarding = allow_agent_forwarding
        self.allow_x11_forwarding = allow_x11_forwarding
        self.keepalive = (keepalive_interval, keepalive_count_max)
        self.idle_timeout = idle_timeout
        self.unauthenticated = 0
        self.connections: Set[SSHServerConnection] = set()
        self._server: Optional[asyncio.Server] = None

    def _protocol(self) -> _Protocol:
        return _ServerProtocol(self)

    @property
    def sockets(self) -> Tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server else ()

    def get_port(self) -> int:
        port: int = self.sockets[0].getsockname()[1]
        return port

    def close(self, connections: bool = True) -> None:
        """Stop listening; with connections, close the live ones too."""
        if self._server is not None:
            self._server.close()
        if connections:
            for conn in list(self.connections):
                conn.close()

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> "SSHAcceptor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.wait_closed()


class _ServerProtocol(_Protocol):
    """The protocol of one accepted connection; its :attr:`conn` is made when the connection is."""

    def __init__(self, acceptor: SSHAcceptor) -> None:  # (no connection yet: _Protocol's is not called)
        self._acceptor = acceptor

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername") or ("", 0)
        self.conn = SSHServerConnection(self._acceptor, (str(peer[0]), int(peer[1])))
        super().connection_made(transport)


KeyArg = Union[str, "os.PathLike[str]", Any]


def make_acceptor(*, server_host_keys: Sequence[KeyArg], passphrase: Any = None,
                  authorized_client_keys: Any = None, server_factory: Optional[Callable[[], srv.SSHServer]] = None,
                  process_factory: Optional[Callable[[SSHServerProcess], Any]] = None,
                  login_timeout: float = 120.0, max_unauthenticated: int = 100, auth_failure_delay: float = 0.5,
                  allow_pty: bool = True, allow_agent_forwarding: bool = True, keepalive_interval: float = 0.0,
                  keepalive_count_max: int = 3, idle_timeout: float = 0.0, allow_x11_forwarding: bool = False,
                  sftp_factory: Any = None, allow_scp: bool = True, **config: Any) -> SSHAcceptor:
    """The acceptor of :func:`listen` (its arguments), not yet listening.  The files named
    (host keys, authorized_keys, CA keys, moduli) are read here, once: the core reads none."""
    from M2Sec.SSH import keys as _keys
    from M2Sec.SSH.authorized_keys import AuthorizedKeys
    from M2Sec.SSH.moduli import Moduli
    keys = _load_keys(server_host_keys, passphrase)
    if isinstance(authorized_client_keys, (str, os.PathLike)):
        authorized_client_keys = AuthorizedKeys(authorized_client_keys)
    if isinstance(config.get("moduli"), (str, os.PathLike)):
        config["moduli"] = Moduli(config["moduli"])
    config["trusted_user_ca_keys"] = [k if isinstance(k, _keys.SSHKey) else _keys.load_public_key(k)
                                      for k in config.get("trusted_user_ca_keys", ())]
    cfg = srv.ServerConfig(keys, authorized_client_keys=authorized_client_keys, **config)
    return SSHAcceptor(cfg, server_factory or srv.SSHServer, process_factory, login_timeout=login_timeout,
                       max_unauthenticated=max_unauthenticated, auth_failure_delay=auth_failure_delay,
                       allow_pty=allow_pty, allow_agent_forwarding=allow_agent_forwarding,
                       keepalive_interval=keepalive_interval, keepalive_count_max=keepalive_count_max,
                       idle_timeout=idle_timeout, allow_x11_forwarding=allow_x11_forwarding,
                       sftp_factory=sftp_factory, allow_scp=allow_scp)


async def listen(host: Optional[str] = "", port: int = 22, *, server_host_keys: Sequence[KeyArg],
                 sock: Optional[socket.socket] = None, reuse_address: bool = True, backlog: int = 100,
                 **kw: Any) -> SSHAcceptor:
    """Listen for SSH clients on host:port (0: a free port, see ``get_port()``).

    :param server_host_keys: private host keys: paths (a ``-cert.pub`` beside one adds its
        host certificate), SSHKey objects, or (key, certificate) pairs; every type at once,
        the client's preference chooses.
    :param authorized_client_keys: an authorized_keys path or :class:`AuthorizedKeys` (every
        user), a list of public keys, or a callable(username) -> AuthorizedKeys or None.
    :param trusted_user_ca_keys: CA public keys (or paths) whose user certificates are accepted.
    :param server_factory: makes the connection's :class:`~M2Sec.SSH.server.SSHServer`.
    :param process_factory: called with an :class:`SSHServerProcess` for each session
        (a coroutine function or plain function; an int it returns is the exit status).
        Without it sessions are refused.  :func:`M2Sec.SSH.process.run_local` runs local programs.
    :param sftp_factory: serve the ``sftp`` subsystem (and legacy ``scp -t``/``scp -f``
        commands, unless ``allow_scp=False``) with the SFTPServer it makes from the session
        (``True``: :class:`~M2Sec.SSH.sftp_server.SFTPServer` on the whole file system;
        ``lambda p: SFTPServer(p, chroot=DIR)`` for one tree).
    :param login_timeout: seconds a client has to authenticate (sshd's LoginGraceTime).
    :param max_unauthenticated: connections not yet authenticated at once; more are dropped.
    :param auth_failure_delay: seconds before a failed attempt's answer.
    :param max_auth_tries: failed attempts before the connection ends (6).
    :param keepalive_interval: seconds between keepalive requests to an authenticated client
        (sshd's ClientAliveInterval; 0: none); ``keepalive_count_max`` (3) unanswered end it.
    :param idle_timeout: seconds without a byte from the client after which the connection
        ends (0: never).
    :param allow_agent_forwarding: accept ``ssh -A`` (True, as sshd's AllowAgentForwarding).
    :param allow_x11_forwarding: accept ``ssh -X`` (False, as sshd's X11Forwarding): sessions get
        a DISPLAY on localhost whose connections go to the client's X server.
    :param max_channels: channels per connection (64).
    :param moduli: an OpenSSH moduli file for group exchange (default: built-in groups).
    :param kex_algs: algorithm lists (OpenSSH's defaults), as are encryption_algs, mac_algs,
        server_host_key_algs, compression_algs and public_key_algs.
    """
    acceptor = make_acceptor(server_host_keys=server_host_keys, **kw)
    loop = asyncio.get_running_loop()
    if sock is not None:
        acceptor._server = await loop.create_server(acceptor._protocol, sock=sock, backlog=backlog)
    else:
        acceptor._server = await loop.create_server(acceptor._protocol, host or None, port,
                                                    reuse_address=reuse_address, backlog=backlog)
    return acceptor
