"""M2Sec.SSL's objects set up for TLSConnection: an SSL.Context configured from a validated
HandshakeSettings, and an SSL.SSLObject that also records the TLS alerts it sends and receives.

All the TLS is M2Sec.SSL's; this module only translates TLS Lite's options into its calls.
"""

from typing import Any, List, Optional, Tuple

from M2Sec import m2
from M2Sec.SSL import Context as Context, SSLError, SSLObject  # Context: for TLSConnection's annotations too
from M2Sec.SSL.Session import Session as SSLSession
from M2Sec.TLS.settings import OpenSSLConfig

SESSION_ID_CONTEXT = b"M2Sec.TLS"


def new_context(server: bool, config: OpenSSLConfig, *, srp: bool = False) -> Context:
    """A Context with config's versions, suites, groups, signature algorithms and options.

    An SRP context stays at TLS 1.2 (SRP does not exist in TLS 1.3); an SRP client offers only
    SRP suites.

    :raises SSLError: when OpenSSL refuses a value.
    """
    ctx = Context("tls_server" if server else "tls_client", weak_crypto=1)  # the settings decide
    ctx.set_min_proto_version(config.min_version)
    ctx.set_max_proto_version(min(config.max_version, m2.TLS1_2_VERSION) if srp else config.max_version)
    ciphers = config.srp_cipher_list if srp and not server else config.cipher_list
    if ciphers and not ctx.set_cipher_list(ciphers):
        raise SSLError("no cipher matches %r" % ciphers)
    ctx.set_ciphersuites(config.ciphersuites)
    if config.groups:
        ctx.set_groups(config.groups)
    if config.sigalgs:
        ctx.set_sigalgs(config.sigalgs)
    ctx.clear_options(config.options_clear)
    ctx.set_options(config.options_set)
    ctx.set_mode(config.modes)
    return ctx


def _accept_any(ok: int, store: Any) -> bool:
    return True


def verify_peer(ctx: Context, cafile: Optional[str] = None, capath: Optional[str] = None, *,
                system: bool = False, accept_any: bool = False) -> None:
    """Ask for the peer's certificate and verify it against cafile/capath and (system) the
    system store; accept_any takes any certificate (for a Checker to judge)."""
    ctx.set_verify(m2.SSL_VERIFY_PEER, 100, _accept_any if accept_any else None)
    if cafile or capath:
        ctx.load_verify_locations(cafile, capath)
    if system:
        ctx.set_default_verify_paths()


def verify_peer_later(ctx: Context, cafile: Optional[str] = None, capath: Optional[str] = None) -> None:
    """Ask for no certificate in the handshake, but check one a post-handshake request brings
    against cafile/capath (any certificate, for a Checker to judge, when neither is given)."""
    ctx.set_verify(m2.SSL_VERIFY_NONE, 100, None if cafile or capath else _accept_any)
    if cafile or capath:
        ctx.load_verify_locations(cafile, capath)


def expect_sni(ctx: Context, name: str) -> None:
    """A server accepting only name (case-insensitive) as SNI: any other gets unrecognized_name;
    a client that names no server is let through."""
    want = name.lower()

    def check(conn: Any, server_name: Optional[str], context: Context) -> Optional[int]:
        if server_name is None or server_name.lower() == want:
            return None
        return m2.SSL_AD_UNRECOGNIZED_NAME

    ctx.set_servername_callback(check)


def alpn(ctx: Context, protocols: List[bytes], server: bool) -> None:
    """Offer (client) or choose from (server, no overlap is fatal) protocols."""
    ctx.set_alpn_protocols(protocols)
    if server:
        ctx.set_alpn_required(True)


def sessions(ctx: Context, size: int, timeout: int, num_tickets: int) -> None:
    """A server cache of size sessions kept timeout seconds, with num_tickets TLS 1.3 tickets
    per handshake; size 0: no cache and no tickets."""
    if size > 0:
        ctx.set_session_cache_mode(m2.SSL_SESS_CACHE_SERVER)
        ctx.set_session_cache_size(size)
        ctx.set_session_timeout(timeout)
        ctx.set_session_tickets(True, num_tickets)
        ctx.set_session_id_ctx(SESSION_ID_CONTEXT)
    else:
        ctx.set_session_cache_mode(m2.SSL_SESS_CACHE_OFF)
        ctx.set_session_tickets(False, 0)


def srp_server(ctx: Context, lookup: Any) -> None:
    """lookup(username bytes) -> None or (N, g, salt, verifier) finds SRP users."""
    m2.srp_ctx_set_server(ctx.ctx, lookup)


def prefer_srp_with_certificate(ctx: Context, config: OpenSSLConfig) -> None:
    """A server with both a certificate and SRP users chooses SRP+RSA suites first (TLS Lite's
    choice: the server authenticates with its certificate as well as the password), then the
    rest of its own list, in its own order."""
    parts = config.cipher_list.split(":")
    first = [p for p in parts if p.startswith("kSRP+aRSA")]
    if first:
        ctx.set_cipher_list(":".join(first + [p for p in parts if p not in first]))
        ctx.set_options(m2.SSL_OP_CIPHER_SERVER_PREFERENCE)


def srp_client(ctx: Context, username: str, password: str, strength: int) -> None:
    m2.srp_ctx_set_client(ctx.ctx, username, password, strength)


def _suites_of_hash(ctx: Context, suites: str, hash_name: str) -> None:
    """Keep the TLS 1.3 suites of hash_name: a PSK is only used with them (and OpenSSL's server
    without a certificate would otherwise prefer SHA-256 suites)."""
    ctx.set_ciphersuites([s for s in suites.split(":") if s.endswith("_" + hash_name.upper())])


def psk_client(ctx: Context, configs: List[Tuple[bytes, bytes, str]], suites: str) -> None:
    """Offer the first of configs' (identity, key, hash) as an external PSK (OpenSSL's client
    offers one), with the TLS 1.3 suites of its hash."""
    identity, key, hash_name = configs[0]

    def choose(hint: Optional[str]) -> Tuple[bytes, bytes, str]:
        return identity, key, hash_name

    ctx.set_psk_client_callback(choose)
    if suites:
        _suites_of_hash(ctx, suites, hash_name)


def psk_server(ctx: Context, configs: List[Tuple[bytes, bytes, str]], suites: str) -> None:
    """Accept the external PSKs of configs, found by identity; another identity gets none.  When
    they all use SHA-384, so do the server's TLS 1.3 suites."""
    keys = {identity: (key, hash_name) for identity, key, hash_name in configs}

    def find(identity: Optional[str]) -> Any:
        if identity is None:
            return b""
        return keys.get(identity.encode("utf-8", "surrogateescape"), b"")

    ctx.set_psk_server_callback(find)
    if suites and all(h == "sha384" for _, _, h in configs):
        _suites_of_hash(ctx, suites, "sha384")


class TLSObject(SSLObject):
    """An SSLObject that records the alerts it sends and receives (TLS Lite reports them)."""

    def __init__(self, ctx: Context, *, server_side: bool, server_hostname: Optional[str] = None,
                 session: Optional[SSLSession] = None) -> None:
        super().__init__(ctx, server_side=server_side, server_hostname=server_hostname, session=session)
        m2.tls_track_alerts(self.ssl)

    def alerts(self) -> Tuple[Optional[Tuple[int, int]], Optional[Tuple[int, int]]]:
        """((level, description) sent or None, (level, description) received or None)."""
        return m2.tls_alerts(self.ssl)

    def srp_username(self) -> Optional[str]:
        return m2.srp_get_username(self.ssl)
