"""Twisted over M2Sec's TLS: a protocol wrapper that puts an :class:`~M2Sec.SSL.SSLObject`
between a Twisted transport and the application's protocol.

Importing this module imports Twisted (nothing else in M2Sec does)::

    from M2Sec.SSL import TwistedProtocolWrapper as wrapper

    wrapper.connectSSL("127.0.0.1", 4433, MyClientFactory(), MyContextFactory())
    wrapper.listenSSL(4433, MyServerFactory(), MyContextFactory())

A context factory is anything with ``getContext()`` returning an :class:`~M2Sec.SSL.Context`.
Once the handshake completes, ``postConnectionCheck(peer_x509, host)`` runs (a
:class:`~M2Sec.SSL.Checker.Checker` for clients by default, as in M2Crypto); a failed check or
handshake aborts the connection and the application's ``connectionLost`` receives the
:class:`~M2Sec.SSL.SSLError` as its reason.  ``connectTCP``/``listenTCP`` start in the clear until
the protocol calls ``transport.startTLS(ctx)`` (STARTTLS).
"""

import logging
from functools import partial  # noqa: F401  (M2Crypto's module exports it)
from typing import Any, Callable, Iterable, List, Optional, cast

import twisted.internet.reactor
from twisted.internet.interfaces import (  # noqa: F401  (M2Crypto's module exports the four I*)
    IProtocol, IProtocolFactory, IReactorSSL, IReactorTCP, ITLSTransport)
from twisted.protocols import policies
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from zope.interface import implementer

from M2Sec.SSL.Checker import Checker
from M2Sec.SSL.Context import Context
from M2Sec.SSL.SSLError import SSLError, SSLVerificationError, SSLWantReadError, SSLWantWriteError
from M2Sec.SSL.SSLObject import SSLObject

log = logging.getLogger(__name__)  # M2Crypto's module logger

__all__ = ["connectSSL", "connectTCP", "listenSSL", "listenTCP", "TLSProtocolWrapper"]

_WANT = (SSLWantReadError, SSLWantWriteError)


def _alwaysSucceedsPostConnectionCheck(peerX509: Any, expectedHost: Any) -> bool:
    return True


def _wrapping(factory: Any, startPassThrough: bool, client: bool, contextFactory: Any,
              postConnectionCheck: Optional[Callable[..., Any]]) -> policies.WrappingFactory:
    wrapping = policies.WrappingFactory(factory)  # type: ignore[no-untyped-call]
    wrapping.protocol = lambda wf, proto: TLSProtocolWrapper(wf, proto, startPassThrough, client, contextFactory,
                                                             postConnectionCheck)
    return wrapping


def connectSSL(host: str, port: int, factory: Any, contextFactory: Any, timeout: int = 30,
               bindAddress: Any = None, reactor: Any = twisted.internet.reactor,
               postConnectionCheck: Optional[Callable[..., Any]] = Checker()) -> Any:
    """Connect to host:port over TLS (like IReactorSSL.connectSSL); the connector."""
    return reactor.connectTCP(host, port, _wrapping(factory, False, True, contextFactory, postConnectionCheck),
                              timeout, bindAddress)


def connectTCP(host: str, port: int, factory: Any, timeout: int = 30, bindAddress: Any = None,
               reactor: Any = twisted.internet.reactor, postConnectionCheck: Optional[Callable[..., Any]] = Checker()) -> Any:
    """Connect in the clear; the protocol calls ``transport.startTLS(ctx)`` to start TLS."""
    return reactor.connectTCP(host, port, _wrapping(factory, True, True, None, postConnectionCheck),
                              timeout, bindAddress)


def listenSSL(port: int, factory: Any, contextFactory: Any, backlog: int = 5, interface: str = "",
              reactor: Any = twisted.internet.reactor,
              postConnectionCheck: Optional[Callable[..., Any]] = _alwaysSucceedsPostConnectionCheck) -> Any:
    """Accept TLS connections on port (like IReactorSSL.listenSSL); the listening port."""
    return reactor.listenTCP(port, _wrapping(factory, False, False, contextFactory, postConnectionCheck),
                             backlog, interface)


def listenTCP(port: int, factory: Any, backlog: int = 5, interface: str = "",
              reactor: Any = twisted.internet.reactor, postConnectionCheck: Optional[Callable[..., Any]] = None) -> Any:
    """Accept connections in the clear; the protocol calls ``transport.startTLS(ctx)``."""
    return reactor.listenTCP(port, _wrapping(factory, True, False, None, postConnectionCheck), backlog, interface)


