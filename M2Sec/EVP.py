"""EVP: keys, digests and ciphers through OpenSSL's EVP API (M2Crypto's EVP module)."""

import functools
import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union, cast

from M2Sec import BIO, m2, util
from M2Sec._keyutil import PrivateKeyPEM, bio_ptr, to_bytes
from M2Sec._base import Handle, Owned, release
from M2Sec.Err import ClosedError, M2SecError


log = logging.getLogger(__name__)  # M2Crypto's module logger

class EVPError(M2SecError, ValueError):
    """An EVP operation failed."""


m2.evp_init(EVPError)

Buffer = Union[bytes, bytearray, memoryview]

# ---- algorithm look-up -------------------------------------------------------------------

# Algorithms OpenSSL 3 keeps in its legacy provider: asking for one loads that provider.
_LEGACY_DIGESTS = frozenset(("md4", "mdc2", "whirlpool"))
_LEGACY_CIPHERS = ("bf", "blowfish", "cast", "des_ecb", "des_cbc", "des_cfb", "des_ofb", "des-ecb", "des-cbc",
                   "des-cfb", "des-ofb", "desx", "rc2", "rc4", "rc5", "idea", "seed")

_md_cache: Dict[str, Any] = {}
# hot-path functions, looked up once
_digest_final = m2.digest_final
_hmac_ctx_new_init, _hmac_ctx_release = m2.hmac_ctx_new_init, m2.hmac_ctx_release
_hmac_update, _hmac_final = m2.hmac_update, m2.hmac_final
_cipher_is_aead = m2.cipher_is_aead
_cipher_cache: Dict[str, Any] = {}
_cipher_info: Dict[str, Any] = {}  # name -> (EVP_CIPHER, is AEAD, is CCM), for Cipher()
m2.cipher_base_init(_cipher_info)  # Cipher's C __init__ reads it too


def _load_legacy() -> bool:
    """Load OpenSSL's legacy provider once; False if this system does not have it."""
    from M2Sec import Provider  # Provider imports this module

    try:
        Provider.load("legacy")
    except Provider.ProviderError:
        return False
    return True


def _is_legacy_cipher(name: str) -> bool:
    n = name.lower()
    return n.startswith(_LEGACY_CIPHERS) or n in ("des", "des1")


def get_digest(algo: str) -> Any:
    """The EVP_MD called algo ("sha256", "SHA2-256", "sha3_256", "blake2b512", "shake128" ...).

    :raises TypeError: if algo is not a str.
    :raises EVPError: (a ValueError) if no loaded provider offers it.
    """
    md = _md_cache.get(algo)
    if md is not None:
        return md
    if not isinstance(algo, str):
        raise TypeError("the digest name must be a str, not %s" % type(algo).__name__)
    try:
        md = m2.get_digestbyname(algo)
    except EVPError:
        if algo.lower() not in _LEGACY_DIGESTS or not _load_legacy():
            raise EVPError("unknown message digest: %r" % (algo,)) from None
        md = m2.get_digestbyname(algo)
    _md_cache[algo] = md
    return md


def get_cipher(alg: str) -> Any:
    """The EVP_CIPHER called alg ("aes_128_cbc", "AES-256-GCM", "chacha20_poly1305" ...).

    Ciphers of OpenSSL's legacy provider (Blowfish, CAST5, single DES, RC2, RC4 ...) load it.

    :raises TypeError: if alg is not a str.
    :raises EVPError: (a ValueError) if the cipher is unknown or its provider is missing.
    """
    c = _cipher_cache.get(alg)
    if c is not None:
        return c
    if not isinstance(alg, str):
        raise TypeError("the cipher name must be a str, not %s" % type(alg).__name__)
    try:
        c = m2.get_cipherbyname(alg)
    except EVPError:
        if not _is_legacy_cipher(alg):
            raise EVPError("unknown cipher: %r" % (alg,)) from None
        if not _load_legacy():
            raise EVPError("cipher %r needs OpenSSL's legacy provider, which is not available" % (alg,)) from None
        try:
            c = m2.get_cipherbyname(alg)
        except EVPError:
            raise EVPError("unknown cipher: %r" % (alg,)) from None
    _cipher_cache[alg] = c
    return c


def _cipher_info_of(alg: str) -> Any:
    cipher = get_cipher(alg)
    aead = bool(_cipher_is_aead(cipher))
    info = _cipher_info[alg] = (cipher, aead, aead and m2.cipher_mode(cipher) == m2.EVP_CIPH_CCM_MODE)
    return info


def digest_names() -> List[str]:
    """The names of the digests the loaded providers offer."""
    return sorted(set(m2.digest_names()))


def cipher_names() -> List[str]:
    """The names of the ciphers the loaded providers offer."""
    return sorted(set(m2.cipher_names()))


# ---- digests -----------------------------------------------------------------------------


