"""The SSH transport's cryptography on M2Sec's primitives: packet ciphers, MACs and AEADs
(RFC 4253 section 6, RFC 4344, RFC 5647 as OpenSSH does it, OpenSSH's
chacha20-poly1305@openssh.com), hashes, and the key-agreement halves of key exchange
(X25519 RFC 7748, ECDH on NIST curves RFC 5656, finite-field DH RFC 4253/3526, ML-KEM-768
with X25519 draft-ietf-sshm-mlkem-hybrid-kex), and the
operations on host and user keys that keys.py's file and wire formats rest on.

This is the only SSH module that calls EVP, EC, RSA, DH and ``m2``.  Packet protection is
one object per direction: :class:`Sealer` turns a packet's plaintext into what goes on the
wire, :class:`Opener` does the reverse, each with a fast path of one or two calls into C per
packet (``m2.cipher_aead_seal``/``open``, ``m2.cipher_update_iv``, ``m2.mac_oneshot``).
"""

import base64
import binascii
import re
import struct
from typing import Any, Callable, Dict, Literal, NamedTuple, Optional, Tuple, TypeVar, Union, overload

from M2Sec import DH, EC, EVP, RSA, Rand, m2
from M2Sec.SSH.errors import KeyExchangeFailed, ProtocolError, SSHFormatError, SSHKeyError

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_pack_u32 = _U32.pack
_unpack_u32 = _U32.unpack_from
_T = TypeVar("_T")


def random_bytes(n: int) -> bytes:
    """n bytes from OpenSSL's CSPRNG (RAND_bytes)."""
    return Rand.rand_bytes(n) if n else b""


# ---- hashes -------------------------------------------------------------------------------

_HASH_NAMES = {"sha1": "SHA1", "sha256": "SHA256", "sha384": "SHA384", "sha512": "SHA512"}


def digest(name: str, data: bytes) -> bytes:
    """The hash called name (``sha1``, ``sha256``, ``sha384``, ``sha512``; ``md5`` for
    fingerprints) of data."""
    return EVP.digest(name, data)


def hmac(key: bytes, data: bytes, name: str) -> bytes:
    """The HMAC (RFC 2104) of data under key with the hash called name."""
    return m2.hmac_oneshot(key, data, name)


