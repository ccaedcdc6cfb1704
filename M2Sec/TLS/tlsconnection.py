"""TLSConnection: TLS Lite's socket wrapper, with OpenSSL doing the TLS.

Every operation (handshake, read, write, close) is written once, as a generator in the
vocabulary of SSL's retry loop (:func:`M2Sec.SSL.retry_loop`, which it is built on): it yields
``(out, want)``, bytes to send and the most bytes to read (0 for none), and is sent the bytes
read; an I/O error is raised inside it.  SSL's drivers run it: :func:`M2Sec.SSL.drive_loop` for
the blocking calls (:meth:`TLSConnection.handshakeClientCert` and friends) and
:func:`M2Sec.SSL.adrive_loop` for asyncio (:mod:`M2Sec.TLS.aio`); TLS Lite's select-style
generators, yielding 0 (wait until readable) or 1 (until writable) (``async_=True``,
``handshakeServerAsync``, ``readAsync`` ...), feed it through :func:`M2Sec.SSL.retry_step`.
In between, an :class:`M2Sec.SSL.SSLObject` does the TLS over memory.
"""

import io
import select
import socket
from typing import Any, Callable, Generator, List, Optional, Tuple, Union

from M2Sec import m2
from M2Sec.Err import M2SecError
from M2Sec.SSL import SSLEOFError, SSLError, SSLWantReadError, SSLWantWriteError, retry_loop
from M2Sec.SSL.SSLObject import drive_loop, step as retry_step
from M2Sec.TLS import _engine
from M2Sec.TLS.checker import Checker
from M2Sec.TLS.constants import AlertDescription, AlertLevel, KeyUpdateMessageType, VERSION_NAMES
from M2Sec.TLS.errors import (TLSAbruptCloseError, TLSClosedConnectionError, TLSIllegalParameterException,
                              TLSLocalAlert, TLSRemoteAlert)
from M2Sec.TLS.session import Session, cipher_short_name
from M2Sec.TLS.sessioncache import SessionCache
from M2Sec.TLS.settings import HandshakeSettings
from M2Sec.TLS.verifierdb import VerifierDB
from M2Sec.TLS.x509 import X509, X509CertChain
from M2Sec.X509 import a_label

RECV_SIZE = 16384
_RECORD_HEADER = 5                     # type, version, length (RFC 8446 section 5.1)
_MAX_RECORD = 16384 + 2048             # the largest TLSCiphertext.length of any version
_ERR_LIB_SSL = 20
_SSL_AD_REASON_OFFSET = 1000
Step = Generator[Tuple[bytes, int], Optional[bytes], Any]   # retry_loop's vocabulary, with a read size


class _RecordCursor:
    """Follows the peer's TLS record framing (RFC 8446 section 5.1) so that, on a connection
    whose socket outlives it (closeSocket False), reads after the handshake stop at a record's
    end: OpenSSL consumes records whole, so once it has seen close_notify no byte after that
    record has been taken from the socket (TLS Lite reads record by record too).  The handshake
    reads freely (a client that is not TLS gets its alert rather than a reset for bytes left
    unread)."""

    __slots__ = ("header", "left")

    def __init__(self) -> None:
        self.header = b""
        self.left = 0

    def room(self) -> int:
        """How many bytes may be read now: the rest of the current header or record body."""
        return min(self.left, RECV_SIZE) if self.left else _RECORD_HEADER - len(self.header)

    def advance(self, data: bytes) -> None:
        """data, the next bytes of the peer's stream, was read."""
        pos, end = 0, len(data)
        while pos < end:
            if self.left:
                take = min(self.left, end - pos)
                self.left -= take
                pos += take
                continue
            take = _RECORD_HEADER - len(self.header)
            self.header += data[pos:pos + take]
            pos += take
            if len(self.header) == _RECORD_HEADER:
                size = int.from_bytes(self.header[3:5], "big")
                self.header = b""
                self.left = size if size <= _MAX_RECORD else 0   # not TLS: OpenSSL will say so
_CLOSED = object()   # what _pump returns when the peer closed the connection first


def _as_chain(certChain: Any) -> Optional[X509CertChain]:
    if certChain is None or isinstance(certChain, X509CertChain):
        return certChain
    if isinstance(certChain, (list, tuple)):
        return X509CertChain(certChain)
    raise TypeError("certChain must be an X509CertChain")


def _alpn_list(alpn: Any) -> List[bytes]:
    if not alpn:
        return []
    return [p.encode("ascii") if isinstance(p, str) else bytes(p) for p in alpn]


def _host_name(name: Union[str, bytes, None]) -> Optional[str]:
    """name as SNI carries it and the certificate check takes it: ASCII, an internationalised
    name in its A-label form (RFC 6066 section 3, RFC 5890); None for no name.

    :raises TypeError: for a name that is not str or bytes; ValueError for one IDNA refuses.
    """
    if not name:
        return None
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("ascii")
    if not isinstance(name, str):
        raise TypeError("serverName must be str")
    return a_label(name)


