"""PKCS#12 files (RFC 7292): a private key, its certificate and more certificates, with
friendly names, as browsers, Windows (.pfx), Java and NSS exchange them.

The names are cryptography's (``cryptography.hazmat.primitives.serialization.pkcs12``):
:func:`load_key_and_certificates`, :func:`load_pkcs12` and
:func:`serialize_key_and_certificates`; keys and certificates are M2Sec's :class:`EVP.PKey`
and :class:`X509.X509`.

Reading is bounded: a file asking for more than ``max_iterations`` key-derivation iterations
in one derivation (4 times that in all) or holding more than ``max_bags`` bags is refused
before OpenSSL spends the time.  Writing makes the modern form by default: keys and
certificates encrypted with AES-256-CBC under PBKDF2-HMAC-SHA256 (PBES2), and an HMAC-SHA256
MAC; the legacy form (RC2-40 and 3DES, SHA-1 MAC) only when asked.
"""

from typing import Iterable, List, Optional, Tuple, Union

from M2Sec import EVP, X509, m2
from M2Sec.Err import M2SecError

__all__ = ["PKCS12Error", "PKCS12PasswordError", "PKCS12Certificate", "PKCS12KeyAndCertificates",
           "load_key_and_certificates", "load_pkcs12", "serialize_key_and_certificates",
           "BestAvailableEncryption", "NoEncryption", "ENCRYPTIONS", "MAX_BAGS", "MAX_ITERATIONS"]


class PKCS12Error(M2SecError, ValueError):
    """A PKCS#12 file could not be read or written (malformed, truncated, past a limit)."""


class PKCS12PasswordError(PKCS12Error):
    """The password is wrong (or the file was altered: its MAC does not verify)."""


m2.pkcs12_init(PKCS12Error)
m2.pkcs12_password_init(PKCS12PasswordError)

#: the most bags (and SafeContents) a file may hold
MAX_BAGS = 1000
#: the most iterations one key derivation (the MAC's, an encrypted part's) may ask for
MAX_ITERATIONS = 1_000_000
#: the iteration count written by default (OpenSSL's PKCS12_DEFAULT_ITER)
DEFAULT_ITERATIONS = 2048

# encryption name -> (key PBE NID, certificates PBE NID, MAC digest)
ENCRYPTIONS = {
    # PBES2: AES-256-CBC, PBKDF2 with HMAC-SHA256; HMAC-SHA256 MAC (OpenSSL 3's default)
    "aes256": (m2.NID_aes_256_cbc, m2.NID_aes_256_cbc, "sha256"),
    # PKCS#12 PBE, as `openssl pkcs12 -legacy` and old Windows/Java write it
    "legacy": (m2.NID_pbe_WithSHA1And3_Key_TripleDES_CBC, m2.NID_pbe_WithSHA1And40BitRC2_CBC, "sha1"),
    # 3DES for key and certificates, SHA-1 MAC (cryptography's PBESv1SHA1And3KeyTripleDESCBC)
    "3des": (m2.NID_pbe_WithSHA1And3_Key_TripleDES_CBC, m2.NID_pbe_WithSHA1And3_Key_TripleDES_CBC, "sha1"),
}

# pbeWithSHAAnd128BitRC2-CBC and pbeWithSHAAnd40BitRC2-CBC (1.2.840.113549.1.12.1.5 and .6)
_RC2_OIDS = (b"\x06\x0a\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x05", b"\x06\x0a\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x06")

Password = Union[bytes, bytearray, memoryview, str, None]


class PKCS12Certificate:
    """A certificate of a PKCS#12 file and its friendly name (bytes, or None)."""

    def __init__(self, cert: X509.X509, name: Optional[bytes]) -> None:
        if not isinstance(cert, X509.X509):
            raise TypeError("cert must be an X509.X509")
        if name is not None and not isinstance(name, bytes):
            raise TypeError("name must be bytes or None")
        self._cert = cert
        self._name = name

    @property
    def certificate(self) -> X509.X509:
        return self._cert

    @property
    def friendly_name(self) -> Optional[bytes]:
        return self._name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PKCS12Certificate):
            return NotImplemented
        return self._cert == other._cert and self._name == other._name

    def __hash__(self) -> int:
        return hash((self._cert, self._name))

    def __repr__(self) -> str:
        return "<PKCS12Certificate(%s, friendly_name=%r)>" % (self._cert.get_subject(), self._name)


