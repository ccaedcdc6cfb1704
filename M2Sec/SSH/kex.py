"""SSH key exchange methods: one small class per family, registered by name.

A method object runs one exchange for the client, or for the server when it is made with a
``server`` (:class:`KexServerSide`: the host key blob, a signer, the group-exchange groups).
:meth:`KexMethod.start` returns the payloads to send first; :meth:`KexMethod.handle` takes
each key-exchange message from the peer and returns the payloads to send next.  When :attr:`KexMethod.done` is true the
method has K (the shared secret: an integer, or bytes for the KEM hybrids), its wire encoding
(:attr:`KexMethod.k_encoded`: an mpint, or a string), H (the exchange hash), the server's host
key blob and its signature over H; the transport checks the signature and derives the keys
(RFC 4253 sections 7.2 and 8).

Families: ECDH-style (curve25519-sha256, RFC 8731; ecdh-sha2-nistp*, RFC 5656), the ML-KEM
hybrid (mlkem768x25519-sha256, draft-ietf-sshm-mlkem-hybrid-kex; OpenSSL 3.5 only), fixed-group
Diffie-Hellman (RFC 4253, RFC 8268) and group exchange (RFC 4419).  Adding a method is one
:func:`register_kex` call at the bottom of this module.
"""

from functools import lru_cache
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Type, Union

from M2Sec.SSH import crypto
from M2Sec.SSH.errors import KeyExchangeFailed, ProtocolError
from M2Sec.SSH.packet import SSHReader, byte, mpint, string, uint32

# Message numbers (RFC 4253 section 12, RFC 5656, RFC 4419).
from M2Sec.SSH.messages import (MSG_KEX_DH_GEX_GROUP, MSG_KEX_DH_GEX_INIT, MSG_KEX_DH_GEX_REPLY,  # noqa: F401
                                MSG_KEX_DH_GEX_REQUEST, MSG_KEX_ECDH_INIT, MSG_KEX_ECDH_REPLY, MSG_KEXDH_INIT,
                                MSG_KEXDH_REPLY)


class KexServerSide(NamedTuple):
    """What the server side of an exchange needs: its host key blob (K_S), a signer of H
    for the negotiated host key algorithm, and the group-exchange groups
    (``gex_group(min, n, max) -> (p, g)``, see moduli.py)."""

    host_key: bytes
    sign: Callable[[bytes], bytes]
    gex_group: Callable[[int, int, int], Tuple[int, int]]


class KexMethod:
    """One side of one key exchange (see the module's docstring).

    :param hash_name: the method's hash (``sha256``, ``sha512``, ``sha1``).
    :param prefix: V_C || V_S || I_C || I_S as strings, the exchange hash's common start.
    :param server: the server's side (None: this is the client).
    """

    def __init__(self, hash_name: str, prefix: bytes, server: Optional[KexServerSide] = None,
                 **params: Any) -> None:
        self.hash_name = hash_name
        self._prefix = prefix
        self.server = server
        self.done = False
        self.k: Union[int, bytes, None] = None
        self.k_encoded = b""
        self.h = b""
        self.host_key = b""
        self.signature = b""

    def start(self) -> List[bytes]:
        raise NotImplementedError

    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        raise NotImplementedError

    def _serve_finish(self, reply_msg: int, middle: bytes, k: Union[int, bytes], reply_fields: bytes) -> List[bytes]:
        """The server's last step: H, its signature, and the reply carrying K_S, the fields
        and the signature."""
        s = self.server
        assert s is not None
        self._finish(s.host_key, middle, k, b"")
        self.signature = s.sign(self.h)
        return [byte(reply_msg) + string(s.host_key) + reply_fields + string(self.signature)]

    def _finish(self, host_key: bytes, middle: bytes, k: Union[int, bytes], signature: bytes) -> None:
        self.k = k
        self.k_encoded = mpint(k) if isinstance(k, int) else string(k)
        self.host_key = host_key
        self.signature = signature
        self.h = crypto.digest(self.hash_name, self._prefix + string(host_key) + middle + self.k_encoded)
        self.done = True

    def _expect(self, msg: int, wanted: int) -> None:
        if msg != wanted:
            raise ProtocolError("key exchange message %d where %d was expected" % (msg, wanted), local=False)


class KexECDH(KexMethod):
    """curve25519-sha256 (RFC 8731) and ecdh-sha2-nistp256/384/521 (RFC 5656): Q_C, then the
    server's K_S, Q_S and signature; H covers string(Q_C) || string(Q_S)."""

    def __init__(self, hash_name: str, prefix: bytes, server: Optional[KexServerSide] = None,
                 curve: str = "curve25519", **params: Any) -> None:
        super().__init__(hash_name, prefix, server)
        self._pair = crypto.X25519() if curve == "curve25519" else crypto.ECDH(curve)

    def start(self) -> List[bytes]:
        return [] if self.server else [byte(MSG_KEX_ECDH_INIT) + string(self._pair.public)]

    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        if self.server:
            self._expect(msg, MSG_KEX_ECDH_INIT)
            r = SSHReader(payload[1:])
            q_c = r.get_string()
            r.done()
            q_s = self._pair.public
            return self._serve_finish(MSG_KEX_ECDH_REPLY, string(q_c) + string(q_s), self._pair.shared(q_c),
                                      string(q_s))
        self._expect(msg, MSG_KEX_ECDH_REPLY)
        r = SSHReader(payload[1:])
        host_key, q_s, sig = r.get_string(), r.get_string(), r.get_string()
        r.done()
        k = self._pair.shared(q_s)
        self._finish(host_key, string(self._pair.public) + string(q_s), k, sig)
        return []


