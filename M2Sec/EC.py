"""Elliptic-curve keys (M2Crypto's EC module) over OpenSSL's EC_KEY* API: ECDSA, ECDH,
the built-in curves (``NID_*``), compressed and uncompressed points (SEC 1)."""

from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from M2Sec import BIO, m2, util
from M2Sec._base import Owned
from M2Sec._keyutil import PrivateKeyPEM, bio_ptr, read_file, to_bytes, write_file
from M2Sec.Err import M2SecError


EC_Key = bytes  # M2Crypto's alias

class ECError(M2SecError, ValueError):
    """An EC operation failed."""


class ECLoadError(ECError, OSError):
    """A key could not be read (M2Crypto raised IOError here; this is both)."""


m2.ec_init(ECError)

NID_X9_62_c2pnb163v1: int = m2.NID_X9_62_c2pnb163v1
NID_X9_62_c2pnb163v2: int = m2.NID_X9_62_c2pnb163v2
NID_X9_62_c2pnb163v3: int = m2.NID_X9_62_c2pnb163v3
NID_X9_62_c2pnb176v1: int = m2.NID_X9_62_c2pnb176v1
NID_X9_62_c2pnb208w1: int = m2.NID_X9_62_c2pnb208w1
NID_X9_62_c2pnb272w1: int = m2.NID_X9_62_c2pnb272w1
NID_X9_62_c2pnb304w1: int = m2.NID_X9_62_c2pnb304w1
NID_X9_62_c2pnb368w1: int = m2.NID_X9_62_c2pnb368w1
NID_X9_62_c2tnb191v1: int = m2.NID_X9_62_c2tnb191v1
NID_X9_62_c2tnb191v2: int = m2.NID_X9_62_c2tnb191v2
NID_X9_62_c2tnb191v3: int = m2.NID_X9_62_c2tnb191v3
NID_X9_62_c2tnb239v1: int = m2.NID_X9_62_c2tnb239v1
NID_X9_62_c2tnb239v2: int = m2.NID_X9_62_c2tnb239v2
NID_X9_62_c2tnb239v3: int = m2.NID_X9_62_c2tnb239v3
NID_X9_62_c2tnb359v1: int = m2.NID_X9_62_c2tnb359v1
NID_X9_62_c2tnb431r1: int = m2.NID_X9_62_c2tnb431r1
NID_X9_62_prime192v1: int = m2.NID_X9_62_prime192v1
NID_X9_62_prime192v2: int = m2.NID_X9_62_prime192v2
NID_X9_62_prime192v3: int = m2.NID_X9_62_prime192v3
NID_X9_62_prime239v1: int = m2.NID_X9_62_prime239v1
NID_X9_62_prime239v2: int = m2.NID_X9_62_prime239v2
NID_X9_62_prime239v3: int = m2.NID_X9_62_prime239v3
NID_X9_62_prime256v1: int = m2.NID_X9_62_prime256v1
NID_brainpoolP160r1: int = m2.NID_brainpoolP160r1
NID_brainpoolP192r1: int = m2.NID_brainpoolP192r1
NID_brainpoolP224r1: int = m2.NID_brainpoolP224r1
NID_brainpoolP256r1: int = m2.NID_brainpoolP256r1
NID_brainpoolP256t1: int = m2.NID_brainpoolP256t1
NID_brainpoolP320r1: int = m2.NID_brainpoolP320r1
NID_brainpoolP384r1: int = m2.NID_brainpoolP384r1
NID_brainpoolP384t1: int = m2.NID_brainpoolP384t1
NID_brainpoolP512r1: int = m2.NID_brainpoolP512r1
NID_brainpoolP512t1: int = m2.NID_brainpoolP512t1
NID_ipsec3: int = m2.NID_ipsec3
NID_ipsec4: int = m2.NID_ipsec4
NID_secp112r1: int = m2.NID_secp112r1
NID_secp112r2: int = m2.NID_secp112r2
NID_secp128r1: int = m2.NID_secp128r1
NID_secp128r2: int = m2.NID_secp128r2
NID_secp160k1: int = m2.NID_secp160k1
NID_secp160r1: int = m2.NID_secp160r1
NID_secp160r2: int = m2.NID_secp160r2
NID_secp192k1: int = m2.NID_secp192k1
NID_secp224k1: int = m2.NID_secp224k1
NID_secp224r1: int = m2.NID_secp224r1
NID_secp256k1: int = m2.NID_secp256k1
NID_secp384r1: int = m2.NID_secp384r1
NID_secp521r1: int = m2.NID_secp521r1
NID_sect113r1: int = m2.NID_sect113r1
NID_sect113r2: int = m2.NID_sect113r2
NID_sect131r1: int = m2.NID_sect131r1
NID_sect131r2: int = m2.NID_sect131r2
NID_sect163k1: int = m2.NID_sect163k1
NID_sect163r1: int = m2.NID_sect163r1
NID_sect163r2: int = m2.NID_sect163r2
NID_sect193r1: int = m2.NID_sect193r1
NID_sect193r2: int = m2.NID_sect193r2
NID_sect233k1: int = m2.NID_sect233k1
NID_sect233r1: int = m2.NID_sect233r1
NID_sect239k1: int = m2.NID_sect239k1
NID_sect283k1: int = m2.NID_sect283k1
NID_sect283r1: int = m2.NID_sect283r1
NID_sect409k1: int = m2.NID_sect409k1
NID_sect409r1: int = m2.NID_sect409r1
NID_sect571k1: int = m2.NID_sect571k1
NID_sect571r1: int = m2.NID_sect571r1
NID_sm2: int = m2.NID_sm2
NID_wap_wsg_idm_ecid_wtls1: int = m2.NID_wap_wsg_idm_ecid_wtls1
NID_wap_wsg_idm_ecid_wtls10: int = m2.NID_wap_wsg_idm_ecid_wtls10
NID_wap_wsg_idm_ecid_wtls11: int = m2.NID_wap_wsg_idm_ecid_wtls11
NID_wap_wsg_idm_ecid_wtls12: int = m2.NID_wap_wsg_idm_ecid_wtls12
NID_wap_wsg_idm_ecid_wtls3: int = m2.NID_wap_wsg_idm_ecid_wtls3
NID_wap_wsg_idm_ecid_wtls4: int = m2.NID_wap_wsg_idm_ecid_wtls4
NID_wap_wsg_idm_ecid_wtls5: int = m2.NID_wap_wsg_idm_ecid_wtls5
NID_wap_wsg_idm_ecid_wtls6: int = m2.NID_wap_wsg_idm_ecid_wtls6
NID_wap_wsg_idm_ecid_wtls7: int = m2.NID_wap_wsg_idm_ecid_wtls7
NID_wap_wsg_idm_ecid_wtls8: int = m2.NID_wap_wsg_idm_ecid_wtls8
NID_wap_wsg_idm_ecid_wtls9: int = m2.NID_wap_wsg_idm_ecid_wtls9
NID_prime192v1: int = m2.NID_X9_62_prime192v1
NID_prime256v1: int = m2.NID_X9_62_prime256v1
NID_prime192v2: int = m2.NID_X9_62_prime192v2
NID_prime192v3: int = m2.NID_X9_62_prime192v3
NID_prime239v1: int = m2.NID_X9_62_prime239v1
NID_prime239v2: int = m2.NID_X9_62_prime239v2
NID_prime239v3: int = m2.NID_X9_62_prime239v3
NID_c2pnb163v1: int = m2.NID_X9_62_c2pnb163v1
NID_c2pnb163v2: int = m2.NID_X9_62_c2pnb163v2
NID_c2pnb163v3: int = m2.NID_X9_62_c2pnb163v3
NID_c2pnb176v1: int = m2.NID_X9_62_c2pnb176v1
NID_c2tnb191v1: int = m2.NID_X9_62_c2tnb191v1
NID_c2tnb191v2: int = m2.NID_X9_62_c2tnb191v2
NID_c2tnb191v3: int = m2.NID_X9_62_c2tnb191v3
NID_c2pnb208w1: int = m2.NID_X9_62_c2pnb208w1
NID_c2tnb239v1: int = m2.NID_X9_62_c2tnb239v1
NID_c2tnb239v2: int = m2.NID_X9_62_c2tnb239v2
NID_c2tnb239v3: int = m2.NID_X9_62_c2tnb239v3
NID_c2pnb272w1: int = m2.NID_X9_62_c2pnb272w1
NID_c2pnb304w1: int = m2.NID_X9_62_c2pnb304w1
NID_c2tnb359v1: int = m2.NID_X9_62_c2tnb359v1
NID_c2pnb368w1: int = m2.NID_X9_62_c2pnb368w1
NID_c2tnb431r1: int = m2.NID_X9_62_c2tnb431r1

