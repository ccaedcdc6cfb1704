"""OCSP (RFC 6960): requests, responses, their verification, and signed responses.

A client builds a :class:`Request` for a certificate and its issuer (:func:`build_request`),
sends it (:func:`send`, HTTP POST or GET with a timeout, or hands :meth:`Request.to_der` to
its own transport), and verifies the answer with :meth:`Response.verify`, which returns a
:class:`SingleResult` (good, revoked with time and reason, or unknown) or raises: an
:class:`OCSPResponderError` subclass for each error status a responder can send, an
:class:`OCSPVerificationError` subclass when the response cannot be trusted.  A responder
(or a test) builds signed responses with :class:`ResponseBuilder`.

Everything rests on OpenSSL's OCSP_* functions (``openssl ocsp`` uses the same ones).
"""

import base64
import datetime
import enum
import http.client
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union, cast

from M2Sec import EVP, X509, m2
from M2Sec._base import Owned
from M2Sec.Err import M2SecError

__all__ = ["OCSPError", "OCSPResponderError", "MalformedRequestError", "ResponderInternalError", "TryLaterError",
           "SigRequiredError", "UnauthorizedError", "OCSPVerificationError", "CertificateMismatchError",
           "NonceMismatchError", "ResponseExpiredError", "OCSPTransportError", "OCSPTimeoutError",
           "CertStatus", "ResponseStatus", "SingleResult", "CertID", "Request", "Response", "ResponseBuilder",
           "build_request", "load_request_der", "load_response_der", "error_response", "send", "ocsp_urls",
           "check"]


# ---------------------------------------------------------------------------------------
# Exceptions

class OCSPError(M2SecError):
    """An OCSP failure (the area's exception: malformed DER, a signing failure, ...)."""


m2.ocsp_init(OCSPError)


class OCSPResponderError(OCSPError):
    """The responder answered with an error status instead of a signed response.

    ``status`` is the :class:`ResponseStatus`; each status has its own subclass."""

    status: "ResponseStatus"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "the OCSP responder answered %s" % self.status.name)


class OCSPVerificationError(OCSPError):
    """The response cannot be trusted: bad signature, unauthorised signer, untrusted chain."""


class CertificateMismatchError(OCSPVerificationError):
    """The response does not speak about the certificate asked about."""


class NonceMismatchError(OCSPVerificationError):
    """The response's nonce is not the request's (or the responder left it out)."""


class ResponseExpiredError(OCSPVerificationError):
    """thisUpdate is in the future, nextUpdate in the past, or thisUpdate older than max_age."""


class OCSPTransportError(OCSPError, OSError):
    """The HTTP exchange with the responder failed (connection, HTTP status, content type, size)."""


class OCSPTimeoutError(OCSPTransportError, TimeoutError):
    """The responder did not answer in time."""


class ResponseStatus(enum.IntEnum):
    """OCSPResponseStatus (RFC 6960 4.2.1)."""

    SUCCESSFUL = m2.OCSP_RESPONSE_STATUS_SUCCESSFUL
    MALFORMED_REQUEST = m2.OCSP_RESPONSE_STATUS_MALFORMEDREQUEST
    INTERNAL_ERROR = m2.OCSP_RESPONSE_STATUS_INTERNALERROR
    TRY_LATER = m2.OCSP_RESPONSE_STATUS_TRYLATER
    SIG_REQUIRED = m2.OCSP_RESPONSE_STATUS_SIGREQUIRED
    UNAUTHORIZED = m2.OCSP_RESPONSE_STATUS_UNAUTHORIZED


def _responder_error(name: str, status: ResponseStatus, doc: str) -> Type[OCSPResponderError]:
    return type(name, (OCSPResponderError,), {"status": status, "__doc__": doc, "__module__": __name__})


MalformedRequestError = _responder_error("MalformedRequestError", ResponseStatus.MALFORMED_REQUEST,
                                         "malformedRequest: the responder could not parse the request.")
