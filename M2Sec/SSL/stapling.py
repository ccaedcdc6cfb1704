"""OCSP stapling (RFC 6066 section 8; in TLS 1.3, RFC 8446 4.4.2.1) for SSL contexts.

A server :class:`~M2Sec.SSL.Context` staples a response with ``set_ocsp_staple()``; a client
context asks for one and verifies it in the handshake with ``set_ocsp_stapling(mode)``.  Both
ends share OpenSSL's one status callback per SSL_CTX: :func:`status_callback`, which
finds the Context's :class:`Settings` (no reference to the Context is kept in C).
A client's verified result is on the connection: ``conn.get_ocsp_result()``.
"""

import os
import threading
import time
from typing import Any, Callable, List, Optional, Union, cast

from M2Sec import OCSP, X509, m2
from M2Sec.SSL import _state
from M2Sec.SSL.SSLError import SSLVerificationError

__all__ = ["OCSPStapleError", "StapleRevokedError", "RefreshingStaple", "MODES"]

#: the client modes: no request, verify a staple when the server sends one, demand a good one
MODES = ("off", "prefer", "require")


class OCSPStapleError(SSLVerificationError, OCSP.OCSPError):
    """The server's OCSP staple was missing (mode "require"), malformed, not trustworthy, or
    not good; the handshake failed with a bad_certificate_status_response alert.  ``result``
    is the verified :class:`~M2Sec.OCSP.SingleResult` when there was one."""

    def __init__(self, message: str, result: Optional[OCSP.SingleResult] = None) -> None:
        super().__init__(message)
        self.result = result


class StapleRevokedError(OCSPStapleError):
    """A valid staple says that the server's certificate is revoked."""


StapleSource = Union[bytes, bytearray, str, "os.PathLike[str]", OCSP.Response, Callable[[], Optional[bytes]], None]


def _der(value: Any) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, OCSP.Response):
        return value.to_der()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value) or None
    raise TypeError("an OCSP staple is DER bytes, an OCSP.Response or None, not %s" % type(value).__name__)


class _FileStaple:
    """A staple read from a DER file, read again when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: Any = None
        self._der: Optional[bytes] = None
        self()  # a missing file fails now, not in a handshake

    def __call__(self) -> Optional[bytes]:
        st = os.stat(self.path)
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            with open(self.path, "rb") as f:
                self._der = f.read() or None
            self._stamp = stamp
        return self._der


class RefreshingStaple:
    """A server's staple that fetches a new response before the current one's nextUpdate.

    ``fetch()`` returns a response (DER bytes or an :class:`~M2Sec.OCSP.Response`), for
    instance ``lambda: OCSP.send(request, url)``.  It is called on the first handshake, then
    once ``fraction`` of the response's validity period has passed, or ``margin`` seconds
    before nextUpdate if that comes sooner, but never more often than every ``min_interval``
    seconds; a response without nextUpdate is fetched again after ``margin`` seconds.  When a
    fetch fails the current response is stapled while it is still valid (``last_error`` keeps
    the exception; the fetch is retried after ``min_interval``), and nothing once it has
    expired.  The fetch runs in the handshake that needs it (concurrent handshakes go on with
    the old response).
    """

    def __init__(self, fetch: Callable[[], Any], *, margin: float = 3600.0, fraction: float = 0.5,
                 min_interval: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        if not callable(fetch):
            raise TypeError("fetch must be callable")
        if margin < 0 or min_interval < 0 or not 0 <= fraction <= 1:
            raise ValueError("margin and min_interval must be >= 0 and fraction between 0 and 1")
        self.fetch, self.margin, self.fraction, self.clock = fetch, margin, fraction, clock
        self.min_interval = min_interval
        self.last_error: Optional[BaseException] = None
        self._der: Optional[bytes] = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> Optional[bytes]:
        """Fetch now; the new DER, or None (``last_error`` says why)."""
        try:
            der = _der(self.fetch())
            if der is None:
                raise OCSP.OCSPError("the fetch returned no response")
            with OCSP.load_response_der(der) as resp:
                singles = resp.responses
            if not singles:
                raise OCSP.OCSPError("the response holds no status")
            single = singles[0][1]
        except Exception as exc:  # kept for the caller to look at; the old staple stays
            self.last_error = exc
            self._refresh_at = self.clock() + self.min_interval  # retry soon, not every handshake
            return None
        now = self.clock()
        this = single.this_update.timestamp()
        if single.next_update is not None:
            nxt = single.next_update.timestamp()
            self._expires_at = nxt
            self._refresh_at = max(now + self.min_interval, min(nxt - self.margin, this + (nxt - this) * self.fraction))
        else:
            self._expires_at = float("inf")
            self._refresh_at = now + self.margin
        self._der, self.last_error = der, None
        return der

    def __call__(self) -> Optional[bytes]:
        now = self.clock()
        if now >= self._refresh_at and self._lock.acquire(blocking=self._der is None):
            try:
                if now >= self._refresh_at:
                    self.refresh()
            finally:
                self._lock.release()
        return self._der if self.clock() < self._expires_at else None


class Settings:
    """A Context's stapling settings (``Context._ocsp_settings``): the server's staple source
    and the client's mode, clock-skew allowance and maximum age."""

    def __init__(self) -> None:
        self.staple: Optional[Callable[[], Optional[bytes]]] = None
        self.mode = "off"
        self.leeway = 300.0
        self.max_age: Optional[float] = None

    def check(self, ssl_ptr: Any, staple: Optional[bytes]) -> bool:
        """The client's check of the staple received (None: none)."""
        conn = _state.owner_of(ssl_ptr)
        if conn is not None:
            conn._ocsp_result = None  # nothing from an earlier handshake on the same object
        if self.mode == "off":
            return True
        if staple is None:
            if self.mode == "require" and not m2.ssl_session_reused(ssl_ptr):
                raise OCSPStapleError("the server sent no OCSP staple (stapling is required)")
            return True
        result = verify_staple(ssl_ptr, staple, leeway=self.leeway, max_age=self.max_age)
        if conn is not None:
            conn._ocsp_result = result
        if result.status == OCSP.CertStatus.REVOKED:
            raise StapleRevokedError("the server's certificate is revoked (OCSP staple: %s, %s)"
                                     % (result.revocation_reason or "no reason given", result.revocation_time), result)
        if result.status != OCSP.CertStatus.GOOD and self.mode == "require":
            raise OCSPStapleError("the OCSP staple's status is %s (stapling is required)" % result.status.name, result)
        return True