POINT_CONVERSION_COMPRESSED: int = m2.POINT_CONVERSION_COMPRESSED
POINT_CONVERSION_UNCOMPRESSED: int = m2.POINT_CONVERSION_UNCOMPRESSED


class EC(PrivateKeyPEM, Owned):
    """An EC key pair, or curve parameters awaiting gen_key() (EC_KEY*)."""

    _free_fn = m2.ec_key_free
    m2_ec_key_free = staticmethod(m2.ec_key_free)  # M2Crypto's name
    _write_key_fn, _write_key_plain_fn = m2.ec_key_write_bio, m2.ec_key_write_bio_no_cipher
    _key_error = ECError

    def __init__(self, ec: Any, _pyfree: int = 0) -> None:
        if ec is None or isinstance(ec, (str, bytes, int)):
            raise TypeError("EC() takes an EC_KEY pointer; use gen_params/load_key")
        super().__init__(ec, _pyfree)

    @property
    def ec(self) -> Any:
        return self._ptr()

    def __len__(self) -> int:
        """The size of the curve's order in bits."""
        return m2.ec_key_keylen(self._ptr())

    def gen_key(self) -> None:
        """EC_KEY_generate_key: a new key pair on the curve."""
        m2.ec_key_gen_key(self._ptr())

    def pub(self) -> "EC_pub":
        """The public half, as an EC_pub sharing nothing with this key."""
        return pub_key_from_der(m2.ec_key_get_public_der(self._ptr()))

    def sign_dsa(self, digest: bytes) -> Tuple[bytes, bytes]:
        """ECDSA_do_sign: (r, s) as MPIs."""
        return m2.ecdsa_sign(self._ptr(), to_bytes(digest))

    def verify_dsa(self, digest: bytes, r: bytes, s: bytes) -> int:
        """ECDSA_do_verify: 1 good, 0 bad."""
        return m2.ecdsa_verify(self._ptr(), to_bytes(digest), r, s)

    def sign_dsa_asn1(self, digest: bytes) -> bytes:
        """ECDSA_sign: a DER Ecdsa-Sig-Value."""
        return m2.ecdsa_sign_asn1(self._ptr(), to_bytes(digest))

    def verify_dsa_asn1(self, digest: bytes, blob: bytes) -> int:
        """ECDSA_verify: 1 good, 0 bad; ECError when blob is not a signature."""
        return m2.ecdsa_verify_asn1(self._ptr(), to_bytes(digest), blob)

    def compute_dh_key(self, pub_key: "EC") -> bytes:
        """ECDH_compute_key: the shared x coordinate with the peer's public key."""
        if not isinstance(pub_key, EC):
            raise TypeError("pub_key must be an EC key")
        return m2.ecdh_compute_key(self._ptr(), pub_key._ptr())

    def save_pub_key_bio(self, bio: BIO.BIO) -> int:
        return m2.ec_key_write_pubkey(self._ptr(), bio_ptr(bio, ECError))

    def save_pub_key(self, file: Union[str, bytes]) -> int:
        with write_file(file) as bio:
            return self.save_pub_key_bio(bio)

    def check_key(self) -> int:
        """EC_KEY_check_key: 1 if the key is consistent, else 0."""
        return m2.ec_key_check_key(self._ptr())

    def curve_nid(self) -> int:
        """The NID of the key's curve (0 for explicit parameters)."""
        return m2.ec_key_curve_nid(self._ptr())

    def set_compressed(self, compressed: bool = True) -> None:
        """Use compressed (or uncompressed) points in DER, PEM and get_key() output."""
        m2.ec_key_set_conv_form(self._ptr(), POINT_CONVERSION_COMPRESSED if compressed else POINT_CONVERSION_UNCOMPRESSED)

    def get_key(self, *, compressed: Optional[bool] = None) -> bytes:
        """The public point as a SEC 1 octet string (the key's form unless compressed is given)."""
        p = self._ptr()
        if compressed is None:
            return m2.ec_key_get_public_key(p)
        old = m2.ec_key_get_conv_form(p)
        m2.ec_key_set_conv_form(p, POINT_CONVERSION_COMPRESSED if compressed else POINT_CONVERSION_UNCOMPRESSED)
        try:
            return m2.ec_key_get_public_key(p)
        finally:
            m2.ec_key_set_conv_form(p, old)

    def get_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        return m2.ec_key_get_public_der(self._ptr())


