"""SSL contexts (M2Crypto's ``SSL.Context``) and their TLS 1.3-era settings.

A :class:`Context` owns one SSL_CTX: certificates, trust, verification, protocol versions,
cipher suites, groups, ALPN, SNI, sessions and callbacks shared by the connections made from
it.  ``Context()`` keeps M2Crypto's defaults (no peer verification unless asked);
:func:`M2Sec.SSL.create_default_context` makes a verifying one.
"""

import inspect
import os
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union, cast
from weakref import WeakValueDictionary  # noqa: F401 (M2Crypto's module name)

from M2Sec import BIO, X509, m2, util
from M2Sec._base import Owned
from M2Sec.SSL import _state, cb
from M2Sec.SSL.Session import Session, _session_ptr
from M2Sec.SSL.SSLError import SSLError

__all__ = ["ctxmap", "Context", "map", "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3", "Purpose"]

TLSv1 = m2.TLS1_VERSION
TLSv1_1 = m2.TLS1_1_VERSION
TLSv1_2 = m2.TLS1_2_VERSION
TLSv1_3 = m2.TLS1_3_VERSION
_VERSION_NAMES = {"TLSv1": TLSv1, "TLSv1.1": TLSv1_1, "TLSv1.2": TLSv1_2, "TLSv1.3": TLSv1_3}


class Purpose:
    """What a default context is for: authenticating servers (a client's context) or clients."""

    SERVER_AUTH = "server_auth"
    CLIENT_AUTH = "client_auth"


class _ctxmap:
    """The live Contexts by SSL_CTX address (weak references)."""

    singleton: Optional["_ctxmap"] = None

    def __init__(self) -> None:
        self._ctxmap = _state.contexts  # kept below Context, Connection and cb (SSL/_state.py)

    def __getitem__(self, key: int) -> "Context":
        return cast("Context", self._ctxmap[key])

    def __setitem__(self, key: int, value: "Context") -> None:
        self._ctxmap[key] = value

    def __delitem__(self, key: int) -> None:
        del self._ctxmap[key]

    def get(self, key: int, default: Any = None) -> Any:
        return self._ctxmap.get(key, default)

    def __len__(self) -> int:
        return len(self._ctxmap)


def ctxmap() -> _ctxmap:
    if _ctxmap.singleton is None:
        _ctxmap.singleton = _ctxmap()
    return _ctxmap.singleton


map = ctxmap  # M2Crypto's deprecated name


def _version(v: Union[int, str, None]) -> int:
    if v is None:
        return 0
    if isinstance(v, str):
        try:
            return _VERSION_NAMES[v]
        except KeyError:
            raise ValueError("unknown protocol version %r" % v) from None
    return int(v)


def _alpn_wire(protocols: Iterable[Union[str, bytes]]) -> bytes:
    """Protocol names as ALPN's wire format (RFC 7301): each prefixed by its length."""
    out = bytearray()
    for p in protocols:
        b = p.encode("ascii") if isinstance(p, str) else bytes(p)
        if not 0 < len(b) < 256:
            raise ValueError("an ALPN protocol name must be 1 to 255 bytes: %r" % (p,))
        out.append(len(b))
        out += b
    return bytes(out)


