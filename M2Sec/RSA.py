"""RSA keys (M2Crypto's RSA module) over OpenSSL's RSA* API.

New code should prefer :class:`M2Sec.EVP.PKey`, whose ``sign``/``verify``/``encrypt``/``decrypt``
take RSA-PSS and RSA-OAEP options (any hash, MGF1 hash and label) through EVP_PKEY_CTX.
"""

import sys
from typing import Any, Callable, Dict, Optional, Tuple, Union

from M2Sec import BIO, m2, util
from M2Sec._base import Owned
from M2Sec._keyutil import PrivateKeyPEM, bio_ptr, read_file, to_bytes, write_file
from M2Sec.Err import M2SecError


class RSAError(M2SecError, ValueError):
    """An RSA operation failed (OpenSSL's reason is in the message)."""


m2.rsa_init(RSAError)

no_padding: int = m2.no_padding
pkcs1_padding: int = m2.pkcs1_padding
pkcs1_oaep_padding: int = m2.pkcs1_oaep_padding
x931_padding: int = m2.x931_padding
pkcs1_pss_padding: int = m2.pkcs1_pss_padding


def _md(algo: str) -> Any:
    if not isinstance(algo, str):
        raise TypeError("algo must be a digest name such as 'sha256'")
    return m2.get_digestbyname(algo)


class RSA(PrivateKeyPEM, Owned):
    """An RSA key pair (RSA*)."""

    _free_fn = m2.rsa_free
    _write_key_fn, _write_key_plain_fn = m2.rsa_write_key, m2.rsa_write_key_no_cipher
    _key_error = RSAError

    def __init__(self, rsa: Any, _pyfree: int = 0) -> None:
        super().__init__(rsa, _pyfree)
        self._ex_data: Dict[int, Any] = {}

    @property
    def rsa(self) -> Any:
        """The RSA* pointer (M2Crypto's attribute)."""
        return self._ptr()

    def _ptr(self) -> Any:  # RSA keys are M2Crypto-errors when closed, and ClosedError
        return super()._ptr()

    def __len__(self) -> int:
        return m2.rsa_size(self._ptr()) * 8

    @property
    def e(self) -> bytes:
        """The public exponent as an MPI (4-byte length, big-endian)."""
        return m2.rsa_get_e(self._ptr())

    @property
    def n(self) -> bytes:
        """The modulus as an MPI (4-byte length, big-endian)."""
        return m2.rsa_get_n(self._ptr())

    def pub(self) -> Tuple[bytes, bytes]:
        """(e, n) as MPIs."""
        if not m2.rsa_check_pub_key(self._ptr()):
            raise RSAError("key is not initialised")
        return self.e, self.n

    def _need_pub(self) -> Any:
        p = self._ptr()
        if not m2.rsa_check_pub_key(p):
            raise RSAError("key is not initialised")
        return p

    def public_encrypt(self, data: bytes, padding: int) -> bytes:
        """RSA_public_encrypt with padding (pkcs1_padding, pkcs1_oaep_padding or no_padding)."""
        return m2.rsa_public_encrypt(self._need_pub(), data, padding)

    def public_decrypt(self, data: bytes, padding: int) -> bytes:
        """RSA_public_decrypt: recover what private_encrypt produced."""
        return m2.rsa_public_decrypt(self._need_pub(), data, padding)

    def private_encrypt(self, data: bytes, padding: int) -> bytes:
        """RSA_private_encrypt (pkcs1_padding, x931_padding or no_padding)."""
        return m2.rsa_private_encrypt(self._need_pub(), data, padding)

    def private_decrypt(self, data: bytes, padding: int) -> bytes:
        """RSA_private_decrypt: raises RSAError on a padding error."""
        return m2.rsa_private_decrypt(self._need_pub(), data, padding)

    save_pem = PrivateKeyPEM.save_key

    def save_key_der_bio(self, bio: BIO.BIO) -> int:
        return m2.rsa_write_key_der(self._ptr(), bio_ptr(bio, RSAError))

    def save_key_der(self, file: Union[str, bytes]) -> int:
        with write_file(file) as bio:
            return self.save_key_der_bio(bio)

    def save_pub_key_bio(self, bio: BIO.BIO) -> int:
        """Write the public key as PEM SubjectPublicKeyInfo."""
        return m2.rsa_write_pub_key(self._ptr(), bio_ptr(bio, RSAError))

    def save_pub_key(self, file: Union[str, bytes]) -> int:
        with write_file(file) as bio:
            return self.save_pub_key_bio(bio)

    def check_key(self) -> int:
        """RSA_check_key: 1 for a consistent private key, else 0."""
        return m2.rsa_check_key(self._ptr())

    def sign(self, digest: bytes, algo: str = "sha256") -> bytes:
        """RSA_sign: a PKCS #1 v1.5 signature of a digest made with algo."""
        nid = getattr(m2, "NID_" + algo, None) if isinstance(algo, str) else None
        if nid is None:
            raise ValueError("unknown algorithm", algo)
        return m2.rsa_sign(self._ptr(), digest, nid)

    def verify(self, data: bytes, signature: bytes, algo: str = "sha256") -> int:
        """RSA_verify: 1, or RSAError when the signature does not match."""
        nid = getattr(m2, "NID_" + algo, None) if isinstance(algo, str) else None
        if nid is None:
            raise ValueError("unknown algorithm", algo)
        return m2.rsa_verify(self._ptr(), data, signature, nid)

    def sign_rsassa_pss(self, digest: bytes, algo: str = "sha256", salt_length: int = 20) -> bytes:
        """RSASSA-PSS (RFC 8017 8.1) of a digest; MGF1 uses the same hash."""
        encoded = m2.rsa_padding_add_pkcs1_pss(self._ptr(), digest, _md(algo), salt_length)
        return self.private_encrypt(encoded, no_padding)

    def verify_rsassa_pss(self, data: bytes, signature: bytes, algo: str = "sha256", salt_length: int = 20) -> int:
        """1 if signature is a RSASSA-PSS signature of the digest data, else 0."""
        md = _md(algo)
        try:
            plain = self.public_decrypt(signature, no_padding)
        except RSAError:
            return 0
        return m2.rsa_verify_pkcs1_pss(self._ptr(), data, plain, md, salt_length)

    def set_ex_data(self, index: int, data: Any) -> int:
        """Attach data to this key object under index (kept on the Python object)."""
        self._ptr()
        self._ex_data[index] = data
        return 1

    def get_ex_data(self, index: int) -> Any:
        self._ptr()
        return self._ex_data.get(index)