class PKCS12KeyAndCertificates:
    """What a PKCS#12 file holds: ``key`` (or None), ``cert`` (the key's certificate, a
    :class:`PKCS12Certificate`, or None) and ``additional_certs``."""

    def __init__(self, key: Optional[EVP.PKey], cert: Optional[PKCS12Certificate],
                 additional_certs: List[PKCS12Certificate]) -> None:
        self._key, self._cert, self._additional = key, cert, list(additional_certs)

    @property
    def key(self) -> Optional[EVP.PKey]:
        return self._key

    @property
    def cert(self) -> Optional[PKCS12Certificate]:
        return self._cert

    @property
    def additional_certs(self) -> List[PKCS12Certificate]:
        return list(self._additional)

    def __repr__(self) -> str:
        return "<PKCS12KeyAndCertificates(key=%s, cert=%r, additional_certs=%r)>" % (
            "yes" if self._key is not None else None, self._cert, self._additional)


def _password(password: Password, what: str = "password") -> Optional[bytes]:
    if password is None:
        return None
    if isinstance(password, str):
        return password.encode("utf-8")
    if isinstance(password, (bytes, bytearray, memoryview)):
        return bytes(password)
    raise TypeError("%s must be bytes, str or None, not %s" % (what, type(password).__name__))


def load_pkcs12(data: bytes, password: Password, *, max_bags: int = MAX_BAGS,
                max_iterations: int = MAX_ITERATIONS) -> PKCS12KeyAndCertificates:
    """The key, its certificate and the other certificates of a DER PKCS#12 file.

    The key's certificate is the first whose public key matches the key; the others are
    ``additional_certs`` in the file's order.  A file without a password (or with an empty
    one) is read with ``password=None`` or ``b""``.

    :raises PKCS12PasswordError: for a wrong password (or a file whose MAC does not verify).
    :raises PKCS12Error: for a truncated or malformed file, an unsupported algorithm, or one
        past ``max_bags`` bags or ``max_iterations`` iterations (RFC 7292; PKCS12_verify_mac,
        PKCS12_unpack_p7encdata, PKCS12_decrypt_skey).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes, not %s" % type(data).__name__)
    for value, what in ((max_bags, "max_bags"), (max_iterations, "max_iterations")):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError("%s must be a positive int" % what)
    data = bytes(data)
    if any(oid in data for oid in _RC2_OIDS):
        EVP._load_legacy()  # RC2 lives in OpenSSL's legacy provider
    key_ptr, _key_name, found, match = m2.pkcs12_load(data, _password(password) or b"",
                                                      min(max_bags, 2 ** 31 - 1), min(max_iterations, 2 ** 62))
    # own every pointer first, so that nothing leaks whatever happens next
    key = EVP.PKey(key_ptr, 1) if key_ptr is not None else None
    certs = [PKCS12Certificate(X509.X509(ptr, 1), name) for ptr, name, _keyid in found]
    cert = certs.pop(match) if match >= 0 else None
    return PKCS12KeyAndCertificates(key, cert, certs)


def load_key_and_certificates(data: bytes, password: Password, **limits: int
                              ) -> Tuple[Optional[EVP.PKey], Optional[X509.X509], List[X509.X509]]:
    """(key, certificate, [additional certificates]) of a DER PKCS#12 file; see
    :func:`load_pkcs12` (same exceptions and limits)."""
    p12 = load_pkcs12(data, password, **limits)
    return (p12.key, p12.cert.certificate if p12.cert is not None else None,
            [c.certificate for c in p12.additional_certs])


class BestAvailableEncryption:
    """cryptography's name: encrypt with this password, the modern way ("aes256")."""

    def __init__(self, password: bytes) -> None:
        if not isinstance(password, bytes) or not password:
            raise ValueError("password must be non-empty bytes")
        self.password = password