class KexHybridKEM(KexMethod):
    """mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex): C_INIT (the client's ML-KEM-768
    encapsulation key || X25519 key), then the server's K_S, S_REPLY (the ML-KEM ciphertext ||
    its X25519 key) and signature; K = HASH(K_PQ || K_CL), a string in H and in key derivation;
    H covers string(C_INIT) || string(S_REPLY)."""

    def __init__(self, hash_name: str, prefix: bytes, server: Optional[KexServerSide] = None,
                 **params: Any) -> None:
        super().__init__(hash_name, prefix, server)
        self._pair = None if server else crypto.MLKEM768X25519()

    def start(self) -> List[bytes]:
        return [] if self._pair is None else [byte(MSG_KEX_ECDH_INIT) + string(self._pair.public)]

    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        if self._pair is None:
            self._expect(msg, MSG_KEX_ECDH_INIT)
            r = SSHReader(payload[1:])
            c_init = r.get_string()
            r.done()
            s_reply, secret = crypto.MLKEM768X25519.server_reply(c_init)
            k = crypto.digest(self.hash_name, secret)
            return self._serve_finish(MSG_KEX_ECDH_REPLY, string(c_init) + string(s_reply), k, string(s_reply))
        self._expect(msg, MSG_KEX_ECDH_REPLY)
        r = SSHReader(payload[1:])
        host_key, s_reply, sig = r.get_string(), r.get_string(), r.get_string()
        r.done()
        k = crypto.digest(self.hash_name, self._pair.shared(s_reply))
        self._finish(host_key, string(self._pair.public) + string(s_reply), k, sig)
        return []


class KexDH(KexMethod):
    """diffie-hellman-group{1,14,16,18}-sha* (RFC 4253 section 8, RFC 8268): e, then the
    server's K_S, f and signature; H covers mpint(e) || mpint(f)."""

    def __init__(self, hash_name: str, prefix: bytes, server: Optional[KexServerSide] = None,
                 group: Tuple[int, int] = (0, 2), **params: Any) -> None:
        super().__init__(hash_name, prefix, server)
        self._p, self._g = group
        self._dh: Optional[crypto.FFDH] = None

    def _e_message(self, msg: int) -> bytes:
        self._dh = crypto.FFDH(self._p, self._g)
        return byte(msg) + mpint(self._dh.public)

    def start(self) -> List[bytes]:
        return [] if self.server else [self._e_message(MSG_KEXDH_INIT)]

    def _serve(self, payload: bytes, reply_msg: int, before: bytes) -> List[bytes]:
        """The server's answer to e: f, K, H and the signed reply."""
        r = SSHReader(payload[1:])
        e = r.get_mpint()
        r.done()
        self._dh = dh = crypto.FFDH(self._p, self._g)
        k = dh.shared(e)
        return self._serve_finish(reply_msg, before + mpint(e) + mpint(dh.public), k, mpint(dh.public))

    def _reply(self, payload: bytes, before: bytes) -> None:
        r = SSHReader(payload[1:])
        host_key, f, sig = r.get_string(), r.get_mpint(), r.get_string()
        r.done()
        assert self._dh is not None
        k = self._dh.shared(f)
        self._finish(host_key, before + mpint(self._dh.public) + mpint(f), k, sig)

    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        if self.server:
            self._expect(msg, MSG_KEXDH_INIT)
            return self._serve(payload, MSG_KEXDH_REPLY, b"")
        self._expect(msg, MSG_KEXDH_REPLY)
        self._reply(payload, b"")
        return []