class RSA_pub(RSA):
    """An RSA public key: the private operations raise RSAError."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("e", "n"):
            raise RSAError("use new_pub_key() to set (e, n)")
        super().__setattr__(name, value)

    def private_encrypt(self, *args: Any, **kw: Any) -> bytes:
        raise RSAError("RSA_pub object has no private key")

    def private_decrypt(self, *args: Any, **kw: Any) -> bytes:
        raise RSAError("RSA_pub object has no private key")

    def save_key(self, file: Union[str, bytes], *args: Any, **kw: Any) -> int:
        return self.save_pub_key(file)

    def save_key_bio(self, bio: BIO.BIO, *args: Any, **kw: Any) -> int:
        return self.save_pub_key_bio(bio)

    def check_key(self) -> int:
        return m2.rsa_check_pub_key(self._ptr())


def rsa_error() -> None:
    """Raise RSAError with the oldest queued OpenSSL error."""
    from M2Sec import Err
    raise RSAError(Err.get_error_message() or "RSA error")


def keygen_callback(p: int, n: int) -> int:
    """M2Crypto's default progress callback: prints a character per event."""
    sys.stdout.write(".+*\n"[p] if 0 <= p < 4 else "?")
    sys.stdout.flush()
    return 1


def gen_key(bits: int, e: int, callback: Optional[Callable[..., Any]] = keygen_callback) -> RSA:
    """RSA_generate_key_ex: a new key pair of bits bits with public exponent e.

    :raises ValueError: bits outside 512..16384 or an even e.
    """
    return RSA(m2.rsa_generate_key(bits, e, callback), 1)


def load_key_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> RSA:
    """Read a PEM RSA private key; a wrong passphrase raises RSAError."""
    return RSA(m2.rsa_read_key(bio_ptr(bio, RSAError), callback), 1)


def load_key(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> RSA:
    with read_file(file) as bio:
        return load_key_bio(bio, callback)


def load_key_string(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> RSA:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_key_bio(bio, callback)


def load_pub_key_bio(bio: BIO.BIO) -> RSA_pub:
    """Read a PEM SubjectPublicKeyInfo RSA public key."""
    return RSA_pub(m2.rsa_read_pub_key(bio_ptr(bio, RSAError)), 1)


def load_pub_key(file: Union[str, bytes]) -> RSA_pub:
    with read_file(file) as bio:
        return load_pub_key_bio(bio)


def load_pub_key_string(string: Union[str, bytes]) -> RSA_pub:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_pub_key_bio(bio)


def new_pub_key(e_n: Tuple[bytes, bytes]) -> RSA_pub:
    """An RSA_pub from (e, n), both MPIs (4-byte big-endian length, then the number)."""
    e, n = e_n
    rsa = RSA_pub(m2.rsa_new(), 1)
    m2.rsa_set_en(rsa._ptr(), e, n)
    return rsa
