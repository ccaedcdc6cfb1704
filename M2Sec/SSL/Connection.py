"""SSL connections over sockets (M2Crypto's ``SSL.Connection``).

A :class:`Connection` owns one SSL and drives it over a socket.  The socket's timeout decides
how each handshake, read and write behaves: blocking (no timeout), bounded by the timeout
(``settimeout(t)``: SSL.SSLTimeoutError when it expires), or non-blocking
(``setblocking(0)``: reads give None/b'', writes -1, handshakes 0 when they would block, as in
M2Crypto).  The GIL is released while OpenSSL waits or works.

Threads: one thread may read while another writes.  ``close()`` or ``free()`` from another
thread while a handshake, read or write is under way wakes it (the TCP connection is shut
down) and it raises SSLClosedError; the socket and the SSL are freed when the last such call
returns, never under it.
"""

import io
import socket
from collections import deque
import threading
import logging
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Tuple, TypeVar, Union, cast  # noqa: F401 (M2Crypto's module names)

from M2Sec import BIO, m2, util
from M2Sec.SSL.Checker import Checker, SSLVerificationError
from M2Sec.SSL.Cipher import Cipher, Cipher_Stack  # noqa: F401 (M2Crypto's module names)
from M2Sec.SSL.Context import Context
from M2Sec.SSL.Session import Session, _session_ptr
from M2Sec.SSL._state import SSLState, _name_to_check, client_names, context_of, owner_of, prepare_client_hostname
from M2Sec.SSL.SSLError import SSLClosedError, SSLError
from M2Sec.SSL.timeout import struct_size, struct_to_timeout
from M2Sec.SSL.timeout import timeout as Timeout

__all__ = ["Connection", "timeout"]

log = logging.getLogger(__name__)  # M2Crypto's module logger

timeout = Timeout
T = TypeVar("T")
#: the most sendall() hands to one SSL_write (M2Crypto's counts are C ints)
_MAX_WRITE = 1 << 30
_INT_MAX = (1 << 31) - 1

#: the Connection (or SSLObject) that owns an SSL pointer, or None (M2Sec.SSL._state.owner_of)
_connection_of = owner_of


def _serverPostConnectionCheck(*args: Any, **kw: Any) -> int:
    return 1


_RELEASE_BIO, _RELEASE_SSL = 1, 2
#: clientPostConnectionCheck not made yet (a Checker, made when first asked for)
_UNSET: Any = object()


def _guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """A Connection method running fn(ssl, arg, timeout) as one counted call (see
    Connection._io): the hot path of reads and writes, written once.

    No lock per call: the call enters self._busy (a deque, whose append and pop are atomic
    under the GIL and allocate nothing) before it looks at _closed, and close() sets _closed
    and its _release flags before it looks at _busy, so that either close() sees the call (and
    leaves the freeing to it) or the call sees the connection closed; on its way out the call
    leaves _busy before it looks at _release, so that the last one out finds what close() or
    free() left to it."""

    def call(self: "Connection", arg: Any) -> T:
        busy = self._busy
        busy.append(None)
        try:
            ssl = self._ssl
            if self._closed or ssl is None:
                raise SSLClosedError("the connection is closed")
            return fn(ssl, arg, self._timeout)
        except SSLError as exc:
            if self._closed and not isinstance(exc, SSLClosedError):
                raise SSLClosedError("the connection was closed during the call") from exc
            raise
        finally:
            busy.pop()
            if self._release:
                self._released()

    return call


def _apply_call(ssl: Any, call: Tuple[Callable[..., T], Tuple[Any, ...]], timeout: float) -> T:
    fn, args = call
    return fn(ssl, *args)


