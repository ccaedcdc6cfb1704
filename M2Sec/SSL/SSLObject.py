"""TLS without I/O: an SSL over two memory BIOs, and the one retry loop that drives it.

An :class:`SSLObject` knows nothing of sockets, event loops, threads or clocks.  Bytes that
arrive from the peer go in with :meth:`SSLObject.receive_bytes` (and the end of the stream
with :meth:`SSLObject.receive_eof`); bytes for the peer come out of
:meth:`SSLObject.data_to_send`.  Its operations (``do_handshake``, ``read``, ``write``,
``unwrap``) either complete or raise :class:`~M2Sec.SSL.SSLWantReadError`: the object then
needs more bytes from the peer, after sending what it has.  :meth:`SSLObject.send` and
:meth:`SSLObject.receive_into` do a write and the taking of its bytes, or the handing over of
the peer's bytes and a read, in one call each.

That rule lives in one place, :func:`run`, a generator that performs one operation and asks its
caller for I/O::

    gen = run(tls, tls.do_handshake)
    out, want = next(gen)            # send `out`; if `want`, read and send the bytes back
    out, want = gen.send(incoming)   # b"" means the peer closed the connection
    ...                              # until StopIteration, whose value is the result

:func:`drive` runs it over a blocking socket and :func:`adrive` over asyncio streams (through
:func:`drive_loop` and :func:`adrive_loop`, which run any generator speaking run()'s vocabulary:
the TLS Lite facade's operations are such generators, built on :func:`run`); other event loops
(Twisted, the facade's select-style generators) feed a loop through :func:`step` the same way.
"""

from typing import Any, Callable, Generator, Optional, Tuple, TypeVar, Union

from M2Sec import m2
from M2Sec._base import Owned
from M2Sec.SSL.Context import Context
from M2Sec.SSL.Session import Session, _session_ptr
from M2Sec.SSL._state import SSLState, prepare_client_hostname, set_owner
from M2Sec.SSL.SSLError import SSLClosedError, SSLError, SSLVerificationError, SSLWantReadError, SSLWantWriteError

__all__ = ["SSLObject", "run", "step", "drive", "adrive", "drive_loop", "adrive_loop"]

T = TypeVar("T")

#: what run() yields: (bytes to send to the peer, whether bytes from the peer are needed).
#: Other loops driven by drive_loop/adrive_loop may put a size instead of True: read at most
#: that many bytes (the TLS facade reads record by record when the socket outlives TLS).
IORequest = Tuple[bytes, Union[bool, int]]