def digest_size(name: str) -> int:
    return {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[name]


# ---- ciphers ------------------------------------------------------------------------------


class CipherSpec(NamedTuple):
    """An SSH cipher: its kind, EVP name, key and IV lengths, block size and tag length."""

    kind: str          # "ctr", "cbc", "gcm", "chachapoly", "none"
    evp: str
    key_len: int
    iv_len: int
    block: int
    tag_len: int = 0


CIPHERS: Dict[bytes, CipherSpec] = {
    b"chacha20-poly1305@openssh.com": CipherSpec("chachapoly", "ChaCha20", 64, 0, 8, 16),
    b"aes128-gcm@openssh.com": CipherSpec("gcm", "AES-128-GCM", 16, 12, 16, 16),
    b"aes256-gcm@openssh.com": CipherSpec("gcm", "AES-256-GCM", 32, 12, 16, 16),
    b"aes128-ctr": CipherSpec("ctr", "AES-128-CTR", 16, 16, 16),
    b"aes192-ctr": CipherSpec("ctr", "AES-192-CTR", 24, 16, 16),
    b"aes256-ctr": CipherSpec("ctr", "AES-256-CTR", 32, 16, 16),
    b"aes128-cbc": CipherSpec("cbc", "AES-128-CBC", 16, 16, 16),
    b"aes192-cbc": CipherSpec("cbc", "AES-192-CBC", 24, 16, 16),
    b"aes256-cbc": CipherSpec("cbc", "AES-256-CBC", 32, 16, 16),
    b"none": CipherSpec("none", "", 0, 0, 8),
}


class MacSpec(NamedTuple):
    """An SSH MAC: the digest, its key and output lengths, and whether it is encrypt-then-MAC."""

    digest: str
    key_len: int
    mac_len: int
    etm: bool


MACS: Dict[bytes, MacSpec] = {
    b"hmac-sha2-256-etm@openssh.com": MacSpec("sha256", 32, 32, True),
    b"hmac-sha2-512-etm@openssh.com": MacSpec("sha512", 64, 64, True),
    b"hmac-sha1-etm@openssh.com": MacSpec("sha1", 20, 20, True),
    b"hmac-sha2-256": MacSpec("sha256", 32, 32, False),
    b"hmac-sha2-512": MacSpec("sha512", 64, 64, False),
    b"hmac-sha1": MacSpec("sha1", 20, 20, False),
    b"none": MacSpec("", 0, 0, False),
}


def _cipher_ctx(evp_name: str, key: bytes, iv: Optional[bytes], encrypt: bool) -> EVP.Cipher:
    c = EVP.Cipher(evp_name.lower().replace("-", "_"), key, iv, 1 if encrypt else 0)
    c.set_padding(0)
    return c


class _Protection:
    """What both directions share: the cipher and MAC specs and the keyed contexts."""

    #: the keyed context of ctr, cbc and gcm (never set, nor used, under none and chachapoly)
    _ctx: "m2.EVP_CIPHER_CTX_ptr"

    def __init__(self, cipher: bytes, mac: bytes, key: bytes, iv: bytes, mac_key: bytes, encrypt: bool) -> None:
        spec = CIPHERS[cipher]
        self.name = cipher
        self.kind = spec.kind
        self.block = spec.block
        aead = spec.kind in ("gcm", "chachapoly")
        mspec = MACS[b"none"] if aead else MACS[mac]
        self.mac_digest = mspec.digest
        self.mac_key = mac_key[:mspec.key_len]
        self.etm = mspec.etm
        # AEAD, EtM: the length travels in the clear (or separately encrypted) and is not
        # part of the padded, block-aligned body.
        self.length_apart = aead or mspec.etm
        self.tail = spec.tag_len if aead else mspec.mac_len
        self._cipher: Optional[EVP.Cipher] = None
        if spec.kind == "chachapoly":
            # OpenSSH's PROTOCOL.chacha20poly1305: K_2 (the first half) for the payload and the
            # Poly1305 key, K_1 (the second half) for the length.
            self._main = _cipher_ctx(spec.evp, key[:32], b"\0" * 16, encrypt)
            self._hdr = _cipher_ctx(spec.evp, key[32:64], b"\0" * 16, encrypt)
        elif spec.kind == "gcm":
            self._cipher = _cipher_ctx(spec.evp, key[:spec.key_len], iv[:12], encrypt)
            self._fixed = iv[:4]
            self._counter = int.from_bytes(iv[4:12], "big")
        elif spec.kind != "none":
            self._cipher = _cipher_ctx(spec.evp, key[:spec.key_len], iv[:spec.iv_len], encrypt)
        if self._cipher is not None:
            self._ctx = self._cipher.ctx

    def _gcm_iv(self) -> bytes:
        # RFC 5647 section 7.1: the invocation counter (the IV's low 64 bits) counts packets.
        c = self._counter
        self._counter = (c + 1) & 0xFFFFFFFFFFFFFFFF
        return self._fixed + _U64.pack(c)

    def _mac(self, data: bytes) -> bytes:
        return m2.hmac_oneshot(self.mac_key, data, self.mac_digest)


def _chacha_iv(counter: int, seq: int) -> bytes:
    # OpenSSL's ChaCha20 IV is a 32-bit little-endian block counter then a 96-bit nonce; the
    # original ChaCha20 that OpenSSH uses has a 64-bit counter and a 64-bit nonce (the
    # sequence number, big-endian), which is the same state for counters below 2**32.
    return struct.pack("<I", counter) + b"\0\0\0\0" + _U64.pack(seq)


_ZERO32 = bytes(32)


class Sealer(_Protection):
    """One direction's outgoing packet protection.

    :meth:`seal` takes ``padding_length || payload || padding`` and the sequence number and
    returns the packet as it goes on the wire, length, MAC and tag included.
    """

    def __init__(self, cipher: bytes, mac: bytes, key: bytes, iv: bytes, mac_key: bytes) -> None:
        super().__init__(cipher, mac, key, iv, mac_key, True)
        self.seal = getattr(self, "_seal_" + self.kind + ("_etm" if self.etm else ""))

    def _seal_none(self, seq: int, body: bytes) -> bytes:
        packet = _pack_u32(len(body)) + body
        if self.mac_digest:
            return packet + self._mac(_pack_u32(seq) + packet)
        return packet

    def _seal_none_etm(self, seq: int, body: bytes) -> bytes:
        return self._seal_none(seq, body)

    def _seal_ctr(self, seq: int, body: bytes) -> bytes:
        packet = _pack_u32(len(body)) + body
        enc = m2.cipher_update(self._ctx, packet)
        if self.mac_digest:
            return enc + self._mac(_pack_u32(seq) + packet)
        return enc

    _seal_cbc = _seal_ctr

    def _seal_ctr_etm(self, seq: int, body: bytes) -> bytes:
        packet = _pack_u32(len(body)) + m2.cipher_update(self._ctx, body)
        return packet + self._mac(_pack_u32(seq) + packet)

    _seal_cbc_etm = _seal_ctr_etm

    def _seal_gcm(self, seq: int, body: bytes) -> bytes:
        return m2.cipher_aead_seal(self._ctx, self._gcm_iv(), _pack_u32(len(body)), body, 16)

    def _seal_chachapoly(self, seq: int, body: bytes) -> bytes:
        iv0 = _chacha_iv(0, seq)
        enc = m2.cipher_update_iv(self._hdr.ctx, iv0, _pack_u32(len(body)))
        enc += m2.cipher_update_iv(self._main.ctx, _chacha_iv(1, seq), body)
        poly_key = m2.cipher_update_iv(self._main.ctx, iv0, _ZERO32)
        return enc + m2.mac_oneshot("POLY1305", poly_key, enc)


class Opener(_Protection):
    """One direction's incoming packet protection.

    :attr:`head` bytes of a packet give its length (:meth:`length`); then :meth:`open` takes
    the whole packet as received (``4 + length + tail`` bytes) and returns
    ``padding_length || payload || padding``, or None if the MAC or tag does not verify.
    """

    def __init__(self, cipher: bytes, mac: bytes, key: bytes, iv: bytes, mac_key: bytes) -> None:
        super().__init__(cipher, mac, key, iv, mac_key, False)
        self.head = 4 if self.length_apart else max(self.block, 8)
        if self.kind == "none":
            self.head = 4
        self._first: Optional[bytes] = None
        suffix = "_etm" if self.etm else ""
        self.open = getattr(self, "_open_" + self.kind + suffix)
        self.length = getattr(self, "_length_" + ("chachapoly" if self.kind == "chachapoly" else
                                                    "clear" if self.length_apart or self.kind == "none"
                                                    else "block"))

    # ---- the length ----
    def _length_clear(self, seq: int, head: memoryview) -> int:
        n: int = _unpack_u32(head)[0]
        return n

    def _length_block(self, seq: int, head: memoryview) -> int:
        # Decrypting the first block now; open() continues from it.
        self._first = m2.cipher_update(self._ctx, head)
        n: int = _unpack_u32(self._first)[0]
        return n

    def _length_chachapoly(self, seq: int, head: memoryview) -> int:
        n: int = _unpack_u32(m2.cipher_update_iv(self._hdr.ctx, _chacha_iv(0, seq), head))[0]
        return n

    # ---- the packet ----
    def _open_none(self, seq: int, packet: memoryview) -> Optional[bytes]:
        if not self.mac_digest:
            return bytes(packet[4:])
        end = len(packet) - self.tail
        if not _equal(self._mac(_pack_u32(seq) + packet[:end]), packet[end:]):
            return None
        return bytes(packet[4:end])

    _open_none_etm = _open_none

    def _open_ctr(self, seq: int, packet: memoryview) -> Optional[bytes]:
        first = self._first
        if first is None:
            raise ProtocolError("a packet opened before its length was read")
        self._first = None
        end = len(packet) - self.tail
        body = first[4:] + m2.cipher_update(self._ctx, packet[len(first):end])
        if self.mac_digest and not _equal(self._mac(_pack_u32(seq) + first[:4] + body), packet[end:]):
            return None
        return body

    _open_cbc = _open_ctr

    def _open_ctr_etm(self, seq: int, packet: memoryview) -> Optional[bytes]:
        end = len(packet) - self.tail
        if not _equal(self._mac(_pack_u32(seq) + packet[:end]), packet[end:]):
            return None
        return m2.cipher_update(self._ctx, packet[4:end])

    _open_cbc_etm = _open_ctr_etm

    def _open_gcm(self, seq: int, packet: memoryview) -> Optional[bytes]:
        return m2.cipher_aead_open(self._ctx, self._gcm_iv(), packet, 4, 16)

    def _open_chachapoly(self, seq: int, packet: memoryview) -> Optional[bytes]:
        end = len(packet) - 16
        poly_key = m2.cipher_update_iv(self._main.ctx, _chacha_iv(0, seq), _ZERO32)
        if not _equal(m2.mac_oneshot("POLY1305", poly_key, packet[:end]), packet[end:]):
            return None
        return m2.cipher_update_iv(self._main.ctx, _chacha_iv(1, seq), packet[4:end])


def _equal(a: bytes, b: memoryview) -> bool:
    import hmac as _hmac
    return _hmac.compare_digest(a, bytes(b))


class PlainOpener:
    """The incoming direction before the first NEWKEYS: no cipher, no MAC."""

    name = b"none"
    kind = "none"
    block = 8
    length_apart = False
    etm = False
    tail = 0
    head = 4

    def length(self, seq: int, head: memoryview) -> int:
        n: int = _unpack_u32(head)[0]
        return n

    def open(self, seq: int, packet: memoryview) -> Optional[bytes]:
        return bytes(packet[4:])


class PlainSealer:
    """The outgoing direction before the first NEWKEYS."""

    name = b"none"
    kind = "none"
    block = 8
    length_apart = False
    tail = 0

    def seal(self, seq: int, body: bytes) -> bytes:
        return _pack_u32(len(body)) + body


# ---- key agreement --------------------------------------------------------------------------


class X25519:
    """An ephemeral X25519 key pair (RFC 7748) for curve25519-sha256 (RFC 8731)."""

    public_len = 32

    def __init__(self, private: Optional[bytes] = None) -> None:
        if private is None:
            self._key = EVP.generate_key("X25519")
        else:
            self._key = EVP.load_raw_private_key("X25519", private)
        self.public = self._key.raw_public_bytes()

    def shared(self, peer: bytes) -> int:
        """The shared secret as an integer (RFC 8731 section 3.1: the 32 bytes big-endian).

        :raises KeyExchangeFailed: for a bad peer key or an all-zero result.
        """
        return int.from_bytes(self.shared_bytes(peer), "big")

    def shared_bytes(self, peer: bytes) -> bytes:
        """The 32 bytes of the shared secret (RFC 7748 section 6.1).

        :raises KeyExchangeFailed: for a bad peer key or an all-zero result.
        """
        if len(peer) != 32:
            raise KeyExchangeFailed("the peer's X25519 key is %d bytes, not 32" % len(peer), local=False)
        try:
            secret = self._key.derive(EVP.load_raw_public_key("X25519", peer))
        except EVP.EVPError as e:
            raise KeyExchangeFailed("X25519 failed: %s" % e, local=False) from None
        if not any(secret):
            raise KeyExchangeFailed("X25519 gave the all-zero secret", local=False)
        return secret


HAS_MLKEM = bool(m2.HAS_ML_KEM)


class MLKEM768X25519:
    """The client's ephemeral ML-KEM-768 (FIPS 203) and X25519 keys of mlkem768x25519-sha256
    (draft-ietf-sshm-mlkem-hybrid-kex): :attr:`public` is C_INIT = the ML-KEM encapsulation
    key || the X25519 public key; :meth:`server_reply` is the server's half.  OpenSSL 3.5 only
    (:data:`HAS_MLKEM`)."""

    KEM_PUBLIC_LEN = 1184
    KEM_CIPHERTEXT_LEN = 1088

    def __init__(self) -> None:
        self._kem = EVP.generate_key("ML-KEM-768")
        self._x = X25519()
        self.public = self._kem.raw_public_bytes() + self._x.public

    def shared(self, s_reply: bytes) -> bytes:
        """K_PQ || K_CL from the server's S_REPLY (the ML-KEM ciphertext || its X25519 key).

        :raises KeyExchangeFailed: S_REPLY of the wrong length or a bad X25519 key.
        """
        ciphertext, x_peer = _split_hybrid(s_reply, self.KEM_CIPHERTEXT_LEN, "the server's hybrid reply")
        try:
            k_pq = self._kem.decapsulate(ciphertext)
        except EVP.EVPError as e:
            raise KeyExchangeFailed("ML-KEM decapsulation failed: %s" % e, local=False) from None
        return k_pq + self._x.shared_bytes(x_peer)

    @classmethod
    def server_reply(cls, c_init: bytes) -> Tuple[bytes, bytes]:
        """(S_REPLY, K_PQ || K_CL) for the client's C_INIT: an encapsulation to its ML-KEM key
        and a fresh X25519 key.

        :raises KeyExchangeFailed: C_INIT of the wrong length or with an invalid key.
        """
        kem_public, x_peer = _split_hybrid(c_init, cls.KEM_PUBLIC_LEN, "the client's hybrid key")
        try:
            ciphertext, k_pq = EVP.load_raw_public_key("ML-KEM-768", kem_public).encapsulate()
        except EVP.EVPError as e:
            raise KeyExchangeFailed("the client's ML-KEM-768 key is invalid: %s" % e, local=False) from None
        x = X25519()
        return ciphertext + x.public, k_pq + x.shared_bytes(x_peer)


def _split_hybrid(blob: bytes, n: int, what: str) -> Tuple[bytes, bytes]:
    """blob's ML-KEM part (n bytes) and its X25519 key (32), or KeyExchangeFailed."""
    if len(blob) != n + 32:
        raise KeyExchangeFailed("%s is %d bytes, not %d" % (what, len(blob), n + 32), local=False)
    return blob[:n], blob[n:]


_CURVES = {"nistp256": "prime256v1", "nistp384": "secp384r1", "nistp521": "secp521r1"}


class ECDH:
    """An ephemeral ECDH key pair on a NIST curve (RFC 5656 section 4)."""

    def __init__(self, curve: str) -> None:
        self._curve = _CURVES[curve]
        self._key = EC.gen_params(self._curve)
        self._key.gen_key()
        self.public = self._key.get_key(compressed=False)

    def shared(self, peer: bytes) -> int:
        """The shared x coordinate as an integer.

        :raises KeyExchangeFailed: if the peer's point is not on the curve.
        """
        try:
            pub = EC.pub_key_from_params(self._curve, peer)
            secret = self._key.compute_dh_key(pub)
        except (EC.ECError, ValueError) as e:
            raise KeyExchangeFailed("the peer's ECDH point is invalid: %s" % e, local=False) from None
        return int.from_bytes(secret, "big")


def _mpi(n: int) -> bytes:
    # OpenSSL's MPI format is RFC 4251's mpint.
    length = (n.bit_length() + 8) // 8 if n else 0
    return _U32.pack(length) + (n.to_bytes(length, "big") if length else b"")


class FFDH:
    """An ephemeral finite-field DH key pair for the group (p, g) (RFC 4253 section 8)."""

    def __init__(self, p: int, g: int) -> None:
        if p.bit_length() < 1024 or p.bit_length() > 8192 or not 1 < g < p - 1:
            raise KeyExchangeFailed("unusable DH group (%d-bit prime)" % p.bit_length(), local=False)
        self.p = p
        self._dh = DH.set_params(_mpi(p), _mpi(g))
        self._dh.gen_key()
        self.public = int.from_bytes(self._dh.pub[4:], "big")

    def shared(self, f: int) -> int:
        """The shared secret g^(xy) mod p.

        :raises KeyExchangeFailed: for f outside [2, p-2] (RFC 4253 section 8).
        """
        if not 1 < f < self.p - 1:
            raise KeyExchangeFailed("the peer's DH value is out of range", local=False)
        try:
            secret = self._dh.compute_key(_mpi(f))
        except DH.DHError as e:
            raise KeyExchangeFailed("DH failed: %s" % e, local=False) from None
        return int.from_bytes(secret, "big")


# ---- host and user keys (the operations under keys.py's formats) ----------------------------

PKey = EVP.PKey  # what every SSH key rests on: keys.py passes it back here, opaque


def _refused(fn: Callable[..., _T], *args: Any) -> _T:
    """fn(*args) with OpenSSL's refusal of the key turned into SSHKeyError."""
    try:
        return fn(*args)
    except EVP.EVPError as e:
        raise SSHKeyError("invalid key: %s" % e) from None


def generate_key(kind: str, **options: Any) -> PKey:
    """A new key of OpenSSL's type kind: 'ED25519', 'EC' (curve='P-256', ...), 'RSA' (bits=)."""
    return EVP.generate_key(kind, **options)


def raw_key(kind: str, data: bytes, private: bool) -> PKey:
    """An Ed25519 key ('ED25519') from its raw public or private bytes (RFC 8032).

    :raises SSHKeyError: if OpenSSL refuses them.
    """
    return _refused(EVP.load_raw_private_key if private else EVP.load_raw_public_key, kind, data)


def raw_bytes(pkey: PKey, private: bool = False) -> bytes:
    """The raw public (or private) bytes of an Ed25519 key."""
    return pkey.raw_private_bytes() if private else pkey.raw_public_bytes()


def key_from_params(kind: str, params: Dict[str, Any], private: bool) -> PKey:
    """An 'EC' or 'RSA' key from OpenSSL's parameters (EVP_PKEY_fromdata): 'group', 'pub',
    'priv' for EC; 'n', 'e', 'd', 'rsa-factor1', ... for RSA.

    :raises SSHKeyError: if OpenSSL refuses them.
    """
    return PKey(_refused(m2.pkey_fromdata, kind, params, 1 if private else 0), 1)


@overload
def key_param(pkey: PKey, name: str, kind: Literal["s"]) -> str: ...
@overload
def key_param(pkey: PKey, name: str, kind: Literal["o"]) -> bytes: ...
@overload
def key_param(pkey: PKey, name: str, kind: Literal["n"]) -> int: ...


def key_param(pkey: PKey, name: str, kind: str) -> Union[str, bytes, int]:
    """The key's OpenSSL parameter name (EVP_PKEY_get_params): kind 's' a str, 'o' bytes,
    'n' an int."""
    value: Union[str, bytes, int] = m2.pkey_get_param(pkey.pkey, name, kind)
    return value


def sign(pkey: PKey, data: bytes, digest: Optional[str] = None, padding: Optional[str] = None) -> bytes:
    """pkey's signature of data (EVP_DigestSign): DER for ECDSA, raw for Ed25519 and RSA.

    :param digest: None for Ed25519 (RFC 8032 hashes inside).
    :param padding: 'pkcs1' for RSA.
    """
    return pkey.sign(data, digest=digest, padding=padding)


def verify(pkey: PKey, sig: bytes, data: bytes, digest: Optional[str] = None,
           padding: Optional[str] = None) -> bool:
    """True if sig is pkey's signature of data (EVP_DigestVerify); options as :func:`sign`'s."""
    return pkey.verify(sig, data, digest=digest, padding=padding)


def load_pem_private_key(data: bytes, passphrase: Optional[bytes]) -> PKey:
    """A private key from PEM (PKCS#1, SEC1, PKCS#8, encrypted or not), never prompting.

    :raises SSHFormatError: OpenSSL cannot read it, or the passphrase is wrong.
    """
    try:
        return EVP.load_key_string(data, callback=lambda *args: passphrase)
    except EVP.EVPError as e:
        raise SSHFormatError("not a readable PEM private key: %s" % e) from None


def pkcs8_kdf_iterations(pem: bytes) -> int:
    """The PBKDF2 (or PBE) iteration count an ``ENCRYPTED PRIVATE KEY`` PEM block asks for,
    read before any decryption; 0 for other key derivations (scrypt is bounded by OpenSSL).

    :raises SSHFormatError: the block is not a well-formed encrypted PKCS#8 key.
    """
    m = re.search(rb"-----BEGIN ENCRYPTED PRIVATE KEY-----(.*?)-----END ENCRYPTED PRIVATE KEY-----", pem, re.S)
    if m is None:
        raise SSHFormatError("no ENCRYPTED PRIVATE KEY block")
    try:
        der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
        return m2.pkcs8_kdf_iterations(der)
    except (ValueError, binascii.Error, EVP.EVPError) as e:
        raise SSHFormatError("not a readable encrypted PKCS#8 key: %s" % e) from None


def load_pem_public_key(data: bytes) -> PKey:
    """A public key from PEM: SubjectPublicKeyInfo, or PKCS#1 ("RSA PUBLIC KEY").

    :raises SSHFormatError: neither.
    """
    try:
        return EVP.load_key_string_pubkey(data, callback=None)  # None: never a passphrase prompt
    except EVP.EVPError:
        pass
    if b"RSA PUBLIC KEY" in data.lstrip().split(b"\n", 1)[0]:
        try:
            rsa = RSA.load_pub_key_string(data)
        except RSA.RSAError:
            pass
        else:
            pkey = PKey()
            pkey.assign_rsa(rsa)
            return pkey
    raise SSHFormatError("not a PEM public key")


def private_pem(pkey: PKey, passphrase: Optional[bytes]) -> bytes:
    """The private key as PKCS#8 PEM, encrypted with AES-256-CBC when passphrase is given."""
    if passphrase:
        return pkey.as_pem(cipher="aes_256_cbc", callback=lambda *args: passphrase)
    return pkey.as_pem(cipher=None)


def file_cipher(name: bytes, key: bytes, iv: bytes, encrypt: bool, data: bytes,
                tag: bytes = b"") -> Optional[Tuple[bytes, bytes]]:
    """Encrypt or decrypt an OpenSSH private key file's section with the cipher called name
    (a :data:`CIPHERS` key): (output, tag), the tag for AES-GCM only; None if the tag given to
    decrypt with does not verify."""
    spec = CIPHERS[name]
    c = _cipher_ctx(spec.evp, key, iv, encrypt)
    try:
        if spec.tag_len and not encrypt:
            c.set_tag(tag)
        out = c.update(data)
        try:
            out += c.final()
        except EVP.EVPError:
            if encrypt:
                raise
            return None
        return out, (c.get_tag(spec.tag_len) if spec.tag_len and encrypt else b"")
    finally:
        c.close()


def bcrypt_pbkdf(password: bytes, salt: bytes, rounds: int, length: int) -> bytes:
    """OpenBSD's bcrypt_pbkdf, the KDF of encrypted OpenSSH private keys (C, in _ssh.i)."""
    return m2.ssh_bcrypt_pbkdf(password, salt, rounds, length)


# ---- key derivation (RFC 4253 section 7.2) ---------------------------------------------------


def derive_key(hash_name: str, k_mpint: bytes, h: bytes, letter: bytes, session_id: bytes, length: int) -> bytes:
    """HASH(K || H || letter || session_id), extended by HASH(K || H || K1 || ...) to length
    (K as the method encodes it: an mpint, or a string for the KEM hybrids)."""
    key = digest(hash_name, k_mpint + h + letter + session_id)
    while len(key) < length:
        key += digest(hash_name, k_mpint + h + key)
    return key[:length]


@overload
def make_protection(outgoing: Literal[True], cipher: bytes, mac: bytes, derive: Callable[[bytes, int], bytes],
                    letters: Tuple[bytes, bytes, bytes]) -> Union[Sealer, PlainSealer]: ...
@overload
def make_protection(outgoing: Literal[False], cipher: bytes, mac: bytes, derive: Callable[[bytes, int], bytes],
                    letters: Tuple[bytes, bytes, bytes]) -> Union[Opener, PlainOpener]: ...


def make_protection(outgoing: bool, cipher: bytes, mac: bytes, derive: Callable[[bytes, int], bytes],
                    letters: Tuple[bytes, bytes, bytes]) -> Union[Sealer, PlainSealer, Opener, PlainOpener]:
    """A Sealer (outgoing) or Opener for the negotiated cipher and MAC, keyed with derive(letter, n).

    letters are the IV, key and MAC-key letters of this direction ("A", "C", "E" client to server).
    """
    spec = CIPHERS[cipher]
    mspec = MACS[b"none"] if spec.kind in ("gcm", "chachapoly") else MACS[mac]
    if spec.kind == "none" and not mspec.digest:
        return PlainSealer() if outgoing else PlainOpener()
    iv = derive(letters[0], spec.iv_len) if spec.iv_len else b""
    key = derive(letters[1], spec.key_len) if spec.key_len else b""
    mac_key = derive(letters[2], mspec.key_len) if mspec.key_len else b""
    if outgoing:
        return Sealer(cipher, mac, key, iv, mac_key)
    return Opener(cipher, mac, key, iv, mac_key)
