"""HandshakeSettings: TLS Lite's handshake options, translated into OpenSSL's configuration.

Every option either maps onto something OpenSSL does (cipher strings, TLS 1.3 cipher suites,
groups, signature algorithms, protocol versions, options and modes) or is refused by
:meth:`HandshakeSettings.validate` with a ValueError naming it: a value is never accepted and
then silently ignored.
"""

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, cast

from M2Sec import m2
from M2Sec.TLS.constants import VERSION_NAMES

# OpenSSL's ciphers as TLS Lite names them: (TLS 1.2 cipher-string alias, TLS 1.3 suite or None).
CIPHER_NAMES: Dict[str, Tuple[str, Optional[str]]] = {
    "chacha20-poly1305": ("CHACHA20", "TLS_CHACHA20_POLY1305_SHA256"),
    "aes256gcm": ("AES256+AESGCM", "TLS_AES_256_GCM_SHA384"),
    "aes128gcm": ("AES128+AESGCM", "TLS_AES_128_GCM_SHA256"),
    "aes256ccm": ("AES256+AESCCM", None),
    "aes128ccm": ("AES128+AESCCM", "TLS_AES_128_CCM_SHA256"),
    "aes256": ("AES256", None),     # with a MAC name other than "aead": CBC
    "aes128": ("AES128", None),
    "3des": ("3DES", None),
}
# ("aead": the cipher names an AEAD mode already, OpenSSL has no MAC alias for it)
MAC_NAMES: Dict[str, str] = {"sha": "SHA1", "sha256": "SHA256", "sha384": "SHA384", "aead": ""}
KEY_EXCHANGE_NAMES: Dict[str, str] = {
    "ecdhe_ecdsa": "kECDHE+aECDSA", "ecdhe_rsa": "kECDHE+aRSA", "dhe_rsa": "kDHE+aRSA",
    "rsa": "kRSA+aRSA", "dhe_dsa": "kDHE+aDSS", "srp_sha": "kSRP+aSRP", "srp_sha_rsa": "kSRP+aRSA",
}
SRP_KEY_EXCHANGES = ("srp_sha", "srp_sha_rsa")
# TLS 1.2's PSK suites (RFC 4279, RFC 5489), offered when pskConfigs holds a key: with (EC)DHE,
# and plain PSK only when psk_modes allows a key exchange without DHE ("psk_ke").
PSK_KEY_EXCHANGES = {"ecdhe_psk": "kECDHEPSK", "dhe_psk": "kDHEPSK", "psk": "kPSK"}
# TLS Lite's curve names that OpenSSL spells differently.
_GROUP_ALIASES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521",
                  "x25519mlkem768": "X25519MLKEM768"}
# The post-quantum hybrid first, with a key share of its own, where OpenSSL has ML-KEM (3.5).
_PQ_CURVES = ["x25519mlkem768"] if m2.HAS_ML_KEM else []
HASHES = ("sha1", "sha224", "sha256", "sha384", "sha512")
_PSS_HASHES = ("sha256", "sha384", "sha512")
MORE_SIG_SCHEMES = {"Ed25519": "ed25519", "Ed448": "ed448"}
VERSIONS = {(3, 1): 0x0301, (3, 2): 0x0302, (3, 3): 0x0303, (3, 4): 0x0304}

OPTION_NAMES = ("minKeySize", "maxKeySize", "cipherNames", "macNames", "keyExchangeNames",
                "certificateTypes", "minVersion", "maxVersion", "eccCurves", "dhGroups", "keyShares",
                "defaultCurve", "rsaSigHashes", "rsaSchemes", "ecdsaSigHashes", "more_sig_schemes",
                "useEncryptThenMAC", "useExtendedMasterSecret", "requireExtendedMasterSecret",
                "sendFallbackSCSV", "usePaddingExtension", "alpnProtocols", "ticket_count",
                "ticketLifetime", "ticketKeys", "psk_modes", "pskConfigs", "max_early_data",
                "useExperimentalTackExtension", "use_heartbeat_extension", "record_size_limit",
                "dhParams", "padding_cb", "virtual_hosts", "cipherImplementations",
                "certificate_compression_send", "certificate_compression_receive")