class EC_pub(EC):
    """An EC public key."""

    def save_key_bio(self, bio: BIO.BIO, *args: Any, **kw: Any) -> int:
        return self.save_pub_key_bio(bio)

    def save_key(self, file: Union[str, bytes], *args: Any, **kw: Any) -> int:
        return self.save_pub_key(file)

    def as_pem(self, *args: Any, **kw: Any) -> bytes:
        with BIO.MemoryBuffer() as bio:
            self.save_pub_key_bio(bio)
            return bio.read() or b""


def _curve_nid(curve: Union[int, str]) -> int:
    if isinstance(curve, str):
        nid = m2.obj_sn2nid(curve) if hasattr(m2, "obj_sn2nid") else 0
        if not nid:
            raise ValueError("unknown curve: %r" % (curve,))
        return nid
    if not isinstance(curve, int) or isinstance(curve, bool):
        raise TypeError("curve must be a NID (EC.NID_*) or a curve name")
    return curve


def gen_params(curve: Union[int, str]) -> EC:
    """An EC object on a built-in curve (a NID such as EC.NID_secp384r1, or its short name).

    :raises ECError: for a curve OpenSSL does not have.
    """
    return EC(m2.ec_key_new_by_curve_name(_curve_nid(curve)), 1)


def get_builtin_curves() -> List[Dict[str, Union[int, str]]]:
    """[{'NID': ..., 'sname': ..., 'comment': ...}] for every curve OpenSSL offers."""
    return m2.ec_get_builtin_curves()