ResponderInternalError = _responder_error("ResponderInternalError", ResponseStatus.INTERNAL_ERROR,
                                          "internalError: the responder is in an inconsistent state.")
TryLaterError = _responder_error("TryLaterError", ResponseStatus.TRY_LATER,
                                 "tryLater: the responder cannot answer now.")
SigRequiredError = _responder_error("SigRequiredError", ResponseStatus.SIG_REQUIRED,
                                    "sigRequired: the responder wants a signed request.")
UnauthorizedError = _responder_error("UnauthorizedError", ResponseStatus.UNAUTHORIZED,
                                     "unauthorized: the responder does not answer for this certificate.")
_RESPONDER_ERRORS: Dict[int, Type[OCSPResponderError]] = {c.status: c for c in (MalformedRequestError, ResponderInternalError, TryLaterError,
                                             SigRequiredError, UnauthorizedError)}


# ---------------------------------------------------------------------------------------
# Results

class CertStatus(enum.IntEnum):
    """CertStatus (RFC 6960 4.2.1)."""

    GOOD = m2.V_OCSP_CERTSTATUS_GOOD
    REVOKED = m2.V_OCSP_CERTSTATUS_REVOKED
    UNKNOWN = m2.V_OCSP_CERTSTATUS_UNKNOWN


#: CRLReason (RFC 5280 5.3.1) by number; 7 is unused.
REASONS = {0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged", 4: "superseded",
           5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn",
           10: "aACompromise"}
_REASON_CODES = {v: k for k, v in REASONS.items()}


def _dt(posix: Optional[int]) -> Optional[datetime.datetime]:
    return None if posix is None else datetime.datetime.fromtimestamp(posix, datetime.timezone.utc)


def _posix(when: Any, default_now: bool = False) -> int:
    """Seconds since the epoch of a datetime (naive: UTC), a timedelta from now, or a number."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if when is None and default_now:
        return int(now.timestamp())
    if isinstance(when, datetime.timedelta):
        return int((now + when).timestamp())
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return int(when.timestamp())
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return int(when)
    raise TypeError("a time is a datetime, a timedelta from now, or seconds since the epoch, not %r" % (when,))


@dataclass(frozen=True)
class SingleResult:
    """What a (verified) response says about one certificate."""

    status: CertStatus
    serial_number: int
    this_update: datetime.datetime
    next_update: Optional[datetime.datetime]
    revocation_time: Optional[datetime.datetime] = None
    #: the CRLReason's name ("keyCompromise" ...), None when the responder gave none
    revocation_reason: Optional[str] = None

    @property
    def good(self) -> bool:
        return self.status == CertStatus.GOOD

    @property
    def revoked(self) -> bool:
        return self.status == CertStatus.REVOKED


def _single(info: Tuple[int, int, Optional[int], int, Optional[int]], serial: int) -> SingleResult:
    status, reason, rev, thisupd, nextupd = info
    return SingleResult(CertStatus(status), serial, cast(datetime.datetime, _dt(thisupd)), _dt(nextupd), _dt(rev),
                        REASONS.get(reason) if status == CertStatus.REVOKED and reason >= 0 else None)


# ---------------------------------------------------------------------------------------
# CertIDs and requests

def _need(obj: Any, cls: type, what: str) -> None:
    if not isinstance(obj, cls):
        raise TypeError("%s must be %s.%s, not %s" % (what, cls.__module__, cls.__name__, type(obj).__name__))


def _stack(certs: Iterable[X509.X509]) -> X509.X509_Stack:
    stack = X509.X509_Stack()
    for c in certs:
        _need(c, X509.X509, "a certificate")
        stack.push(c)
    return stack


def _store(trusted: Union[X509.X509_Store, Sequence[X509.X509]]) -> X509.X509_Store:
    if isinstance(trusted, X509.X509_Store):
        return trusted
    if isinstance(trusted, X509.X509):
        trusted = [trusted]
    store = X509.X509_Store()
    for c in trusted:
        _need(c, X509.X509, "a trusted certificate")
        store.add_x509(c)
    return store


class CertID(Owned):
    """An OCSP CertID: hashes of the issuer's name and key, and the serial number (RFC 6960 4.1.1)."""

    _free_fn = m2.ocsp_certid_free

    @classmethod
    def from_certs(cls, cert: X509.X509, issuer: X509.X509, digest: str = "sha1") -> "CertID":
        """The CertID of cert, issued by issuer; SHA-1 by default, as RFC 5019 and 6960 profile it."""
        _need(cert, X509.X509, "cert")
        _need(issuer, X509.X509, "issuer")
        return cls(m2.ocsp_cert_to_id(digest, cert._ptr(), issuer._ptr()), 1)

    def _info(self) -> Tuple[str, bytes, bytes, int]:
        return m2.ocsp_certid_info(self._ptr())

    hash_algorithm = property(lambda self: self._info()[0], doc="the hash's short name: SHA1, SHA256 ...")
    issuer_name_hash = property(lambda self: self._info()[1], doc="the hash of the issuer's DER name")
    issuer_key_hash = property(lambda self: self._info()[2], doc="the hash of the issuer's public key bits")
    serial_number = property(lambda self: self._info()[3], doc="the certificate's serial number")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CertID):
            return NotImplemented
        return bool(m2.ocsp_id_equal(self._ptr(), other._ptr()))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.closed:
            return "<CertID (freed)>"
        return "<CertID %s serial=%#x>" % (self.hash_algorithm, self.serial_number)