def status_callback(ssl_ptr: Any, is_server: bool, staple: Optional[bytes]) -> Any:
    """ctx["ocsp"] in C, the same function for every context: it finds the Context's settings
    through the live Contexts' map (so that a staple callable holding its Context is an ordinary cycle, which
    the garbage collector can see), answers a server's request and checks a client's staple."""
    ctx = _state.context_of(m2.ssl_get_ssl_ctx(ssl_ptr))
    settings: Optional[Settings] = getattr(ctx, "_ocsp_settings", None)
    if is_server:
        return _der(settings.staple()) if settings is not None and settings.staple is not None else None
    if settings is None:
        raise OCSPStapleError("the context that asked for an OCSP staple is gone")
    return settings.check(ssl_ptr, staple)


def _issuer_of(ssl_ptr: Any, leaf: X509.X509, store: X509.X509_Store, sent: List[X509.X509]) -> X509.X509:
    verified = m2.ssl_get_verified_chain(ssl_ptr)
    if verified is not None:
        chain = list(X509.X509_Stack(verified, 1))
        if len(chain) > 1:
            return chain[1]
    try:
        chain = X509.verify_chain(leaf, store, sent)
    except X509.X509Error as exc:
        raise OCSPStapleError("cannot verify the server's chain to check its OCSP staple: %s" % exc) from None
    if len(chain) < 2:
        raise OCSPStapleError("the server's certificate is a trust anchor: it has no issuer to answer for it")
    return chain[1]


def verify_staple(ssl_ptr: Any, staple: bytes, *, leeway: float = 300, max_age: Optional[float] = None) -> OCSP.SingleResult:
    """Verify the staple of the handshake on ssl_ptr against its context's trust store: signed
    by the server certificate's issuer or a responder it delegated, about the server's
    certificate, and current.  Raises OCSPStapleError (with the OCSP error as its cause)."""
    cert_ptr = m2.ssl_get_peer_cert(ssl_ptr)
    if cert_ptr is None:
        raise OCSPStapleError("an OCSP staple, but no server certificate")
    leaf = X509.X509(cert_ptr, 1)
    chain_ptr = m2.ssl_get_peer_cert_chain(ssl_ptr)
    sent = list(X509.X509_Stack(chain_ptr, 1)) if chain_ptr is not None else []
    store = X509.X509_Store(m2.ssl_ctx_get_cert_store(cast(Any, m2.ssl_get_ssl_ctx(ssl_ptr))), 0)
    issuer = _issuer_of(ssl_ptr, leaf, store, sent)
    try:
        with OCSP.load_response_der(staple) as resp:
            return resp.verify(leaf, issuer, store, untrusted=sent, leeway=leeway, max_age=max_age)
    except OCSP.OCSPError as exc:
        raise OCSPStapleError("invalid OCSP staple: %s" % exc) from exc


def set_staple(handler: Settings, source: StapleSource) -> None:
    if source is None or callable(source):
        handler.staple = source
    elif isinstance(source, (str, os.PathLike)):
        handler.staple = _FileStaple(os.fspath(source))
    else:
        der = _der(source)
        if der is None:
            raise ValueError("an empty OCSP staple")
        OCSP.load_response_der(der).close()  # malformed DER fails here, not in handshakes
        handler.staple = lambda: der