class KexGex(KexDH):
    """diffie-hellman-group-exchange-sha256/-sha1 (RFC 4419): the client asks for a group
    size, the server picks p and g, then as in :class:`KexDH`; H also covers min, n, max, p, g.
    """

    MIN, PREFERRED, MAX = 2048, 3072, 8192

    def __init__(self, hash_name: str, prefix: bytes, server: Optional[KexServerSide] = None,
                 **params: Any) -> None:
        super().__init__(hash_name, prefix, server)
        self._request = uint32(self.MIN) + uint32(self.PREFERRED) + uint32(self.MAX)
        self._group = b""

    def start(self) -> List[bytes]:
        return [] if self.server else [byte(MSG_KEX_DH_GEX_REQUEST) + self._request]

    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        if self.server:
            return self._serve_gex(msg, payload)
        if not self._group:
            self._expect(msg, MSG_KEX_DH_GEX_GROUP)
            r = SSHReader(payload[1:])
            self._p, self._g = r.get_mpint(), r.get_mpint()
            r.done()
            if not self.MIN <= self._p.bit_length() <= self.MAX:
                raise KeyExchangeFailed("the server offered a %d-bit group" % self._p.bit_length(), local=False)
            self._group = mpint(self._p) + mpint(self._g)
            return [self._e_message(MSG_KEX_DH_GEX_INIT)]
        self._expect(msg, MSG_KEX_DH_GEX_REPLY)
        self._reply(payload, self._request + self._group)
        return []

    def _serve_gex(self, msg: int, payload: bytes) -> List[bytes]:
        assert self.server is not None
        if not self._group:
            self._expect(msg, MSG_KEX_DH_GEX_REQUEST)
            r = SSHReader(payload[1:])
            lo, n, hi = r.get_uint32(), r.get_uint32(), r.get_uint32()
            r.done()
            if not lo <= n <= hi or hi < 1024:
                raise KeyExchangeFailed("the client asked for a DH group of %d <= %d <= %d bits" % (lo, n, hi),
                                        local=False)
            self._request = payload[1:13]
            self._p, self._g = self.server.gex_group(lo, n, hi)
            self._group = mpint(self._p) + mpint(self._g)
            return [byte(MSG_KEX_DH_GEX_GROUP) + self._group]
        self._expect(msg, MSG_KEX_DH_GEX_INIT)
        return self._serve(payload, MSG_KEX_DH_GEX_REPLY, self._request + self._group)


# ---- the fixed groups -------------------------------------------------------------------------


def _pi_bits(nbits: int) -> int:
    """floor(pi * 2**nbits), by Machin's formula in integers."""
    guard = 64
    one = 1 << (nbits + guard)

    def arctan_inv(x: int) -> int:
        total = term = one // x
        x2, n, sign = x * x, 1, -1
        while term:
            term //= x2
            n += 2
            total += sign * (term // n)
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> guard


@lru_cache(maxsize=None)
def modp_group(bits: int) -> Tuple[int, int]:
    """The MODP group of RFC 2409 / RFC 3526 with a bits-bit prime, as (p, 2).

    Every such prime is 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k), with the k
    each RFC gives; computed here rather than pasted.
    """
    k = {1024: 129093, 2048: 124476, 4096: 240904, 8192: 4743158}[bits]
    return (2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * (_pi_bits(bits - 130) + k), 2)


# ---- the registry -----------------------------------------------------------------------------


class KexEntry(NamedTuple):
    cls: Type[KexMethod]
    hash_name: str
    params: Dict[str, Any]


_KEX: Dict[bytes, KexEntry] = {}
DEFAULT_KEX: List[bytes] = []
SUPPORTED_KEX: List[bytes] = []


def register_kex(name: bytes, cls: Type[KexMethod], hash_name: str, default: bool = False, **params: Any) -> None:
    """Add a key exchange method; default ones are offered unless the caller lists others,
    in the order registered."""
    _KEX[name] = KexEntry(cls, hash_name, params)
    SUPPORTED_KEX.append(name)
    if default:
        DEFAULT_KEX.append(name)


def make_kex(name: bytes, prefix: bytes, server: Optional[KexServerSide] = None) -> KexMethod:
    """A fresh method object for the negotiated name (the server's side when server is given)."""
    e = _KEX[name]
    params = dict(e.params)
    if "bits" in params:
        params["group"] = modp_group(params.pop("bits"))
    return e.cls(e.hash_name, prefix, server, **params)


def kex_hash(name: bytes) -> str:
    return _KEX[name].hash_name


# OpenSSH 10's preference order (sntrup761x25519 aside), legacy methods opt-in only; the ML-KEM
# hybrid only where OpenSSL has ML-KEM (3.5), never offered otherwise.
if crypto.HAS_MLKEM:
    register_kex(b"mlkem768x25519-sha256", KexHybridKEM, "sha256", default=True)
register_kex(b"curve25519-sha256", KexECDH, "sha256", default=True, curve="curve25519")
register_kex(b"curve25519-sha256@libssh.org", KexECDH, "sha256", default=True, curve="curve25519")
register_kex(b"ecdh-sha2-nistp256", KexECDH, "sha256", default=True, curve="nistp256")
register_kex(b"ecdh-sha2-nistp384", KexECDH, "sha384", default=True, curve="nistp384")
register_kex(b"ecdh-sha2-nistp521", KexECDH, "sha512", default=True, curve="nistp521")
register_kex(b"diffie-hellman-group-exchange-sha256", KexGex, "sha256", default=True)
register_kex(b"diffie-hellman-group16-sha512", KexDH, "sha512", default=True, bits=4096)
register_kex(b"diffie-hellman-group18-sha512", KexDH, "sha512", default=True, bits=8192)
register_kex(b"diffie-hellman-group14-sha256", KexDH, "sha256", default=True, bits=2048)
register_kex(b"diffie-hellman-group14-sha1", KexDH, "sha1", bits=2048)
register_kex(b"diffie-hellman-group-exchange-sha1", KexGex, "sha1")
register_kex(b"diffie-hellman-group1-sha1", KexDH, "sha1", bits=1024)
