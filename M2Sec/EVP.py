"""EVP: keys, digests and ciphers through OpenSSL's EVP API (M2Crypto's EVP module)."""

from typing import Any, Dict, List, Optional, Union

from M2Sec import m2
from M2Sec._base import Owned
from M2Sec.Err import ClosedError, M2SecError


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
_md_ctx_free, _digest_update, _digest_final = m2.md_ctx_free, m2.digest_update, m2.digest_final
_hmac_ctx_free, _hmac_update, _hmac_final = m2.hmac_ctx_free, m2.hmac_update, m2.hmac_final
_cipher_ctx_free, _cipher_update, _cipher_final = m2.cipher_ctx_free, m2.cipher_update, m2.cipher_final
_cipher_is_aead = m2.cipher_is_aead
_cipher_cache: Dict[str, Any] = {}


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


def digest_names() -> List[str]:
    """The names of the digests the loaded providers offer."""
    return sorted(set(m2.digest_names()))


def cipher_names() -> List[str]:
    """The names of the ciphers the loaded providers offer."""
    return sorted(set(m2.cipher_names()))


# ---- digests -----------------------------------------------------------------------------


class MessageDigest(Owned):
    """A running message digest (EVP_DigestInit_ex2/Update/Final_ex), M2Crypto's class.

    ``length`` sets the output size of an extendable-output function (shake128, shake256).

    :raises EVPError: (a ValueError) for an unknown algorithm.
    """

    _free_fn = m2.md_ctx_free

    def __init__(self, algo: str, *, length: Optional[int] = None) -> None:
        md = _md_cache.get(algo)
        if md is None:
            md = get_digest(algo)
        self._p = m2.md_ctx_new_init(md)
        self._pyfree = 1
        self._owner = None
        self.md = md
        self.algo = algo
        self._length = length

    def __del__(self) -> None:
        p = getattr(self, "_p", None)
        if p is not None:
            self._p = None
            _md_ctx_free(p)

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
        return m2.digest_name(self.md)

    def update(self, data: Buffer) -> int:
        """Add data; returns 1 (M2Crypto's value).  Releases the GIL for large buffers."""
        p = self._p
        if p is None:
            raise ClosedError("MessageDigest has been freed")
        return _digest_update(p, data)

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
        other._p = m2.md_ctx_new()
        other._pyfree = 1
        other._owner = None
        other.md, other.algo, other._length = self.md, self.algo, self._length
        m2.md_ctx_copy(other._p, self._ptr())
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
    """A running HMAC (RFC 2104) on OpenSSL's EVP_MAC "HMAC", M2Crypto's class.

    :raises EVPError: (a ValueError) for an unknown algorithm.
    """

    _free_fn = m2.hmac_ctx_free

    def __init__(self, key: Buffer, algo: str = "sha256") -> None:
        md = _md_cache.get(algo)
        if md is None:
            md = get_digest(algo)
        self._p = m2.hmac_ctx_new_init(key, md)
        self._pyfree = 1
        self._owner = None
        self.md = md
        self.algo = algo

    def __del__(self) -> None:
        p = getattr(self, "_p", None)
        if p is not None:
            self._p = None
            _hmac_ctx_free(p)

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
        other._p = m2.hmac_ctx_copy(self._ptr())
        other._pyfree = 1
        other._owner = None
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


