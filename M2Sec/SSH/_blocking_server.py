"""The blocking front end of the SSH server: the asyncio server run by an event loop in a
thread of its own, with session handlers written as plain blocking functions.

``with Server("127.0.0.1", 2222, server_host_keys=[...], process_factory=handle) as s:
s.serve_forever()`` (or ``s.start()`` to serve in the background).  ``handle`` gets a
:class:`BlockingProcess` and runs in a worker thread: ``read()``, ``write()``, ``exit()``.
"""

import asyncio
import inspect
import threading
from typing import Any, Callable, Optional

from M2Sec.SSH import _asyncio_server


class BlockingProcess:
    """An :class:`~M2Sec.SSH.SSHServerProcess` for blocking code (in a worker thread)."""

    def __init__(self, process: _asyncio_server.SSHServerProcess, loop: asyncio.AbstractEventLoop) -> None:
        self._p = process
        self._loop = loop

    def __getattr__(self, name: str) -> Any:  # command, subsystem, env, term_type, username, ...
        return getattr(self._p, name)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes from the client (all until EOF if n < 0); empty at EOF."""
        data: bytes = self._run(self._p.stdin.read(n))  # the session's stdin has no encoding: bytes
        return data

    def readline(self) -> bytes:
        line: bytes = self._run(self._p.stdin.readline())
        return line

    def _write(self, stream: Any, data: Any) -> None:
        async def write() -> None:
            stream.write(data)
            await stream.drain()
        self._run(write())

    def write(self, data: Any) -> None:
        """Send data to the client's stdout (waits while the client's window is full)."""
        self._write(self._p.stdout, data)

    def write_stderr(self, data: Any) -> None:
        self._write(self._p.stderr, data)

    def exit(self, status: int) -> None:
        self._loop.call_soon_threadsafe(self._p.exit, status)


class Server:
    """A blocking SSH server; takes :func:`M2Sec.SSH.listen`'s arguments.

    ``process_factory`` may be a plain function of a :class:`BlockingProcess` (run in a
    worker thread; an int it returns is the exit status) or a coroutine function of an
    SSHServerProcess (run in the server's loop).
    """

    def __init__(self, host: str = "", port: int = 22, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        factory = kw.get("process_factory")
        if factory is not None and not inspect.iscoroutinefunction(factory) \
                and not inspect.iscoroutinefunction(getattr(factory, "__call__", None)):
            kw["process_factory"] = self._threaded(factory)
        try:
            self.acceptor: _asyncio_server.SSHAcceptor = self._loop.run_until_complete(
                _asyncio_server.listen(host, port, **kw))
        except BaseException:
            self._loop.close()
            raise
        self._thread: Optional[threading.Thread] = None

    def _threaded(self, handler: Callable[[BlockingProcess], Any]) -> Callable[[Any], Any]:
        loop = self._loop

        async def run(process: _asyncio_server.SSHServerProcess) -> Any:
            return await loop.run_in_executor(None, handler, BlockingProcess(process, loop))
        return run

    @property
    def port(self) -> int:
        return self.acceptor.get_port()

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`close` (from another thread or a handler)."""
        self._loop.run_forever()

    def start(self) -> "Server":
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="M2Sec SSH server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening, close the connections and the loop."""
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            self.acceptor.close()
            await self.acceptor.wait_closed()
            await asyncio.sleep(0)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:     # sessions and forwards still running end with the server
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
        else:
            self._loop.run_until_complete(shutdown())
        self._loop.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