class Request(Owned):
    """An OCSPRequest.  ``Request()`` is empty: :meth:`add_certificate` asks about certificates."""

    _free_fn = m2.ocsp_request_free

    def __init__(self, req: Any = None, _pyfree: int = 0) -> None:
        if req is None:
            req, _pyfree = m2.ocsp_request_new(), 1
        super().__init__(req, _pyfree)

    def add_certificate(self, cert: X509.X509, issuer: X509.X509, digest: str = "sha1") -> "Request":
        """Ask about cert (issued by issuer); returns self."""
        with CertID.from_certs(cert, issuer, digest) as cid:
            m2.ocsp_request_add1_id(self._ptr(), cid._ptr())
        return self

    def add_cert_id(self, cert_id: CertID) -> "Request":
        _need(cert_id, CertID, "cert_id")
        m2.ocsp_request_add1_id(self._ptr(), cert_id._ptr())
        return self

    def add_nonce(self, nonce: Optional[bytes] = None) -> bytes:
        """Add a nonce (RFC 6960 4.4.1): nonce, or 16 random bytes; returns it."""
        m2.ocsp_request_add1_nonce(self._ptr(), nonce)
        return self.nonce  # type: ignore[return-value]

    @property
    def nonce(self) -> Optional[bytes]:
        return m2.ocsp_request_get_nonce(self._ptr())

    @property
    def cert_ids(self) -> List[CertID]:
        p = self._ptr()
        return [CertID(m2.ocsp_request_get1_id(p, i), 1) for i in range(m2.ocsp_request_onereq_count(p))]

    def sign(self, cert: X509.X509, key: EVP.PKey, digest: Optional[str] = "sha256",
             certs: Iterable[X509.X509] = (), *, include_certs: bool = True) -> None:
        """Sign the request as cert (for responders answering sigRequired); the request
        carries cert and certs unless include_certs is False (OCSP_request_sign)."""
        _need(cert, X509.X509, "cert")
        _need(key, EVP.PKey, "key")
        extra = list(certs)
        stack = _stack(extra) if extra else None
        m2.ocsp_request_sign(self._ptr(), cert._ptr(), key._ptr(), digest, stack._ptr() if stack else None,
                             0 if include_certs else m2.OCSP_NOCERTS)

    @property
    def is_signed(self) -> bool:
        return bool(m2.ocsp_request_is_signed(self._ptr()))

    def to_der(self) -> bytes:
        return m2.i2d_ocsp_request(self._ptr())

    as_der = to_der