class SSLObject(SSLState, Owned):
    """One TLS connection over memory: bytes in, bytes out.

    :param context: the Context to use (create_default_context() checks the server's name).
    :param server_side: True for the server's end.
    :param server_hostname: the server's name (SNI and, with a verifying context, the name
        its certificate must carry).
    :param session: a Session to resume (client).

    ``close()`` frees the SSL and its buffers; using the object afterwards raises ClosedError.
    """

    _free_fn = m2.ssl_free

    def __init__(self, context: Context, *, server_side: bool = False, server_hostname: Optional[str] = None,
                 session: Optional[Session] = None) -> None:
        self.context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        ssl = m2.ssl_new(context.ctx)
        try:
            self._in: Any = m2.bio_new(m2.bio_s_mem())  # a BIO_ptr, None after close()
            self._out: Any = m2.bio_new(m2.bio_s_mem())
            m2.bio_set_mem_eof_return(self._in, -1)  # an empty buffer means "wait", not EOF
            m2.ssl_set_bio(ssl, self._in, self._out)  # the SSL owns both BIOs
            if server_side:
                m2.ssl_set_accept_state(ssl)
            else:
                m2.ssl_set_connect_state(ssl)
                prepare_client_hostname(ssl, context, server_hostname)
                if session is not None:
                    m2.ssl_set_session(ssl, _session_ptr(session))
        except BaseException:
            m2.ssl_free(ssl)
            raise
        Owned.__init__(self, ssl, 1)
        self._eof = False
        set_owner(ssl, self)

    # -- life cycle ------------------------------------------------------------------------
    @property
    def ssl(self) -> Any:
        """The SSL pointer; raises SSLClosedError (an SSLError and a ClosedError) once the
        object was closed."""
        p = self._p
        if p is None:
            raise SSLClosedError("the TLS object has been closed")
        return p

    def close(self) -> None:
        """Free the SSL and its buffers (idempotent)."""
        p = getattr(self, "_p", None)
        if p is not None:
            self._in = self._out = None
        super().close()

    free = close

    # -- bytes in and out ------------------------------------------------------------------
    def receive_bytes(self, data: bytes) -> None:
        """Hand over bytes received from the peer."""
        self.ssl
        if self._eof:
            raise SSLError("bytes received after the end of the stream")
        if data:
            m2.bio_write(self._in, data)

    def receive_eof(self) -> None:
        """The peer closed the connection: reads past the buffered bytes raise SSLEOFError
        unless a close_notify came first."""
        self.ssl
        if not self._eof:
            self._eof = True
            m2.bio_set_mem_eof_return(self._in, 0)

    def data_to_send(self) -> bytes:
        """The bytes waiting to go to the peer (b'' when none); they are taken out."""
        self.ssl
        n = m2.bio_ctrl_pending(self._out)
        return (m2.bio_read(self._out, n) or b"") if n else b""

    def bytes_to_send(self) -> int:
        """How many bytes wait to go to the peer."""
        self.ssl
        return m2.bio_ctrl_pending(self._out)

    def _want(self) -> SSLError:
        if m2.ssl_want(self.ssl) == m2.SSL_WRITING:
            return SSLWantWriteError("the TLS object needs to send bytes first")
        return SSLWantReadError("the TLS object needs bytes from the peer")

    # -- operations ------------------------------------------------------------------------
    @property
    def handshake_done(self) -> bool:
        return self._p is not None and bool(m2.ssl_is_init_finished(self._p))

    def do_handshake(self) -> None:
        """Run the handshake as far as the bytes received allow.

        :raises SSLWantReadError: until it completes; SSLError (SSLCertVerificationError ...)
            when it fails; an SSLVerificationError from the context's post_connection_check."""
        ssl = self.ssl
        if not m2.ssl_handshake(ssl, 0):
            raise self._want()
        check = self.context.post_connection_check
        if check is not None and not self.server_side and not check(self.get_peer_cert(), self.server_hostname):
            raise SSLVerificationError("post connection check failed")

    def read(self, size: int = 16384) -> bytes:
        """Up to size bytes of application data; b'' once the peer sent close_notify.

        :raises SSLWantReadError: when no data can be decrypted yet; SSLEOFError when the
            stream ended without close_notify."""
        if size <= 0:
            raise ValueError("size must be positive")
        data = m2.ssl_read_nbio(self.ssl, size)
        if data is None:
            raise self._want()
        return data

    def read_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Read into a writable buffer: the count read, 0 after close_notify."""
        n: int = m2.ssl_read_into(self.ssl, buffer, nbytes, 0)
        if n < 0:
            raise self._want()
        return n

    def write(self, data: Any) -> int:
        """Encrypt all of data for the peer (see data_to_send()); the count written.

        :raises SSLWantReadError: while the handshake waits for the peer."""
        n = m2.ssl_write(self.ssl, data, 0)
        if n < 0:
            raise self._want()
        return n

    # -- two steps in one call: a loop that sends at once what it writes, or reads at once what
    # it receives, gives the GIL up once for both (a hand-over less when threads share it)
    def send(self, data: Any) -> bytes:
        """The bytes for the peer once all of data is encrypted: write() then data_to_send(),
        as one call (one release of the GIL).  Bytes queued before (a ticket, a KeyUpdate) are
        included.

        :raises SSLWantReadError: while the handshake waits for the peer (nothing is written;
            its own bytes for the peer are in data_to_send()).
        :raises ValueError: over 1 GiB of data."""
        out: Optional[bytes] = m2.ssl_write_take(self.ssl, data)
        if out is None:
            raise self._want()
        return out

    def receive_into(self, data: Any, buffer: Any, nbytes: int = 0) -> int:
        """The count of bytes read into buffer (up to nbytes; 0: its size) once data from the
        peer is handed over: receive_bytes() then read_into(), as one call (one release of the
        GIL).  0 after close_notify.

        :raises SSLWantReadError: when no whole record is there yet (data is kept for the next
            call).
        :raises ValueError: for an empty buffer."""
        ssl = self.ssl
        if self._eof:
            raise SSLError("bytes received after the end of the stream")
        n: int = m2.ssl_receive_into(ssl, data, buffer, nbytes)
        if n < 0:
            raise self._want()
        return n

    def unwrap(self) -> None:
        """Send close_notify and wait for the peer's.

        :raises SSLWantReadError: until the peer's close_notify arrives."""
        ssl = self.ssl
        r = m2.ssl_shutdown_timeout(ssl, 0)
        if r == 0:
            r = m2.ssl_shutdown_timeout(ssl, 0)
        if r != 1:
            raise self._want()

    def version(self) -> Optional[str]:
        """The negotiated protocol, or None before the handshake."""
        return m2.ssl_get_version(self.ssl) if self.handshake_done else None

    def cipher(self) -> Optional[Tuple[str, str, int]]:
        """(suite name, protocol version, secret bits), or None before the handshake."""
        c = self.get_cipher() if self.handshake_done else None
        return None if c is None else (c.name(), c.version(), len(c))

    @property
    def session(self) -> Optional[Session]:
        return self.get_session()