class MessageDigest(m2.DigestBase, Handle):
    """A running message digest (EVP_DigestInit_ex2/Update/Final_ex), M2Crypto's class.

    ``length`` sets the output size of an extendable-output function (shake128, shake256).
    The context lives in the C base (``m2.DigestBase``), which frees it when the object dies;
    ``update(data)`` is its C method: it returns 1 (M2Crypto's value) and releases the GIL for
    large buffers.

    :raises EVPError: (a ValueError) for an unknown algorithm.
    """

    _pyfree = 1
    _owner = None
    m2_md_ctx_free = staticmethod(m2.md_ctx_free)  # M2Crypto's name

    def __init__(self, algo: str, *, length: Optional[int] = None) -> None:
        md = _md_cache.get(algo)
        if md is None:
            md = get_digest(algo)
        self._open(md)
        self.md = md
        self.algo = algo
        self._length = length

    @property
    def ctx(self) -> Any:
        return self._ptr()

    @property
    def digest_size(self) -> int:
        """The size of the digest in bytes (the chosen length for SHAKE)."""
        return self._length if self._length is not None else m2.digest_size(self.md)

    @property
    def block_size(self) -> int:
        return m2.digest_block_size(self.md)

    @property
    def name(self) -> str:
        """OpenSSL's name of the algorithm."""
        return cast(str, m2.digest_name(self.md))

    def final(self) -> bytes:
        """The digest of everything added.  The object cannot be updated afterwards."""
        p = self._p
        if p is None:
            raise ClosedError("MessageDigest has been freed")
        if self._length is not None:
            return m2.digest_final_xof(p, self._length)
        return _digest_final(p)

    digest = final

    def hexdigest(self) -> str:
        return self.final().hex()

    def copy(self) -> "MessageDigest":
        """An independent copy of the running digest (EVP_MD_CTX_copy_ex)."""
        other = MessageDigest.__new__(MessageDigest)
        other._open(self)
        other.md, other.algo, other._length = self.md, self.algo, self._length
        return other


def digest(algo: str, data: Buffer, *, length: Optional[int] = None) -> bytes:
    """The digest of one buffer (EVP_Digest), as fast per call as hashlib.

    ``length`` is the output size of shake128/shake256.

    :raises EVPError: (a ValueError) for an unknown algorithm.
    :raises TypeError: if data is not bytes-like.
    """
    if length is not None:
        md = MessageDigest(algo, length=length)
        md.update(data)
        return md.final()
    return m2.digest_oneshot(algo, data)


# ---- HMAC --------------------------------------------------------------------------------


class HMAC(Owned):
    """A running HMAC (RFC 2104) on an HMAC_CTX keyed with a fetched digest, M2Crypto's class.

    :raises EVPError: (a ValueError) for an unknown algorithm.
    """

    _free_fn = m2.hmac_ctx_release
    m2_hmac_ctx_free = staticmethod(m2.hmac_ctx_release)  # M2Crypto's name
    _pyfree = 1
    _owner = None

    def __init__(self, key: Buffer, algo: str = "sha256") -> None:
        md = _md_cache.get(algo)
        if md is None:
            md = get_digest(algo)
        self._p = cast(Any, _hmac_ctx_new_init(key, md))
        self.md = md
        self.algo = algo

    def __del__(self) -> None:
        try:
            p = self._p
        except AttributeError:  # __init__ raised
            return
        if p is not None:
            self._p = None
            _hmac_ctx_release(p)

    @property
    def ctx(self) -> Any:
        return self._ptr()

    @property
    def digest_size(self) -> int:
        return m2.digest_size(self.md)

    def reset(self, key: Buffer) -> None:
        """Start again with key."""
        m2.hmac_init(self._ptr(), key, self.md)

    def update(self, data: Buffer) -> None:
        """Add data.  Releases the GIL for large buffers."""
        p = self._p
        if p is None:
            raise ClosedError("HMAC has been freed")
        _hmac_update(p, data)

    def final(self) -> bytes:
        """The MAC of everything added since the key was set."""
        p = self._p
        if p is None:
            raise ClosedError("HMAC has been freed")
        return _hmac_final(p)

    digest = final

    def copy(self) -> "HMAC":
        """An independent copy of the running HMAC."""
        other = HMAC.__new__(HMAC)
        other._p = cast(Any, m2.hmac_ctx_copy(self._ptr()))
        other.md, other.algo = self.md, self.algo
        return other


def hmac(key: Buffer, data: Buffer, algo: str = "sha256") -> bytes:
    """The HMAC of data with key (M2Crypto's function).

    :raises EVPError: (a ValueError) for an unknown algorithm.
    """
    return m2.hmac_oneshot(key, data, algo)


def hmac_digest(key: Buffer, data: Buffer, algo: str = "sha256") -> bytes:
    """The HMAC (RFC 2104) of one buffer, as fast per call as ``hmac.digest``.

    :raises EVPError: (a ValueError) for an unknown algorithm.
    :raises TypeError: if key or data is not bytes-like.
    """
    return m2.hmac_oneshot(key, data, algo)


# ---- ciphers -----------------------------------------------------------------------------