def build_request(cert: X509.X509, issuer: X509.X509, *, digest: str = "sha1",
                  nonce: Union[bool, bytes] = True) -> Request:
    """A request about cert, issued by issuer.

    :param digest: the CertID's hash (SHA-1 by default, which every responder knows).
    :param nonce: True for a random nonce, bytes for that nonce, False for none (responders
        that pre-produce their answers, RFC 5019, do not echo nonces)."""
    req = Request().add_certificate(cert, issuer, digest)
    if nonce is True:
        req.add_nonce()
    elif nonce:
        req.add_nonce(bytes(nonce))
    return req


def load_request_der(data: bytes) -> Request:
    """Parse a DER OCSPRequest; OCSPError if malformed."""
    return Request(m2.d2i_ocsp_request(data), 1)


# ---------------------------------------------------------------------------------------
# Responses

class _Basic(Owned):
    _free_fn = m2.ocsp_basicresp_free


class Response(Owned):
    """An OCSPResponse: its status and, when successful, the signed BasicOCSPResponse."""

    _free_fn = m2.ocsp_response_free

    def __init__(self, resp: Any, _pyfree: int = 0) -> None:
        super().__init__(resp, _pyfree)
        self._basic_obj: Optional[_Basic] = None

    def close(self) -> None:
        basic, self._basic_obj = getattr(self, "_basic_obj", None), None
        if basic is not None:
            basic.close()
        super().close()

    free = close

    @property
    def response_status(self) -> ResponseStatus:
        return ResponseStatus(m2.ocsp_response_status(self._ptr()))

    def raise_for_status(self) -> None:
        """Raise the :class:`OCSPResponderError` subclass of an error status."""
        status = m2.ocsp_response_status(self._ptr())
        if status != ResponseStatus.SUCCESSFUL:
            cls = _RESPONDER_ERRORS.get(status)
            if cls is None:
                raise OCSPError("the OCSP responder answered an unknown status %d" % status)
            raise cls()

    def _bs(self) -> Any:
        if self._basic_obj is None:
            self.raise_for_status()
            self._basic_obj = _Basic(m2.ocsp_response_get1_basic(self._ptr()), 1)
        return self._basic_obj._ptr()

    @property
    def produced_at(self) -> datetime.datetime:
        return _dt(m2.ocsp_resp_get_produced_at(self._bs()))  # type: ignore[return-value]

    @property
    def nonce(self) -> Optional[bytes]:
        return m2.ocsp_resp_get_nonce(self._bs())

    @property
    def responder_key_hash(self) -> Optional[bytes]:
        return cast(Optional[bytes], m2.ocsp_resp_get_responder_id(self._bs())[0])

    @property
    def responder_name(self) -> Optional[str]:
        return cast(Optional[str], m2.ocsp_resp_get_responder_id(self._bs())[1])

    @property
    def certificates(self) -> List[X509.X509]:
        """The certificates the response carries (the signer's, usually)."""
        return list(X509.X509_Stack(m2.ocsp_resp_get1_certs(self._bs()), 1))

    @property
    def responses(self) -> List[Tuple[CertID, SingleResult]]:
        """Every SingleResponse, NOT verified: see :meth:`verify`."""
        bs = self._bs()
        out = []
        for i in range(m2.ocsp_resp_count(bs)):
            cid = CertID(m2.ocsp_resp_get1_id(bs, i), 1)
            out.append((cid, _single(m2.ocsp_resp_get_status(bs, i), cid.serial_number)))
        return out

    def verify_signature(self, trusted: Union[X509.X509_Store, Sequence[X509.X509]],
                         untrusted: Iterable[X509.X509] = (), *,
                         trusted_responders: Iterable[X509.X509] = ()) -> None:
        """Check the signature, the signer's chain to a trust anchor, and that the signer is the
        CA of the CertIDs or a responder it delegated (id-kp-OCSPSigning) (OCSP_basic_verify).

        :param trusted_responders: responder certificates trusted as they are, for any CA
            (``openssl ocsp -VAfile``): a response they sign needs only a good signature.
        :raises OCSPVerificationError: (and OCSPResponderError for an error status)."""
        bs = self._bs()
        store = _store(trusted)
        extra = list(untrusted)
        stack = _stack(extra) if extra else None
        try:
            m2.ocsp_basic_verify(bs, stack._ptr() if stack else None, store._ptr(), 0)
            return
        except OCSPError as exc:
            failure = str(exc)
        local = list(trusted_responders)
        if local:
            try:  # the signer must be one of them (OCSP_NOINTERN), and is then trusted as is
                responders = _stack(local)
                m2.ocsp_basic_verify(bs, responders._ptr(), store._ptr(), m2.OCSP_TRUSTOTHER | m2.OCSP_NOINTERN)
                return
            except OCSPError:
                pass
        raise OCSPVerificationError(failure)

    def find(self, cert: X509.X509, issuer: X509.X509) -> int:
        """The index of the SingleResponse about cert (matched with the response's own hash
        algorithm), or -1."""
        bs = self._bs()
        tried = set()
        for i in range(m2.ocsp_resp_count(bs)):
            with CertID(m2.ocsp_resp_get1_id(bs, i), 1) as theirs:
                alg = theirs.hash_algorithm
                if alg in tried:
                    continue
                tried.add(alg)
                try:
                    ours = CertID.from_certs(cert, issuer, alg)
                except (ValueError, OCSPError):
                    continue
                with ours:
                    idx = m2.ocsp_resp_find(bs, ours._ptr())
                if idx >= 0:
                    return idx
        return -1

    def verify(self, cert: X509.X509, issuer: X509.X509, trusted: Union[X509.X509_Store, Sequence[X509.X509]],
               *, request: Optional[Request] = None, untrusted: Iterable[X509.X509] = (),
               trusted_responders: Iterable[X509.X509] = (), leeway: float = 300,
               max_age: Optional[float] = None) -> SingleResult:
        """Verify the response and return what it says about cert (issued by issuer).

        Checks, in order: the response status; the signature and the signer (the issuer, or a
        responder the issuer delegated with id-kp-OCSPSigning, chained to ``trusted``, with
        ``untrusted`` and the issuer as intermediates); that a SingleResponse is about cert;
        the nonce, when ``request`` carried one (the response must echo it); and the validity
        window (OCSP_check_validity): thisUpdate no later than now + leeway, nextUpdate (when
        given) no earlier than now - leeway, and thisUpdate at most ``max_age`` seconds old.
        ``trusted_responders`` are responders trusted as they are (see :meth:`verify_signature`).

        :raises OCSPResponderError: a subclass for each error status.
        :raises OCSPVerificationError: a subclass for a certificate, nonce or time mismatch.
        """
        _need(cert, X509.X509, "cert")
        _need(issuer, X509.X509, "issuer")
        if leeway < 0 or (max_age is not None and max_age < 0):
            raise ValueError("leeway and max_age must not be negative")
        self.verify_signature(trusted, list(untrusted) + [issuer], trusted_responders=trusted_responders)
        bs = self._bs()
        idx = self.find(cert, issuer)
        if idx < 0:
            raise CertificateMismatchError("the OCSP response is not about this certificate (serial %#x)"
                                           % cert.get_serial_number())
        if request is not None:
            _need(request, Request, "request")
            n = m2.ocsp_check_nonce(request._ptr(), bs)
            if n == 0:
                raise NonceMismatchError("the OCSP response's nonce is not the request's")
            if n == -1:
                raise NonceMismatchError("the OCSP responder did not echo the request's nonce")
        try:
            m2.ocsp_resp_check_validity(bs, idx, int(leeway), -1 if max_age is None else int(max_age))
        except OCSPError as exc:
            raise ResponseExpiredError(str(exc)) from None
        return _single(m2.ocsp_resp_get_status(bs, idx), cert.get_serial_number())

    def to_der(self) -> bytes:
        return m2.i2d_ocsp_response(self._ptr())

    as_der = to_der


