"""The blocking front end of the SSH client: the asyncio front end run by an event loop in a
thread of the client's own (as paramiko's transport thread), so that code without asyncio gets
the same core and behaviour.

``with Client(host, username=..., client_keys=[...]) as c: c.run("cmd")``.  The connection is
served while the application is elsewhere: forwarded connections, keepalives, rekeying and
window updates go on between calls.  Every method may be called from any thread (also one
running an asyncio loop of its own); each waits for its result in the client's thread.
"""

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Optional, Tuple, TypeVar, Union

from M2Sec.SSH import _asyncio
from M2Sec.SSH._asyncio import SSHCompletedProcess

if TYPE_CHECKING:  # imported when used: the blocking SFTP client is optional weight
    from M2Sec.SSH.sftp_blocking import SFTPClient
    from M2Sec.SSH.sftp_client import SFTPClient as AsyncSFTPClient


_T = TypeVar("_T")


async def _call(fn: Callable[..., _T], *args: Any) -> _T:
    return fn(*args)


class _Loop:
    """An event loop running in a daemon thread, and the calls that wait for it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, _T], timeout: Optional[float] = None) -> _T:
        """Run coro in the loop's thread; its result (or exception) here."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a blocking SSH call from the client's own thread (a callback?) would wait forever")
        if self.loop.is_closed() or not self._thread.is_alive():
            coro.close()
            raise RuntimeError("the SSH client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """fn(*args) in the loop's thread (the asyncio objects are not thread-safe)."""
        return self.run(_call(fn, *args))

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if threading.current_thread() is not self._thread:
                self._thread.join(10)


class Process:
    """A remote process for blocking code: write(), read(), wait()."""

    def __init__(self, client: "Client", proc: _asyncio.SSHClientProcess) -> None:
        self._client = client
        self._proc = proc

    def write(self, data: Any) -> None:
        """Send data to the process's stdin (waits while the server's window is full)."""
        data = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
        self._client._loop.run(self._write(data))

    async def _write(self, data: Any) -> None:
        self._proc.stdin.write(data)
        await self._proc.stdin.drain()

    def write_eof(self) -> None:
        self._client._loop.run(self._write_eof())

    async def _write_eof(self) -> None:
        self._proc.stdin.write_eof()
        await self._proc.stdin.drain()

    def read(self, n: int = -1) -> Any:
        """Up to n bytes of stdout (all until EOF if n < 0)."""
        return self._client._loop.run(self._proc.stdout.read(n))

    def read_stderr(self, n: int = -1) -> Any:
        return self._client._loop.run(self._proc.stderr.read(n))

    def readline(self) -> Any:
        return self._client._loop.run(self._proc.stdout.readline())

    def communicate(self, input: Any = None) -> Tuple[Any, Any]:
        return self._client._loop.run(self._proc.communicate(input))

    def wait(self, check: bool = False, timeout: Optional[float] = None) -> SSHCompletedProcess:
        return self._client._loop.run(self._proc.wait(check), timeout)

    def change_terminal_size(self, cols: int, rows: int) -> None:
        self._client._loop.call(self._proc.change_terminal_size, cols, rows)

    def send_signal(self, signal: str) -> None:
        self._client._loop.call(self._proc.send_signal, signal)

    @property
    def exit_status(self) -> Optional[int]:
        return self._proc.exit_status

    @property
    def exit_signal(self) -> Any:
        return self._proc.exit_signal

    def close(self) -> None:
        self._client._loop.call(self._proc.close)
        self._client._loop.run(self._proc.wait_closed())

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Channel:
    """A forwarded TCP connection for blocking code (paramiko's Channel names): send(),
    sendall(), recv(), shutdown_write(), close()."""

    def __init__(self, client: "Client", reader: _asyncio.SSHReader, writer: _asyncio.SSHWriter) -> None:
        self._client = client
        self._reader = reader
        self._writer = writer

    def sendall(self, data: Any) -> None:
        self._client._loop.run(self._send(bytes(data)))

    def send(self, data: Any) -> int:
        self.sendall(data)
        return len(data)

    async def _send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    def recv(self, n: int) -> bytes:
        """Up to n bytes; empty when the other side closed."""
        data: bytes = self._client._loop.run(self._reader.read(n))  # no encoding: bytes
        return data

    def shutdown_write(self) -> None:
        self._client._loop.call(self._writer.write_eof)

    def close(self) -> None:
        self._client._loop.call(self._writer._chan.close)

    def __enter__(self) -> "Channel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Client:
    """A blocking SSH client connection; takes :func:`M2Sec.SSH.connect`'s arguments
    (``config``, ``agent_path``, ``tunnel``, ``keepalive_interval`` ... included).

    :raises DisconnectError: (subclasses) as connect() does, from the constructor.
    """

    def __init__(self, host: str, port: Any = _asyncio._UNSET, **kw: Any) -> None:
        self._loop = _Loop("M2Sec SSH client %s" % host)
        try:
            self._conn: _asyncio.SSHClientConnection = self._loop.run(self._connect(host, port, kw))
        except BaseException:
            self._loop.stop()
            raise

    @staticmethod
    async def _connect(host: str, port: Any, kw: Any) -> _asyncio.SSHClientConnection:
        return await _asyncio.connect(host, port, **kw)

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._loop.run(coro)

    @property
    def connection(self) -> _asyncio.SSHClientConnection:
        """The asyncio connection underneath (use it only from coroutines run by this client)."""
        return self._conn

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._loop.call(self._conn.get_extra_info, name, default)

    def run(self, command: Optional[str] = None, **kw: Any) -> SSHCompletedProcess:
        """Run command to completion; as SSHClientConnection.run()."""
        return self._loop.run(self._conn.run(command, **kw))

    def create_process(self, command: Optional[str] = None, **kw: Any) -> Process:
        return Process(self, self._loop.run(self._conn.create_process(command, **kw)))

    def open_connection(self, host: str, port: int) -> Channel:
        """A direct-tcpip channel to host:port as the server sees it."""
        reader, writer = self._loop.run(self._conn.open_connection(host, port))
        return Channel(self, reader, writer)

    def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str, dest_port: int) -> "_Listener":
        """Listen locally and forward each connection through the server; served in the
        background until the listener or the client is closed (``get_port()``, ``close()``)."""
        return _Listener(self, self._loop.run(self._conn.forward_local_port(listen_host, listen_port,
                                                                            dest_host, dest_port)))

    def forward_remote_port(self, listen_host: str, listen_port: int, dest_host: str, dest_port: int) -> "_Listener":
        """Ask the server to listen and forward each connection here, in the background."""
        return _Listener(self, self._loop.run(self._conn.forward_remote_port(listen_host, listen_port,
                                                                             dest_host, dest_port)))

    def forward_local_path(self, listen_path: str, dest_path: str) -> "_Listener":
        """As forward_local_port, for UNIX sockets (``ssh -L path:path``)."""
        return _Listener(self, self._loop.run(self._conn.forward_local_path(listen_path, dest_path)))

    def forward_remote_path(self, listen_path: str, dest_path: str) -> "_Listener":
        """As forward_remote_port, for UNIX sockets (``ssh -R path:path``)."""
        return _Listener(self, self._loop.run(self._conn.forward_remote_path(listen_path, dest_path)))

    def forward_socks(self, listen_host: str, listen_port: int) -> "_Listener":
        """A SOCKS 4/5 proxy through the server (``ssh -D``), served in the background."""
        return _Listener(self, self._loop.run(self._conn.forward_socks(listen_host, listen_port)))

    def serve(self, seconds: float) -> None:
        """Wait this many seconds (forwards are served in the background anyway)."""
        import time
        time.sleep(seconds)

    def open_sftp(self, **kw: Any) -> "SFTPClient":
        """An SFTP session with paramiko's names (:class:`M2Sec.SSH.sftp_blocking.SFTPClient`)."""
        from M2Sec.SSH.sftp_blocking import SFTPClient

        async def start() -> "AsyncSFTPClient":
            return await self._conn.start_sftp_client(**kw)
        return SFTPClient(self._run, self._run(start()))

    def rekey(self) -> None:
        self._loop.call(self._conn.rekey)

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self._loop.call(self._conn.close)
            self._loop.run(self._conn.wait_closed(), 30)
        finally:
            self._loop.stop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Listener:
    """A forward's listener for blocking code: get_port(), close()."""

    def __init__(self, client: Client, listener: Union[_asyncio.SSHListener, _asyncio.SSHRemoteListener]) -> None:
        self._client = client
        self._listener = listener

    def get_port(self) -> int:
        return self._listener.get_port()

    def close(self) -> None:
        self._client._loop.call(self._listener.close)

    def __enter__(self) -> "_Listener":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

