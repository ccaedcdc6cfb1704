"""TLS Lite's certificate classes, X509 and X509CertChain, over M2Sec.X509."""

import re
from typing import Any, Iterable, Iterator, List, Optional, Union

from M2Sec import EVP
from M2Sec import X509 as _X509
from M2Sec.TLS.keys import Key, as_key

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _bytes(s: Union[str, bytes, bytearray]) -> bytes:
    return s.encode("ascii") if isinstance(s, str) else bytes(s)


class X509:
    """One certificate.  ``bytes`` is its DER, ``publicKey`` its key, ``x509`` the M2Sec.X509.X509."""

    def __init__(self, cert: Optional[_X509.X509] = None) -> None:
        self.x509: Optional[_X509.X509] = None
        self.bytes = bytearray()
        if cert is not None:
            self._set(cert)

    def _set(self, cert: _X509.X509) -> "X509":
        self.x509 = cert
        self.bytes = bytearray(cert.as_der())
        return self

    @classmethod
    def _wrap(cls, cert: _X509.X509) -> "X509":
        return cls()._set(cert)

    def parse(self, s: Union[str, bytes]) -> "X509":
        """Read one PEM certificate.

        :raises SyntaxError: when s holds no PEM certificate (TLS Lite's exception).
        """
        m = _PEM_CERT.search(_bytes(s))
        if not m:
            raise SyntaxError("no PEM certificate found")
        try:
            return self._set(_X509.load_cert_string(m.group(0)))
        except _X509.X509Error as e:
            raise SyntaxError("bad PEM certificate: %s" % e) from e

    def parseBinary(self, data: Union[bytes, bytearray]) -> "X509":
        """Read one DER certificate.

        :raises SyntaxError: when data is not a DER certificate.
        """
        try:
            return self._set(_X509.load_cert_der_string(bytes(data)))
        except _X509.X509Error as e:
            raise SyntaxError("bad DER certificate: %s" % e) from e

    def _cert(self) -> _X509.X509:
        if self.x509 is None:
            raise ValueError("the X509 object holds no certificate yet (call parse)")
        return self.x509

    @property
    def publicKey(self) -> Key:
        """The subject's public key."""
        return as_key(self._cert().get_pubkey())

    @property
    def subject(self) -> bytes:
        """The subject name, DER-encoded."""
        return self._cert().get_subject().as_der()

    @property
    def certAlg(self) -> str:
        """The key type as TLS Lite names it: 'rsa', 'rsa-pss', 'ecdsa', 'Ed25519', 'Ed448', 'dsa'."""
        return self.publicKey.certAlg

    def getFingerprint(self) -> str:
        """The SHA-1 fingerprint of the DER certificate, in lowercase hex (TLS Lite's form)."""
        return EVP.digest("sha1", bytes(self._cert().as_der())).hex()

    def writeBytes(self) -> bytearray:
        """The DER encoding."""
        return bytearray(self._cert().as_der())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X509) and bytes(self.bytes) == bytes(other.bytes)

    def __hash__(self) -> int:
        return hash(bytes(self.bytes))

    def __repr__(self) -> str:
        return "<X509 %s>" % (self.x509.get_subject().as_text() if self.x509 is not None else "empty")


class X509CertChain:
    """A certificate chain, end entity first (TLS Lite's ``x509List``)."""

    def __init__(self, x509List: Optional[Iterable[Any]] = None) -> None:
        self.x509List: List[X509] = [c if isinstance(c, X509) else X509._wrap(c) for c in (x509List or [])]

    def parsePemList(self, s: Union[str, bytes]) -> "X509CertChain":
        """Read every PEM certificate in s, in order.

        :raises SyntaxError: when s holds none, or a bad one.
        """
        blocks = _PEM_CERT.findall(_bytes(s))
        if not blocks:
            raise SyntaxError("no PEM certificate found")
        self.x509List = [X509().parse(b) for b in blocks]
        return self

    def getNumCerts(self) -> int:
        return len(self.x509List)

    def getEndEntityPublicKey(self) -> Key:
        """The public key of the first certificate.

        :raises ValueError: for an empty chain.
        """
        if not self.x509List:
            raise ValueError("empty certificate chain")
        return self.x509List[0].publicKey

    def getFingerprint(self) -> str:
        """The SHA-1 fingerprint of the end-entity certificate (lowercase hex)."""
        if not self.x509List:
            raise ValueError("empty certificate chain")
        return self.x509List[0].getFingerprint()

    def pem(self) -> bytes:
        """The chain as concatenated PEM."""
        return b"".join(c._cert().as_pem() for c in self.x509List)

    def __len__(self) -> int:
        return len(self.x509List)

    def __iter__(self) -> Iterator["X509"]:
        return iter(self.x509List)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X509CertChain) and self.x509List == other.x509List

    def __repr__(self) -> str:
        return "<X509CertChain of %d>" % len(self.x509List)