class NoEncryption:
    """cryptography's name: no password, nothing encrypted (the MAC uses the empty password)."""


def serialize_key_and_certificates(name: Optional[bytes], key: Optional[EVP.PKey], cert: Optional[X509.X509],
                                   cas: Optional[Iterable[Union[X509.X509, PKCS12Certificate]]],
                                   password: Union[Password, BestAvailableEncryption, NoEncryption], *,
                                   encryption: str = "aes256", iterations: int = DEFAULT_ITERATIONS,
                                   mac_iterations: Optional[int] = None) -> bytes:
    """A DER PKCS#12 file holding key, cert and cas (RFC 7292; PKCS12_add_cert,
    PKCS12_add_key, PKCS12_add_safe, PKCS12_set_mac).

    :param name: the friendly name of key and cert (bytes, or None); a CA given as a
        :class:`PKCS12Certificate` keeps its own.
    :param password: bytes (or str, as UTF-8), or None (or :class:`NoEncryption`) for a file
        with nothing encrypted (its MAC keyed with the empty password, as `openssl pkcs12
        -passout pass:` writes and NSS requires); cryptography's :class:`BestAvailableEncryption`
        is accepted too.
    :param encryption: "aes256" (the default: PBES2 AES-256-CBC with PBKDF2-HMAC-SHA256 and
        an HMAC-SHA256 MAC), "legacy" (3DES key, RC2-40 certificates, SHA-1 MAC: for old
        Windows and Java; needs OpenSSL's legacy provider) or "3des" (3DES for both).
    :param iterations: PBKDF2 / PBE iterations; :param mac_iterations: the MAC's (default:
        the same).
    :raises PKCS12Error: if the key does not match the certificate or OpenSSL cannot write;
        ValueError/TypeError for bad arguments.
    """
    if isinstance(password, NoEncryption):
        password = None
    elif isinstance(password, BestAvailableEncryption):
        password = password.password
    pw = _password(password)
    if pw is not None and b"\x00" in pw:
        raise ValueError("the password contains a NUL byte")  # OpenSSL's PBE calls stop at it
    if name is not None and not isinstance(name, bytes):
        raise TypeError("name must be bytes or None")
    if key is not None and not isinstance(key, EVP.PKey):
        raise TypeError("key must be an EVP.PKey or None")
    if cert is not None and not isinstance(cert, X509.X509):
        raise TypeError("cert must be an X509.X509 or None")
    if encryption not in ENCRYPTIONS:
        raise ValueError("encryption must be one of %s" % ", ".join(sorted(ENCRYPTIONS)))
    if mac_iterations is None:
        mac_iterations = iterations
    for value, what in ((iterations, "iterations"), (mac_iterations, "mac_iterations")):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2 ** 31 - 1:
            raise ValueError("%s must be an int from 1 to 2**31-1" % what)
    stack = X509.X509_Stack()
    names: List[Optional[bytes]] = []
    for ca in cas or ():
        if isinstance(ca, PKCS12Certificate):
            stack.push(ca.certificate)
            names.append(ca.friendly_name)
        elif isinstance(ca, X509.X509):
            stack.push(ca)
            names.append(None)
        else:
            raise TypeError("cas must hold X509.X509 or PKCS12Certificate objects")
    if key is None and cert is None and not names:
        raise ValueError("nothing to serialize: give a key, a certificate or CAs")
    key_nid, cert_nid, mac_md = ENCRYPTIONS[encryption]
    if pw is None:
        key_nid = cert_nid = -1  # the MAC stays, under the empty password: NSS wants one
    elif encryption == "legacy" and not EVP._load_legacy():
        raise PKCS12Error("the legacy form needs OpenSSL's legacy provider (RC2), which is not available")
    with stack:
        return m2.pkcs12_create(pw, name, key._ptr() if key is not None else None,
                                cert._ptr() if cert is not None else None, stack._ptr(), names,
                                key_nid, cert_nid, iterations, mac_iterations, mac_md)


def _sniff(data: bytes) -> bool:
    """Whether data looks like DER PKCS#12 rather than PEM (for SSL.Context)."""
    return data[:1] == b"\x30" and b"-----BEGIN" not in data[:4096]