def load_key_bio(bio: BIO.BIO, callback: Callable[..., Any] = util.passphrase_callback) -> EC:
    """Read a PEM EC private key; ECLoadError (an IOError, as M2Crypto) when it cannot."""
    try:
        return EC(m2.ec_key_read_bio(bio_ptr(bio, ECError), callback), 1)
    except ECError as ex:
        if isinstance(ex, ECLoadError):
            raise
        raise ECLoadError("cannot read an EC key pair from %s: %s" % (getattr(bio, "fname", "in-memory buffer"), ex)) from None


def load_key(file: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> EC:
    with read_file(file) as bio:
        return load_key_bio(bio, callback)


def load_key_string(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> EC:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_key_bio(bio, callback)


def load_pub_key_bio(bio: BIO.BIO) -> EC_pub:
    return EC_pub(m2.ec_key_read_pubkey(bio_ptr(bio, ECError)), 1)


def load_pub_key(file: Union[str, bytes]) -> EC_pub:
    with read_file(file) as bio:
        return load_pub_key_bio(bio)


def load_key_string_pubkey(string: Union[str, bytes], callback: Callable[..., Any] = util.passphrase_callback) -> EC_pub:
    with BIO.MemoryBuffer(to_bytes(string)) as bio:
        return load_pub_key_bio(bio)


def ec_error() -> None:
    from M2Sec import Err
    raise ECError(Err.get_error_message() or "EC error")


def pub_key_from_der(der: bytes) -> EC_pub:
    """An EC_pub from DER SubjectPublicKeyInfo."""
    return EC_pub(m2.ec_key_from_pubkey_der(der), 1)


def pub_key_from_params(curve: Union[int, str], bytes: bytes) -> EC_pub:
    """An EC_pub from a curve and a SEC 1 point (compressed or uncompressed)."""
    return EC_pub(m2.ec_key_from_pubkey_params(_curve_nid(curve), bytes), 1)
