"""The post-connection check of a peer's certificate (M2Crypto's ``SSL.Checker``).

A :class:`Checker` is called with the peer's certificate and the host name the program meant
to reach.  It checks an optional fingerprint (certificate pinning), then the host name with
the X509 module's RFC 6125 checks (:func:`M2Sec.X509.check_host`, :func:`M2Sec.X509.check_ip`)
on the structured subjectAltName, never on its printed text.
"""

import hmac
import ipaddress
import re
from re import Pattern  # noqa: F401  (M2Crypto's Checker exports it)
from typing import Optional, Union

from M2Sec import X509, m2
from M2Sec.SSL.SSLError import SSLVerificationError

__all__ = ["SSLVerificationError", "NoCertificate", "WrongCertificate", "WrongHost", "Checker"]


class NoCertificate(SSLVerificationError):
    """The peer sent no certificate."""


class WrongCertificate(SSLVerificationError):
    """The certificate is not the pinned one, or carries no usable identity."""


class WrongHost(SSLVerificationError):
    """The certificate was issued for another host than the one expected."""

    def __init__(self, expectedHost: str, actualHost: Union[str, bytes], fieldName: str = "commonName") -> None:
        if fieldName not in ("commonName", "subjectAltName"):
            raise ValueError("Unknown fieldName, should be either commonName or subjectAltName")
        super().__init__()
        self.expectedHost = expectedHost
        self.actualHost = actualHost
        self.fieldName = fieldName

    def __str__(self) -> str:
        actual = self.actualHost.decode() if isinstance(self.actualHost, bytes) else self.actualHost
        return "Peer certificate %s does not match host, expected %s, got %s" % (self.fieldName, self.expectedHost, actual)


def _ip_text(text: str) -> Optional[str]:
    """The canonical text of an IP address literal (brackets allowed), or None."""
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