def load_response_der(data: bytes) -> Response:
    """Parse a DER OCSPResponse (its signature is checked by :meth:`Response.verify`);
    OCSPError if malformed or truncated."""
    return Response(m2.d2i_ocsp_response(data), 1)


def error_response(status: Union[ResponseStatus, int]) -> Response:
    """An unsigned error response (malformedRequest, internalError, tryLater, sigRequired, unauthorized)."""
    status = ResponseStatus(status)
    if status == ResponseStatus.SUCCESSFUL:
        raise ValueError("a successful response is built with ResponseBuilder")
    return Response(m2.ocsp_response_create(int(status), None), 1)


class ResponseBuilder(Owned):
    """Builds a signed BasicOCSPResponse (for a responder, or for tests).

    ::

        b = ResponseBuilder()
        b.add_response(cert, issuer, CertStatus.GOOD, next_update=timedelta(hours=1))
        b.copy_nonce(request)
        response = b.sign(issuer, issuer_key)
    """

    _free_fn = m2.ocsp_basicresp_free

    def __init__(self) -> None:
        super().__init__(m2.ocsp_basicresp_new(), 1)

    def add_response(self, cert: X509.X509, issuer: X509.X509, status: Union[CertStatus, int] = CertStatus.GOOD,
                     *, this_update: Any = None, next_update: Any = None, revocation_time: Any = None,
                     revocation_reason: Union[str, int, None] = None, digest: str = "sha1") -> "ResponseBuilder":
        """Say status about cert.  Times are datetimes, timedeltas from now, or seconds since the
        epoch; this_update defaults to now, next_update to none (RFC 6960: newer information
        is always available), revocation_time to now."""
        with CertID.from_certs(cert, issuer, digest) as cid:
            return self.add_response_for_id(cid, status, this_update=this_update, next_update=next_update,
                                            revocation_time=revocation_time, revocation_reason=revocation_reason)

    def add_response_for_id(self, cert_id: CertID, status: Union[CertStatus, int] = CertStatus.GOOD, *,
                            this_update: Any = None, next_update: Any = None, revocation_time: Any = None,
                            revocation_reason: Union[str, int, None] = None) -> "ResponseBuilder":
        """As :meth:`add_response`, for a CertID (one taken from a request)."""
        _need(cert_id, CertID, "cert_id")
        status = CertStatus(status)
        if isinstance(revocation_reason, str):
            if revocation_reason not in _REASON_CODES:
                raise ValueError("unknown revocation reason %r" % revocation_reason)
            reason = _REASON_CODES[revocation_reason]
        else:
            reason = -1 if revocation_reason is None else int(revocation_reason)
        if status != CertStatus.REVOKED and (revocation_reason is not None or revocation_time is not None):
            raise ValueError("only a revoked status has a revocation time and reason")
        m2.ocsp_basic_add1_status(self._ptr(), cert_id._ptr(), int(status), reason,
                                  _posix(revocation_time, True) if status == CertStatus.REVOKED else 0,
                                  _posix(this_update, True), 0 if next_update is None else _posix(next_update))
        return self

    def copy_nonce(self, request: Request) -> bool:
        """Echo request's nonce; False if it had none."""
        _need(request, Request, "request")
        return m2.ocsp_basic_copy_nonce(self._ptr(), request._ptr()) == 1

    def add_nonce(self, nonce: bytes) -> None:
        m2.ocsp_basic_add1_nonce(self._ptr(), nonce)

    def sign(self, responder_cert: X509.X509, responder_key: EVP.PKey, *, digest: Optional[str] = "sha256",
             certs: Iterable[X509.X509] = (), include_certs: bool = True, responder_id: str = "name") -> Response:
        """Sign as responder_cert and return the successful OCSPResponse.

        :param digest: None for keys that fix their own (Ed25519, Ed448).
        :param certs: more certificates to include (a delegated responder's issuer chain).
        :param include_certs: whether the response carries the signer's certificate and certs.
        :param responder_id: "name" (byName) or "key" (byKey, the SHA-1 of the key)."""
        _need(responder_cert, X509.X509, "responder_cert")
        _need(responder_key, EVP.PKey, "responder_key")
        if responder_id not in ("name", "key"):
            raise ValueError('responder_id is "name" or "key"')
        flags = (0 if include_certs else m2.OCSP_NOCERTS) | (m2.OCSP_RESPID_KEY if responder_id == "key" else 0)
        extra = list(certs)
        stack = _stack(extra) if extra else None
        m2.ocsp_basic_sign(self._ptr(), responder_cert._ptr(), responder_key._ptr(), digest,
                           stack._ptr() if stack else None, flags)
        return Response(m2.ocsp_response_create(0, self._ptr()), 1)