def _check_session(session: Optional[Session], serverName: Optional[str], srpUsername: Optional[str]) -> None:
    """Refuse to resume a session made with another server name or SRP user (TLS Lite's rule;
    RFC 8446 section 4.6.1: the old certificate was only checked for the old name).

    :raises ValueError: when session is resumable and was made for another server or user.
    """
    if session is None or not session.valid():
        return
    if (session.serverName or "").lower() != (serverName or "").lower():
        raise ValueError("the session is for server name %r, not %r" % (session.serverName, serverName or ""))
    if (session.srpUsername or None) != (srpUsername or None):
        raise ValueError("the session is for another SRP username")


def _settings(settings: Optional[HandshakeSettings]) -> HandshakeSettings:
    if settings is None:
        settings = HandshakeSettings()
    if not isinstance(settings, HandshakeSettings):
        raise TypeError("settings must be a HandshakeSettings")
    return settings.validate()


class TLSConnection:
    """A TLS connection over a connected socket (TLS Lite's TLSConnection).

    Call one handshake function, then read/write (or recv/send/sendall/makefile) as on a
    socket, then close().  Failures raise TLSLocalAlert, TLSRemoteAlert, TLSAbruptCloseError or
    OSError, and close the connection.  Unlike TLS Lite, a client verifies the server's chain
    (against cafile/capath or the system store) and, given serverName, its host name.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closeSocket = True
        self.ignoreAbruptClose = False
        self.closed = True
        self.resumed = False
        self.version: Tuple[int, int] = (0, 0)
        self.allegedSrpUsername: Optional[str] = None
        self.next_proto: Optional[bytes] = None
        self._session = Session()
        self._tls: _engine.TLSObject = None  # type: ignore[assignment]  # None until a handshake starts
        self._client: Optional[bool] = None
        self._readbuf = bytearray()
        self._user_closed = False
        self._io_refs = 0
        self._settings: Optional[HandshakeSettings] = None
        self._waiting = False                # _pump waits for the peer's bytes
        self._record = _RecordCursor()       # where the peer's byte stream is in its records
        #: with request_post_handshake_auth, a client that sends no certificate ends the connection
        self.client_cert_required = False
        self._pha_requested = False

    # ---- results ---------------------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The session: who the peer is and the handle that resumes it (refreshed while open, so
        TLS 1.3 tickets that arrived after the handshake count)."""
        if self._tls is not None and not self._tls.closed and not self.closed:
            self._session._set_handle(self._tls.get_session())
            self._pha_result()
        return self._session

    @session.setter
    def session(self, value: Session) -> None:
        self._session = value

    def getVersionName(self) -> Optional[str]:
        """'TLS 1.2', 'TLS 1.3' ..., None before a handshake."""
        return VERSION_NAMES.get(self.version)

    def getCipherName(self) -> Optional[str]:
        """TLS Lite's name of the negotiated cipher ('aes256gcm', 'chacha20-poly1305' ...)."""
        return cipher_short_name(self._session._cipher) if self._session._cipher else None

    def getCipherImplementation(self) -> str:
        return "openssl"

    def keyingMaterialExporter(self, label: Union[str, bytes], length: int = 20) -> bytes:
        """RFC 5705 / RFC 8446 exported keying material (SSL_export_keying_material)."""
        if isinstance(label, bytes):
            label = label.decode("ascii")
        return self._need_open().export_keying_material(label, length)

    # ---- socket-like passthroughs ---------------------------------------------------------------
    def fileno(self) -> int:
        return self.sock.fileno()

    def getpeername(self) -> Any:
        return self.sock.getpeername()

    def getsockname(self) -> Any:
        return self.sock.getsockname()

    def gettimeout(self) -> Optional[float]:
        return self.sock.gettimeout()

    def settimeout(self, value: Optional[float]) -> None:
        self.sock.settimeout(value)

    def setsockopt(self, level: int, optname: int, value: Any) -> None:
        self.sock.setsockopt(level, optname, value)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    # ---- handshakes --------------------------------------------------------------------------------
    def handshakeClientCert(self, certChain: Optional[X509CertChain] = None, privateKey: Any = None,
                            session: Optional[Session] = None, settings: Optional[HandshakeSettings] = None,
                            checker: Optional[Checker] = None, nextProtos: Any = None, reqTack: bool = True,
                            serverName: Optional[str] = None, async_: bool = False, alpn: Any = None, *,
                            cafile: Optional[str] = None, capath: Optional[str] = None,
                            verify: bool = True, _steps: bool = False) -> Any:
        """Handshake as a client, authenticating the server by its certificate (and this side by
        certChain/privateKey when given).

        :param serverName: sent as SNI and checked against the certificate (RFC 6125); an
            internationalised name goes in its A-label form; an IP address is checked against
            the certificate's iPAddress names and not sent (RFC 6066 section 3).
        :param cafile: the trusted CAs (a PEM file; capath: a hashed directory); the system store
            when neither is given.
        :param verify: False turns chain and name checks off (a Checker fingerprint still applies;
            a Checker with x509Fingerprint replaces the chain check by that pin).
        :param async_: return a generator yielding 0 (wants to read) / 1 (wants to write).
        :raises TLSLocalAlert, TLSRemoteAlert, TLSAbruptCloseError, TLSAuthenticationError:
        """
        if nextProtos:
            raise ValueError("NPN is not supported by OpenSSL 3's TLS 1.3; use alpn=")
        if (certChain is None) != (privateKey is None):
            raise ValueError("certChain and privateKey go together")
        pinned = isinstance(checker, Checker) and bool(checker.x509Fingerprint)
        serverName = _host_name(serverName)
        _check_session(session, serverName, None)
        gen = self._client_steps(_as_chain(certChain), privateKey, session, _settings(settings), checker,
                                 serverName, _alpn_list(alpn), cafile, capath, verify and not pinned, None)
        return gen if _steps else self._select_driver(gen) if async_ else self._run(gen)

    def handshakeClientSRP(self, username: Union[str, bytes], password: Union[str, bytes],
                           session: Optional[Session] = None, settings: Optional[HandshakeSettings] = None,
                           checker: Optional[Checker] = None, reqTack: bool = True,
                           serverName: Optional[str] = None, async_: bool = False, *,
                           cafile: Optional[str] = None, capath: Optional[str] = None,
                           verify: bool = True, _steps: bool = False) -> Any:
        """Handshake as a client with an SRP username and password (RFC 5054; TLS 1.2).

        A bad password ends in TLSRemoteAlert(bad_record_mac), an unknown user in
        TLSRemoteAlert(unknown_psk_identity).
        """
        user = username.decode("utf-8") if isinstance(username, bytes) else username
        pw = password.decode("utf-8") if isinstance(password, bytes) else password
        if not isinstance(user, str) or not isinstance(pw, str) or not user:
            raise TypeError("username and password are non-empty str or bytes")
        serverName = _host_name(serverName)
        _check_session(session, serverName, user)
        gen = self._client_steps(None, None, session, _settings(settings), checker, serverName, [],
                                 cafile, capath, verify, (user, pw))
        return gen if _steps else self._select_driver(gen) if async_ else self._run(gen)

    def handshakeServer(self, verifierDB: Optional[VerifierDB] = None, certChain: Optional[X509CertChain] = None,
                        privateKey: Any = None, reqCert: bool = False, sessionCache: Optional[SessionCache] = None,
                        settings: Optional[HandshakeSettings] = None, checker: Optional[Checker] = None,
                        reqCAs: Any = None, tacks: Any = None, activationFlags: int = 0, nextProtos: Any = None,
                        anon: bool = False, alpn: Any = None, sni: Optional[str] = None, *,
                        cafile: Optional[str] = None, capath: Optional[str] = None) -> None:
        """Handshake as a server with a certificate chain and key, an SRP verifierDB, or both.

        :param reqCert: ask the client for a certificate (verified against cafile/capath when
            given, else accepted for a Checker to judge).
        :param sessionCache: let clients resume (session IDs and TLS 1.3 tickets).
        :param alpn: the protocols this server speaks, in its order of preference.
        :param sni: the only server name accepted (others get unrecognized_name).
        """
        self._run(self.handshakeServerAsync(verifierDB, certChain, privateKey, reqCert, sessionCache, settings,
                                            checker, reqCAs, tacks, activationFlags, nextProtos, anon, alpn, sni,
                                            cafile=cafile, capath=capath, _steps=True))

    def handshakeServerAsync(self, verifierDB: Optional[VerifierDB] = None, certChain: Optional[X509CertChain] = None,
                             privateKey: Any = None, reqCert: bool = False, sessionCache: Optional[SessionCache] = None,
                             settings: Optional[HandshakeSettings] = None, checker: Optional[Checker] = None,
                             reqCAs: Any = None, tacks: Any = None, activationFlags: int = 0, nextProtos: Any = None,
                             anon: bool = False, alpn: Any = None, sni: Optional[str] = None, *,
                             cafile: Optional[str] = None, capath: Optional[str] = None, _steps: bool = False) -> Any:
        """handshakeServer as a generator yielding 0 (wants to read) or 1 (wants to write)."""
        if tacks or nextProtos or anon or reqCAs:
            raise ValueError("tacks, nextProtos, anon and reqCAs are not supported")
        certChain = _as_chain(certChain)
        if (certChain is None) != (privateKey is None):
            raise ValueError("certChain and privateKey go together")
        settings = _settings(settings)
        if certChain is None and verifierDB is None and not settings._config.psk:
            raise ValueError("a server needs certChain and privateKey, a verifierDB, or settings.pskConfigs")
        if certChain is not None and certChain.getNumCerts() == 0:
            raise ValueError("empty certificate chain")
        gen = self._server_steps(verifierDB, certChain, privateKey, reqCert, sessionCache, settings,
                                 checker, _alpn_list(alpn), sni, cafile, capath)
        return gen if _steps else self._select_driver(gen)

    # ---- contexts ------------------------------------------------------------------------------------
    def _client_context(self, certChain: Optional[X509CertChain], privateKey: Any, settings: HandshakeSettings,
                        alpn: List[bytes], cafile: Optional[str], capath: Optional[str], verify: bool,
                        srp: Optional[Tuple[str, str]]) -> _engine.Context:
        config = settings._config
        ctx = _engine.new_context(False, config, srp=srp is not None)
        if verify:
            _engine.verify_peer(ctx, cafile, capath, system=not (cafile or capath))
        if certChain is not None:
            _use_chain(ctx, certChain, privateKey)
            ctx.set_post_handshake_auth(True)    # as tlslite-ng: a client with a certificate offers PHA
        protos = alpn or config.alpn
        if protos:
            _engine.alpn(ctx, protos, server=False)
        if srp is not None:
            _engine.srp_client(ctx, srp[0], srp[1], settings.minKeySize)
        if config.psk:
            _engine.psk_client(ctx, config.psk, config.ciphersuites)
        return ctx

    def _server_context(self, verifierDB: Optional[VerifierDB], certChain: Optional[X509CertChain], privateKey: Any,
                        reqCert: bool, sessionCache: Optional[SessionCache], settings: HandshakeSettings,
                        alpn: List[bytes], sni: Optional[str], cafile: Optional[str], capath: Optional[str]
                        ) -> _engine.Context:
        config = settings._config

        def make() -> _engine.Context:
            srp_only = certChain is None and verifierDB is not None
            ctx = _engine.new_context(True, config, srp=srp_only)
            if config.psk:
                _engine.psk_server(ctx, config.psk, config.ciphersuites)
            if certChain is not None:
                _use_chain(ctx, certChain, privateKey)
            if reqCert:
                _engine.verify_peer(ctx, cafile, capath, accept_any=not (cafile or capath))
            else:
                _engine.verify_peer_later(ctx, cafile, capath)   # for request_post_handshake_auth
            if verifierDB is not None:
                _engine.srp_server(ctx, verifierDB._lookup)
                if certChain is not None:
                    _engine.prefer_srp_with_certificate(ctx, config)
            protos = alpn or config.alpn
            if protos:
                _engine.alpn(ctx, protos, server=True)
            if sni:
                _engine.expect_sni(ctx, _host_name(sni) or "")
            if sessionCache is not None:
                _engine.sessions(ctx, sessionCache.maxEntries, int(sessionCache.maxAge), config.num_tickets)
            else:
                _engine.sessions(ctx, 0, 0, 0)
            return ctx

        if sessionCache is None:
            return make()
        key = (id(verifierDB), certChain.pem() if certChain else None,
               privateKey.public_pem() if privateKey is not None else None, bool(reqCert),
               repr(settings), tuple(config.psk), tuple(alpn), sni, cafile, capath)
        ctx: _engine.Context = sessionCache._context(key, make)  # make()'s, or the one cached for key
        return ctx

    # ---- the protocol, as I/O requests -----------------------------------------------------------------
    def _client_steps(self, certChain: Optional[X509CertChain], privateKey: Any, session: Optional[Session],
                      settings: HandshakeSettings, checker: Optional[Checker], serverName: Optional[str],
                      alpn: List[bytes], cafile: Optional[str], capath: Optional[str], verify: bool,
                      srp: Optional[Tuple[str, str]]) -> Step:
        self._start(True)
        ctx = self._client_context(certChain, privateKey, settings, alpn, cafile, capath, verify, srp)
        ctx.check_hostname = bool(verify and serverName)
        resume = session._handle if session is not None and session._handle is not None and session.valid() else None
        self._tls = _engine.TLSObject(ctx, server_side=False, server_hostname=serverName or None, session=resume)
        self._settings = settings
        yield from self._handshake_steps()
        self._finish_handshake(checker, srp[0] if srp else None, serverName or "")

    def _server_steps(self, verifierDB: Optional[VerifierDB], certChain: Optional[X509CertChain], privateKey: Any,
                      reqCert: bool, sessionCache: Optional[SessionCache], settings: HandshakeSettings,
                      checker: Optional[Checker], alpn: List[bytes], sni: Optional[str], cafile: Optional[str],
                      capath: Optional[str]) -> Step:
        self._start(False)
        ctx = self._server_context(verifierDB, certChain, privateKey, reqCert, sessionCache, settings, alpn, sni,
                                   cafile, capath)
        self._tls = _engine.TLSObject(ctx, server_side=True)
        self._settings = settings
        yield from self._handshake_steps()
        self.allegedSrpUsername = self._tls.srp_username()
        self._finish_handshake(checker, self.allegedSrpUsername, self._tls.get_servername() or "")
        if sessionCache is not None and self._session.sessionID:
            sessionCache[self._session.sessionID] = self._session

    def _start(self, client: bool) -> None:
        if self._tls is not None:
            raise ValueError("a TLSConnection does one handshake")
        if self._user_closed:
            raise TLSClosedConnectionError("the connection is closed")
        self._client = client

    def _handshake_steps(self) -> Step:
        try:
            status = yield from self._pump(self._tls.do_handshake)
        except BaseException:
            self._fail()
            raise
        if status is _CLOSED:
            self._fail()
            raise TLSAbruptCloseError("the peer closed the connection during the handshake")
        self.closed = False

    def _finish_handshake(self, checker: Optional[Callable[[Any], None]], srpUsername: Optional[str],
                          serverName: str) -> None:
        tls = self._tls
        self.version = divmod(tls.get_protocol_version(), 256)
        self.resumed = tls.session_reused()
        self.next_proto = tls.get_alpn_selected()
        cipher = tls.get_cipher()
        s = self._session = Session()
        s._cipher = cipher.name() if cipher is not None else ""
        s.cipherSuite = cipher.protocol_id() if cipher is not None else 0
        s.srpUsername = srpUsername
        s.serverName = serverName
        s.appProto = bytearray(self.next_proto or b"")
        chain = [X509._wrap(c) for c in tls.get_peer_chain()]
        peer = X509CertChain(chain) if chain else None
        if self._client:
            s.serverCertChain = peer
        else:
            s.clientCertChain = peer
        s._set_handle(tls.get_session())
        try:
            self._check_key_size(peer)
            if checker is not None:
                checker(self)
        except BaseException:
            self._fail()
            raise

    def _check_key_size(self, peer: Optional[X509CertChain]) -> None:
        if peer is None or self._settings is None:
            return
        key = peer.getEndEntityPublicKey()
        if key.certAlg not in ("rsa", "rsa-pss", "dsa"):
            return
        bits = len(key)
        if bits < self._settings.minKeySize or bits > self._settings.maxKeySize:
            raise TLSLocalAlert(AlertDescription.insufficient_security,
                                "the peer's %d-bit key is outside minKeySize..maxKeySize" % bits)

    def _pump(self, op: Callable[..., Any], *args: Any) -> Step:
        """Run op(*args), a method of the SSLObject, through SSL's retry loop, turning its I/O
        wishes into requests; returns op's result, or _CLOSED when the peer closed first."""
        loop = retry_loop(self._tls, op, *args)
        incoming: Optional[bytes] = None
        while True:
            try:
                out, want = loop.send(incoming)
            except StopIteration as stop:
                return stop.value
            except SSLEOFError:
                yield from self._flush(quiet=True)
                return _CLOSED
            except M2SecError as e:
                yield from self._flush(quiet=True)
                raise self._failure(e) from None
            if out:
                yield out, 0
            incoming = None
            if want:
                self._waiting = True         # a timeout now leaves nothing half done
                # after the handshake, never past the end of the current record: after the
                # peer's close_notify the socket is left at the first byte that follows it
                # (only when the socket outlives TLS, closeSocket False: a socket closed with
                # the connection needs no such care, and reading record by record costs)
                cursor, bounded = self._record, self._tls.handshake_done and not self.closeSocket
                incoming = (yield b"", cursor.room() if bounded else RECV_SIZE) or b""
                cursor.advance(incoming)
                if bounded and incoming and cursor.left and not cursor.header and len(incoming) <= _RECORD_HEADER:
                    # a header alone: OpenSSL can do nothing with it, so fetch the body at once
                    # (the header goes in first: a timeout now loses nothing)
                    self._tls.receive_bytes(incoming)
                    incoming = (yield b"", cursor.room()) or b""
                    cursor.advance(incoming)
            self._waiting = False

    def _flush(self, quiet: bool = False) -> Step:
        data = self._tls.data_to_send() if self._tls is not None and not self._tls.closed else b""
        if data:
            try:
                yield data, 0
            except OSError:
                if not quiet:
                    raise

    def _failure(self, e: M2SecError) -> Exception:
        """The TLS Lite exception for an OpenSSL failure: the alert received, else the one sent."""
        sent, received = self._tls.alerts() if self._tls is not None else (None, None)
        code = getattr(e, "openssl_code", 0) or 0
        reason, lib = code & 0x7FFFFF, (code >> 23) & 0xFF
        if lib == _ERR_LIB_SSL and _SSL_AD_REASON_OFFSET <= reason < _SSL_AD_REASON_OFFSET + 256:
            return TLSRemoteAlert(reason - _SSL_AD_REASON_OFFSET)
        if received is not None and received[0] == AlertLevel.fatal:
            return TLSRemoteAlert(received[1])
        alert = sent[1] if sent is not None else AlertDescription.internal_error
        exc = TLSLocalAlert(alert, str(e))
        try:
            exc.verify_code = self._tls.get_verify_result()
        except Exception:
            exc.verify_code = 0
        return exc

    def _fail(self, resumable: bool = False) -> None:
        """After a failed handshake, check, read or write: nothing more is sent; the socket is
        closed; the session is not resumed (unless resumable: an abrupt close that was allowed)."""
        self.closed = True
        self._user_closed = True
        self._release()
        if not resumable:
            self._session.resumable = False
        if self.closeSocket:
            self.sock.close()

    def _fatal(self, steps: Step, reading: bool = False) -> Step:
        """steps, closing the connection (as _fail does) if it raises: a failed read or write
        leaves no usable connection (TLS Lite's rule).  Only a read that timed out waiting
        for the peer's bytes keeps it (as a socket does): it can be tried again."""
        self._waiting = False
        try:
            return (yield from steps)
        except GeneratorExit:
            raise
        except socket.timeout:
            if not (reading and self._waiting):
                self._fail()
            raise
        except BaseException:
            self._fail()
            raise

    def _release(self) -> None:
        if self._tls is not None and not self._tls.closed:
            try:
                self._session._set_handle(self._tls.get_session())
            except M2SecError:
                pass
            self._tls.close()

    def _need_open(self) -> _engine.TLSObject:
        if self._tls is None:
            raise TLSClosedConnectionError("no handshake was done")
        if self.closed or self._tls.closed:
            raise TLSClosedConnectionError("the connection is closed")
        return self._tls

    def _read_steps(self, max: Optional[int], min: int) -> Step:
        return (yield from self._fatal(self._read_data(max, min), reading=True))

    def _read_data(self, max: Optional[int], min: int) -> Step:
        tls = self._tls
        if tls is None or tls.closed or self.closed:
            return self._take(max)           # TLS Lite: a closed connection reads as its end
        want = min if min > 1 else 1
        while len(self._readbuf) < want:
            result = yield from self._pump(tls.read, RECV_SIZE)
            if result is _CLOSED:
                if self.ignoreAbruptClose:
                    self._fail(resumable=True)   # the end of the data, and of the connection
                    break
                raise TLSAbruptCloseError("the peer closed the socket without close_notify")
            if not result:
                break                        # close_notify: end of data
            self._readbuf += result
            self._pha_result()
        return self._take(max)

    def _take(self, max: Optional[int]) -> bytes:
        """Up to max (all when None) bytes from the front of the read buffer."""
        n = len(self._readbuf) if max is None else max
        out = bytes(self._readbuf[:n])
        del self._readbuf[:n]
        return out

    def _write_steps(self, data: Any) -> Step:
        tls = self._need_open()
        return (yield from self._fatal(self._write_data(tls, data)))

    def _write_data(self, tls: _engine.TLSObject, data: Any) -> Step:
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        if not len(view):
            return 0
        written = yield from self._pump(tls.write, view)
        if written is _CLOSED or written <= 0:
            raise TLSAbruptCloseError("the peer closed the connection")
        return len(view)

    def _close_steps(self, await_peer: bool = False) -> Step:
        """Send close_notify; with await_peer, also wait for the peer's (TLS Lite does when the
        socket stays open, closeSocket False, so that it is left at the end of the TLS data)."""
        tls = self._tls
        if tls is not None and not tls.closed and not self.closed:
            try:
                try:
                    tls.unwrap()             # sends close_notify, and sees the peer's if it came
                    await_peer = False
                except M2SecError:
                    pass
                yield from self._flush()
                if await_peer:
                    yield from self._await_close_notify(tls)
            except OSError:
                pass
        self.closed = True
        self._release()
        if self.closeSocket:
            self.sock.close()

    def _await_close_notify(self, tls: _engine.TLSObject) -> Step:
        """Feed the peer's records to tls one at a time, never reading a byte past them, until
        its close_notify (OpenSSL drops application data that still comes) or the end of the
        stream."""
        cursor = self._record
        while True:
            data = b""
            while True:                      # one whole record (the cursor's framing)
                chunk = yield b"", cursor.room()
                if not chunk:
                    return                   # the end of the stream
                cursor.advance(chunk)
                data += chunk
                if not cursor.left and not cursor.header:
                    break
            tls.receive_bytes(data)
            try:
                tls.unwrap()
                return
            except (SSLWantReadError, SSLWantWriteError):
                yield from self._flush()
            except M2SecError:
                return

    # ---- drivers -----------------------------------------------------------------------------------
    def _select_driver(self, gen: Step) -> Generator[int, None, Any]:
        """Run gen on the socket without blocking: yields 0 to wait for readability, 1 for writability."""
        sock = self.sock
        incoming: Optional[bytes] = None
        error: Optional[BaseException] = None
        while True:
            try:
                out, want = retry_step(gen, incoming, error)
            except StopIteration as stop:
                return stop.value
            incoming = error = None
            try:
                if out:
                    yield from _send(sock, out)
                if want:
                    incoming = yield from _recv(sock, want)
            except OSError as e:
                error = e

    def _run(self, gen: Step) -> Any:
        """Run gen to the end, blocking (honouring the socket's timeout, which is raised into gen)."""
        return drive_loop(gen, _Waiting(self.sock), RECV_SIZE)

    # ---- data ----------------------------------------------------------------------------------------
    def read(self, max: Optional[int] = None, min: int = 1) -> bytes:
        """Up to max bytes (all that is available when None), at least min unless the peer closed.
        b'' once the peer sent close_notify, and on a closed connection.

        :raises TLSRemoteAlert, TLSLocalAlert, TLSAbruptCloseError, OSError: and the connection
            is closed; a timeout while waiting for the peer's bytes leaves it open.
        """
        if self._readbuf and len(self._readbuf) >= min:
            return self._take(max)
        data: bytes = self._run(self._read_steps(max, min))
        return data

    def readAsync(self, max: Optional[int] = None, min: int = 1) -> Generator[Any, None, None]:
        """read() as a generator: yields 0/1 while waiting, then the data."""
        data = yield from self._select_driver(self._read_steps(max, min))
        yield data

    def write(self, s: Any) -> int:
        """Send all of s.

        :raises TLSClosedConnectionError: on a closed connection.
        :raises TLSRemoteAlert, TLSLocalAlert, TLSAbruptCloseError, OSError: (a timeout too)
            and the connection is closed.
        """
        sent: int = self._run(self._write_steps(s))
        return sent

    def writeAsync(self, s: Any) -> Generator[int, None, None]:
        yield from self._select_driver(self._write_steps(s))

    def send_keyupdate_request(self, message_type: int) -> Generator[int, None, None]:
        """Update this side's TLS 1.3 sending keys with a KeyUpdate message (RFC 8446 section
        4.6.3); ``KeyUpdateMessageType.update_requested`` also asks the peer to update its own,
        which it does with its next write.  As in tlslite-ng, the result is a generator: iterate
        through it (``for _ in conn.send_keyupdate_request(...): pass``) to send the message
        now; it yields 0/1 while a non-blocking socket would block.  The checks and the key
        change happen at the call: a message not sent then goes out before the next write.

        :raises TLSIllegalParameterException: on TLS 1.2 or for an unknown message_type.
        :raises TLSClosedConnectionError: on a closed connection."""
        if isinstance(message_type, bool) or message_type not in (KeyUpdateMessageType.update_not_requested,
                                                                   KeyUpdateMessageType.update_requested):
            raise TLSIllegalParameterException("unknown KeyUpdate message_type %r" % (message_type,))
        tls = self._need_open()
        if self.version != (3, 4):
            raise TLSIllegalParameterException("KeyUpdate is a TLS 1.3 feature (this is %s)" % self.getVersionName())
        tls.key_update(request_peer=message_type == KeyUpdateMessageType.update_requested)
        return self._select_driver(self._fatal(self._flush()))

    def request_post_handshake_auth(self, settings: Optional[HandshakeSettings] = None) -> Generator[int, None, None]:
        """Ask the TLS 1.3 client for its certificate after the handshake (server side; RFC 8446
        section 4.6.2).  As in tlslite-ng, the result is a generator to iterate through, which
        sends the request; the client's answer comes with later reads, which then fill
        ``session.clientCertChain`` (checked against the handshake's cafile/capath, or left to a
        Checker).  With ``client_cert_required`` set, a client that sends no certificate ends
        the connection (certificate_required).  The request uses the connection's signature
        algorithms: settings must be None.

        :raises ValueError: on TLS 1.2, on a client, or when the client did not offer
            post-handshake authentication (tlslite-ng's exception).
        :raises TLSClosedConnectionError: on a closed connection."""
        if settings is not None:
            raise ValueError("settings: the certificate request uses the connection's signature algorithms")
        tls = self._need_open()
        if self.version != (3, 4):
            raise ValueError("post-handshake authentication needs TLS 1.3 (this is %s)" % self.getVersionName())
        if self._client:
            raise ValueError("post-handshake authentication is requested by a server")
        mode = m2.SSL_VERIFY_PEER | m2.SSL_VERIFY_POST_HANDSHAKE
        m2.ssl_set_verify(tls.ssl, mode | (m2.SSL_VERIFY_FAIL_IF_NO_PEER_CERT if self.client_cert_required else 0))
        try:
            tls.verify_client_post_handshake()
        except SSLError as e:
            raise ValueError(str(e)) from None
        self._pha_requested = True
        return self._select_driver(self._fatal(self._flush()))

    def _pha_result(self) -> None:
        """After a post-handshake request, the client's certificates once they arrived."""
        if self._pha_requested and self._tls is not None and not self._tls.closed:
            chain = [X509._wrap(c) for c in self._tls.get_peer_chain()]
            if chain:
                self._session.clientCertChain = X509CertChain(chain)
                self._pha_requested = False

    def send(self, s: Any) -> int:
        return self.write(s)

    def sendall(self, s: Any) -> None:
        self.write(s)

    def recv(self, bufsize: int) -> bytes:
        return self.read(bufsize)

    def recv_into(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def unread(self, b: bytes) -> None:
        """Put b back in front of the data not yet read."""
        self._readbuf[:0] = b

    def close(self) -> None:
        """Send close_notify and close the socket; with ``closeSocket = False``, wait for the
        peer's close_notify instead (TLS Lite's exchange) and leave the socket open at the first
        byte after TLS.  Files from makefile() keep the connection open until they are closed too."""
        self._user_closed = True
        if self._io_refs <= 0:
            self._real_close()

    def closeAsync(self) -> Generator[int, None, None]:
        self._user_closed = True
        yield from self._select_driver(self._close_steps(await_peer=not self.closeSocket))

    def _real_close(self) -> None:
        if self._tls is None:
            self.closed = True
            if self.closeSocket:
                self.sock.close()
            return
        try:
            self._run(self._close_steps(await_peer=not self.closeSocket))
        except OSError:
            pass

    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._user_closed and self._io_refs <= 0:
            self._real_close()

    def makefile(self, mode: str = "r", bufsize: int = -1, buffering: Optional[int] = None, *,
                 encoding: Optional[str] = None, errors: Optional[str] = None, newline: Optional[str] = None) -> Any:
        """A file object over the connection, as socket.makefile gives (buffered reads of any size)."""
        if buffering is None:
            buffering = bufsize
        rawmode = ("r" if "r" in mode else "") + ("w" if "w" in mode else "")
        raw = socket.SocketIO(self, rawmode)  # type: ignore[arg-type]
        self._io_refs += 1
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if "b" not in mode:
                raise ValueError("unbuffered streams must be binary")
            return raw
        if "r" in rawmode and "w" in rawmode:
            buf: Any = io.BufferedRWPair(raw, raw, buffering)
        elif "r" in rawmode:
            buf = io.BufferedReader(raw, buffering)
        else:
            buf = io.BufferedWriter(raw, buffering)
        if "b" in mode:
            return buf
        text = io.TextIOWrapper(buf, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]  # settable on a TextIOWrapper, as socket.makefile sets it
        return text

    def _checkClosed(self) -> None:  # socket.SocketIO calls it
        if self._tls is None or self._tls.closed:
            raise TLSClosedConnectionError("the connection is closed")

    def __enter__(self) -> "TLSConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.getVersionName()
        return "<TLSConnection %s %s>" % ("client" if self._client else "server" if self._client is False else "new", state)


def _send(sock: socket.socket, data: Union[bytes, memoryview]) -> Generator[int, None, None]:
    """Send all of data on sock, yielding 1 while it would block."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except (BlockingIOError, InterruptedError):
            yield 1


def _recv(sock: socket.socket, size: int) -> Generator[int, None, bytes]:
    """Up to size bytes from sock, yielding 0 while it would block."""
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            yield 0


class _Waiting:
    """The socket as drive_loop sees it through the blocking API: a call that would block (a
    non-blocking socket) waits for the socket as long as its timeout allows, then raises
    socket.timeout."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def sendall(self, data: bytes) -> None:
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            self._wait(_send(self.sock, memoryview(data)[sent:]))

    def recv(self, size: int) -> bytes:
        try:
            return self.sock.recv(size)
        except (BlockingIOError, InterruptedError):
            data: bytes = self._wait(_recv(self.sock, size))
            return data

    def _wait(self, io: Generator[int, None, Any]) -> Any:
        try:
            want = next(io)
            while True:
                fd = [self.sock.fileno()]
                r, w, _ = select.select(fd if want == 0 else [], fd if want == 1 else [], [], self.sock.gettimeout())
                if not (r or w):
                    io.close()
                    raise socket.timeout("timed out")
                want = next(io)
        except StopIteration as stop:
            return stop.value


def _use_chain(ctx: _engine.Context, certChain: X509CertChain, privateKey: Any) -> None:
    certs = [c._cert() for c in certChain.x509List]
    ctx.use_certificate(certs[0], privateKey, certs[1:])


__all__ = ["TLSConnection"]
