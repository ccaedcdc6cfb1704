"""EVP: keys, digests and ciphers through OpenSSL's EVP API (M2Crypto's EVP module)."""

from typing import Any, Callable, Optional, Union

from M2Sec import BIO, m2, util
from M2Sec._keyutil import bio_ptr, cipher_ptr, to_bytes
from M2Sec._base import Owned
from M2Sec.Err import M2SecError


class EVPError(M2SecError, ValueError):
    """An EVP operation failed."""


m2.evp_init(EVPError)


class PKey(Owned):
    """An EVP_PKEY: a public or private key of any type (RSA, EC, DSA, DH, Ed25519, X448, ...).

    M2Crypto's API (sign_init/update/final, digest_sign, as_pem, ...) plus one-shot
    :meth:`sign`/:meth:`verify`/:meth:`encrypt`/:meth:`decrypt`/:meth:`derive` with RSA-PSS
    and RSA-OAEP options through EVP_PKEY_CTX.
    """

    _free_fn = m2.pkey_free

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
            m2.pkey_md_ctx_free(ctx)
        super().close()

    free = close

    def _context(self) -> Any:
        self._ptr()
        if self._ctx is None:
            self._ctx = m2.pkey_md_ctx_new()
        return self._ctx

    def reset_context(self, md: Optional[str] = "sha1") -> None:
        """Start over with a fresh context and digest md (None: the key's own, as Ed25519)."""
        if self._ctx is not None:
            m2.pkey_md_ctx_free(self._ctx)
            self._ctx = None
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
    def save_key_bio(self, bio: BIO.BIO, cipher: Optional[str] = "aes_128_cbc",
                     callback: Callable[..., Any] = util.passphrase_callback) -> int:
        """Write the private key as PEM PKCS#8, encrypted with cipher unless it is None."""
        ptr = bio_ptr(bio, EVPError)
        if cipher is None:
            return m2.pkey_write_pem_no_cipher(self._ptr(), ptr, callback)
        return m2.pkey_write_pem(self._ptr(), ptr, cipher_ptr(cipher, EVPError), callback)

    def save_key(self, file: Union[str, bytes], cipher: Optional[str] = "aes_128_cbc",
                 callback: Callable[..., Any] = util.passphrase_callback) -> int:
        with BIO.openfile(file, "wb") as bio:
            return self.save_key_bio(bio, cipher, callback)

    def as_pem(self, cipher: Optional[str] = "aes_128_cbc",
               callback: Callable[..., Any] = util.passphrase_callback) -> bytes:
        """The private key as PEM PKCS#8 bytes."""
        with BIO.MemoryBuffer() as bio:
            self.save_key_bio(bio, cipher, callback)
            return bio.read() or b""

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
        """Sign data (EVP_DigestSign).  digest is ignored for Ed25519/Ed448 (RFC 8032).

        :param padding: RSA only: 'pkcs1' (default) or 'pss' (RFC 8017 8.1).
        :param salt_length: PSS salt length; default: the digest's length.
        :raises EVPError: wrong key type or an unknown digest.
        """
        ctx = m2.pkey_md_ctx_new()
        try:
            self._init_sign(ctx, 0, digest, padding, salt_length, mgf1_digest)
            return m2.pkey_digest_sign(ctx, data)
        finally:
            m2.pkey_md_ctx_free(ctx)

    def verify(self, signature: bytes, data: bytes, *, digest: Optional[str] = "sha256",
               padding: Optional[str] = None, salt_length: Optional[int] = None,
               mgf1_digest: Optional[str] = None) -> bool:
        """True if signature is this key's signature of data (EVP_DigestVerify)."""
        ctx = m2.pkey_md_ctx_new()
        try:
            self._init_sign(ctx, 1, digest, padding, salt_length, mgf1_digest)
            return bool(m2.pkey_digest_verify(ctx, signature, data))
        finally:
            m2.pkey_md_ctx_free(ctx)

    def _init_sign(self, ctx: Any, verify: int, digest: Optional[str], padding: Optional[str],
                   salt_length: Optional[int], mgf1_digest: Optional[str]) -> None:
        key = self._ptr()
        if m2.pkey_get_base_id(key) in (m2.EVP_PKEY_ED25519, m2.EVP_PKEY_ED448):
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

    def _crypt(self, data: bytes, dec: int, padding: str, hash: str, mgf1_hash: Optional[str], label: bytes) -> Any:
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


def load_key_bio_pubkey(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    """Read a PEM SubjectPublicKeyInfo public key."""
    return _pkey(m2.pkey_read_pem_pubkey(bio_ptr(bio, EVPError), callback))


def load_key_pubkey(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
    with BIO.openfile(file) as bio:
        return load_key_bio_pubkey(bio, callback)


def load_key_string_pubkey(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> PKey:
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
    e.g. 'P-256'), 'ED25519', 'ED448', 'X25519', 'X448'.

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
    """An Ed25519/Ed448/X25519/X448 private key from its raw bytes (RFC 8032, RFC 7748)."""
    return _pkey(m2.pkey_new_raw(algorithm, data, 1))


def load_raw_public_key(algorithm: str, data: bytes) -> PKey:
    """An Ed25519/Ed448/X25519/X448 public key from its raw bytes."""
    return _pkey(m2.pkey_new_raw(algorithm, data, 0))