class Connection(SSLState):
    """An SSL connection on a socket (a new TCP socket of family when sock is None)."""

    serverPostConnectionCheck = _serverPostConnectionCheck
    m2_bio_noclose = m2.bio_noclose
    _ssl: Any = None
    # defaults that __init__ does not set again for each connection
    _bio_freed = False
    _release = 0  # what the last call under way frees: _RELEASE_BIO | _RELEASE_SSL
    _readbio: Optional[BIO.BIO] = None
    _writebio: Optional[BIO.BIO] = None
    sockbio = sslbio = None
    ssl_close_flag = m2.bio_noclose
    host: Optional[Union[str, bytes]] = None
    addr: Any = None

    m2_ssl_free = staticmethod(m2.ssl_free)

    @staticmethod
    def m2_bio_free(bio: Any) -> int:
        return m2.bio_free(bio)

    def __init__(self, ctx: Context, sock: Optional[socket.socket] = None, family: int = socket.AF_INET) -> None:
        if not isinstance(ctx, Context):
            raise TypeError("an SSL.Context is required, not %s" % type(ctx).__name__)
        self.ctx = ctx
        self._closed = False
        self._lock = threading.Lock()
        self._busy: Deque[None] = deque()  # one entry per handshake, read or write under way, in any thread
        self._ssl = m2.ssl_new_owned(ctx._p or ctx.ctx, self)  # ctx.ctx raises once ctx was freed
        if ctx.check_hostname:  # the handshake checks the host name itself: no Checker
            self._client_check = None
        if sock is None:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket = sock
        t = sock.gettimeout()
        self._timeout = -1.0 if t is None else t
        if ctx.post_connection_check is not None:
            self.set_post_connection_check_callback(ctx.post_connection_check)

    # -- life cycle ------------------------------------------------------------------------
    _client_check: Optional[Checker] = _UNSET
    #: whether connect() may run its set-up and handshake as one call (no subclass overrides a step)
    _plain_client = True
    #: the same for the server side (accept(), handshake_on_existing_socket(server_side=True))
    _plain_server = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls._plain_client = all(getattr(cls, n) is getattr(Connection, n)
                                for n in ("setup_ssl", "set_connect_state", "connect_ssl"))
        cls._plain_server = all(getattr(cls, n) is getattr(Connection, n)
                                for n in ("setup_ssl", "set_accept_state", "accept_ssl"))

    @property
    def clientPostConnectionCheck(self) -> Optional[Checker]:
        """The check connect() runs after the handshake (M2Crypto's attribute): a Checker,
        or None for a create_default_context() context, which checks in the handshake."""
        check = self._client_check
        if check is _UNSET:
            check = self._client_check = Checker()
        return check

    @clientPostConnectionCheck.setter
    def clientPostConnectionCheck(self, check: Optional[Callable[..., Any]]) -> None:
        self._client_check = check  # type: ignore[assignment]

    @property
    def ssl(self) -> Any:
        """The SSL pointer (M2Crypto's attribute); SSLClosedError once free() freed it."""
        ssl = self._ssl
        if ssl is None:
            raise SSLClosedError("the connection has been freed")
        return ssl

    @ssl.setter
    def ssl(self, ptr: Any) -> None:
        self._ssl = ptr

    @property
    def closed(self) -> bool:
        return self._closed

    def _free_bio(self) -> None:
        """Close the socket; the SSL keeps no descriptor that could be reused."""
        if self._bio_freed:
            return
        self._bio_freed = True
        ssl = self._ssl
        if ssl is not None:
            m2.ssl_set_fd(ssl, -1)  # frees the socket BIO; later I/O fails cleanly (EBADF)
        self._readbio = self._writebio = None
        self.socket.close()

    def close(self, freeBio: Optional[bool] = True) -> None:
        """Send close_notify (after a completed handshake) and, with freeBio, close the socket.

        Called while another thread is in a handshake, read or write, it shuts the TCP
        connection down instead (no close_notify), which makes that call raise
        SSLClosedError; the socket is closed when it returns.  The SSL itself is freed when
        the object goes away (or by free())."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            flag = _RELEASE_BIO if freeBio else 0
            self._release |= flag  # before looking at _busy (see _guarded)
            busy = bool(self._busy)
            if not busy:
                self._release &= ~flag
        if busy:
            try:
                self.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected: nothing blocks on it
            return
        ssl = self._ssl
        if ssl is not None:
            m2.ssl_close_notify(ssl, self._timeout)  # once, after a handshake; the peer may be gone
        if freeBio:
            self._free_bio()

    def free(self) -> None:
        """Close, and free the SSL now rather than when the object goes away (or, if another
        thread is in a handshake, read or write, when that call returns)."""
        was_open = not self._closed  # close(freeBio=False) before leaves the socket open,
        self.close(False)
        free_bio = was_open and self._closed  # and so does a close() that a subclass put off
        flags = _RELEASE_SSL | (_RELEASE_BIO if free_bio else 0)
        with self._lock:
            self._release |= flags  # before looking at _busy (see _guarded)
            if self._busy:
                return
            self._release &= ~flags
        self._free_ssl()  # and its socket BIO with it
        if free_bio:
            self._free_bio()

    def _free_ssl(self) -> None:
        ssl, self._ssl = self._ssl, None
        if ssl is not None:
            m2.ssl_free(ssl)

    def _io(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(ssl, *args) for a handshake, read or write: counted as under way, so that
        close() and free() from another thread wake it and free nothing it uses.

        :raises SSLClosedError: the connection was closed before or during the call."""
        result: T = self._apply((fn, args))  # _apply is _guarded(_apply_call): T unsolved there
        return result

    def _released(self) -> None:
        """Free what close() or free() left to the last call under way (which just ended)."""
        with self._lock:
            if self._busy:
                return
            release, self._release = self._release, 0
        if release & _RELEASE_BIO:
            self._free_bio()
        if release & _RELEASE_SSL:
            self._free_ssl()

    def __del__(self) -> None:
        try:
            if not getattr(self, "_closed", True):
                self.close()
            ssl = self._ssl
            if ssl is not None:
                self._ssl = None
                if self.ssl_close_flag == self.m2_bio_noclose:
                    self.m2_ssl_free(ssl)
                else:
                    m2.ssl_free(ssl)  # M2Crypto left it to an SSL BIO; M2Sec's never owns it
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def clear(self) -> int:
        """Reset the SSL for a new connection (SSL_clear); bad sessions leave the cache."""
        return m2.ssl_clear(self.ssl)

    def set_shutdown(self, mode: int) -> None:
        """Set the shutdown state (SSL_SENT_SHUTDOWN, SSL_RECEIVED_SHUTDOWN) without I/O."""
        m2.ssl_set_shutdown1(self.ssl, mode)

    def get_shutdown(self) -> int:
        return m2.ssl_get_shutdown(self.ssl)

    def shutdown(self, how: int) -> None:
        """M2Crypto's shutdown: sets the SSL's shutdown state to how (see set_shutdown)."""
        m2.ssl_set_shutdown1(self.ssl, how)

    def unwrap(self) -> socket.socket:
        """End TLS (close_notify both ways) and return the plain socket (STARTTLS's reverse)."""
        while True:
            r = self._io(m2.ssl_shutdown_timeout, self._timeout)
            if r == 1:
                break
            if r == 0:
                continue  # ours sent: now wait for the peer's
            raise SSLError("the shutdown would block")
        self._closed = True
        m2.ssl_set_fd(self.ssl, -1)
        return self.socket

    # -- socket-like methods ---------------------------------------------------------------
    def bind(self, addr: util.AddrType) -> None:
        self.socket.bind(addr)

    def listen(self, qlen: int = 5) -> None:
        self.socket.listen(qlen)

    def fileno(self) -> int:
        return self.socket.fileno()

    def getsockopt(self, level: int, optname: int, buflen: Optional[int] = None) -> Union[int, bytes]:
        if buflen is None:
            return self.socket.getsockopt(level, optname)
        return self.socket.getsockopt(level, optname, buflen)

    def setsockopt(self, level: int, optname: int, value: Union[int, bytes, None] = None) -> None:
        self.socket.setsockopt(level, optname, cast(Any, value))  # None without optlen: socket's TypeError

    def getsockname(self) -> util.AddrType:
        return cast(util.AddrType, self.socket.getsockname())

    def getpeername(self) -> util.AddrType:
        return cast(util.AddrType, self.socket.getpeername())

    def setblocking(self, mode: int) -> None:
        """Blocking (mode true) or non-blocking (want-read/want-write answers at once)."""
        self.socket.setblocking(cast(bool, mode))  # an int, as M2Crypto takes it
        self._timeout = -1.0 if mode else 0.0

    def settimeout(self, timeout: Optional[float]) -> None:
        """Bound every handshake, read and write to timeout seconds (None: blocking)."""
        self.socket.settimeout(timeout)
        self._timeout = -1.0 if timeout is None else timeout

    def gettimeout(self) -> Optional[float]:
        return None if self._timeout < 0 else self._timeout

    def get_socket_read_timeout(self) -> Timeout:
        return struct_to_timeout(self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct_size()))

    def get_socket_write_timeout(self) -> Timeout:
        return struct_to_timeout(self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct_size()))

    def set_socket_read_timeout(self, timeo: Timeout) -> None:
        """SO_RCVTIMEO: a blocking read that waits longer raises SSLTimeoutError."""
        if not isinstance(timeo, Timeout):
            raise TypeError("an SSL.timeout is required")
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeo.pack())

    def set_socket_write_timeout(self, timeo: Timeout) -> None:
        """SO_SNDTIMEO: a blocking write that waits longer raises SSLTimeoutError."""
        if not isinstance(timeo, Timeout):
            raise TypeError("an SSL.timeout is required")
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeo.pack())

    # -- setting up ------------------------------------------------------------------------
    def setup_addr(self, addr: util.AddrType) -> None:
        self.addr = addr

    def set_ssl_close_flag(self, flag: int) -> None:
        """M2Crypto's flag: with m2.bio_close, the overridable m2_ssl_free is not called."""
        if flag not in (m2.bio_close, m2.bio_noclose):
            raise ValueError("flag must be m2.bio_close or m2.bio_noclose")
        self.ssl_close_flag = flag

    def setup_ssl(self) -> None:
        """Attach the SSL to the socket (a socket BIO the SSL owns; the socket stays ours)."""
        m2.ssl_set_fd(self._ssl or self.ssl, self.socket.fileno())  # self.ssl: SSLClosedError once freed

    def _setup_ssl(self, addr: util.AddrType) -> None:
        self.setup_addr(addr)
        self.setup_ssl()

    def set_bio(self, readbio: BIO.BIO, writebio: BIO.BIO) -> None:
        """Use readbio and writebio (such as BIO.MemoryBuffer) instead of the socket.

        The SSL takes its own references, and this Connection keeps the BIO objects alive."""
        if not isinstance(readbio, BIO.BIO) or not isinstance(writebio, BIO.BIO):
            raise TypeError("BIO.BIO objects are required")
        m2.ssl_set_bio_shared(self.ssl, readbio._ptr(), writebio._ptr())
        self._readbio, self._writebio = readbio, writebio

    def set_accept_state(self) -> None:
        m2.ssl_set_accept_state(self._ssl or self.ssl)

    def set_connect_state(self) -> None:
        m2.ssl_set_connect_state(self._ssl or self.ssl)

    def set_client_CA_list_from_file(self, cafile: Union[str, bytes]) -> None:
        m2.ssl_set_client_CA_list_from_file(self.ssl, cafile.decode() if isinstance(cafile, bytes) else cafile)

    def set_client_CA_list_from_context(self) -> None:
        m2.ssl_set_client_CA_list_from_context(self.ssl, self.ctx.ctx)

    def set_cipher_list(self, cipher_list: str) -> int:
        """TLS 1.2 ciphers for this connection: 1 if any matched, else 0 (M2Crypto)."""
        return m2.ssl_set_cipher_list(self.ssl, cipher_list)

    def set_ciphersuites(self, suites: str) -> None:
        """TLS 1.3 cipher suites for this connection; SSLError if none is usable."""
        m2.ssl_set_ciphersuites(self.ssl, suites)

    def set_groups(self, groups: Union[str, List[str]]) -> None:
        m2.ssl_set1_groups_list(self.ssl, groups if isinstance(groups, str) else ":".join(groups))

    def set_alpn_protocols(self, protocols: List[Union[str, bytes]]) -> None:
        """The ALPN protocols this client offers (overrides the context's)."""
        from M2Sec.SSL.Context import _alpn_wire

        m2.ssl_set_alpn_protos(self.ssl, _alpn_wire(protocols))

    def set_session_id_ctx(self, id: bytes) -> int:
        return m2.ssl_set_session_id_context(self.ssl, id)

    def set_session(self, session: Session) -> None:
        """Resume session in the next handshake (a client's)."""
        m2.ssl_set_session(self.ssl, _session_ptr(session))

    def set_tlsext_host_name(self, name: Union[str, bytes]) -> None:
        """Name the server to connect to (SNI, RFC 6066)."""
        m2.ssl_set_tlsext_host_name(self.ssl, name.decode() if isinstance(name, bytes) else name)

    def set1_host(self, name: Union[bytes, str]) -> None:
        """The host name (or IP address) the peer's certificate must name.

        Used by the post-connection check, and given to OpenSSL (SSL_set1_host) so that with
        verify_peer the handshake itself fails on a mismatch (HostnameMismatchError)."""
        if not isinstance(name, (str, bytes)):
            raise TypeError("the host name must be str or bytes")
        self.host = name
        m2.ssl_set1_host(self.ssl, _name_to_check(name.decode() if isinstance(name, bytes) else name)[0])

    def set_post_connection_check_callback(self, postConnectionCheck: Optional[Callable[..., Any]]) -> None:
        """check(peer_cert, host) run after connect() (None: no check); false fails it."""
        self.postConnectionCheck = postConnectionCheck

    def _ctx_switched(self, ctx: Context) -> None:
        self._sni_ctx = ctx

    # -- handshakes ------------------------------------------------------------------------
    def connect_ssl(self) -> int:
        """Run the client handshake: 1 when done, 0 when it would block."""
        done: int = self._io(m2.ssl_connect, self._timeout)
        return done

    def accept_ssl(self) -> int:
        """Run the server handshake: 1 when done, 0 when it would block."""
        done: int = self._io(m2.ssl_accept, self._timeout)
        return done

    def _hostname(self) -> str:
        host = self.host
        if host is None:
            return self.addr[0] if isinstance(self.addr, tuple) else ""
        return host.decode("utf-8") if isinstance(host, bytes) else host

    def _authenticated_by_psk(self) -> bool:
        """Whether this client's handshake used its external PSK instead of a certificate."""
        if getattr(self.get_context(), "_psk_client_callback", None) is None or self.get_peer_cert() is not None:
            return False
        if self.get_protocol_version() == m2.TLS1_3_VERSION:
            return self.session_reused()  # OpenSSL counts a TLS 1.3 PSK handshake as a resumption
        cipher = self.get_cipher()
        return cipher is not None and "PSK" in cipher.name()

    def _post_connection_check(self, check: Callable[..., Any]) -> None:
        if self._authenticated_by_psk():
            return  # no certificate to check: the server proved it knows the PSK
        if not check(self.get_peer_cert(), self._hostname()):
            raise SSLVerificationError("post connection check failed")

    def connect(self, addr: util.AddrType) -> int:
        """Connect the socket to addr and run the client handshake and post-connection check.

        :raises SSLError: (SSLCertVerificationError and its subclasses for a bad certificate,
            SSLTimeoutError, SSLEOFError) or an SSLVerificationError from the check."""
        self.socket.connect(addr)
        self.addr = addr
        return self._client_handshake(True)

    def _client_handshake(self, post_check: bool) -> int:
        if self._plain_client:  # set-up and handshake in one call (no subclass changed a step)
            sni, check_host = client_names(self.ctx, self._hostname())
            ret: int = self._connect_fd((self.socket.fileno(), sni, check_host))
        else:
            self.setup_ssl()
            self.set_connect_state()
            prepare_client_hostname(self.ssl, self.ctx, self._hostname())
            ret = self.connect_ssl()
        if post_check:
            check = getattr(self, "postConnectionCheck", _UNSET)
            if check is _UNSET:
                check = self._client_check  # None, a Checker, or _UNSET: make the Checker
                if check is _UNSET:
                    check = self.clientPostConnectionCheck
            if check is not None:
                self._post_connection_check(check)
        return ret

    def accept(self) -> Tuple["Connection", util.AddrType]:
        """Accept a client and run the server handshake: (Connection, address).

        With a timeout set on this listening connection (settimeout()), the new connection
        gets it too, so that a client that never completes its handshake cannot hold accept()
        (SSLTimeoutError).  A failed handshake closes the new connection before the error
        is raised."""
        sock, addr = self.socket.accept()
        conn = Connection(self.ctx, sock)
        conn.addr = addr
        try:
            if self._timeout > 0:
                conn.settimeout(self._timeout)
            conn._server_handshake()
            check = getattr(self, "serverPostConnectionCheck", _serverPostConnectionCheck)
            if check is not None and not check(conn.get_peer_cert(), self._hostname() or addr[0]):
                raise SSLVerificationError("post connection check failed")
        except BaseException:
            conn.free()
            raise
        return conn, addr

    def handshake_on_existing_socket(self, server_side: bool = False) -> int:
        """Start TLS on the already connected socket (STARTTLS): 1 when done.

        As in M2Crypto no post-connection check runs; a context from create_default_context()
        checks the host name given to set1_host() in the handshake."""
        if server_side:
            return self._server_handshake()
        return self._client_handshake(False)

    def _server_handshake(self) -> int:
        if self._plain_server:  # set-up and handshake in one call (no subclass changed a step)
            done: int = self._accept_fd(self.socket.fileno())
            return done
        self.setup_ssl()
        self.set_accept_state()
        return self.accept_ssl()

    def renegotiate(self) -> int:
        return m2.ssl_renegotiate(self.ssl)

    def _send_post_handshake(self) -> None:
        """Send a scheduled KeyUpdate or CertificateRequest now (blocking, bounded by the
        timeout; on a non-blocking socket it may go with the next read or write instead)."""
        self._io(m2.ssl_handshake, self._timeout)

    # -- data ------------------------------------------------------------------------------
    # The hot path: one guarded call each (see _guarded); handshakes and the rest go through _io.
    _apply = _guarded(_apply_call)
    _connect_fd = _guarded(m2.ssl_connect_fd)  # a client's set-up and handshake (_client_handshake)
    _accept_fd = _guarded(m2.ssl_accept_fd)  # a server's (_server_handshake)
    _read = _guarded(m2.ssl_read)

    write = _guarded(m2.ssl_write)
    write.__name__ = write.__qualname__ = "write"
    write.__doc__ = """Send data: the count written, or -1 if it would block (non-blocking socket)."""

    send = write

    def sendall(self, data: Union[bytes, bytearray, memoryview]) -> int:
        """Send all of data (looping past partial writes); the count written."""
        # bytes as they are: the common case, one SSL_write taking it all, makes no view
        view = data if type(data) is bytes and len(data) <= _MAX_WRITE else memoryview(data).cast("B")
        total, n = len(view), 0
        while n < total:
            r = self.write(view[n:n + _MAX_WRITE] if n or total > _MAX_WRITE else view)
            if r < 0:
                raise SSLError("the write would block")
            n += r
            if n < total and type(view) is bytes:
                view = memoryview(view)  # after a partial write: slices that copy nothing
        return n

    def read(self, size: int = 1024) -> bytes:
        """Up to size bytes; b'' at the end of the stream (or when a non-blocking read would
        block, as in M2Crypto)."""
        if size <= 0:
            raise ValueError("size <= 0")
        return self._read(min(size, _INT_MAX)) or b""

    recv = read

    def recv_into(self, buff: Union[bytearray, memoryview], nbytes: int = 0) -> int:
        """Read into buff: the count read.  As in M2Crypto, a bytearray is cut to the data
        read and the rest of a memoryview is zeroed."""
        n = len(buff) if nbytes == 0 else min(nbytes, len(buff))
        if n <= 0:
            raise ValueError("recv_into: size of buffer must be > 0")
        got: int = self._io(m2.ssl_read_into, buff, min(n, _INT_MAX), self._timeout)
        if got < 0:
            got = 0
        if isinstance(buff, bytearray):
            del buff[got:]
        elif isinstance(buff, memoryview) and got < len(buff):
            buff[got:] = bytes(len(buff) - got)
        return got

    readinto = _guarded(m2.ssl_readinto)
    readinto.__name__ = readinto.__qualname__ = "readinto"
    readinto.__doc__ = """io.RawIOBase's readinto: the count read, 0 at the end, None if it would block."""

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def makefile(self, mode: str = "rb", bufsize: int = -1) -> Union[io.BufferedRWPair, io.BufferedReader, io.BufferedWriter]:
        """A buffered binary file on the connection; closing it closes the connection."""
        if "b" not in mode:
            raise ValueError("makefile requires binary mode")
        if bufsize < 0:
            bufsize = io.DEFAULT_BUFFER_SIZE
        if "w" in mode and "r" in mode:
            return io.BufferedRWPair(self, self, bufsize)  # type: ignore[arg-type]
        if "w" in mode:
            return io.BufferedWriter(self, buffer_size=bufsize)  # type: ignore[arg-type]
        if "r" in mode:
            return io.BufferedReader(self, buffer_size=bufsize)  # type: ignore[arg-type]
        raise ValueError("Invalid mode: %s" % mode)

    def _decref_socketios(self) -> None:
        pass

    # -- state -----------------------------------------------------------------------------
    def ssl_get_error(self, ret: int) -> int:
        return m2.ssl_get_error(self.ssl, ret)

    def get_context(self) -> Context:
        """The Context now in use (another one after an SNI callback switched it)."""
        return context_of(m2.ssl_get_ssl_ctx(self.ssl)) or self.ctx