def run(tls: SSLObject, op: Callable[..., T], *args: Any) -> Generator[IORequest, Optional[bytes], T]:
    """The retry loop: perform ``op(*args)`` (a method of tls), asking the caller for I/O.

    Yields ``(out, want)``: the caller sends ``out`` to the peer and, when ``want`` is true,
    sends back (``gen.send``) the next bytes read from the peer, b'' at the end of the stream.
    Returns op's result (StopIteration.value) once op completes and its output was yielded.
    """
    while True:
        try:
            result = op(*args)
        except SSLWantReadError:
            want = True
        except SSLWantWriteError:
            want = False
        else:
            out = tls.data_to_send()
            if out:
                yield out, False
            return result
        # outside the except clause: an I/O error raised in here carries no want-read context
        data = yield tls.data_to_send(), want
        if data:
            tls.receive_bytes(data)
        elif data is not None or want:
            tls.receive_eof()


def step(loop: Generator[IORequest, Optional[bytes], T], incoming: Optional[bytes] = None,
         error: Optional[BaseException] = None) -> IORequest:
    """loop's next I/O request, given the bytes read for its last one (or the I/O error that
    request met, raised inside loop where it can clean up).

    :raises StopIteration: with loop's result as its value, once loop is done.
    """
    return loop.throw(error) if error is not None else loop.send(incoming)


def _recv_size(want: Union[bool, int], bufsize: int) -> int:
    return bufsize if want is True else int(want)


def drive_loop(loop: Generator[IORequest, Optional[bytes], T], sock: Any, bufsize: int = 65536) -> T:
    """Run a retry loop (run()'s vocabulary) over a blocking socket (anything with sendall() and
    recv()); an OSError from the socket is raised inside loop."""
    incoming: Optional[bytes] = None
    error: Optional[BaseException] = None
    try:
        while True:
            out, want = step(loop, incoming, error)
            incoming = error = None
            try:
                if out:
                    sock.sendall(out)
                if want:
                    incoming = sock.recv(_recv_size(want, bufsize))
            except OSError as e:
                error = e
    except StopIteration as stop:
        result: T = stop.value
        return result


async def adrive_loop(loop: Generator[IORequest, Optional[bytes], T], reader: Any, writer: Any,
                      bufsize: int = 65536) -> T:
    """Run a retry loop over asyncio streams (an asyncio.StreamReader and StreamWriter); an
    OSError from the transport is raised inside loop."""
    incoming: Optional[bytes] = None
    error: Optional[BaseException] = None
    try:
        while True:
            out, want = step(loop, incoming, error)
            incoming = error = None
            try:
                if out:
                    writer.write(out)
                    await writer.drain()
                if want:
                    incoming = await reader.read(_recv_size(want, bufsize))
            except OSError as e:
                error = e
    except StopIteration as stop:
        result: T = stop.value
        return result


def drive(tls: SSLObject, sock: Any, op: Callable[..., T], *args: Any, bufsize: int = 65536) -> T:
    """Run op over a blocking socket (anything with sendall() and recv())."""
    return drive_loop(run(tls, op, *args), sock, bufsize)


async def adrive(tls: SSLObject, reader: Any, writer: Any, op: Callable[..., T], *args: Any,
                 bufsize: int = 65536) -> T:
    """Run op over asyncio streams (an asyncio.StreamReader and StreamWriter)."""
    return await adrive_loop(run(tls, op, *args), reader, writer, bufsize)
