"""DSA keys (M2Crypto's DSA module) over OpenSSL's DSA* API (FIPS 186)."""

from typing import Any, Callable, Optional, Tuple, Union

from M2Sec import BIO, m2, util
from M2Sec._base import Owned
from M2Sec._keyutil import PrivateKeyPEM, bio_ptr, read_file, to_bytes, write_file
from M2Sec.Err import M2SecError


class DSAError(M2SecError, ValueError):
    """A DSA operation failed."""


m2.dsa_init(DSAError)

_READONLY = ("p", "q", "g", "pub", "priv")


class DSA(PrivateKeyPEM, Owned):
    """DSA parameters, optionally with a key pair (DSA*)."""

    _free_fn = m2.dsa_free
    m2_dsa_free = staticmethod(m2.dsa_free)  # M2Crypto's name
    _write_key_fn, _write_key_plain_fn = m2.dsa_write_key_bio, m2.dsa_write_key_bio_no_cipher
    _key_error = DSAError

    def __init__(self, dsa: Any, _pyfree: int = 0) -> None:
        super().__init__(dsa, _pyfree)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _READONLY:
            raise DSAError("use set_params() / gen_key() to change %s" % name)
        super().__setattr__(name, value)

    @property
    def dsa(self) -> Any:
        return self._ptr()

    def __len__(self) -> int:
        return m2.dsa_keylen(self._ptr())

    p = property(lambda self: m2.dsa_get_p(self._ptr()), doc="The prime p as an MPI.")
    q = property(lambda self: m2.dsa_get_q(self._ptr()), doc="The subprime q as an MPI.")
    g = property(lambda self: m2.dsa_get_g(self._ptr()), doc="The generator g as an MPI.")
    pub = property(lambda self: m2.dsa_get_pub(self._ptr()), doc="The public value y as an MPI.")
    priv = property(lambda self: m2.dsa_get_priv(self._ptr()), doc="The private value x as an MPI.")

    def set_params(self, p: bytes, q: bytes, g: bytes) -> None:
        """Set p, q and g (MPIs)."""
        m2.dsa_set_pqg(self._ptr(), p, q, g)

    def gen_key(self) -> None:
        """DSA_generate_key: a key pair for the parameters."""
        m2.dsa_gen_key(self._ptr())

    def save_params_bio(self, bio: BIO.BIO) -> int:
        return m2.dsa_write_params_bio(self._ptr(), bio_ptr(bio, DSAError))

    def save_params(self, filename: Union[str, bytes]) -> int:
        with write_file(filename) as bio:
            return self.save_params_bio(bio)

    def save_pub_key_bio(self, bio: BIO.BIO) -> int:
        return m2.dsa_write_pub_key_bio(self._ptr(), bio_ptr(bio, DSAError))

    def save_pub_key(self, filename: Union[str, bytes]) -> int:
        with write_file(filename) as bio:
            return self.save_pub_key_bio(bio)

    def sign(self, digest: bytes) -> Tuple[bytes, bytes]:
        """DSA_do_sign: (r, s) as MPIs.  AssertionError without a key (M2Crypto's check)."""
        assert self.check_key(), "key is not initialised"
        return m2.dsa_sign(self._ptr(), to_bytes(digest))

    def verify(self, digest: bytes, r: bytes, s: bytes) -> int:
        """DSA_do_verify: 1 good, 0 bad."""
        assert self.check_key(), "key is not initialised"
        return m2.dsa_verify(self._ptr(), to_bytes(digest), r, s)

    def sign_asn1(self, digest: bytes) -> bytes:
        """DSA_sign: a DER Dss-Sig-Value."""
        assert self.check_key(), "key is not initialised"
        return m2.dsa_sign_asn1(self._ptr(), to_bytes(digest))

    def verify_asn1(self, digest: bytes, blob: bytes) -> int:
        assert self.check_key(), "key is not initialised"
        return m2.dsa_verify_asn1(self._ptr(), to_bytes(digest), blob)

    def check_key(self) -> int:
        """1 if the object holds a key pair, else 0."""
        return m2.dsa_check_key(self._ptr())


class DSA_pub(DSA):
    """A DSA public key: sign raises DSAError."""

    def sign(self, digest: bytes = b"") -> Tuple[bytes, bytes]:
        raise DSAError("DSA_pub object has no private key")

    sign_asn1 = sign  # type: ignore[assignment]

    def check_key(self) -> int:
        return m2.dsa_check_pub_key(self._ptr())


def gen_params(bits: int, callback: Optional[Callable[..., Any]] = util.genparam_callback) -> DSA:
    """DSA_generate_parameters_ex: new p, q, g of bits bits."""
    return DSA(m2.dsa_generate_parameters(bits, callback), 1)


def set_params(p: bytes, q: bytes, g: bytes) -> DSA:
    """A DSA object with the parameters p, q, g (MPIs) and no key."""
    dsa = DSA(m2.dsa_new(), 1)
    dsa.set_params(p, q, g)
    return dsa


def load_params_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> DSA:
    return DSA(m2.dsa_read_params(bio_ptr(bio, DSAError), callback), 1)


def load_params(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> DSA:
    with read_file(file) as bio:
        return load_params_bio(bio, callback)


def load_key_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> DSA:
    return DSA(m2.dsa_read_key(bio_ptr(bio, DSAError), callback), 1)


def load_key(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> DSA:
    with read_file(file) as bio:
        return load_key_bio(bio, callback)


def load_key_string(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> DSA:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_key_bio(bio, callback)


def load_pub_key_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> DSA_pub:
    return DSA_pub(m2.dsa_read_pub_key(bio_ptr(bio, DSAError), callback), 1)


def load_pub_key(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> DSA_pub:
    with read_file(file) as bio:
        return load_pub_key_bio(bio, callback)


def pub_key_from_params(p: bytes, q: bytes, g: bytes, pub: bytes) -> DSA_pub:
    """A DSA_pub from p, q, g and the public value (MPIs)."""
    dsa = DSA_pub(m2.dsa_new(), 1)
    m2.dsa_set_pqg(dsa._ptr(), p, q, g)
    m2.dsa_set_pub(dsa._ptr(), pub)
    return dsa
