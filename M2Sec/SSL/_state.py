"""What the SSL package's connections share, below them all: the Python object owning an SSL
(kept on the SSL itself, for OpenSSL's callbacks), the live Contexts by SSL_CTX address, the
client's host name set-up, and :class:`SSLState`, the queries a socket :class:`Connection` and
a sans-I/O :class:`SSLObject` answer alike.

Context, Connection, SSLObject, cb and stapling import from here; nothing here imports them.
"""

import functools
from typing import Any, List, Optional, Tuple
from weakref import WeakValueDictionary

from M2Sec import X509, m2
from M2Sec.SSL.Cipher import Cipher, Cipher_Stack
from M2Sec.SSL.Session import Session

#: the live Contexts by SSL_CTX address (weak references), for callbacks given only the pointer
contexts: "WeakValueDictionary[int, Any]" = WeakValueDictionary()


def context_of(ctx_ptr: Any) -> Any:
    """The Context whose SSL_CTX is ctx_ptr, or None."""
    return contexts.get(int(ctx_ptr))


def set_owner(ssl_ptr: Any, owner: Any) -> None:
    """Make owner (a Connection or SSLObject; None: nobody) the object owner_of(ssl_ptr) gives:
    a weak reference kept on the SSL (ex_data), which goes with it."""
    m2.ssl_set_owner(ssl_ptr, owner)


#: The Connection (or SSLObject) that owns an SSL pointer, or None.
owner_of = m2.ssl_get_owner


@functools.lru_cache(maxsize=256)
def _name_to_check(host: str) -> Tuple[str, bool]:
    """(host as SNI and the certificate carry it, whether it is an IP address): an IP address
    without brackets or zone, an internationalised name as its A-label."""
    ip = X509.parse_ip(host)
    return (X509.a_label(host), False) if ip is None else (str(ip), True)


