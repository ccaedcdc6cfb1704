"""asyncio over TLSConnection: wrap a connected stream, connect, and serve.

The same handshake, read, write and close steps as the blocking API, driven by SSL's asyncio
driver (:func:`M2Sec.SSL.adrive_loop`) over a StreamReader and StreamWriter.
"""

import asyncio
from typing import Any, Awaitable, Callable, Optional, cast

from M2Sec.SSL.SSLObject import adrive_loop
from M2Sec.TLS.tlsconnection import RECV_SIZE, TLSConnection


async def _drive(gen: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
    return await adrive_loop(gen, reader, writer, RECV_SIZE)


class TLSStream:
    """A TLS connection over an asyncio stream pair; ``connection`` is the TLSConnection (version,
    session, cipher, peer chain)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: TLSConnection) -> None:
        self._reader, self._writer, self.connection = reader, writer, connection

    async def read(self, n: int = -1) -> bytes:
        """Up to n bytes (RECV_SIZE when n < 0); b'' at the end of the data."""
        data: bytes = await _drive(self.connection._read_steps(n if n > 0 else RECV_SIZE, 1), self._reader, self._writer)
        return data

    async def readexactly(self, n: int) -> bytes:
        data: bytes = await _drive(self.connection._read_steps(n, n), self._reader, self._writer)
        if len(data) < n:
            raise asyncio.IncompleteReadError(data, n)
        return data

    async def write(self, data: bytes) -> None:
        """Encrypt and send data (waits until the transport took it)."""
        await _drive(self.connection._write_steps(data), self._reader, self._writer)

    async def close(self) -> None:
        """Send close_notify and close the transport."""
        try:
            await _drive(self.connection._close_steps(), self._reader, self._writer)
        finally:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._writer.get_extra_info(name, default)

    async def __aenter__(self) -> "TLSStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _connection(writer: asyncio.StreamWriter) -> TLSConnection:
    conn = TLSConnection(writer.get_extra_info("socket"))
    conn.closeSocket = False            # the transport owns the socket
    return conn


async def wrap_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                      username: Optional[str] = None, password: Optional[str] = None, **kwargs: Any) -> TLSStream:
    """Handshake as a client on a connected stream: handshakeClientSRP when username is given,
    else handshakeClientCert with kwargs (certChain, privateKey, session, settings, checker,
    serverName, alpn, cafile, capath, verify)."""
    conn = _connection(writer)
    if username is not None:
        gen = conn.handshakeClientSRP(username, cast(Any, password), _steps=True, **kwargs)  # None: its own error
    else:
        gen = conn.handshakeClientCert(_steps=True, **kwargs)
    try:
        await _drive(gen, reader, writer)
    except BaseException:
        writer.close()
        raise
    return TLSStream(reader, writer, conn)


async def wrap_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, **kwargs: Any) -> TLSStream:
    """Handshake as a server on a connected stream (kwargs as for handshakeServer)."""
    conn = _connection(writer)
    try:
        await _drive(conn.handshakeServerAsync(_steps=True, **kwargs), reader, writer)
    except BaseException:
        writer.close()
        raise
    return TLSStream(reader, writer, conn)


async def open_connection(host: str, port: int, **kwargs: Any) -> TLSStream:
    """Connect and handshake as a client; serverName defaults to host (checked against the certificate)."""
    reader, writer = await asyncio.open_connection(host, port)
    kwargs.setdefault("serverName", host)
    return await wrap_client(reader, writer, **kwargs)


async def start_server(client_connected_cb: Callable[[TLSStream], Awaitable[None]], host: str, port: int,
                       **kwargs: Any) -> asyncio.AbstractServer:
    """An asyncio server whose connections handshake (kwargs as for handshakeServer) and are then
    passed to client_connected_cb; a failed handshake closes the connection."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            stream = await wrap_server(reader, writer, **kwargs)
        except Exception:
            return
        try:
            await client_connected_cb(stream)
        finally:
            if not stream.connection.closed:
                await stream.close()

    return await asyncio.start_server(serve, host, port)