@implementer(ITLSTransport)
class TLSProtocolWrapper(ProtocolWrapper):
    """The transport the application's protocol sees: cleartext in and out, TLS on the wire.

    :param startPassThrough: pass bytes through untouched until ``startTLS()``.
    :param client: True for the connecting end.
    :param contextFactory: its ``getContext()`` gives the Context (unused with startPassThrough).
    :param postConnectionCheck: ``check(peer_x509_or_None, host)`` after the handshake; false
        or raising aborts the connection.  None accepts every peer.
    """

    ctx: Optional[Context] = None
    # M2Crypto's wrapper kept its TLS state in a BIO pair; M2Sec's drives an SSLObject (``ssl``)
    # over memory BIOs of its own, so these three stay None.
    sslBio: Any = None
    internalBio: Any = None
    networkBio: Any = None
    # annotations only (no class attributes): set in __init__ and clear()
    tls: Optional[SSLObject]
    _pending: List[bytes]  # cleartext written before the handshake completed
    _error: Optional[BaseException]
    transport: Any  # Twisted's ITransport (zope.interface methods, untyped for mypy)

    @property
    def ssl(self) -> Optional[SSLObject]:
        """The TLS object of this connection (None before TLS starts)."""
        return self.tls

    def clear(self) -> None:
        """Forget this connection's TLS state (the Context stays), ready for reuse."""
        self.tls = None
        self.checked = False
        self._pending = []
        self._closing = False
        self._error = None

    def __init__(self, factory: policies.WrappingFactory, wrappedProtocol: Any, startPassThrough: bool,
                 client: bool, contextFactory: Any, postConnectionCheck: Optional[Callable[..., Any]]) -> None:
        # The application's protocol keeps its own factory: do not run ProtocolWrapper.__init__.
        self.factory = factory
        self.wrappedProtocol = wrappedProtocol
        self.isClient = bool(client)
        self.postConnectionCheck = postConnectionCheck or _alwaysSucceedsPostConnectionCheck
        self.ctx: Optional[Context] = None
        self.tls = None
        self.checked = False
        self._pending = []  # cleartext written before the handshake completed
        self._closing = False
        self._error = None
        if not startPassThrough:
            self.startTLS(contextFactory.getContext())

    # -- TLS ------------------------------------------------------------------------------
    @property
    def tlsStarted(self) -> bool:
        return self.ctx is not None

    def startTLS(self, ctx: Any) -> None:
        """Switch to TLS with ctx (a Context or a context factory); ITLSTransport's method."""
        if self.ctx is not None:
            raise SSLError("TLS already started")
        self.ctx = ctx if isinstance(ctx, Context) else ctx.getContext()
        if self.transport is not None:
            self._start()

    def _host(self) -> str:
        addr = getattr(self.transport, "addr", None) if self.isClient else None
        host: str = addr[0] if addr else self.transport.getPeer().host
        return host

    def _start(self) -> None:
        host = self._host() if self.isClient else None
        self.tls = SSLObject(cast(Context, self.ctx), server_side=not self.isClient, server_hostname=host)
        if self.isClient:
            self._step()

    def _flush(self) -> None:
        out = self.tls.data_to_send() if self.tls is not None else b""
        if out:
            self.transport.write(out)

    def _fail(self, err: BaseException) -> None:
        """Send any alert, drop the connection and report err as its reason."""
        if self._error is None:
            self._error = err
            try:
                self._flush()
            except SSLError:
                pass
            self.transport.abortConnection() if hasattr(self.transport, "abortConnection") \
                else self.transport.loseConnection()

    def _step(self) -> None:
        """Advance the handshake, check the peer, then move what can move both ways."""
        tls = cast(SSLObject, self.tls)  # set: _step() runs once TLS started
        try:
            if not self.checked:
                try:
                    tls.do_handshake()
                except _WANT:
                    self._flush()
                    return
                if not self.postConnectionCheck(tls.get_peer_cert(), self._host()):
                    raise SSLVerificationError("post connection check failed")
                self.checked = True
                pending, self._pending = self._pending, []
                for data in pending:
                    tls.write(data)
                if self._closing:
                    self._shutdown()
            received = []
            while True:
                try:
                    data = tls.read()
                except _WANT:
                    break
                if not data:  # close_notify
                    self._shutdown()
                    break
                received.append(data)
            self._flush()
        except Exception as err:  # an SSLError, or a check that raised
            self._fail(err)
            return
        for data in received:
            ProtocolWrapper.dataReceived(self, data)  # type: ignore[no-untyped-call]

    def _shutdown(self) -> None:
        try:
            cast(SSLObject, self.tls).unwrap()
        except _WANT:
            pass
        self._flush()
        ProtocolWrapper.loseConnection(self)  # type: ignore[no-untyped-call]

    # -- the transport's side -------------------------------------------------------------
    def connectionMade(self) -> None:
        ProtocolWrapper.connectionMade(self)  # type: ignore[no-untyped-call]
        if self.ctx is not None and self.tls is None and self._error is None:
            self._start()

    def dataReceived(self, data: bytes) -> None:
        if self.tls is None:
            ProtocolWrapper.dataReceived(self, data)  # type: ignore[no-untyped-call]
        elif self._error is None:
            self.tls.receive_bytes(data)
            self._step()

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]  # M2Crypto's: no default
        if self._error is not None:
            reason = Failure(self._error)  # type: ignore[no-untyped-call]
        if self.tls is not None:
            self.tls.close()
        ProtocolWrapper.connectionLost(self, reason)  # type: ignore[no-untyped-call]

    # -- the application's side -----------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.tls is None:
            if self.ctx is None:
                ProtocolWrapper.write(self, data)  # type: ignore[no-untyped-call]
            else:
                self._pending.append(bytes(data))
        elif self._error is not None or not data:
            return
        elif not self.checked:
            self._pending.append(bytes(data))
        else:
            try:
                self.tls.write(data)
                self._flush()
            except SSLError as err:
                self._fail(err)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """Send close_notify (after the data written so far) and close."""
        if self.tls is None or self._error is not None:
            ProtocolWrapper.loseConnection(self)  # type: ignore[no-untyped-call]
        elif not self.checked:
            self._closing = True
        else:
            self._shutdown()