class Cipher(Owned):
    """A symmetric cipher (EVP_CipherInit_ex2/Update/Final_ex), M2Crypto's class.

    ``op`` is 1 to encrypt, 0 to decrypt.  With ``key_as_bytes`` the key is derived from
    ``key`` with EVP_BytesToKey (digest ``d``, ``salt``, ``i`` iterations); an IV shorter
    than the cipher's is then padded with zero bytes.

    AEAD modes (GCM, CCM, OCB, ChaCha20-Poly1305) take AAD with :meth:`update_aad` and the tag
    with :meth:`set_tag`/:meth:`get_tag`.  When decrypting with them, :meth:`update` returns
    ``b""`` and :meth:`final` returns the whole plaintext once the tag is verified: a tag
    mismatch raises EVPError and releases no plaintext.  ``tag_len`` sets the tag length of
    CCM (default 16) and OCB.

    :raises EVPError: (a ValueError) for an unknown cipher, a wrong key or IV length.
    :raises TypeError: if key or iv is not bytes-like.
    """

    _free_fn = m2.cipher_ctx_free

    def __init__(self, alg: str, key: Buffer, iv: Optional[Buffer], op: int, key_as_bytes: int = 0,
                 d: str = "md5", salt: bytes = b"12345678", i: int = 1, padding: int = 1, *,
                 tag_len: Optional[int] = None) -> None:
        cipher = _cipher_cache.get(alg)
        if cipher is None:
            cipher = get_cipher(alg)
        if key_as_bytes:
            key = m2.bytes_to_key(cipher, get_digest(d), key, salt, iv, i)
            ivlen = m2.cipher_iv_length(cipher)
            if iv is not None and 0 < len(iv) < ivlen:
                iv = bytes(iv) + bytes(ivlen - len(iv))
        self._p = ctx = m2.cipher_ctx_new()
        self._pyfree = 1
        self._owner = None
        self.cipher = cipher
        self.op = op
        self._hold: Optional[List[bytes]] = None
        self._ccm: Optional[List[bytes]] = None
        if _cipher_is_aead(cipher):
            mode = m2.cipher_mode(cipher)
            if mode == m2.EVP_CIPH_CCM_MODE:
                self._ccm = []
                if tag_len is None:
                    tag_len = 16
            if not op:
                self._hold = []
        self._tag_len = tag_len or 16
        m2.cipher_init_ex(ctx, cipher, key, iv, op, tag_len or 0)
        if padding != 1:
            m2.cipher_set_padding(ctx, padding)

    @property
    def ctx(self) -> Any:
        return self._ptr()

    def __del__(self) -> None:
        p = getattr(self, "_p", None)
        if p is not None:
            self._p = None
            _cipher_ctx_free(p)

    def update(self, data: Buffer) -> bytes:
        """Encrypt or decrypt data; returns the output available so far.  Releases the GIL
        for large buffers.  CCM takes all its data in one call."""
        p = self._p
        if p is None:
            raise ClosedError("Cipher has been freed")
        if self._ccm is not None:
            return self._update_ccm(data)
        out = _cipher_update(p, data)
        if self._hold is not None:
            self._hold.append(out)
            return b""
        return out

    def _update_ccm(self, data: Buffer) -> bytes:
        ctx = self._ptr()
        aad, self._ccm = self._ccm, None
        m2.cipher_set_data_length(ctx, len(memoryview(data)))
        for a in aad:
            m2.cipher_update_aad(ctx, a)
        out = m2.cipher_update(ctx, data)  # CCM checks the tag here when decrypting
        self._hold = None
        return out

    def update_aad(self, data: Buffer) -> None:
        """Add additional authenticated data (AEAD modes), before the first update()."""
        if self._ccm is not None:
            self._ccm.append(bytes(data))
            return
        m2.cipher_update_aad(self._ptr(), data)

    def final(self) -> bytes:
        """The last output (and, when decrypting with an AEAD mode, the whole plaintext).

        :raises EVPError: on a bad padding or an AEAD tag mismatch.
        """
        ctx = self._ptr()
        if self._ccm is not None:
            self._update_ccm(b"")
        hold, self._hold = self._hold, None
        out = _cipher_final(ctx)  # raises on a tag mismatch: the held plaintext is dropped
        if hold:
            hold.append(out)
            return b"".join(hold)
        return out

    def set_padding(self, padding: int = 1) -> int:
        """Turn PKCS#7 padding on (1) or off (0); returns 1."""
        return m2.cipher_set_padding(self._ptr(), padding)

    def set_iv_len(self, length: int) -> int:
        """Set an AEAD mode's IV length (EVP_CTRL_AEAD_SET_IVLEN)."""
        return m2.cipher_ctrl_set(self._ptr(), m2.EVP_CTRL_AEAD_SET_IVLEN, length)

    def set_tag(self, tag: Buffer) -> int:
        """Give the expected tag before final() when decrypting with an AEAD mode."""
        return m2.cipher_ctrl_set(self._ptr(), m2.EVP_CTRL_AEAD_SET_TAG, tag)

    def get_tag(self, length: Optional[int] = None) -> bytes:
        """The tag after final() when encrypting with an AEAD mode (16 bytes unless
        ``tag_len`` or ``length`` says otherwise)."""
        return m2.cipher_ctrl_get(self._ptr(), m2.EVP_CTRL_AEAD_GET_TAG, length or self._tag_len)


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


class PKey(Owned):
    """An EVP_PKEY: a public or private key of any type."""

    _free_fn = m2.pkey_free

    def __init__(self, pkey: Any = None, _pyfree: int = 0, md: str = "sha1") -> None:
        if pkey is None:
            pkey, _pyfree = m2.pkey_new(), 1
        super().__init__(pkey, _pyfree)
        self.md = md

    def size(self) -> int:
        """The maximum size of a signature or ciphertext, in bytes."""
        return m2.pkey_size(self._ptr())

    def bits(self) -> int:
        return m2.pkey_bits(self._ptr())

    def get_der_pub(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        return m2.pkey_get1_der_pub(self._ptr())