def _takes_five_args(callback: Callable[..., Any]) -> bool:
    """Whether callback is an old-style verify callback (ctx, x509, errnum, depth, ok)."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 5 and not any(p.kind == p.VAR_POSITIONAL for p in params)


class Context(Owned):
    """An SSL context (SSL_CTX).

    :param protocol: "tls" (also "sslv23"), "tls_client", "tls_server", or the obsolete "tlsv1".
    :param weak_crypto: when None (the default) SSLv3, TLS 1.0 and TLS 1.1 are disabled.
    :param post_connection_check: the check Connections made from this context run after the
        handshake (M2Crypto's; by default a :class:`~M2Sec.SSL.Checker.Checker`).
    """

    _free_fn = m2.ssl_ctx_free

    #: set by create_default_context(): connections check the peer's host name in the handshake
    check_hostname = False

    @staticmethod
    def m2_ssl_ctx_free(ctx: Any) -> None:
        m2.ssl_ctx_free(ctx)

    def __init__(self, protocol: str = "tls", weak_crypto: Optional[int] = None,
                 post_connection_check: Optional[Callable[..., Any]] = None) -> None:
        method = getattr(m2, protocol + "_method", None)
        if method is None or not callable(method):
            raise ValueError("no such protocol '%s'" % protocol)
        ptr: Any = m2.ssl_ctx_new(method())  # never None: Owned.__init__ raises for None
        super().__init__(ptr, 1)
        self._addr = int(ptr)
        self._protocol = protocol
        if protocol == "tlsv1" and not m2.ssl_ctx_set_tls1(ptr):
            raise ValueError("TLS 1.0 is not supported by this OpenSSL")
        self.allow_unknown_ca: Union[int, bool] = 0
        self.post_connection_check = post_connection_check
        self._keylog_file: Any = None
        self._servername_callback: Optional[Callable[..., Any]] = None
        ctxmap()[self._addr] = self
        m2.ssl_ctx_set_cache_size(ptr, 128)
        if weak_crypto is None and protocol in ("sslv23", "tls", "tls_client", "tls_server"):
            self.set_options(m2.SSL_OP_ALL | m2.SSL_OP_NO_SSLv2 | m2.SSL_OP_NO_SSLv3
                             | m2.SSL_OP_NO_TLSv1 | m2.SSL_OP_NO_TLSv1_1)

    @property
    def ctx(self) -> Any:
        """The SSL_CTX pointer (M2Crypto's attribute)."""
        return self._ptr()

    def close(self) -> None:
        """Forget this context; connections made from it keep their own reference to it."""
        if getattr(self, "_p", None) is not None:
            try:
                del ctxmap()[self._addr]
            except KeyError:
                pass
            kf, self._keylog_file = getattr(self, "_keylog_file", None), None
            if kf is not None:
                kf.close()
        super().close()

    free = close

    # -- certificates and keys ----------------------------------------------------------
    def load_cert(self, certfile: Union[str, bytes], keyfile: Union[str, bytes, None] = None,
                  callback: Callable[..., Any] = util.passphrase_callback) -> None:
        """Load a PEM certificate and its private key (from certfile when keyfile is None).

        :param callback: asked for the passphrase of an encrypted key.
        :raises SSLError: if a file cannot be read; ValueError if key and certificate differ.
        """
        self._load(m2.ssl_ctx_use_cert, certfile, keyfile, callback)

    def load_cert_chain(self, certchainfile: Union[str, bytes], keyfile: Union[str, bytes, None] = None,
                        callback: Callable[..., Any] = util.passphrase_callback, *,
                        password: Union[str, bytes, None] = None) -> None:
        """Load a PEM certificate chain (leaf first) and the leaf's private key, or (without
        keyfile) a PKCS#12 file (.p12, .pfx) holding key, certificate and intermediates.

        :param password: the PKCS#12 file's password, or the PEM key's passphrase (then used
            instead of callback), as Python's ssl takes it.
        :raises PKCS12.PKCS12PasswordError: for a wrong PKCS#12 password.
        """
        if keyfile is None and self._load_pkcs12(certchainfile, password):
            return
        passphrase: Union[Callable[..., Any], bytes] = callback
        if password is not None:
            passphrase = password.encode("utf-8") if isinstance(password, str) else password
        self._load(m2.ssl_ctx_use_cert_chain, certchainfile, keyfile, passphrase)

    def _load_pkcs12(self, path: Union[str, bytes], password: Union[str, bytes, None]) -> bool:
        """Use the PKCS#12 file at path, if it is one (by its name or its DER); False if not."""
        from M2Sec import PKCS12

        path = os.fsdecode(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return False  # the PEM loader says why, as an SSLError
        if not (path.lower().endswith((".p12", ".pfx")) or PKCS12._sniff(data)):
            return False
        p12 = PKCS12.load_pkcs12(data, password)
        if p12.key is None or p12.cert is None:
            raise PKCS12.PKCS12Error("%s holds no private key with its certificate" % path)
        self.use_certificate(p12.cert.certificate, p12.key, [c.certificate for c in p12.additional_certs])
        return True

    def _load(self, use_fn: Callable[[Any, str], int], certfile: Union[str, bytes],
              keyfile: Union[str, bytes, None], callback: Union[Callable[..., Any], bytes]) -> None:
        ctx = self._ptr()
        m2.ssl_ctx_passphrase_callback(ctx, callback)
        use_fn(ctx, os.fsdecode(certfile))
        m2.ssl_ctx_use_privkey(ctx, os.fsdecode(keyfile or certfile))
        if not m2.ssl_ctx_check_privkey(ctx):
            raise ValueError("public/private key mismatch")

    def use_certificate(self, cert: X509.X509, key: Any, chain: Iterable[X509.X509] = ()) -> None:
        """Use an in-memory certificate, its EVP.PKey and intermediates (leaf's issuer first)."""
        from M2Sec import EVP

        ctx = self._ptr()
        if not isinstance(cert, X509.X509) or not isinstance(key, EVP.PKey):
            raise TypeError("an X509.X509 certificate and an EVP.PKey key are required")
        m2.ssl_ctx_use_x509(ctx, cert._ptr())
        m2.ssl_ctx_use_pkey_privkey(ctx, key._ptr())
        for c in chain:
            m2.ssl_ctx_add_extra_chain_cert(ctx, c._ptr())
        if not m2.ssl_ctx_check_privkey(ctx):
            raise ValueError("public/private key mismatch")

    def set_client_CA_list_from_file(self, cafile: Union[str, bytes]) -> None:
        """Name the CAs of cafile (PEM) to clients in the certificate request."""
        m2.ssl_ctx_set_client_CA_list_from_file(self._ptr(), os.fsdecode(cafile))

    load_client_CA = load_client_ca = set_client_CA_list_from_file

    def load_verify_locations(self, cafile: Union[str, bytes, None] = None,
                              capath: Union[str, bytes, None] = None) -> int:
        """Trust the CA certificates of cafile (PEM) and/or the hashed directory capath.

        :raises ValueError: if both are None; SSLError if they cannot be loaded."""
        if cafile is None and capath is None:
            raise ValueError("cafile and capath can not both be None.")
        return m2.ssl_ctx_load_verify_locations(self._ptr(), None if cafile is None else os.fsdecode(cafile),
                                                None if capath is None else os.fsdecode(capath))

    load_verify_info = load_verify_locations

    def set_default_verify_paths(self) -> int:
        """Trust the system's CAs (OpenSSL's default file and directory, SSL_CERT_FILE/DIR)."""
        if not m2.ssl_ctx_set_default_verify_paths(self._ptr()):
            raise ValueError("Cannot use default SSL certificate store!")
        return 1

    def get_cert_store(self) -> X509.X509_Store:
        """The context's trust store (its own reference: valid after the context is gone)."""
        return X509.X509_Store(m2.ssl_ctx_get1_cert_store(self._ptr()), 1)

    # -- verification -----------------------------------------------------------------------
    def set_allow_unknown_ca(self, ok: Union[int, bool]) -> None:
        """Let cb.ssl_verify_callback accept an unknown issuer (M2Crypto's unsafe option)."""
        self.allow_unknown_ca = ok

    def get_allow_unknown_ca(self) -> Union[int, bool]:
        return self.allow_unknown_ca

    def set_verify(self, mode: int, depth: int, callback: Optional[Callable[..., Any]] = None) -> None:
        """Set the verification mode (SSL.verify_*), the chain depth and an optional callback.

        ``callback(ok, X509_Store_Context)`` decides each step; M2Crypto's old style
        ``callback(ssl_ctx_ptr, x509_ptr, errnum, errdepth, ok)`` is still accepted.  An
        exception in the callback fails the handshake with an SSLError caused by it.
        """
        ctx = self._ptr()
        if callback is None:
            m2.ssl_ctx_set_verify_default(ctx, mode)
        else:
            if not callable(callback):
                raise TypeError("the verify callback must be callable")
            m2.ssl_ctx_set_verify(ctx, mode, _verify_trampoline(callback))
        m2.ssl_ctx_set_verify_depth(ctx, depth)
        if self._post_handshake_auth:
            self._pha_verify_mode()

    def get_verify_mode(self) -> int:
        return m2.ssl_ctx_get_verify_mode(self._ptr())

    def get_verify_depth(self) -> int:
        return m2.ssl_ctx_get_verify_depth(self._ptr())

    def set_verify_depth(self, depth: int) -> None:
        m2.ssl_ctx_set_verify_depth(self._ptr(), depth)

    def set_verify_flags(self, flags: int) -> int:
        """Add X509_V_FLAG_* flags (SSL.verify_crl_check_leaf ...) to chain verification."""
        return m2.ssl_ctx_set_verify_flags(self._ptr(), flags)

    def unsafe_disable_verification(self) -> None:
        """Accept any peer certificate and skip the host name check.  Unsafe: anyone on the
        path can then impersonate the peer."""
        m2.ssl_ctx_set_verify_default(self._ptr(), m2.SSL_VERIFY_NONE)
        self.check_hostname = False

    def unsafe_skip_hostname_check(self) -> None:
        """Verify the chain but not that it names the host.  Unsafe: any certificate from a
        trusted CA is then accepted for any host."""
        self.check_hostname = False

    # -- DH, ECDH and groups --------------------------------------------------------------
    def set_tmp_dh(self, dhpfile: Union[str, bytes]) -> int:
        """Use the DH parameters of a PEM file for DHE suites (TLS 1.2)."""
        from M2Sec import DH

        return m2.ssl_ctx_set_tmp_dh(self._ptr(), DH.load_params(dhpfile)._ptr())

    def set_tmp_dh_callback(self, callback: Optional[Callable[..., Any]] = None) -> None:
        """callback(ssl_ptr, is_export, keylength) returns the DH pointer to use (deprecated by
        OpenSSL; RFC 7919 groups are negotiated automatically)."""
        if callback is not None:
            m2.ssl_ctx_set_tmp_dh_callback(self._ptr(), callback)

    def set_tmp_ecdh(self, curve: Union[str, int]) -> None:
        """Use one curve for ECDHE: a name ("prime256v1", "P-256", "X25519") or a NID
        (EC.NID_*).  In OpenSSL 3 this sets the groups list to that curve alone."""
        if isinstance(curve, int):
            name = m2.obj_nid2sn(curve)
            if name is None:
                raise ValueError("unknown curve NID %d" % curve)
            curve = name
        self.set_groups([curve])

    def set_tmp_rsa(self, rsa: Any) -> int:
        """Ephemeral RSA keys are gone from TLS: does nothing."""
        return 1

    def set_tmp_rsa_callback(self, callback: Optional[Callable[..., Any]] = None) -> None:
        """Ephemeral RSA keys are gone from TLS: does nothing."""

    def set_groups(self, groups: Union[str, Iterable[str]]) -> None:
        """The key exchange groups, in preference order ("X25519", "P-256", "ffdhe2048" ...).

        :raises SSLError: for an unknown group."""
        if not isinstance(groups, str):
            groups = ":".join(groups)
        if not groups.strip(":"):  # OpenSSL 3.5 would take an empty list and keep its defaults
            raise SSLError("no key exchange group given")
        m2.ssl_ctx_set1_groups_list(self._ptr(), groups)

    # -- protocol versions and suites -------------------------------------------------------
    def set_min_proto_version(self, version: Union[int, str, None]) -> None:
        """The lowest protocol version: SSL.TLSv1_2, "TLSv1.3" ...; None or 0 for OpenSSL's."""
        m2.ssl_ctx_set_min_proto_version(self._ptr(), _version(version))

    def set_max_proto_version(self, version: Union[int, str, None]) -> None:
        """The highest protocol version; None or 0 for the highest OpenSSL supports."""
        m2.ssl_ctx_set_max_proto_version(self._ptr(), _version(version))

    def get_min_proto_version(self) -> int:
        return m2.ssl_ctx_get_min_proto_version(self._ptr())

    def get_max_proto_version(self) -> int:
        return m2.ssl_ctx_get_max_proto_version(self._ptr())

    def set_cipher_list(self, cipher_list: str) -> int:
        """The TLS 1.2 cipher list (ciphers(1)); 1 if any cipher matched, else 0 (M2Crypto)."""
        return m2.ssl_ctx_set_cipher_list(self._ptr(), cipher_list)

    def set_ciphersuites(self, suites: Union[str, Iterable[str]]) -> None:
        """The TLS 1.3 cipher suites ("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256").

        :raises SSLError: if none is usable."""
        if not isinstance(suites, str):
            suites = ":".join(suites)
        m2.ssl_ctx_set_ciphersuites(self._ptr(), suites)

    def set_options(self, op: int) -> int:
        """Add SSL_OP_* options; returns the options now set."""
        return m2.ssl_ctx_set_options(self._ptr(), op)

    def get_options(self) -> int:
        return m2.ssl_ctx_get_options(self._ptr())

    def clear_options(self, op: int) -> int:
        """Remove SSL_OP_* options; returns the options now set."""
        return m2.ssl_ctx_clear_options(self._ptr(), op)

    def set_mode(self, mode: int) -> int:
        return m2.ssl_ctx_set_mode(self._ptr(), mode)

    # -- ALPN and SNI ----------------------------------------------------------------------
    def set_alpn_protocols(self, protocols: Iterable[Union[str, bytes]]) -> None:
        """The ALPN protocols (RFC 7301), in preference order: a client offers them, a server
        picks the first of them that the client offers (and none if nothing matches)."""
        wire = _alpn_wire(protocols)
        ctx = self._ptr()
        m2.ssl_ctx_set_alpn_protos(ctx, wire)
        m2.ssl_ctx_set_alpn_select(ctx, wire or None)

    def set_servername_callback(self, callback: Optional[Callable[..., Any]]) -> None:
        """On a server, call ``callback(connection, server_name, context)`` when a client
        names a server (SNI, RFC 6066).

        It returns None to go on, another :class:`Context` to switch the connection to it
        (its certificate, verification and ALPN then apply), or a TLS alert number to refuse
        (``m2.SSL_AD_UNRECOGNIZED_NAME``).  server_name is None when the client sent none.
        """
        if callback is not None and not callable(callback):
            raise TypeError("the server name callback must be callable")
        self._servername_callback = callback
        m2.ssl_ctx_set_servername_callback(self._ptr(), None if callback is None else _servername_trampoline)

    # -- sessions --------------------------------------------------------------------------
    def set_session_id_ctx(self, id: bytes) -> None:
        """The session id context (at most 32 bytes) that a resumed session must match."""
        m2.ssl_ctx_set_session_id_context(self._ptr(), id)

    def add_session(self, session: Session) -> int:
        return m2.ssl_ctx_add_session(self._ptr(), _session_ptr(session))

    def remove_session(self, session: Session) -> int:
        return m2.ssl_ctx_remove_session(self._ptr(), _session_ptr(session))

    def get_session_timeout(self) -> int:
        return m2.ssl_ctx_get_session_timeout(self._ptr())

    def set_session_timeout(self, timeout: int) -> int:
        """Seconds a new session stays valid; returns the previous value."""
        return m2.ssl_ctx_set_session_timeout(self._ptr(), timeout)

    def set_session_cache_mode(self, mode: int) -> int:
        """m2.SSL_SESS_CACHE_*; returns the previous mode."""
        return m2.ssl_ctx_set_session_cache_mode(self._ptr(), mode)

    def get_session_cache_mode(self) -> int:
        return m2.ssl_ctx_get_session_cache_mode(self._ptr())

    def set_session_tickets(self, enabled: bool = True, count: Optional[int] = None) -> None:
        """Turn session tickets (RFC 5077, TLS 1.3 NewSessionTicket) on or off; a server sends
        count tickets after a TLS 1.3 handshake (OpenSSL's default is 2)."""
        ctx = self._ptr()
        if enabled:
            m2.ssl_ctx_clear_options(ctx, m2.SSL_OP_NO_TICKET)
        else:
            m2.ssl_ctx_set_options(ctx, m2.SSL_OP_NO_TICKET)
        if count is not None:
            m2.ssl_ctx_set_num_tickets(ctx, count)

    def session_stats(self) -> Dict[str, int]:
        """The server session cache's size and hits."""
        ctx = self._ptr()
        return {"number": m2.ssl_ctx_sess_number(ctx), "hits": m2.ssl_ctx_sess_hits(ctx)}

    # -- callbacks and debugging -----------------------------------------------------------
    def set_info_callback(self, callback: Optional[Callable[..., Any]] = cb.ssl_info_callback) -> None:
        """callback(where, ret, ssl_ptr) follows the handshake (the default prints to stderr)."""
        m2.ssl_ctx_set_info_callback(self._ptr(), callback)

    def set_keylog_callback(self, callback: Optional[Callable[[str], Any]]) -> None:
        """callback(line) receives every TLS secret as an NSS key log line (for Wireshark)."""
        m2.ssl_ctx_set_keylog_callback(self._ptr(), callback)

    def set_keylog_filename(self, filename: Optional[Union[str, "os.PathLike[str]"]]) -> None:
        """Append the TLS secrets to filename in the NSS key log format (SSLKEYLOGFILE), for
        debugging with Wireshark; None stops.  Anyone reading the file can decrypt the traffic."""
        old, self._keylog_file = self._keylog_file, None
        if old is not None:
            old.close()
        if filename is None:
            m2.ssl_ctx_set_keylog_callback(self._ptr(), None)
            return
        f = open(filename, "a", buffering=1, encoding="ascii")
        if f.tell() == 0:
            f.write("# TLS secrets log file, generated by M2Sec\n")
        self._keylog_file = f
        lock = threading.Lock()

        def write_line(line: str) -> None:
            with lock:
                if not f.closed:
                    f.write(line + "\n")

        m2.ssl_ctx_set_keylog_callback(self._ptr(), write_line)

    # -- beyond M2Crypto, for M2Sec.TLS's HandshakeSettings ---------------------------------
    def set_sigalgs(self, sigalgs: Union[str, Iterable[str]]) -> None:
        """The signature algorithms offered and accepted ("ECDSA+SHA256", "rsa_pss_rsae_sha256",
        "ed25519" ...), in preference order (SSL_CTX_set1_sigalgs_list).

        :raises SSLError: for an unknown or unusable algorithm."""
        if not isinstance(sigalgs, str):
            sigalgs = ":".join(sigalgs)
        m2.ssl_ctx_set1_sigalgs_list(self._ptr(), sigalgs)

    def set_session_cache_size(self, size: int) -> int:
        """How many sessions the server cache holds (0: no limit); returns the previous size."""
        return m2.ssl_ctx_set_cache_size(self._ptr(), size)

    def set_alpn_required(self, required: bool = True) -> None:
        """On a server with ALPN protocols: refuse a client that offers ALPN but none of them
        with a no_application_protocol alert (RFC 7301 section 3.2) instead of going on
        without ALPN."""
        m2.ssl_ctx_set_alpn_required(self._ptr(), int(bool(required)))

    # -- OCSP stapling (RFC 6066 section 8): M2Sec/SSL/stapling.py --------------------------
    def _ocsp(self) -> Any:
        from M2Sec.SSL import stapling

        settings = getattr(self, "_ocsp_settings", None)
        if settings is None:
            settings = self._ocsp_settings = stapling.Settings()
            m2.ssl_ctx_set_ocsp_callback(self._ptr(), stapling.status_callback)
        return settings

    def set_ocsp_staple(self, staple: Any) -> None:
        """Server: staple an OCSP response when a client asks for one (status_request).

        :param staple: DER bytes or an :class:`M2Sec.OCSP.Response`; a path to a DER file
            (read again when it changes); a callable returning DER bytes or None, called in
            each handshake that asks (:class:`M2Sec.SSL.stapling.RefreshingStaple` fetches a
            new response before nextUpdate); or None to staple nothing.  An exception raised
            by the callable fails that handshake (internal_error alert) and is raised by accept.
        :raises OCSPError: bytes that are not an OCSP response."""
        from M2Sec.SSL import stapling

        stapling.set_staple(self._ocsp(), staple)

    def set_ocsp_stapling(self, mode: str = "require", *, leeway: float = 300, max_age: Optional[float] = None) -> None:
        """Client: ask the server for an OCSP staple and verify it during the handshake.

        :param mode: "require" (the handshake fails unless a staple says good), "prefer"
            (a staple that is sent must verify and must not say revoked; none is fine) or
            "off" (no status_request).
        :param leeway: the clock skew allowed on thisUpdate/nextUpdate, in seconds.
        :param max_age: refuse responses whose thisUpdate is older than this many seconds.

        A failed check raises :class:`M2Sec.SSL.stapling.OCSPStapleError` from the
        handshake (the server gets a bad_certificate_status_response alert); the verified
        result is ``Connection.get_ocsp_result()``."""
        from M2Sec.SSL import stapling

        if mode not in stapling.MODES:
            raise ValueError("mode is one of %s" % ", ".join(stapling.MODES))
        if leeway < 0 or (max_age is not None and max_age < 0):
            raise ValueError("leeway and max_age must not be negative")
        handler = self._ocsp()
        handler.mode, handler.leeway, handler.max_age = mode, float(leeway), max_age
        m2.ssl_ctx_set_tlsext_status_type(self._ptr(), m2.TLSEXT_STATUSTYPE_ocsp if mode != "off" else -1)

    # -- TLS 1.3 post-handshake authentication and external PSKs -----------------------------
    _post_handshake_auth = False
    _psk_client_callback: Optional[Callable[..., Any]] = None

    def set_post_handshake_auth(self, enabled: bool = True) -> None:
        """Turn TLS 1.3 post-handshake client authentication (RFC 8446 section 4.6.2) on or off.

        A client offers it (the post_handshake_auth extension) and answers a later certificate
        request with the certificate loaded in this context.  A server whose verify mode has
        verify_peer then asks for the client's certificate only when
        :meth:`Connection.verify_client_post_handshake` is called, not in the handshake
        (SSL_VERIFY_POST_HANDSHAKE), as Python's ``SSLContext.post_handshake_auth``.

        :raises TypeError: if enabled is not a bool."""
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        m2.ssl_ctx_set_post_handshake_auth(self._ptr(), int(enabled))
        self._post_handshake_auth = enabled
        self._pha_verify_mode()

    @property
    def post_handshake_auth(self) -> bool:
        """Whether post-handshake authentication is on (Python ssl's attribute)."""
        return self._post_handshake_auth

    @post_handshake_auth.setter
    def post_handshake_auth(self, enabled: bool) -> None:
        self.set_post_handshake_auth(enabled)

    def _pha_verify_mode(self) -> None:
        mode = m2.ssl_ctx_get_verify_mode(self._ptr())
        if self._post_handshake_auth and mode & m2.SSL_VERIFY_PEER:
            mode |= m2.SSL_VERIFY_POST_HANDSHAKE
        elif not self._post_handshake_auth:
            mode &= ~m2.SSL_VERIFY_POST_HANDSHAKE
        m2.ssl_ctx_set_verify_mode(self._ptr(), mode)

    def set_psk_client_callback(self, callback: Optional[Callable[[Optional[str]], Tuple[Any, ...]]]) -> None:
        """Use an external PSK as a client (RFC 4279 for TLS 1.2, RFC 8446 section 4.2.11 for
        TLS 1.3), as Python 3.13's ``SSLContext.set_psk_client_callback``.

        ``callback(hint)`` gets the server's identity hint (str, or None; always None in TLS
        1.3) and returns ``(identity, psk)``: identity a str (sent as UTF-8), bytes or None,
        psk bytes (b"" offers none).  Beyond Python, ``(identity, psk, "sha384")`` makes it a
        TLS 1.3 PSK for SHA-384 suites (the default is "sha256"); a PSK is only used with
        suites of its hash.  An exception in the callback, or an answer of the wrong type,
        aborts the handshake (an alert) and is raised by the handshake call.  None turns it
        off.  OpenSSL: SSL_CTX_set_psk_client_callback, SSL_CTX_set_psk_use_session_callback.

        :raises ValueError: on a server-only context; TypeError if callback is not callable."""
        if self._protocol == "tls_server":
            raise ValueError("a PSK client callback cannot be used on a tls_server context")
        m2.ssl_ctx_set_psk_client_callback(self._ptr(), callback)
        self._psk_client_callback = callback

    def set_psk_server_callback(self, callback: Optional[Callable[[Optional[str]], Any]],
                                identity_hint: Optional[str] = None) -> None:
        """Accept external PSKs as a server, as Python 3.13's ``SSLContext.set_psk_server_callback``.

        ``callback(identity)`` gets the identity the client sent (str, or None) and returns
        its key as bytes, or b"" for an unknown identity (TLS 1.2 answers unknown_psk_identity;
        TLS 1.3 ignores the PSK and goes on without it); ``(key, "sha384")`` makes it a TLS 1.3
        PSK for SHA-384 suites.  identity_hint is sent to TLS 1.2 clients.  A server without a
        certificate prefers SHA-256 suites in TLS 1.3 (OpenSSL): for SHA-384 PSKs, keep its
        suites to TLS_AES_256_GCM_SHA384.  An exception in the callback, or an answer of the
        wrong type, aborts the handshake (internal_error alert) and is raised by the handshake
        call.  None turns it off.  OpenSSL: SSL_CTX_set_psk_server_callback,
        SSL_CTX_set_psk_find_session_callback, SSL_CTX_use_psk_identity_hint.

        :raises ValueError: on a client-only context or for a hint over 256 bytes."""
        if self._protocol == "tls_client":
            raise ValueError("a PSK server callback cannot be used on a tls_client context")
        if identity_hint is not None and not isinstance(identity_hint, str):
            raise TypeError("identity_hint must be a str or None")
        m2.ssl_ctx_set_psk_server_callback(self._ptr(), callback, identity_hint)


def _verify_trampoline(callback: Callable[..., Any]) -> Callable[[int, Any], int]:
    """The C-level verify callback: calls callback in M2Crypto's new or old style, turning
    its exception into an SSLError that fails the handshake."""
    old_style = _takes_five_args(callback)
    if old_style:
        warnings.warn("verify callbacks of five arguments are deprecated: use callback(ok, store)",
                      DeprecationWarning, stacklevel=3)

    def trampoline(ok: int, store_ptr: Any) -> int:
        try:
            if old_style:
                ssl = m2.x509_store_ctx_get_ssl(store_ptr)
                ctx_ptr = m2.ssl_get_ssl_ctx(ssl) if ssl is not None else None
                return int(bool(callback(ctx_ptr, m2.x509_store_ctx_get_current_cert(store_ptr),
                                         m2.x509_store_ctx_get_error(store_ptr),
                                         m2.x509_store_ctx_get_error_depth(store_ptr), ok)))
            store = X509.X509_Store_Context(store_ptr, 0)
            try:
                return int(bool(callback(ok, store)))
            finally:
                store.close()  # borrowed for the call only
        except Exception as exc:
            raise SSLError("the verify callback failed: %r" % (exc,)) from exc

    return trampoline


def _servername_trampoline(ssl_ptr: Any, server_name: Optional[str]) -> int:
    """The C-level SNI callback: finds the connection and context, runs the user's callback
    and switches contexts when it returns one."""
    ctx = _state.context_of(m2.ssl_get_ssl_ctx(ssl_ptr))
    callback = getattr(ctx, "_servername_callback", None)
    if callback is None:
        return 0
    result = callback(_state.owner_of(ssl_ptr), server_name, ctx)
    if result is None:
        return 0
    if isinstance(result, Context):
        m2.ssl_set_ssl_ctx(ssl_ptr, result._ptr())
        conn = _state.owner_of(ssl_ptr)
        if conn is not None:
            conn._ctx_switched(result)
        return 0
    return int(result)


def create_default_context(purpose: str = Purpose.SERVER_AUTH, *, cafile: Optional[str] = None,
                           capath: Optional[str] = None, cadata: Optional[Union[str, bytes]] = None) -> Context:
    """A context with safe defaults: TLS 1.2 or newer, OpenSSL's default suites, the groups of
    :data:`DEFAULT_GROUPS` (X25519MLKEM768 first where OpenSSL has ML-KEM) or else OpenSSL's,
    no compression or renegotiation, and, for a client (Purpose.SERVER_AUTH), verification of
    the server's chain and of its host name in the handshake (X509_VERIFY_PARAM_set1_host).

    The trusted CAs are cafile, capath and cadata (PEM) when given, else the system's.  A
    server context (Purpose.CLIENT_AUTH) does not ask for client certificates; call
    set_verify() to require them.  SSLKEYLOGFILE, when set, names a key log file.

    Turning the checks off takes a call that says so: unsafe_disable_verification() or
    unsafe_skip_hostname_check() (M2Crypto's set_verify(SSL.verify_none, ...) still works).
    """
    if purpose not in (Purpose.SERVER_AUTH, Purpose.CLIENT_AUTH):
        raise ValueError("purpose must be Purpose.SERVER_AUTH or Purpose.CLIENT_AUTH")
    client = purpose == Purpose.SERVER_AUTH
    ctx = Context("tls_client" if client else "tls_server")
    ctx.set_min_proto_version(TLSv1_2)
    ctx.set_options(m2.SSL_OP_NO_COMPRESSION | m2.SSL_OP_NO_RENEGOTIATION | m2.SSL_OP_CIPHER_SERVER_PREFERENCE)
    ctx.post_connection_check = None
    if DEFAULT_GROUPS:
        ctx.set_groups(DEFAULT_GROUPS)
    if cafile or capath:
        ctx.load_verify_locations(cafile, capath)
    if cadata:
        store = ctx.get_cert_store()
        data = cadata.encode("ascii") if isinstance(cadata, str) else cadata
        for cert in _pem_certs(data):
            store.add_x509(cert)
    if client:
        if not (cafile or capath or cadata):
            ctx.set_default_verify_paths()
        ctx.set_verify(m2.SSL_VERIFY_PEER | m2.SSL_VERIFY_FAIL_IF_NO_PEER_CERT, 100)
        ctx.check_hostname = True
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:
        ctx.set_keylog_filename(keylog)
    return ctx


def _pem_certs(data: bytes) -> List[X509.X509]:
    """The certificates of a PEM blob."""
    marker = b"-----END CERTIFICATE-----"
    certs = []
    for chunk in data.split(marker)[:-1]:
        certs.append(X509.load_cert_string(chunk + marker))
    if not certs:
        raise SSLError("no PEM certificate in cadata")
    return certs


# The key exchange groups of create_default_context(), most preferred first: the post-quantum
# hybrid X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) where OpenSSL has ML-KEM (3.5), with TLS 1.3
# key shares ('*') for it and X25519; elsewhere none given, OpenSSL's own defaults.
DEFAULT_GROUPS = ("*X25519MLKEM768:*X25519:P-256:X448:P-384:P-521:ffdhe2048:ffdhe3072"
                  if m2.HAS_ML_KEM else "")
