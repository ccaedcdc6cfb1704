"""The blocking front end of the SSH client: the asyncio front end driven by a private event
loop in the caller's thread, so that code without asyncio gets the same core and behaviour.

``with Client(host, username=..., client_keys=[...]) as c: c.run("cmd")``.
"""

import asyncio
from typing import Any, Optional, Tuple

from M2Sec.SSH import _asyncio
from M2Sec.SSH._asyncio import SSHCompletedProcess


class Process:
    """A remote process for blocking code: write(), read(), wait()."""

    def __init__(self, client: "Client", proc: _asyncio.SSHClientProcess) -> None:
        self._client = client
        self._proc = proc

    def write(self, data: Any) -> None:
        """Send data to the process's stdin (waits while the server's window is full)."""
        self._proc.stdin.write(data)
        self._client._run(self._proc.stdin.drain())

    def write_eof(self) -> None:
        self._proc.stdin.write_eof()
        self._client._run(self._proc.stdin.drain())

    def read(self, n: int = -1) -> Any:
        """Up to n bytes of stdout (all until EOF if n < 0)."""
        return self._client._run(self._proc.stdout.read(n))

    def read_stderr(self, n: int = -1) -> Any:
        return self._client._run(self._proc.stderr.read(n))

    def readline(self) -> Any:
        return self._client._run(self._proc.stdout.readline())

    def communicate(self, input: Any = None) -> Tuple[Any, Any]:
        return self._client._run(self._proc.communicate(input))

    def wait(self, check: bool = False) -> SSHCompletedProcess:
        return self._client._run(self._proc.wait(check))

    def change_terminal_size(self, cols: int, rows: int) -> None:
        self._proc.change_terminal_size(cols, rows)
        self._client._run(asyncio.sleep(0))

    def send_signal(self, signal: str) -> None:
        self._proc.send_signal(signal)
        self._client._run(asyncio.sleep(0))

    @property
    def exit_status(self) -> Optional[int]:
        return self._proc.exit_status

    @property
    def exit_signal(self) -> Any:
        return self._proc.exit_signal

    def close(self) -> None:
        self._proc.close()
        self._client._run(self._proc.wait_closed())

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Client:
    """A blocking SSH client connection; takes :func:`M2Sec.SSH.connect`'s arguments.

    :raises DisconnectError: (subclasses) as connect() does, from the constructor.
    """

    def __init__(self, host: str, port: int = 22, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._conn: _asyncio.SSHClientConnection = self._run(_asyncio.connect(host, port, **kw))
        except BaseException:
            self._loop.close()
            raise

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    @property
    def connection(self) -> _asyncio.SSHClientConnection:
        return self._conn

    def run(self, command: Optional[str] = None, **kw: Any) -> SSHCompletedProcess:
        """Run command to completion; as SSHClientConnection.run()."""
        return self._run(self._conn.run(command, **kw))

    def create_process(self, command: Optional[str] = None, **kw: Any) -> Process:
        return Process(self, self._run(self._conn.create_process(command, **kw)))

    def forward_local_port(self, listen_host: str, listen_port: int, dest_host: str, dest_port: int) -> Any:
        """Start forwarding; the connections are served while this client waits in a call
        (``serve(seconds)`` waits for them)."""
        return self._run(self._conn.forward_local_port(listen_host, listen_port, dest_host, dest_port))

    def serve(self, seconds: float) -> None:
        """Let forwarded connections run for this many seconds."""
        self._run(asyncio.sleep(seconds))

    def open_sftp(self, **kw: Any) -> Any:
        """An SFTP session with paramiko's names (:class:`M2Sec.SSH.sftp_blocking.SFTPClient`)."""
        from M2Sec.SSH.sftp_blocking import SFTPClient
        return SFTPClient(self._run, self._run(self._conn.start_sftp_client(**kw)))

    def rekey(self) -> None:
        self._conn.rekey()
        self._run(asyncio.sleep(0))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._conn.close()
            self._run(self._conn.wait_closed())
        finally:
            self._loop.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