class Cipher(m2.CipherBase, Handle):
    """A symmetric cipher (EVP_CipherInit_ex2/Update/Final_ex), M2Crypto's class.

    ``op`` is 1 to encrypt, 0 to decrypt.  With ``key_as_bytes`` the key is derived from
    ``key`` with EVP_BytesToKey (digest ``d``, ``salt``, ``i`` iterations); an IV shorter
    than the cipher's is then padded with zero bytes.

    AEAD modes (GCM, CCM, OCB, ChaCha20-Poly1305) take AAD with :meth:`update_aad` and the tag
    with :meth:`set_tag`/:meth:`get_tag`.  When decrypting with them, :meth:`update` returns
    ``b""`` and :meth:`final` returns the whole plaintext once the tag is verified: a tag
    mismatch raises EVPError and releases no plaintext.  ``tag_len`` sets the tag length of
    CCM (default 16) and OCB.

    The context lives in the C base (``m2.CipherBase``), which frees it when the object dies;
    ``update()``, ``final()`` and ``get_tag()`` are its C methods: update releases the GIL for
    large buffers, final raises EVPError on a bad padding or an AEAD tag mismatch, get_tag
    gives the tag after final() when encrypting (16 bytes unless ``tag_len`` or its
    ``length`` argument says otherwise).  ``ctx`` is the object itself, which every
    ``m2.cipher_*`` function takes.

    :raises EVPError: (a ValueError) for an unknown cipher, a wrong key or IV length.
    :raises TypeError: if key or iv is not bytes-like.

    .. method:: update(data) -> bytes

       The output for ``data`` (any bytes-like object) so far.

    .. method:: final() -> bytes

       The last block; raises EVPError on a bad padding or an AEAD tag mismatch.

    .. method:: get_tag(length=None) -> bytes

       The AEAD tag, after :meth:`final` when encrypting.
    """

    _pyfree = 1
    _owner = None
    m2_cipher_ctx_free = staticmethod(m2.cipher_ctx_free)  # M2Crypto's name

    if TYPE_CHECKING:  # the signature; at run time the C base's __init__ serves it
        def __init__(self, alg: str, key: Buffer, iv: Optional[Buffer], op: int, key_as_bytes: int = 0,
                     d: str = "md5", salt: bytes = b"12345678", i: int = 1, padding: int = 1, *,
                     tag_len: Optional[int] = None) -> None: ...

    # Cipher(alg, key, iv, op) with a cipher looked up before is served by the C base's
    # __init__; every other call comes here.
    def _init(self, alg: str, key: Buffer, iv: Optional[Buffer], op: int, key_as_bytes: int = 0,
              d: str = "md5", salt: bytes = b"12345678", i: int = 1, padding: int = 1, *,
              tag_len: Optional[int] = None) -> None:
        info = _cipher_info.get(alg)
        if info is None:
            info = _cipher_info_of(alg)
        cipher, aead, ccm = info
        if key_as_bytes:
            key = m2.bytes_to_key(cipher, get_digest(d), key, salt, iv, i)
            ivlen = m2.cipher_iv_length(cipher)
            if iv is not None and 0 < len(iv) < ivlen:
                iv = bytes(iv) + bytes(ivlen - len(iv))
        self.cipher = cipher
        self.op = op
        if aead:
            if ccm:
                if tag_len is None:
                    tag_len = 16
            if tag_len:
                self._tag_len = tag_len
        self._open(cipher, key, iv, op, tag_len or 0)
        if aead:
            if ccm:
                self._ccm: Optional[List[bytes]] = []
            if not op:
                self._hold: Optional[List[bytes]] = []
        if padding != 1:
            m2.cipher_set_padding(cast("m2.EVP_CIPHER_CTX_ptr", self), padding)

    @property
    def ctx(self) -> Any:
        return self._ptr()

    def _update_ccm(self, data: Optional[Buffer]) -> bytes:
        ctx = self._ptr()
        aad, self._ccm = self._ccm, None
        if data is None:  # final() before any update(): an empty message
            data = b""
        m2.cipher_set_data_length(ctx, len(memoryview(data)))
        for a in aad or ():
            m2.cipher_update_aad(ctx, a)
        out = m2.cipher_update(ctx, data)  # CCM checks the tag here when decrypting
        self._hold = None
        return out

    def update_aad(self, data: Buffer) -> None:
        """Add additional authenticated data (AEAD modes), before the first update()."""
        ccm = self._ccm
        if ccm is not None:
            ccm.append(bytes(data))
            return
        m2.cipher_update_aad(self._ptr(), data)

    def set_padding(self, padding: int = 1) -> int:
        """Turn PKCS#7 padding on (1) or off (0); returns 1."""
        return m2.cipher_set_padding(self._ptr(), padding)

    def set_iv_len(self, length: int) -> int:
        """Set an AEAD mode's IV length (EVP_CTRL_AEAD_SET_IVLEN)."""
        return m2.cipher_ctrl_set(self._ptr(), m2.EVP_CTRL_AEAD_SET_IVLEN, length)

    def set_tag(self, tag: Buffer) -> int:
        """Give the expected tag before final() when decrypting with an AEAD mode."""
        return m2.cipher_ctrl_set(self._ptr(), m2.EVP_CTRL_AEAD_SET_TAG, tag)


# ---- keyed AEAD objects (cryptography's names and semantics) --------------------------------


class InvalidTag(EVPError):
    """The authentication tag did not match: the data, the associated data, the nonce or the
    key differ from those used to encrypt (cryptography's name)."""


class UnsupportedAlgorithm(EVPError):
    """This OpenSSL does not offer the algorithm (cryptography's name)."""


m2.aead_init(InvalidTag)
_aead_crypt, _aead_seal, _aead_open = m2.aead_crypt, m2.aead_seal, m2.aead_open


