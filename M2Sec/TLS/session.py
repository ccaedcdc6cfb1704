"""Session: what a handshake established, and the handle to resume it (TLS Lite's Session)."""

from typing import Any, Optional

from M2Sec.TLS.x509 import X509CertChain


def cipher_short_name(openssl_name: str) -> Optional[str]:
    """TLS Lite's name for an OpenSSL cipher ('aes128gcm', 'chacha20-poly1305', 'aes256' ...)."""
    n = openssl_name.upper().replace("_", "-")
    if "CHACHA20" in n:
        return "chacha20-poly1305"
    for bits in ("256", "128"):
        for mode, suffix in (("-GCM", "gcm"), ("-CCM", "ccm"), ("", "")):
            if ("AES-%s%s" % (bits, mode)) in n or ("AES%s%s" % (bits, mode)) in n:
                return "aes%s%s" % (bits, suffix)
    if "DES-CBC3" in n or "3DES" in n:
        return "3des"
    return None


def mac_short_name(openssl_name: str) -> Optional[str]:
    n = openssl_name.upper().replace("_", "-")
    if "GCM" in n or "CCM" in n or "CHACHA20" in n:
        return "aead"
    for h in ("SHA384", "SHA256"):
        if n.endswith(h):
            return h.lower()
    return "sha" if n.endswith("SHA") else None


class Session:
    """A TLS session.  Filled after a handshake: ``srpUsername``, ``clientCertChain``,
    ``serverCertChain`` (X509CertChain or None), ``cipherSuite`` (the IANA number), ``serverName``
    (the client's SNI), ``appProto`` (the ALPN protocol, empty when none), ``sessionID`` and
    ``resumable``; pass it as ``session=`` to a later client handshake with the same serverName
    (and SRP username) to resume.  A connection that failed leaves its session not resumable.
    """

    def __init__(self) -> None:
        self.sessionID = b""
        self.cipherSuite = 0
        self.srpUsername: Optional[str] = None
        self.clientCertChain: Optional[X509CertChain] = None
        self.serverCertChain: Optional[X509CertChain] = None
        self.serverName = ""
        self.appProto = bytearray()
        self.tackExt = None
        self.resumable = False
        self._cipher = ""
        self._handle: Any = None

    def _set_handle(self, handle: Any) -> None:
        if handle is None:
            return
        self._handle = handle                # an M2Sec.SSL.Session
        self.sessionID = handle.get_id()
        self.resumable = handle.is_resumable()

    def valid(self) -> bool:
        """True when the session can be resumed."""
        return bool(self.resumable and self._handle is not None and self._handle.is_resumable())

    def getCipherName(self) -> Optional[str]:
        return cipher_short_name(self._cipher)

    def getMacName(self) -> Optional[str]:
        return mac_short_name(self._cipher)

    def __repr__(self) -> str:
        return "<Session %s %s%s>" % (self.sessionID.hex()[:16] or "-", self._cipher,
                                      " resumable" if self.resumable else "")