@dataclass
class OpenSSLConfig:
    """What a validated HandshakeSettings asks of an SSL_CTX."""

    min_version: int
    max_version: int
    cipher_list: str              # SSL_CTX_set_cipher_list (TLS 1.2 and below)
    ciphersuites: str             # SSL_CTX_set_ciphersuites (TLS 1.3)
    srp_cipher_list: str          # the cipher list of an SRP handshake
    groups: str                   # SSL_CTX_set1_groups_list
    sigalgs: str                  # SSL_CTX_set1_sigalgs_list
    options_set: int = 0
    options_clear: int = 0
    modes: int = 0
    num_tickets: int = 2
    ticket_lifetime: int = 86400
    alpn: List[bytes] = field(default_factory=list)
    min_key_size: int = 1023
    max_key_size: int = 8193
    psk: List[Tuple[bytes, bytes, str]] = field(default_factory=list)   # (identity, key, hash), from pskConfigs


class HandshakeSettings:
    """Options of a handshake, with TLS Lite's names and M2Sec's safe defaults.

    Differences from TLS Lite's defaults: the floor is TLS 1.2 (``minVersion = (3, 3)``), no
    3DES, SHA-1 signatures or RSA key transport; where OpenSSL has ML-KEM (3.5) the hybrid
    ``"x25519mlkem768"`` comes first in ``eccCurves`` and the key shares are ``["x25519mlkem768",
    "x25519"]``, elsewhere one TLS 1.3 key share (``["x25519"]``; OpenSSL 3.0 to 3.4 send a share
    for the first group only).
    """

    _config: OpenSSLConfig  # what validate() built (an annotation only: no class attribute)

    def __init__(self) -> None:
        self.minKeySize = 1023
        self.maxKeySize = 8193
        self.cipherNames = ["chacha20-poly1305", "aes256gcm", "aes128gcm", "aes256", "aes128"]
        self.macNames = ["aead", "sha384", "sha256", "sha"]
        self.keyExchangeNames = ["ecdhe_ecdsa", "ecdhe_rsa", "dhe_rsa", "srp_sha", "srp_sha_rsa"]
        self.certificateTypes = ["x509"]
        self.minVersion: Tuple[int, int] = (3, 3)
        self.maxVersion: Tuple[int, int] = (3, 4)
        self.eccCurves = _PQ_CURVES + ["x25519", "secp256r1", "x448", "secp384r1", "secp521r1"]
        self.dhGroups = ["ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"]
        self.keyShares = _PQ_CURVES + ["x25519"]
        self.defaultCurve = "secp256r1"
        self.rsaSigHashes = ["sha512", "sha384", "sha256"]
        self.rsaSchemes = ["pss", "pkcs1"]
        self.ecdsaSigHashes = ["sha512", "sha384", "sha256"]
        self.more_sig_schemes = ["Ed25519", "Ed448"]
        self.useEncryptThenMAC = True
        self.useExtendedMasterSecret = True
        self.requireExtendedMasterSecret = False
        self.sendFallbackSCSV = False
        self.usePaddingExtension = False
        self.alpnProtocols: List[bytes] = []
        self.ticket_count = 2
        self.ticketLifetime = 86400
        self.ticketKeys: List[bytes] = []
        self.psk_modes = ["psk_dhe_ke"]
        self.pskConfigs: List[Any] = []
        self.max_early_data = 0
        self.useExperimentalTackExtension = False
        self.use_heartbeat_extension = False
        self.record_size_limit: Optional[int] = None
        self.dhParams = None
        self.padding_cb = None
        self.virtual_hosts: List[Any] = []
        self.cipherImplementations = ["openssl"]
        self.certificate_compression_send: List[str] = []
        self.certificate_compression_receive: List[str] = []

    def __repr__(self) -> str:
        def shown(name: str) -> Any:  # PSK secrets stay out of logs and tracebacks
            v = getattr(self, name)
            if name == "pskConfigs" and isinstance(v, list):
                return [(c[0], "<secret>") + tuple(c[2:]) if isinstance(c, (tuple, list)) and c else c for c in v]
            return v
        return "HandshakeSettings(%s)" % ", ".join("%s=%r" % (n, shown(n)) for n in OPTION_NAMES)

    @property
    def versions(self) -> List[Tuple[int, int]]:
        """The versions between maxVersion and minVersion, newest first."""
        return [v for v in sorted(VERSIONS, reverse=True) if self.minVersion <= v <= self.maxVersion]

    def validate(self) -> "HandshakeSettings":
        """A checked copy of the settings.

        :raises ValueError: for a value that is unknown or that OpenSSL cannot honour.
        :raises TypeError: for a value of the wrong type.
        """
        other = copy.copy(self)
        for name in OPTION_NAMES:
            value = getattr(self, name)
            setattr(other, name, list(value) if isinstance(value, list) else value)
        other._config = other._build()
        return other

    # ---- the translation ----------------------------------------------------------------------
    def _build(self) -> OpenSSLConfig:
        self._check_refused()
        for name in ("minVersion", "maxVersion"):
            v = getattr(self, name)
            if not isinstance(v, tuple) or v not in VERSIONS:
                if v == (3, 0):
                    raise ValueError("%s: SSL 3.0 is not available in OpenSSL 3" % name)
                raise ValueError("%s must be one of %s, not %r" % (name, sorted(VERSIONS), v))
        if self.minVersion > self.maxVersion:
            raise ValueError("minVersion %r is above maxVersion %r" % (self.minVersion, self.maxVersion))
        for name in ("minKeySize", "maxKeySize", "ticket_count", "ticketLifetime"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise TypeError("%s must be a non-negative int" % name)
        if self.minKeySize < 512:
            raise ValueError("minKeySize below 512 bits")
        if self.maxKeySize < self.minKeySize:
            raise ValueError("maxKeySize is below minKeySize")
        _known(self.certificateTypes, ("x509",), "certificateTypes")
        _known(self.cipherNames, CIPHER_NAMES, "cipherNames")
        _known(self.macNames, MAC_NAMES, "macNames")
        _known(self.keyExchangeNames, KEY_EXCHANGE_NAMES, "keyExchangeNames")
        _known(self.rsaSigHashes, HASHES, "rsaSigHashes")
        _known(self.ecdsaSigHashes, HASHES, "ecdsaSigHashes")
        _known(self.rsaSchemes, ("pss", "pkcs1"), "rsaSchemes")
        _known(self.more_sig_schemes, MORE_SIG_SCHEMES, "more_sig_schemes")
        _known(self.psk_modes, ("psk_dhe_ke", "psk_ke"), "psk_modes")
        _known(self.cipherImplementations, ("openssl",), "cipherImplementations")
        weak = [h for h in self.rsaSigHashes + self.ecdsaSigHashes if h in ("sha1", "sha224")]
        if weak and self.minVersion >= (3, 3):
            raise ValueError("rsaSigHashes/ecdsaSigHashes: OpenSSL 3 refuses %s signatures at its "
                             "default security level" % "/".join(sorted(set(weak))))
        if "psk_dhe_ke" not in self.psk_modes:
            raise ValueError("psk_modes: OpenSSL always allows psk_dhe_ke; it cannot be left out")
        if not self.cipherNames:
            raise ValueError("cipherNames is empty")

        psk = _psk_configs(self.pskConfigs)
        psk_exchanges = ["ecdhe_psk", "dhe_psk"] + (["psk"] if "psk_ke" in self.psk_modes else [])
        legacy = self.minVersion < (3, 3)
        items: List[Tuple[str, str]] = []
        psk_items: List[Tuple[str, str]] = []
        for enc in self.cipherNames:
            alias = CIPHER_NAMES[enc][0]
            for mac in self.macNames:
                aead_cipher = enc in ("chacha20-poly1305", "aes256gcm", "aes128gcm", "aes256ccm", "aes128ccm")
                if aead_cipher != (mac == "aead"):
                    continue
                for kx in self.keyExchangeNames:
                    items.append((kx, "+".join(filter(None, (KEY_EXCHANGE_NAMES[kx], alias, MAC_NAMES[mac])))))
                for kx in (psk_exchanges if psk else ()):
                    psk_items.append((kx, "+".join(filter(None, (PSK_KEY_EXCHANGES[kx], alias, MAC_NAMES[mac])))))
        items = psk_items + items            # a client with a PSK prefers to use it
        plain = [s for kx, s in items if kx not in SRP_KEY_EXCHANGES]
        srp = [s for kx, s in items if kx in SRP_KEY_EXCHANGES]
        tail = ":!aNULL:!eNULL" + (":@SECLEVEL=0" if legacy else "")
        suites = cast(List[str], [CIPHER_NAMES[c][1] for c in self.cipherNames if CIPHER_NAMES[c][1]]) if "aead" in self.macNames else []
        if self.maxVersion == (3, 4) and not suites:
            if self.minVersion == (3, 4):
                raise ValueError("cipherNames/macNames leave no TLS 1.3 cipher suite")
        if psk and self.maxVersion == (3, 4):
            for h in sorted({h for _, _, h in psk}):   # a TLS 1.3 PSK is used with suites of its hash
                if not any(suite.endswith("_" + h.upper()) for suite in suites):
                    raise ValueError("pskConfigs: a %s PSK needs a TLS 1.3 suite of that hash in cipherNames (%s)"
                                     % (h, "chacha20-poly1305, aes128gcm" if h == "sha256" else "aes256gcm"))
        if self.minVersion <= (3, 3) and not plain and not srp:
            if self.maxVersion <= (3, 3):
                raise ValueError("cipherNames/macNames/keyExchangeNames leave no TLS 1.2 cipher suite")

        groups = []
        for g in list(self.eccCurves) + list(self.dhGroups):
            if not isinstance(g, str):
                raise TypeError("eccCurves and dhGroups hold group names")
            groups.append(_GROUP_ALIASES.get(g, g))
        if not isinstance(self.keyShares, list):
            raise TypeError("keyShares must be a list")
        for k in self.keyShares:
            if k not in self.eccCurves and k not in self.dhGroups:
                raise ValueError("keyShares: %r is not in eccCurves or dhGroups" % k)
        if len(self.keyShares) > 1 and not m2.HAS_TLS_KEYSHARE_LIST:
            raise ValueError("keyShares: OpenSSL %s sends one TLS 1.3 key share (the first group); "
                             "give at most one" % m2.OPENSSL_VERSION_TEXT.split()[1])
        if self.keyShares:
            shares = [_GROUP_ALIASES.get(k, k) for k in self.keyShares]
            groups = shares + [g for g in groups if g not in shares]
            if len(shares) > 1:  # OpenSSL 3.5: '*' marks each group that gets a key share
                groups = ["*" + g if g in shares else g for g in groups]
        if self.defaultCurve not in self.eccCurves:
            raise ValueError("defaultCurve %r is not in eccCurves" % self.defaultCurve)

        sigalgs = []
        for h in self.rsaSigHashes:
            if "pss" in self.rsaSchemes and h in _PSS_HASHES:
                sigalgs += ["rsa_pss_rsae_" + h, "rsa_pss_pss_" + h]
            if "pkcs1" in self.rsaSchemes:
                sigalgs.append("RSA+" + h.upper())
        sigalgs += ["ECDSA+" + h.upper() for h in self.ecdsaSigHashes]
        sigalgs += [MORE_SIG_SCHEMES[s] for s in self.more_sig_schemes]
        if not sigalgs:
            raise ValueError("no signature algorithm left (rsaSigHashes, ecdsaSigHashes, more_sig_schemes)")

        opts_set = opts_clear = modes = 0
        for flag, option in ((self.useEncryptThenMAC, m2.SSL_OP_NO_ENCRYPT_THEN_MAC),
                             (self.useExtendedMasterSecret, m2.SSL_OP_NO_EXTENDED_MASTER_SECRET)):
            if flag:
                opts_clear |= option
            else:
                opts_set |= option
        if self.usePaddingExtension:
            opts_set |= m2.SSL_OP_TLSEXT_PADDING
        if "psk_ke" in self.psk_modes:
            opts_set |= m2.SSL_OP_ALLOW_NO_DHE_KEX
        if self.sendFallbackSCSV:
            modes |= m2.SSL_MODE_SEND_FALLBACK_SCSV
        alpn = [_alpn_bytes(p) for p in self.alpnProtocols]
        return OpenSSLConfig(
            min_version=VERSIONS[self.minVersion], max_version=VERSIONS[self.maxVersion],
            cipher_list=":".join(plain + srp) + tail if plain or srp else "",
            ciphersuites=":".join(suites), srp_cipher_list=":".join(srp) + tail if srp else "",
            groups=":".join(groups), sigalgs=":".join(sigalgs), options_set=opts_set,
            options_clear=opts_clear, modes=modes, num_tickets=self.ticket_count,
            ticket_lifetime=self.ticketLifetime, alpn=alpn, min_key_size=self.minKeySize,
            max_key_size=self.maxKeySize, psk=psk)

    def _check_refused(self) -> None:
        refused: Tuple[Tuple[str, Any, str], ...] = (
            ("requireExtendedMasterSecret", False, "OpenSSL 3 cannot require extended master secret"),
            ("useExperimentalTackExtension", False, "TACK is not supported"),
            ("use_heartbeat_extension", False, "OpenSSL 3 has no heartbeat extension"),
            ("record_size_limit", None, "OpenSSL 3 does not send record_size_limit (RFC 8449)"),
            ("dhParams", None, "custom DH parameters are not supported: use dhGroups (RFC 7919)"),
            ("padding_cb", None, "record padding callbacks are not supported"),
            ("max_early_data", 0, "early data is not offered by this API"),
            ("virtual_hosts", [], "use handshakeServer(sni=...) for virtual hosts"),
            ("ticketKeys", [], "OpenSSL keys session tickets itself, per server context"),
            ("certificate_compression_send", [], "certificate compression needs OpenSSL 3.2"),
            ("certificate_compression_receive", [], "certificate compression needs OpenSSL 3.2"),
        )
        for name, default, why in refused:
            if getattr(self, name) != default:
                raise ValueError("%s=%r: %s" % (name, getattr(self, name), why))


def _psk_configs(configs: Any) -> List[Tuple[bytes, bytes, str]]:
    """tlslite-ng's pskConfigs, [(identity, secret[, hash]), ...], as (identity, key, hash).

    :raises TypeError: for entries of the wrong shape or type.
    :raises ValueError: for an empty or over-long identity or key, a repeated identity, or a
        hash other than "sha256" (the default) and "sha384"."""
    if not isinstance(configs, list):
        raise TypeError("pskConfigs must be a list of (identity, secret[, hash]) tuples")
    out: List[Tuple[bytes, bytes, str]] = []
    for entry in configs:
        if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
            raise TypeError("pskConfigs: each entry is (identity, secret) or (identity, secret, hash)")
        identity, secret = entry[0], entry[1]
        if isinstance(identity, str):
            identity = identity.encode("utf-8")
        if not isinstance(identity, (bytes, bytearray)) or not isinstance(secret, (bytes, bytearray)):
            raise TypeError("pskConfigs: the identity is bytes (or str) and the secret bytes")
        identity, secret = bytes(identity), bytes(secret)
        if not 0 < len(identity) <= m2.PSK_MAX_IDENTITY_LEN or b"\0" in identity:
            raise ValueError("pskConfigs: an identity is 1 to %d bytes, without NUL" % m2.PSK_MAX_IDENTITY_LEN)
        if not 0 < len(secret) <= m2.PSK_MAX_PSK_LEN:
            raise ValueError("pskConfigs: a secret is 1 to %d bytes" % m2.PSK_MAX_PSK_LEN)
        hash_name = entry[2] if len(entry) == 3 else "sha256"
        if hash_name not in ("sha256", "sha384"):
            raise ValueError("pskConfigs: the hash is 'sha256' or 'sha384', not %r" % (hash_name,))
        if any(identity == i for i, _, _ in out):
            raise ValueError("pskConfigs: identity %r is given twice" % identity)
        out.append((identity, secret, hash_name))
    return out


def _known(values: Any, known: Any, name: str) -> None:
    if not isinstance(values, list):
        raise TypeError("%s must be a list" % name)
    for v in values:
        if v not in known:
            raise ValueError("%s: unknown or unsupported value %r (known: %s)" % (name, v, ", ".join(known)))


def _alpn_bytes(p: Any) -> bytes:
    b = p.encode("ascii") if isinstance(p, str) else bytes(p)
    if not 0 < len(b) < 256:
        raise ValueError("an ALPN protocol name is 1 to 255 bytes")
    return b


def version_name(version: Tuple[int, int]) -> str:
    return VERSION_NAMES.get(version, "unknown")