class _AEAD(Owned):
    """An AEAD cipher keyed once: the algorithm is fetched once per process and each direction
    keeps a keyed EVP_CIPHER_CTX, so a message costs one IV set and one pass.  One object may
    be used from several threads at once.  The GIL is released for messages past 4 KiB.

    The C state lives in a capsule; ``encrypt``/``decrypt`` are bound to it on the instance
    (functools.partial: no Python frame per message), and ``close()`` makes them raise.
    """

    _free_fn = m2.aead_free
    _kind = m2.AEAD_GCM
    _key_bits: Tuple[int, ...] = (128, 192, 256)
    _name = "AES-%d-GCM"

    def __init__(self, key: Buffer, _tag_length: int = 16) -> None:
        self._p = None
        self._pyfree = 1
        self._owner = None
        bits = len(memoryview(key)) * 8
        if bits not in self._key_bits:
            raise ValueError(self._key_error())
        self._p = p = m2.aead_new(self._alg_name(bits), self._kind, key, _tag_length)
        self._bind(p)

    def _bind(self, p: Any) -> None:
        self.encrypt = functools.partial(_aead_seal, p)  # type: ignore[method-assign]
        self.decrypt = functools.partial(_aead_open, p)  # type: ignore[method-assign]

    def close(self) -> None:
        """Free the keyed contexts and wipe the key; further use raises ClosedError."""
        p, self._p = getattr(self, "_p", None), None
        self.__dict__.pop("encrypt", None)
        self.__dict__.pop("decrypt", None)
        if p is not None:
            m2.aead_free(p)

    free = close

    @classmethod
    def _alg_name(cls, bits: int) -> str:
        return cls._name % bits if "%" in cls._name else cls._name

    @classmethod
    def _key_error(cls) -> str:
        b = ["%d" % k for k in cls._key_bits]
        return "%s key must be %s, or %s bits." % (cls.__name__, ", ".join(b[:-1]), b[-1])

    @classmethod
    def generate_key(cls, bit_length: int) -> bytes:
        """A new random key of bit_length bits (one of the sizes the class takes)."""
        if not isinstance(bit_length, int):
            raise TypeError("bit_length must be an integer")
        if bit_length not in cls._key_bits:
            b = ["%d" % k for k in cls._key_bits]
            raise ValueError("bit_length must be %s, or %s" % (", ".join(b[:-1]), b[-1]))
        from M2Sec import Rand
        return Rand.rand_bytes(bit_length // 8)

    def __del__(self) -> None:
        pass  # the capsule frees the C state with its last reference

    def encrypt(self, nonce: Buffer, data: Buffer, associated_data: Optional[Buffer]) -> bytes:
        """The ciphertext of data followed by the tag.

        :raises ValueError: for a nonce of the wrong size.
        :raises OverflowError: for data longer than 2**31 - 1 bytes.
        """
        p = self._p
        if p is None:
            raise ClosedError("%s has been freed" % type(self).__name__)
        return _aead_crypt(p, 1, nonce, data, associated_data, None)

    def decrypt(self, nonce: Buffer, data: Buffer, associated_data: Optional[Buffer]) -> bytes:
        """The plaintext of data (ciphertext followed by the tag).

        :raises InvalidTag: if the tag does not match; no plaintext is released.
        """
        p = self._p
        if p is None:
            raise ClosedError("%s has been freed" % type(self).__name__)
        return _aead_open(p, nonce, data, associated_data)

    def encrypt_into(self, nonce: Buffer, data: Buffer, associated_data: Optional[Buffer], buf: Any) -> int:
        """Encrypt into buf, which must have exactly len(data) + tag length bytes; returns that size."""
        return cast(int, _aead_crypt(self._ptr(), 1, nonce, data, associated_data, buf))

    def decrypt_into(self, nonce: Buffer, data: Buffer, associated_data: Optional[Buffer], buf: Any) -> int:
        """Decrypt into buf, which must have exactly len(data) - tag length bytes; returns that size.

        :raises InvalidTag: if the tag does not match (buf is then wiped).
        """
        return cast(int, _aead_crypt(self._ptr(), 0, nonce, data, associated_data, buf))


class AESGCM(_AEAD):
    """AES-GCM (NIST SP 800-38D) with a 128, 192 or 256-bit key, 8 to 128-byte nonces (12 is
    the one to use) and 16-byte tags."""


class ChaCha20Poly1305(_AEAD):
    """ChaCha20-Poly1305 (RFC 8439): a 32-byte key, 12-byte nonces, 16-byte tags."""

    _kind = m2.AEAD_CHACHA
    _key_bits = (256,)
    _name = "ChaCha20-Poly1305"

    @classmethod
    def _key_error(cls) -> str:
        return "ChaCha20Poly1305 key must be 32 bytes."

    @classmethod
    def generate_key(cls) -> bytes:  # type: ignore[override]
        """A new random 32-byte key."""
        return super().generate_key(256)


class AESCCM(_AEAD):
    """AES-CCM (NIST SP 800-38C, RFC 3610): 7 to 13-byte nonces (a shorter nonce allows
    longer messages) and a tag of tag_length bytes (4, 6, ... 16)."""

    _kind = m2.AEAD_CCM
    _name = "AES-%d-CCM"

    def __init__(self, key: Buffer, tag_length: int = 16) -> None:
        if not isinstance(tag_length, int):
            raise TypeError("tag_length must be an integer")
        if tag_length not in (4, 6, 8, 10, 12, 14, 16):
            raise ValueError("Invalid tag_length")
        super().__init__(key, tag_length)


class AESOCB3(_AEAD):
    """AES-OCB3 (RFC 7253): 12 to 15-byte nonces, 16-byte tags."""

    _kind = m2.AEAD_OCB
    _name = "AES-%d-OCB"


class AESSIV(_AEAD):
    """AES-SIV (RFC 5297), misuse-resistant: a 256, 384 or 512-bit key (two AES keys), no nonce
    (pass one as the last item of associated_data), output tag || ciphertext."""

    _kind = m2.AEAD_SIV
    _key_bits = (256, 384, 512)

    @classmethod
    def _alg_name(cls, bits: int) -> str:
        return "AES-%d-SIV" % (bits // 2)

    def _bind(self, p: Any) -> None:
        self.encrypt = functools.partial(_aead_seal, p, None)  # type: ignore[method-assign]
        self.decrypt = functools.partial(_aead_open, p, None)  # type: ignore[method-assign]

    def encrypt(self, data: Buffer, associated_data: Optional[List[Buffer]]) -> bytes:  # type: ignore[override]
        """The 16-byte tag (the synthetic IV) followed by the ciphertext."""
        p = self._p
        if p is None:
            raise ClosedError("AESSIV has been freed")
        return _aead_seal(p, None, data, associated_data)

    def decrypt(self, data: Buffer, associated_data: Optional[List[Buffer]]) -> bytes:  # type: ignore[override]
        """The plaintext of data (tag || ciphertext).

        :raises InvalidTag: if the tag does not match.
        """
        p = self._p
        if p is None:
            raise ClosedError("AESSIV has been freed")
        return _aead_open(p, None, data, associated_data)

    def encrypt_into(self, data: Buffer, associated_data: Optional[List[Buffer]], buf: Any) -> int:  # type: ignore[override]
        return super().encrypt_into(cast(Buffer, None), data, cast(Optional[Buffer], associated_data), buf)

    def decrypt_into(self, data: Buffer, associated_data: Optional[List[Buffer]], buf: Any) -> int:  # type: ignore[override]
        return super().decrypt_into(cast(Buffer, None), data, cast(Optional[Buffer], associated_data), buf)


class AESGCMSIV(_AEAD):
    """AES-GCM-SIV (RFC 8452): 128, 192 or 256-bit keys, 12-byte nonces; OpenSSL 3.2 or newer
    (``m2.HAS_AES_GCM_SIV``).

    :raises UnsupportedAlgorithm: on an older OpenSSL.
    """

    _kind = m2.AEAD_GCMSIV
    _name = "AES-%d-GCM-SIV"

    def __init__(self, key: Buffer) -> None:
        if not m2.HAS_AES_GCM_SIV:
            raise UnsupportedAlgorithm("AES-GCM-SIV needs OpenSSL 3.2 or newer")
        super().__init__(key)


# ---- key derivation ----------------------------------------------------------------------


def pbkdf2(password: Buffer, salt: Buffer, iter: int, keylen: int, *, algo: str = "sha1") -> bytes:
    """PBKDF2 (RFC 8018, PKCS5_PBKDF2_HMAC) with HMAC-SHA1 as M2Crypto's, or ``algo``."""
    return m2.pkcs5_pbkdf2_hmac(password, salt, iter, keylen, get_digest(algo))


def hkdf(key: Buffer, length: int, *, salt: Buffer = b"", info: Buffer = b"", algo: str = "sha256") -> bytes:
    """HKDF extract-and-expand (RFC 5869) on OpenSSL's EVP_KDF "HKDF".

    :raises EVPError: if length exceeds 255 hash lengths or algo is unknown.
    """
    return m2.kdf_hkdf(key, salt, info, get_digest(algo), length, 0)


def hkdf_extract(key: Buffer, *, salt: Buffer = b"", algo: str = "sha256") -> bytes:
    """HKDF-Extract (RFC 5869, section 2.2): the pseudorandom key."""
    md = get_digest(algo)
    return m2.kdf_hkdf(key, salt, b"", md, m2.digest_size(md), 1)


def hkdf_expand(prk: Buffer, length: int, *, info: Buffer = b"", algo: str = "sha256") -> bytes:
    """HKDF-Expand (RFC 5869, section 2.3) of a pseudorandom key."""
    return m2.kdf_hkdf(prk, b"", info, get_digest(algo), length, 2)


def scrypt(password: Buffer, salt: Buffer, *, n: int = 2 ** 14, r: int = 8, p: int = 1, length: int = 64,
           maxmem: int = 0) -> bytes:
    """scrypt (RFC 7914) on OpenSSL's EVP_KDF "SCRYPT"; ``maxmem`` 0 keeps OpenSSL's limit.

    :raises EVPError: for parameters OpenSSL rejects (n not a power of 2, too much memory).
    """
    return m2.kdf_scrypt(password, salt, n, r, p, maxmem, length)


class PKey(PrivateKeyPEM, Owned):
    """An EVP_PKEY: a public or private key of any type (RSA, EC, DSA, DH, Ed25519, X448, ...).

    M2Crypto's API (sign_init/update/final, digest_sign, as_pem, ...) plus one-shot
    :meth:`sign`/:meth:`verify`/:meth:`encrypt`/:meth:`decrypt`/:meth:`derive` with RSA-PSS
    and RSA-OAEP options through EVP_PKEY_CTX.
    """

    _free_fn = m2.pkey_free
    _write_key_fn, _write_key_plain_fn = m2.pkey_write_pem, m2.pkey_write_pem_no_cipher
    _key_error = EVPError

    def __init__(self, pkey: Any = None, _pyfree: int = 0, md: Optional[str] = "sha1") -> None:
        if pkey is None:
            pkey, _pyfree = m2.pkey_new(), 1
        super().__init__(pkey, _pyfree)
        self._ctx: Any = None
        self.md = md

    @property
    def pkey(self) -> Any:
        return self._ptr()

    def close(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is not None:
            release(ctx, m2.md_ctx_free)  # a digest_sign() being entered holds it
        super().close()

    free = close

    def _context(self) -> Any:
        self._ptr()
        if self._ctx is None:
            self._ctx = m2.md_ctx_new()
        return self._ctx

    def reset_context(self, md: Optional[str] = "sha1") -> None:
        """Start over with a fresh context and digest md (None: the key's own, as Ed25519)."""
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            release(ctx, m2.md_ctx_free)
        self.md = md

    def _md_name(self) -> str:
        if not self.md:
            raise EVPError("this operation needs a digest; call reset_context('sha256')")
        return self.md

    # -- M2Crypto: EVP_SignInit/Update/Final, EVP_VerifyInit/Update/Final
    def sign_init(self) -> None:
        m2.pkey_digest_init(self._context(), self._md_name())

    def sign_update(self, data: bytes) -> None:
        m2.pkey_digest_update(self._context(), data)

    update = sign_update

    def sign_final(self) -> bytes:
        """EVP_SignFinal: the signature over what was fed since sign_init()."""
        return m2.pkey_sign_final(self._context(), self._ptr())

    final = sign_final

    def get_key_identifier(self) -> bytes:
        """The RFC 5280 section 4.2.1.2 (method 1) key identifier: SHA-1 of the public key bits."""
        return m2.pkey_get_raw_pub_key_sha1(self._ptr())

    def verify_init(self) -> None:
        m2.pkey_digest_init(self._context(), self._md_name())

    def verify_update(self, data: bytes) -> int:
        m2.pkey_digest_update(self._context(), data)
        return 1

    def verify_final(self, sign: bytes) -> int:
        """EVP_VerifyFinal: 1 good, 0 bad."""
        return m2.pkey_verify_final(self._context(), sign, self._ptr())

    # -- M2Crypto: EVP_DigestSign*/EVP_DigestVerify*
    def digest_sign_init(self) -> None:
        m2.pkey_digest_sign_init_ex(self._context(), self._ptr(), self.md or None, 0, 0, None, m2.PKEY_SALTLEN_UNSET)

    def digest_sign_update(self, data: bytes) -> None:
        m2.pkey_digest_sign_update(self._context(), data)

    def digest_sign_final(self) -> bytes:
        return m2.pkey_digest_sign_final(self._context())

    def digest_sign(self, data: bytes) -> bytes:
        """EVP_DigestSign: sign data in one shot (after digest_sign_init)."""
        return m2.pkey_digest_sign(self._context(), data)

    def digest_verify_init(self) -> None:
        m2.pkey_digest_sign_init_ex(self._context(), self._ptr(), self.md or None, 1, 0, None, m2.PKEY_SALTLEN_UNSET)

    def digest_verify_update(self, data: bytes) -> int:
        m2.pkey_digest_verify_update(self._context(), data)
        return 1

    def digest_verify_final(self, sign: bytes) -> int:
        return m2.pkey_digest_verify_final(self._context(), sign)

    def digest_verify(self, sign: bytes, data: bytes) -> int:
        """EVP_DigestVerify: 1 if sign is a signature of data, else 0."""
        return m2.pkey_digest_verify(self._context(), sign, data)

    # -- M2Crypto: legacy key objects
    def assign_rsa(self, rsa: Any, capture: int = 1) -> int:
        """Put an RSA key in this PKey.  The two share the key by reference count, so
        either may be freed first (capture is accepted for M2Crypto and changes nothing)."""
        return m2.pkey_set1_rsa(self._ptr(), rsa._ptr())

    def get_rsa(self) -> Any:
        """The RSA key inside, as an RSA_pub (raises EVPError, a ValueError, for another type)."""
        from M2Sec import RSA
        return RSA.RSA_pub(m2.pkey_get1_rsa(self._ptr()), 1)

    def assign_ec(self, ec: Any, capture: int = 1) -> int:
        """Put an EC key in this PKey (shared by reference count)."""
        return m2.pkey_set1_ec(self._ptr(), ec._ptr())

    def get_ec(self) -> Any:
        """The EC key inside, as an EC_pub (raises EVPError for another type)."""
        from M2Sec import EC
        return EC.EC_pub(m2.pkey_get1_ec(self._ptr()), 1)

    # -- serialisation
    def public_pem(self) -> bytes:
        """The public key as PEM SubjectPublicKeyInfo (PEM_write_bio_PUBKEY)."""
        with BIO.MemoryBuffer() as bio:
            m2.pkey_write_pem_pubkey(self._ptr(), bio._ptr())
            return bio.read() or b""

    def as_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo (i2d_PUBKEY)."""
        return m2.pkey_get1_der_pub(self._ptr())

    get_der = get_der_pub = public_der = as_der

    def private_der(self) -> bytes:
        """The private key as unencrypted DER PKCS#8 (RFC 5208/5958)."""
        return m2.pkey_write_der(self._ptr())

    def raw_public_bytes(self) -> bytes:
        """The raw public key of Ed25519/Ed448/X25519/X448 (RFC 8032, RFC 7748)."""
        return m2.pkey_get_raw(self._ptr(), 0)

    def raw_private_bytes(self) -> bytes:
        """The raw private key of Ed25519/Ed448/X25519/X448."""
        return m2.pkey_get_raw(self._ptr(), 1)

    # -- properties
    def size(self) -> int:
        """The maximum size of a signature or ciphertext, in bytes (EVP_PKEY_get_size)."""
        return m2.pkey_size(self._ptr())

    def bits(self) -> int:
        return m2.pkey_bits(self._ptr())

    @property
    def key_type(self) -> str:
        """OpenSSL's name of the key type ('RSA', 'EC', 'ED25519', ...; '' when empty)."""
        return m2.pkey_type_name(self._ptr())

    def is_private(self) -> bool:
        return bool(m2.pkey_is_private(self._ptr()))

    def get_modulus(self) -> bytes:
        """The RSA modulus as upper-case hex; EVPError (a ValueError) for other keys."""
        return m2.pkey_get_modulus(self._ptr())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PKey):
            return NotImplemented
        return bool(m2.pkey_eq(self._ptr(), other._ptr()))

    __hash__ = object.__hash__

    # -- one-shot operations (EVP_PKEY_CTX)
    def sign(self, data: bytes, *, digest: Optional[str] = "sha256", padding: Optional[str] = None,
             salt_length: Optional[int] = None, mgf1_digest: Optional[str] = None) -> bytes:
        """Sign data (EVP_DigestSign).  digest is ignored for the keys that sign the message itself
        (Ed25519/Ed448, RFC 8032; ML-DSA and SLH-DSA on OpenSSL 3.5).

        :param padding: RSA only: 'pkcs1' (default) or 'pss' (RFC 8017 8.1).
        :param salt_length: PSS salt length; default: the digest's length.
        :raises EVPError: wrong key type or an unknown digest.
        """
        ctx = cast("m2.EVP_MD_CTX_ptr", m2.md_ctx_new())
        try:
            self._init_sign(ctx, 0, digest, padding, salt_length, mgf1_digest)
            return m2.pkey_digest_sign(ctx, data)
        finally:
            m2.md_ctx_free(ctx)

    def verify(self, signature: bytes, data: bytes, *, digest: Optional[str] = "sha256",
               padding: Optional[str] = None, salt_length: Optional[int] = None,
               mgf1_digest: Optional[str] = None) -> bool:
        """True if signature is this key's signature of data (EVP_DigestVerify)."""
        ctx = cast("m2.EVP_MD_CTX_ptr", m2.md_ctx_new())
        try:
            self._init_sign(ctx, 1, digest, padding, salt_length, mgf1_digest)
            return bool(m2.pkey_digest_verify(ctx, signature, data))
        finally:
            m2.md_ctx_free(ctx)

    def _init_sign(self, ctx: Any, verify: int, digest: Optional[str], padding: Optional[str],
                   salt_length: Optional[int], mgf1_digest: Optional[str]) -> None:
        key = self._ptr()
        if m2.pkey_sign_takes_no_digest(key):  # Ed25519, Ed448; ML-DSA, SLH-DSA (OpenSSL 3.5)
            digest = None
        pad = _PADDINGS.get(padding, None) if padding is not None else 0
        if pad is None or pad not in (0, m2.pkcs1_padding, m2.pkcs1_pss_padding):
            raise ValueError("padding must be 'pkcs1' or 'pss' for signatures")
        if pad != m2.pkcs1_pss_padding and (salt_length is not None or mgf1_digest):
            raise ValueError("salt_length and mgf1_digest need padding='pss'")
        if pad == m2.pkcs1_pss_padding and salt_length is None:
            salt_length = m2.RSA_PSS_SALTLEN_DIGEST
        saltlen = m2.PKEY_SALTLEN_UNSET if salt_length is None else salt_length
        m2.pkey_digest_sign_init_ex(ctx, key, digest, verify, pad, mgf1_digest, saltlen)

    def encrypt(self, data: bytes, *, padding: str = "oaep", hash: str = "sha256",
                mgf1_hash: Optional[str] = None, label: bytes = b"") -> bytes:
        """EVP_PKEY_encrypt: RSA-OAEP (RFC 8017 7.1) with any hash and label by default;
        padding 'pkcs1' or 'none' otherwise.

        :raises EVPError: data too long for the key, wrong key type, unknown hash.
        """
        return self._crypt(data, 0, padding, hash, mgf1_hash, label)

    def decrypt(self, data: bytes, *, padding: str = "oaep", hash: str = "sha256",
                mgf1_hash: Optional[str] = None, label: bytes = b"") -> bytes:
        """EVP_PKEY_decrypt: the inverse of :meth:`encrypt` with the same options."""
        return self._crypt(data, 1, padding, hash, mgf1_hash, label)

    def _crypt(self, data: bytes, dec: int, padding: str, hash: str, mgf1_hash: Optional[str], label: bytes) -> bytes:
        pad = _PADDINGS.get(padding)
        if pad is None or pad == m2.pkcs1_pss_padding:
            raise ValueError("padding must be 'oaep', 'pkcs1' or 'none'")
        oaep = pad == m2.pkcs1_oaep_padding
        if not oaep and (label or mgf1_hash):
            raise ValueError("label and mgf1_hash need padding='oaep'")
        return m2.pkey_crypt(self._ptr(), data, dec, pad, hash if oaep else None,
                             (mgf1_hash or hash) if oaep else None, label)

    def derive(self, peer: "PKey") -> bytes:
        """EVP_PKEY_derive: the shared secret with peer's public key (X25519/X448 per
        RFC 7748, ECDH, DH)."""
        if not isinstance(peer, PKey):
            raise TypeError("peer must be a PKey")
        return m2.pkey_derive(self._ptr(), peer._ptr())

    # -- key encapsulation (FIPS 203 ML-KEM on OpenSSL 3.5: m2.HAS_ML_KEM)
    def encapsulate(self) -> Tuple[bytes, bytes]:
        """(ciphertext, shared secret) for this public key (EVP_PKEY_encapsulate).

        :raises EVPError: a key that cannot encapsulate (not a KEM key).
        """
        return m2.pkey_encapsulate(self._ptr())

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """The shared secret of ciphertext, made by :meth:`encapsulate` for this key's public
        half (EVP_PKEY_decapsulate).  ML-KEM answers a wrong ciphertext of the right length
        with an unrelated secret (implicit rejection, FIPS 203 section 6.3).

        :raises EVPError: not a KEM private key, or a ciphertext of the wrong length.
        """
        return m2.pkey_decapsulate(self._ptr(), ciphertext)


_PADDINGS = {"pkcs1": m2.pkcs1_padding, "oaep": m2.pkcs1_oaep_padding, "pss": m2.pkcs1_pss_padding,
             "none": m2.no_padding, None: 0}


def _pkey(ptr: Any) -> PKey:
    return PKey(ptr, 1)


def load_key_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    """Read a PEM private key of any type; a wrong passphrase raises EVPError."""
    return _pkey(m2.pkey_read_pem(bio_ptr(bio, EVPError), callback))


def load_key(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    with BIO.openfile(file) as bio:
        return load_key_bio(bio, callback)


def load_key_string(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_key_bio(bio, callback)


def load_key_bio_pubkey(bio: BIO.BIO, callback: Optional[Callable[..., Any]] = util.passphrase_callback) -> PKey:
    """Read a PEM SubjectPublicKeyInfo public key."""
    return _pkey(m2.pkey_read_pem_pubkey(bio_ptr(bio, EVPError), callback))


def load_key_pubkey(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    with BIO.openfile(file) as bio:
        return load_key_bio_pubkey(bio, callback)


def load_key_string_pubkey(string: Union[str, bytes], callback: Optional[Callable[..., Any]] = util.passphrase_callback) -> PKey:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_key_bio_pubkey(bio, callback)


def load_key_der(data: bytes) -> PKey:
    """A private key from DER (PKCS#8 or the type's own form; d2i_AutoPrivateKey)."""
    return _pkey(m2.pkey_read_der(data))


def load_pub_key_der(data: bytes) -> PKey:
    """A public key from DER SubjectPublicKeyInfo (d2i_PUBKEY)."""
    return _pkey(m2.pkey_read_der_pubkey(data))


def generate_key(algorithm: str, *, bits: Optional[int] = None, curve: Optional[str] = None) -> PKey:
    """A new key (EVP_PKEY_keygen): 'RSA' (bits, default 2048), 'RSA-PSS', 'EC' (curve,
    e.g. 'P-256'), 'ED25519', 'ED448', 'X25519', 'X448'; on OpenSSL 3.5 also 'ML-KEM-768' (and
    -512, -1024; m2.HAS_ML_KEM), 'ML-DSA-65' (and -44, -87; m2.HAS_ML_DSA) and 'SLH-DSA-SHA2-128s'
    and the other FIPS 205 sets (m2.HAS_SLH_DSA).

    :raises EVPError: unknown algorithm or curve, bad size.
    """
    alg = algorithm.upper()
    if alg in ("RSA", "RSA-PSS"):
        bits = 2048 if bits is None else bits
        if not 512 <= bits <= 16384:
            raise ValueError("RSA key size must be 512..16384 bits")
    elif bits is not None:
        raise ValueError("bits applies to RSA keys only")
    if alg == "EC" and not curve:
        raise ValueError("EC keys need a curve, e.g. curve='P-256'")
    return _pkey(m2.pkey_keygen(algorithm, bits or 0, curve))


def load_raw_private_key(algorithm: str, data: bytes) -> PKey:
    """An Ed25519/Ed448/X25519/X448 private key from its raw bytes (RFC 8032, RFC 7748); on
    OpenSSL 3.5 an ML-KEM/ML-DSA/SLH-DSA one from its encoded form."""
    return _pkey(m2.pkey_new_raw(algorithm, data, 1))


def load_raw_public_key(algorithm: str, data: bytes) -> PKey:
    """An Ed25519/Ed448/X25519/X448 public key from its raw bytes (ML-KEM, ML-DSA, SLH-DSA:
    the encoded public key of FIPS 203/204/205)."""
    return _pkey(m2.pkey_new_raw(algorithm, data, 0))
