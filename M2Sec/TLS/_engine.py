"""The OpenSSL objects under TLSConnection: a configured SSL_CTX and an SSL over two memory BIOs.

INTERIM: this module calls the tls_* functions of SWIG/_tls_interim.i until M2Sec.SSL provides
Context and its sans-I/O object; only this module changes then.
"""

from typing import Any, List, Optional, Tuple

from M2Sec import m2
from M2Sec._base import Owned
from M2Sec.TLS.settings import OpenSSLConfig

WANT_READ = m2.TLS_WANT_READ
WANT_WRITE = m2.TLS_WANT_WRITE
ZERO_RETURN = m2.TLS_ZERO_RETURN
SYSCALL = m2.TLS_SYSCALL
SESSION_ID_CONTEXT = b"M2Sec.TLS"


def _alpn_wire(protocols: List[bytes]) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in protocols)


class Context(Owned):
    """An SSL_CTX configured from an OpenSSLConfig (and the Python objects its callbacks use)."""

    _free_fn = m2.tls_ctx_free

    def __init__(self, server: bool, config: OpenSSLConfig, *, srp: bool = False) -> None:
        super().__init__(m2.tls_ctx_new(int(server)), 1)
        self.server = server
        self._keep: List[Any] = []
        ciphers = config.srp_cipher_list if srp and not server else config.cipher_list
        max_version = min(config.max_version, 0x0303) if srp else config.max_version
        m2.tls_ctx_configure(self._ptr(), config.min_version, max_version, ciphers, config.ciphersuites,
                             config.groups, config.sigalgs, config.options_set, config.options_clear,
                             config.modes)

    def use_chain(self, certs: List[Any], key: Any) -> None:
        """certs: M2Sec.X509.X509 objects, end entity first; key: an EVP.PKey."""
        m2.tls_ctx_use_cert(self._ptr(), certs[0]._ptr(), 0)
        for c in certs[1:]:
            m2.tls_ctx_use_cert(self._ptr(), c._ptr(), 1)
        m2.tls_ctx_use_key(self._ptr(), key._ptr())

    def verify(self, mode: int, cafile: Optional[str] = None, capath: Optional[str] = None,
               system: bool = False, accept_any: bool = False) -> None:
        m2.tls_ctx_verify(self._ptr(), mode, cafile, capath, int(system), int(accept_any))

    def alpn(self, protocols: List[bytes]) -> None:
        wire = _alpn_wire(protocols)
        self._keep.append(wire)
        m2.tls_ctx_alpn(self._ptr(), int(self.server), wire)

    def expect_sni(self, name: bytes) -> None:
        self._keep.append(name)
        m2.tls_ctx_expect_sni(self._ptr(), name)

    def sessions(self, size: int, timeout: int, num_tickets: int) -> None:
        m2.tls_ctx_sessions(self._ptr(), size, timeout, num_tickets, SESSION_ID_CONTEXT)

    def srp_server(self, lookup: Any) -> None:
        self._keep.append(lookup)
        m2.srp_ctx_set_server(self._ptr(), lookup)

    def srp_client(self, username: str, password: str, strength: int) -> None:
        m2.srp_ctx_set_client(self._ptr(), username, password, strength)


class SessionHandle(Owned):
    """One SSL_SESSION."""

    _free_fn = m2.tls_session_free

    @property
    def resumable(self) -> bool:
        return bool(m2.tls_session_resumable(self._ptr()))

    @property
    def id(self) -> bytes:
        return m2.tls_session_id(self._ptr())


class TLSObject(Owned):
    """An SSL reading from an incoming memory BIO and writing to an outgoing one."""

    _free_fn = m2.tls_free

    def __init__(self, ctx: Context, server: bool) -> None:
        super().__init__(m2.tls_new(ctx._ptr(), int(server)), 1)
        self.ctx = ctx
        m2.tls_track_alerts(self._ptr())

    def set_host(self, host: Optional[str], sni: bool, check: bool) -> None:
        m2.tls_set_host(self._ptr(), host, int(sni), int(check))

    def set_session(self, handle: SessionHandle) -> None:
        m2.tls_set_session(self._ptr(), handle._ptr())

    def get_session(self) -> Optional[SessionHandle]:
        p = m2.tls_get1_session(self._ptr())
        return SessionHandle(p, 1) if p is not None else None

    def feed(self, data: bytes) -> None:
        m2.tls_feed(self._ptr(), data)

    def feed_eof(self) -> None:
        m2.tls_feed_eof(self._ptr())

    def drain(self) -> bytes:
        return m2.tls_drain(self._ptr())

    def handshake(self) -> int:
        """0 when done, else WANT_READ (or another status)."""
        return m2.tls_handshake(self._ptr())

    def read(self, n: int) -> Any:
        """bytes, or a status int."""
        return m2.tls_read(self._ptr(), n)

    def write(self, data: bytes) -> int:
        """bytes written, or minus a status."""
        return m2.tls_write(self._ptr(), data)

    def shutdown(self) -> int:
        return m2.tls_shutdown(self._ptr())

    def pending(self) -> int:
        return m2.tls_pending(self._ptr())

    def info(self) -> Tuple[int, str, int, int, Optional[bytes], int]:
        return m2.tls_info(self._ptr())

    def peer_chain(self) -> List[bytes]:
        return m2.tls_peer_chain(self._ptr())

    def alerts(self) -> Tuple[Optional[Tuple[int, int]], Optional[Tuple[int, int]]]:
        return m2.tls_alerts(self._ptr())

    def srp_username(self) -> Optional[str]:
        return m2.srp_get_username(self._ptr())

    def export_keying_material(self, label: bytes, length: int) -> bytes:
        return m2.tls_export_keying_material(self._ptr(), label, length)