def client_names(ctx: Any, host: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(the name to send as SNI, the name the certificate must match) for a client of ctx
    connecting to host; None where there is none (SNI never carries an IP address, RFC 6066
    section 3; only a context that checks host names has one to match).

    :raises ValueError: ctx checks host names and host is empty."""
    if not host:
        if ctx.check_hostname:
            raise ValueError("this context checks host names: call set1_host() first")
        return None, None
    name, is_ip = _name_to_check(host)
    return None if is_ip else name.rstrip("."), name if ctx.check_hostname else None


def prepare_client_hostname(ssl: Any, ctx: Any, host: Optional[str]) -> None:
    """Before a client handshake: name the server (SNI) unless already named, and, when ctx
    checks host names, have OpenSSL verify the certificate against host (set1_host)."""
    sni, check_host = client_names(ctx, host)
    if sni is not None and m2.ssl_get_servername(ssl) is None:
        m2.ssl_set_tlsext_host_name(ssl, sni)
    if check_host is not None:
        m2.ssl_set1_host(ssl, check_host)


class SSLState:
    """What a connection (socket or sans-I/O) tells about its TLS session; needs ``self.ssl``."""

    ssl: Any

    def pending(self) -> int:
        """Bytes decrypted and ready to read without I/O."""
        return m2.ssl_pending(self.ssl)

    def get_state(self) -> str:
        return m2.ssl_get_state(self.ssl)

    def verify_ok(self) -> bool:
        return m2.ssl_get_verify_result(self.ssl) == m2.X509_V_OK

    def get_verify_mode(self) -> int:
        return m2.ssl_get_verify_mode(self.ssl)

    def get_verify_depth(self) -> int:
        return m2.ssl_get_verify_depth(self.ssl)

    def get_verify_result(self) -> int:
        return m2.ssl_get_verify_result(self.ssl)

    def get_peer_cert(self) -> Optional[X509.X509]:
        """The peer's certificate, or None."""
        c = m2.ssl_get_peer_cert(self.ssl)
        return None if c is None else X509.X509(c, 1)

    def get_peer_cert_chain(self) -> Optional[X509.X509_Stack]:
        """The chain the peer sent (its own references), or None."""
        c = m2.ssl_get_peer_cert_chain(self.ssl)
        return None if c is None else X509.X509_Stack(c, 1)

    def get_verified_chain(self) -> Optional[X509.X509_Stack]:
        """The chain the handshake verified, leaf to trust anchor, or None."""
        c = m2.ssl_get_verified_chain(self.ssl)
        return None if c is None else X509.X509_Stack(c, 1)

    def get_cipher(self) -> Optional[Cipher]:
        c = m2.ssl_get_current_cipher(self.ssl)
        return None if c is None else Cipher(c)

    def get_ciphers(self) -> Optional[Cipher_Stack]:
        c = m2.ssl_get_ciphers(self.ssl)
        return None if c is None else Cipher_Stack(c, owner=self)

    def get_cipher_list(self, idx: int = 0) -> Optional[str]:
        return m2.ssl_get_cipher_list(self.ssl, idx)

    def get_version(self) -> str:
        """The negotiated protocol ("TLSv1.3", "TLSv1.2" ...)."""
        return m2.ssl_get_version(self.ssl)

    def get_session(self) -> Optional[Session]:
        """The session, to resume it later (in TLS 1.3 tickets arrive after the handshake:
        read some data first)."""
        s = m2.ssl_get_session(self.ssl)
        return None if s is None else Session(s, 1)

    def session_reused(self) -> bool:
        return bool(m2.ssl_session_reused(self.ssl))

    def get_default_session_timeout(self) -> int:
        return m2.ssl_get_default_session_timeout(self.ssl)

    def get_servername(self) -> Optional[str]:
        """The server name the client sent (SNI), or None."""
        return m2.ssl_get_servername(self.ssl)

    def get_alpn_selected(self) -> Optional[bytes]:
        """The protocol ALPN selected, or None."""
        return m2.ssl_get_alpn_selected(self.ssl)

    def selected_alpn_protocol(self) -> Optional[str]:
        p = m2.ssl_get_alpn_selected(self.ssl)
        return None if p is None else p.decode("ascii", "replace")

    def get_negotiated_group(self) -> Optional[str]:
        """The key exchange group of the handshake ("X25519", "secp256r1" ...), or None."""
        return m2.ssl_get_negotiated_group(self.ssl)

    def export_keying_material(self, label: str, length: int, context: Optional[bytes] = None) -> bytes:
        """Keying material exported from the session (RFC 5705, RFC 8446 section 7.5)."""
        return m2.ssl_export_keying_material(self.ssl, length, label, context)

    def get_protocol_version(self) -> int:
        """The negotiated protocol as a number (m2.TLS1_3_VERSION is 0x0304 ...)."""
        return m2.ssl_version(self.ssl)

    def get_peer_chain(self) -> List[X509.X509]:
        """The certificates the peer sent, its own first, on either end ([] when none);
        each holds its own reference."""
        leaf = self.get_peer_cert()
        stack = self.get_peer_cert_chain()
        certs = [leaf] if leaf is not None else []
        if stack is not None:
            der = leaf.as_der() if leaf is not None else None
            certs += [c for c in stack if der is None or c.as_der() != der]
        return certs

    # -- OCSP stapling (M2Sec/SSL/stapling.py) ---------------------------------------------
    def get_ocsp_result(self) -> Any:
        """Client: what the server's verified OCSP staple said (an OCSP.SingleResult), or None
        when no staple was checked (none sent, stapling off, or a resumed session)."""
        return getattr(self, "_ocsp_result", None)

    def get_ocsp_response(self) -> Optional[bytes]:
        """Client: the DER OCSP response the server stapled, as received, or None."""
        return m2.ssl_get_ocsp_response(self.ssl)

    # -- TLS 1.3 post-handshake messages (RFC 8446 section 4.6) --------------------------------
    def verify_client_post_handshake(self) -> None:
        """Ask the TLS 1.3 client for its certificate now (server side; Python ssl's name).

        The CertificateRequest is sent at once; the client's answer is processed by the next
        read, after which :meth:`get_peer_cert` returns the certificate (verified as the
        context's verify mode and callback say).  SSL_verify_client_post_handshake.

        :raises SSLError: on TLS 1.2 or before the handshake, on a client, without verify_peer,
            when the client did not offer post-handshake authentication, or while a request is
            under way."""
        m2.ssl_verify_client_post_handshake(self.ssl)
        self._send_post_handshake()

    def key_update(self, request_peer: bool = False) -> None:
        """Update this side's TLS 1.3 sending keys and tell the peer (a KeyUpdate message,
        sent at once); with request_peer, ask the peer to update its own too.  SSL_key_update.

        :raises SSLError: before the handshake or on TLS 1.2."""
        m2.ssl_key_update(self.ssl, m2.SSL_KEY_UPDATE_REQUESTED if request_peer else m2.SSL_KEY_UPDATE_NOT_REQUESTED)
        self._send_post_handshake()

    def _send_post_handshake(self) -> None:
        """Run the handshake step that sends a scheduled post-handshake message."""
        m2.ssl_handshake(self.ssl, 0)

    def get_psk_identity(self) -> Optional[str]:
        """The PSK identity the client used (on a TLS 1.2 server), or None."""
        return m2.ssl_get_psk_identity(self.ssl)