# ---------------------------------------------------------------------------------------
# Transport (RFC 6960 appendix A)

def ocsp_urls(cert: X509.X509) -> List[str]:
    """The OCSP responder URLs of cert's Authority Information Access extension."""
    _need(cert, X509.X509, "cert")
    return m2.x509_get1_ocsp(cert._ptr())


def send(request: Union[Request, bytes], url: str, *, method: str = "POST", timeout: float = 10.0,
         max_size: int = 1 << 20) -> Response:
    """Send request to the responder at url (http://) and return its parsed, unverified response.

    :param method: "POST", or "GET" (the request base64- and URL-encoded in the path, which
        caches can serve; for small requests, RFC 5019).
    :param timeout: seconds for the connection and each read.
    :param max_size: the largest response accepted.
    :raises OCSPTimeoutError: the responder did not answer in time.
    :raises OCSPTransportError: connection failure, HTTP status other than 200, wrong content
        type, or a response larger than max_size.
    :raises OCSPError: the response is malformed.
    """
    der = request.to_der() if isinstance(request, Request) else bytes(request)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("an OCSP responder URL is http://host[:port]/path, not %r" % url)
    method = method.upper()
    if method not in ("POST", "GET"):
        raise ValueError('method is "POST" or "GET"')
    path = parts.path or "/"
    headers = {"Accept": "application/ocsp-response"}
    if method == "GET":
        path = path.rstrip("/") + "/" + urllib.parse.quote(base64.b64encode(der).decode("ascii"), safe="")
        body = None
    else:
        headers["Content-Type"] = "application/ocsp-request"
        body = der
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read(max_size + 1)
        ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
    except socket.timeout as exc:
        raise OCSPTimeoutError("the OCSP responder at %s did not answer in %gs" % (url, timeout)) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise OCSPTransportError("OCSP request to %s failed: %s" % (url, exc)) from exc
    finally:
        conn.close()
    if resp.status != 200:
        raise OCSPTransportError("the OCSP responder at %s answered HTTP %d %s" % (url, resp.status, resp.reason))
    if ctype != "application/ocsp-response":
        raise OCSPTransportError("the OCSP responder at %s answered %r, not application/ocsp-response" % (url, ctype))
    if len(data) > max_size:
        raise OCSPTransportError("the OCSP response from %s is larger than %d bytes" % (url, max_size))
    return load_response_der(data)


def check(cert: X509.X509, issuer: X509.X509, trusted: Union[X509.X509_Store, Sequence[X509.X509]], *,
          url: Optional[str] = None, method: str = "POST", timeout: float = 10.0, nonce: bool = True,
          digest: str = "sha1", untrusted: Iterable[X509.X509] = (), leeway: float = 300,
          max_age: Optional[float] = None) -> SingleResult:
    """Ask cert's responder (url, or the first of its AIA extension) and return the verified
    answer: build, :func:`send` and :meth:`Response.verify` in one call."""
    if url is None:
        urls = ocsp_urls(cert)
        if not urls:
            raise OCSPError("the certificate names no OCSP responder (no AIA OCSP URL)")
        url = urls[0]
    with build_request(cert, issuer, digest=digest, nonce=nonce) as req:
        with send(req, url, method=method, timeout=timeout) as resp:
            return resp.verify(cert, issuer, trusted, request=req if nonce else None, untrusted=untrusted,
                               leeway=leeway, max_age=max_age)