class Checker:
    """Checks a peer certificate: ``Checker(host, peerCertHash, peerCertDigest)(cert, host)``.

    :param host: the host name (or IP address) expected; the call's host argument wins.
    :param peerCertHash: a pinned fingerprint: the hex digest of the DER certificate
        (colons allowed, any case).
    :param peerCertDigest: the digest of the fingerprint (sha256 by default).

    ``hostCheckFlags`` holds the X509_CHECK_FLAG_* flags of the host name check; the default
    refuses partial wildcards such as ``m*.example.com`` (set it to 0 to accept them).
    Returns True, or raises :class:`NoCertificate`, :class:`WrongCertificate` or
    :class:`WrongHost` (all :class:`SSLVerificationError`).
    """

    numericIpMatch = re.compile(r"^[0-9]+(\.[0-9]+)*$")
    hostCheckFlags: int = m2.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS

    def __init__(self, host: Optional[str] = None, peerCertHash: Optional[Union[str, bytes]] = None,
                 peerCertDigest: str = "sha256") -> None:
        self.host: Union[str, bytes, None] = host
        self.fingerprint = peerCertHash
        self.digest = peerCertDigest
        self.useSubjectAltNameOnly = False

    def __call__(self, peerCert: Optional[X509.X509], host: Optional[Union[str, bytes]] = None) -> bool:
        if peerCert is None:
            raise NoCertificate("peer did not return certificate")
        if not isinstance(peerCert, X509.X509):
            raise TypeError("the peer certificate must be an X509.X509, not %s" % type(peerCert).__name__)
        if host is not None:
            if not isinstance(host, (str, bytes)):
                raise TypeError("the host must be str or bytes, not %s" % type(host).__name__)
            self.host = host
        if self.fingerprint:
            self._check_fingerprint(peerCert)
        if self.host:
            self._checkHost(peerCert, self.host)
        return True

    def _check_fingerprint(self, peerCert: X509.X509) -> None:
        expected = self.fingerprint.decode() if isinstance(self.fingerprint, bytes) else str(self.fingerprint)
        expected = expected.replace(":", "").upper()
        if not isinstance(self.digest, str):
            raise TypeError("the fingerprint digest must be a name such as 'sha256'")
        try:
            observed = peerCert.get_fingerprint(md=self.digest)
        except (ValueError, X509.X509Error) as exc:
            raise ValueError('unsupported digest "%s"' % self.digest) from exc
        if len(expected) != len(observed):
            raise WrongCertificate("peer certificate fingerprint length does not match\nfingerprint: %s\n"
                                   "expected = %d\nobserved = %d" % (expected, len(expected), len(observed)))
        if not hmac.compare_digest(expected, observed):
            raise WrongCertificate("peer certificate fingerprint does not match\nexpected = %s,\nobserved = %s"
                                   % (expected, observed))

    def _checkHost(self, peerCert: X509.X509, host: Union[str, bytes]) -> None:
        """Raise unless peerCert is valid for host (RFC 6125; the commonName only counts when
        the certificate has no DNS or IP subjectAltName)."""
        host_str = host.decode() if isinstance(host, bytes) else host
        ip = _ip_text(host_str)
        try:
            san_types = {t for t, _ in peerCert.get_subject_alt_names()}
        except X509.X509Error as exc:
            raise WrongCertificate(str(exc)) from exc
        self.useSubjectAltNameOnly = bool(san_types & {m2.GEN_DNS, m2.GEN_IPADD})
        if ip is not None:
            if X509.check_ip(peerCert, ip):
                return
        else:
            flags = self.hostCheckFlags
            if self.useSubjectAltNameOnly:
                flags |= m2.X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
            try:
                if X509.check_host(peerCert, host_str, flags=flags):
                    return
            except ValueError:
                pass  # a malformed host name matches nothing
        if self.useSubjectAltNameOnly:
            raise WrongHost(expectedHost=host_str, actualHost=self._describeSubjectAltName(peerCert),
                            fieldName="subjectAltName")
        common_names = [e.get_data().as_text() for e in peerCert.get_subject().get_entries_by_nid(m2.NID_commonName)]
        if ip is not None and any(_ip_text(cn) == ip for cn in common_names):
            return  # X509_check_ip never reads the CN: the exact-match fallback of old certificates
        if not common_names:
            raise WrongCertificate("no commonName in peer certificate")
        raise WrongHost(expectedHost=host_str, actualHost=",".join(common_names), fieldName="commonName")

    @staticmethod
    def _describeSubjectAltName(peerCert: X509.X509) -> str:
        try:
            return peerCert.get_ext("subjectAltName").get_value()
        except LookupError:
            return ""

    # -- M2Crypto's legacy helpers on printed text (kept for programs calling them) --------
    def _splitSubjectAltName(self, host: Union[str, bytes], subjectAltName: Union[str, bytes]) -> bool:
        """Whether host matches a DNS or IP entry of a printed subjectAltName (deprecated).

        >>> Checker()._splitSubjectAltName('my.example.com', 'DNS:*.example.com')
        True
        """
        host = host.decode() if isinstance(host, bytes) else host
        text = subjectAltName.decode() if isinstance(subjectAltName, bytes) else subjectAltName
        self.useSubjectAltNameOnly = False
        for entry in text.split(","):
            entry = entry.strip().lower()
            if entry.startswith("dns:"):
                self.useSubjectAltNameOnly = True
                if self._match(host, entry[4:]):
                    return True
            elif entry.startswith("ip address:"):
                self.useSubjectAltNameOnly = True
                if self._matchIPAddress(host, entry[11:]):
                    return True
        return False

    def _match(self, host: str, certHost: str) -> bool:
        """Whether host matches certHost, where a '*' stands for part of one label (legacy).

        Certificate names are compared label by label, never as patterns of any other kind.

        >>> Checker()._match('my.example.com', 'm*.EXAMPLE.com')
        True
        >>> Checker()._match('my.example.com', '*.*.com')
        False
        """
        host, certHost = host.lower(), certHost.lower()
        if host == certHost:
            return True
        if certHost.count("*") > 1 or "\\" in certHost:
            return False
        if self.numericIpMatch.match(host) or self.numericIpMatch.match(certHost.replace("*", "")):
            return False
        host_labels, cert_labels = host.split("."), certHost.split(".")
        if len(host_labels) != len(cert_labels):
            return False
        for label, pattern in zip(host_labels, cert_labels):
            if "*" in pattern:
                prefix, suffix = pattern.split("*")
                if len(label) < len(prefix) + len(suffix) or not (label.startswith(prefix) and label.endswith(suffix)):
                    return False
            elif label != pattern:
                return False
        return True

    def _matchIPAddress(self, host: Union[str, bytes], certHost: Union[str, bytes]) -> bool:
        """Whether two IP address literals are the same address.

        >>> Checker()._matchIPAddress('::1', '0:0:0:0:0:0:0:1')
        True
        """
        host = host.decode() if isinstance(host, bytes) else host
        certHost = certHost.decode() if isinstance(certHost, bytes) else certHost
        a, b = _ip_text(host), _ip_text(certHost.strip())
        return a is not None and a == b
