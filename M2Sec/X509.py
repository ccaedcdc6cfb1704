"""X.509 names, certificates and the rest of the PKI (M2Crypto's X509 module)."""

import binascii
import contextlib
import datetime
import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union, cast

from M2Sec import ASN1, BIO, EVP, m2
from M2Sec._base import Handle, Owned
from M2Sec.Err import M2SecError

FORMAT_DER = 0
FORMAT_PEM = 1

_T = TypeVar("_T")

log = logging.getLogger(__name__)  # M2Crypto's module logger


class X509Error(M2SecError, ValueError):
    """An X.509 operation failed."""


m2.x509_init(X509Error)

V_OK = m2.X509_V_OK

# M2Crypto's module-level constants: X509_V_ERR_*, XN_FLAG_*, X509_PURPOSE_* as they are,
# and X509_V_FLAG_* under their M2Crypto names, lowercased (verify_crl_check ...).
for _name in dir(m2):
    if _name.startswith(("X509_V_ERR", "XN_FLAG_", "X509_PURPOSE_", "X509_CHECK_FLAG_", "GEN_")):
        globals()[_name] = getattr(m2, _name)
    elif _name.startswith("VERIFY_"):
        globals()[_name.lower()] = getattr(m2, _name)
del _name


class X509_Name_Entry(Owned):
    """One entry (type and value) of a distinguished name."""

    _free_fn = m2.x509_name_entry_free

    def __init__(self, x509_name_entry: Any, _pyfree: int = 0, owner: Any = None) -> None:
        super().__init__(x509_name_entry, _pyfree, owner=owner)

    def set_object(self, asn1obj: ASN1.ASN1_Object) -> int:
        return m2.x509_name_entry_set_object(self._ptr(), asn1obj._ptr())

    def set_data(self, data: bytes, type: int = ASN1.MBSTRING_ASC) -> int:
        return m2.x509_name_entry_set_data(self._ptr(), type, data)

    def get_object(self) -> ASN1.ASN1_Object:
        return ASN1.ASN1_Object(m2.x509_name_entry_get_object(self._ptr()), 0)

    def get_data(self) -> ASN1.ASN1_String:
        return ASN1.ASN1_String(m2.x509_name_entry_get_data(self._ptr()), 0)

    def create_by_txt(self, field: str, type: int, entry: str, len: int) -> Any:
        return m2.x509_name_entry_create_by_txt(self._ptr(), field, type, entry, len)


class X509_Name(Owned):
    """A distinguished name; entries are attributes (``name.CN``, ``name.O`` ...)."""

    _free_fn = m2.x509_name_free

    nid: Dict[str, int] = {
        "C": m2.obj_txt2nid("countryName"),
        "SP": m2.obj_txt2nid("stateOrProvinceName"),
        "ST": m2.obj_txt2nid("stateOrProvinceName"),
        "stateOrProvinceName": m2.obj_txt2nid("stateOrProvinceName"),
        "L": m2.obj_txt2nid("localityName"),
        "localityName": m2.obj_txt2nid("localityName"),
        "O": m2.obj_txt2nid("organizationName"),
        "organizationName": m2.obj_txt2nid("organizationName"),
        "OU": m2.obj_txt2nid("organizationalUnitName"),
        "organizationUnitName": m2.obj_txt2nid("organizationalUnitName"),
        "organizationalUnitName": m2.obj_txt2nid("organizationalUnitName"),
        "CN": m2.obj_txt2nid("commonName"),
        "commonName": m2.obj_txt2nid("commonName"),
        "Email": m2.obj_txt2nid("emailAddress"),
        "emailAddress": m2.obj_txt2nid("emailAddress"),
        "serialNumber": m2.obj_txt2nid("serialNumber"),
        "SN": m2.obj_txt2nid("surname"),
        "surname": m2.obj_txt2nid("surname"),
        "GN": m2.obj_txt2nid("givenName"),
        "givenName": m2.obj_txt2nid("givenName"),
    }

    def __init__(self, x509_name: Any = None, _pyfree: int = 0, owner: Any = None) -> None:
        if x509_name is None:
            x509_name, _pyfree = m2.x509_name_new(), 1
        super().__init__(x509_name, _pyfree, owner=owner)

    def __str__(self) -> str:
        return m2.x509_name_oneline(self._ptr())

    def __getattr__(self, attr: str) -> Optional[str]:
        nid = type(self).nid.get(attr)
        if nid is None:
            raise AttributeError("%s has no attribute %r" % (type(self).__name__, attr))
        value = m2.x509_name_by_nid(self._ptr(), nid)
        return value.decode("utf-8") if value is not None else None

    def __setattr__(self, attr: str, value: Union[str, bytes]) -> None:
        nid = type(self).nid.get(attr)
        if nid is None:
            super().__setattr__(attr, value)
            return
        if isinstance(value, str):
            value = value.encode("utf-8")
        m2.x509_name_add_entry_by_txt(self._ptr(), cast(str, m2.obj_nid2sn(nid)), ASN1.MBSTRING_UTF8, value, -1, 0)

    def __len__(self) -> int:
        return m2.x509_name_entry_count(self._ptr())

    def __getitem__(self, idx: int) -> X509_Name_Entry:
        if not 0 <= idx < len(self):
            raise IndexError("index out of range")
        return X509_Name_Entry(m2.x509_name_get_entry(self._ptr(), idx), 0, owner=self)

    def __iter__(self) -> Iterator[X509_Name_Entry]:
        for i in range(len(self)):
            yield self[i]

    def entry_count(self) -> int:
        return len(self)

    def add_entry_by_txt(self, field: str, type: int, entry: Union[str, bytes], len: int = -1, loc: int = -1, set: int = 0) -> int:
        """Add the entry field=entry (type: ASN1.MBSTRING_*) at loc (-1: the end)."""
        if isinstance(entry, str):
            entry = entry.encode("utf-8")
        if len >= 0:
            entry = entry[:len]
        return m2.x509_name_add_entry_by_txt(self._ptr(), field, type, entry, loc, set)

    def get_entries_by_nid(self, nid: int) -> List[X509_Name_Entry]:
        entries: List[X509_Name_Entry] = []
        last = -1
        while True:
            last = m2.x509_name_get_index_by_nid(self._ptr(), nid, last)
            if last < 0:
                return entries
            entries.append(self[last])

    def as_text(self, indent: int = 0, flags: int = m2.XN_FLAG_COMPAT) -> str:
        """The name printed by X509_NAME_print_ex with flags (XN_FLAG_*)."""
        return ASN1._print(m2.x509_name_print_ex, self._ptr(), indent, flags)

    def as_der(self) -> bytes:
        return m2.x509_name_get_der(self._ptr())

    def as_hash(self) -> int:
        return m2.x509_name_hash(self._ptr())




def _need(obj: Any, cls: type, what: str) -> None:
    if not isinstance(obj, cls):
        raise TypeError("%s must be %s, not %s" % (what, cls.__name__, type(obj).__name__))


def _as_bytes(data: Union[str, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError("expected bytes or str, not %s" % type(data).__name__)


def _check_format(format: int) -> None:
    if format not in (FORMAT_PEM, FORMAT_DER):
        raise ValueError("Unknown format. Must be either FORMAT_DER or FORMAT_PEM")


def _load_bio(cls: Callable[[Any, int], _T], pem_reader: Any, der_reader: Any, bio: BIO.BIO, format: int) -> _T:
    """cls around what pem_reader or der_reader reads from bio; X509Error if nothing."""
    _check_format(format)
    _need(bio, BIO.BIO, "bio")
    reader = pem_reader if format == FORMAT_PEM else der_reader
    return cls(reader(bio._ptr()), 1)


def _load_file(load_bio: Callable[[BIO.BIO, int], _T], file: Union[str, bytes], format: int) -> _T:
    """What load_bio reads from the file named file."""
    if isinstance(file, bytes):
        file = file.decode()
    _check_format(format)
    with BIO.openfile(file) as bio:
        return load_bio(bio, format)


def _load_string(load_bio: Callable[[BIO.BIO, int], _T], string: Union[str, bytes], format: int) -> _T:
    """What load_bio reads from the bytes (or str) string."""
    with BIO.MemoryBuffer(_as_bytes(string)) as bio:
        return load_bio(bio, format)


def _borrow_time(ptr: Any, owner: Any) -> Optional[ASN1.ASN1_TIME]:
    if ptr is None:
        return None
    t = ASN1.ASN1_TIME(ptr, 0)
    t._owner = owner  # the time lives inside owner
    return t


def _pem_out(writer: Callable[[Any, Any], int], ptr: Any) -> bytes:
    buf = BIO.MemoryBuffer()
    try:
        writer(buf._ptr(), ptr)
        return buf.read() or b""
    finally:
        buf.free()


# ---------------------------------------------------------------------------------------
# Extensions

class X509_Extension(Owned):
    """One X.509v3 extension (a copy owned here, or borrowed from a certificate or stack)."""

    _free_fn = m2.x509_extension_free

    def __init__(self, x509_ext_ptr: Any = None, _pyfree: int = 1, owner: Any = None) -> None:
        if x509_ext_ptr is None:  # M2Crypto allows an empty extension; every use raises
            self._p, self._pyfree, self._owner = None, 0, None
            return
        super().__init__(x509_ext_ptr, _pyfree, owner=owner)

    def _ptr(self) -> Any:
        p = self._p  # read once, as Handle._ptr
        if p is None:
            raise X509Error("Extension not initialized")
        return p

    def set_critical(self, critical: int = 1) -> int:
        """Mark the extension critical (or not, with critical=0)."""
        return m2.x509_extension_set_critical(self._ptr(), 1 if critical else 0)

    def get_critical(self) -> int:
        return m2.x509_extension_get_critical(self._ptr())

    def get_name(self) -> str:
        """The extension's short name, such as 'subjectAltName' (or its OID)."""
        return m2.x509_extension_get_name(self._ptr()).decode()

    def get_value(self, flag: int = 0, indent: int = 0) -> str:
        """The value as OpenSSL prints it (X509V3_EXT_print), e.g. 'DNS:www.example.com'.

        Not for security decisions: use X509.get_subject_alt_names() and check_host()."""
        return ASN1._print(m2.x509_ext_print, self._ptr(), flag, indent)

    def get_data(self) -> bytes:
        """The extension's DER-encoded value (extnValue's content)."""
        return m2.x509_extension_get_data(self._ptr())


class AuthorityKeyIdentifier:
    """An authorityKeyIdentifier holding only a keyIdentifier (bytes, or hex with or
    without colons and a 'keyid:' prefix)."""

    def __init__(self, key_identifier: Union[bytes, str]) -> None:
        self.key_identifier = self._coerce_key_identifier(key_identifier)

    @staticmethod
    def _coerce_key_identifier(key_identifier: Union[bytes, str]) -> bytes:
        if isinstance(key_identifier, (bytes, bytearray)):
            keyid = bytes(key_identifier)
        elif isinstance(key_identifier, str):
            text = key_identifier[6:] if key_identifier.startswith("keyid:") else key_identifier
            try:
                keyid = binascii.unhexlify(text.replace(":", ""))
            except (binascii.Error, ValueError) as exc:
                raise X509Error("the key identifier must be bytes or hex") from exc
        else:
            raise TypeError("key_identifier must be bytes or str")
        if not keyid:
            raise X509Error("the key identifier must not be empty")
        return keyid

    def as_extension(self, critical: int = 0, _pyfree: int = 1) -> X509_Extension:
        ext = X509_Extension(m2.x509v3_authority_key_identifier(self.key_identifier), _pyfree)
        ext.set_critical(critical)
        return ext


def new_extension(name: str, value: str, critical: int = 0, _pyfree: int = 1,
                  pkey: Optional[EVP.PKey] = None, *, issuer: Optional["X509"] = None,
                  subject: Optional["X509"] = None) -> X509_Extension:
    """A new extension from OpenSSL's configuration syntax (X509V3_EXT_nconf).

    ``new_extension('subjectAltName', 'DNS:example.com, IP:192.0.2.1, email:a@example.com,
    URI:https://example.com/')``, ``('basicConstraints', 'critical,CA:TRUE')``,
    ``('keyUsage', 'digitalSignature, keyCertSign')``, ``('extendedKeyUsage', 'serverAuth')``,
    ``('subjectKeyIdentifier', 'hash', pkey=key)``, ``('authorityKeyIdentifier', 'keyid',
    issuer=ca_cert)`` or ``'keyid:AB:CD...'``.

    :param pkey: the subject's key (for subjectKeyIdentifier=hash), also used as the issuer's
        key for authorityKeyIdentifier=keyid when no issuer is given.
    :param issuer: the issuing certificate; :param subject: the certificate being built.
    :raises X509Error: if OpenSSL rejects the name or the value.
    """
    if not isinstance(name, str) or not isinstance(value, str):
        raise TypeError("name and value must be str")
    if pkey is not None:
        _need(pkey, EVP.PKey, "pkey")
    if issuer is not None:
        _need(issuer, X509, "issuer")
    if subject is not None:
        _need(subject, X509, "subject")
    if name == "authorityKeyIdentifier" and value.startswith("keyid:") and value != "keyid:always":
        return AuthorityKeyIdentifier(value).as_extension(critical, _pyfree)
    if (name == "authorityKeyIdentifier" and issuer is None and pkey is not None
            and value.replace(" ", "") in ("keyid", "keyid:always")):
        return AuthorityKeyIdentifier(m2.pkey_key_identifier(pkey._ptr())).as_extension(critical, _pyfree)
    if name == "subjectKeyIdentifier" and value == "hash" and pkey is None and subject is None:
        raise X509Error("subjectKeyIdentifier=hash needs the subject's key (pkey=) or certificate (subject=)")
    ptr = m2.x509v3_ext_nconf(name, value,
                              issuer._ptr() if issuer is not None else None,
                              subject._ptr() if subject is not None else None,
                              pkey._ptr() if pkey is not None else None)
    ext = X509_Extension(ptr, _pyfree)
    if critical:
        ext.set_critical(1)
    return ext


class X509_Extension_Stack(Owned):
    """A STACK_OF(X509_EXTENSION); it owns copies of the extensions pushed on it."""

    _free_fn = m2.sk_x509_extension_free

    def __init__(self, stack: Any = None, _pyfree: int = 0, owner: Any = None) -> None:
        if stack is None:
            stack, _pyfree = m2.sk_x509_extension_new_null(), 1
        super().__init__(stack, _pyfree, owner=owner)

    def __len__(self) -> int:
        return m2.sk_x509_extension_num(self._ptr())

    def __getitem__(self, idx: int) -> X509_Extension:
        n = len(self)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError("index out of range")
        return X509_Extension(m2.sk_x509_extension_value(self._ptr(), idx), 0, owner=self)

    def __iter__(self) -> Iterator[X509_Extension]:
        for i in range(len(self)):
            yield self[i]

    def push(self, x509_ext: X509_Extension) -> int:
        """Push a copy of x509_ext; returns the number of extensions on the stack."""
        _need(x509_ext, X509_Extension, "x509_ext")
        return m2.sk_x509_extension_push(self._ptr(), x509_ext._ptr())

    def pop(self) -> Optional[X509_Extension]:
        """The last extension (now owned by the caller), or None if the stack is empty."""
        ptr = m2.sk_x509_extension_pop(self._ptr())
        return X509_Extension(ptr, 1) if ptr is not None else None


# ---------------------------------------------------------------------------------------
# Certificates

class _Extensions:
    """Reading the extensions of a certificate or a CRL; subclasses name the m2 functions."""

    _ext_count_fn: Callable[..., int]
    _ext_at_fn: Any

    def get_ext_count(self) -> int:
        return type(self)._ext_count_fn(self._ptr())  # type: ignore[attr-defined]

    def get_ext_at(self, index: int) -> X509_Extension:
        """The extension at index, borrowed from its owner; IndexError if none."""
        if not 0 <= index < self.get_ext_count():
            raise IndexError("index out of range")
        return X509_Extension(type(self)._ext_at_fn(self._ptr(), index), 0, owner=self)  # type: ignore[attr-defined]

    def get_ext(self, name: str) -> X509_Extension:
        """The first extension with this short name; LookupError if there is none."""
        for i in range(self.get_ext_count()):
            ext = self.get_ext_at(i)
            if ext.get_name() == name:
                return ext
        raise LookupError(name)


class _Signed(Handle):
    """What certificates and requests share: encodings, public key, subject, version and
    signature.  Subclasses name the m2 functions of their type (and own their pointer: Request
    through Owned, X509 through its C base)."""

    _print_fn: Any
    _write_pem_fn: Callable[..., int]
    _i2d_fn: Callable[..., bytes]
    _i2d_bio_fn: Callable[..., int]
    _get_pubkey_fn: Any
    _set_pubkey_fn: Callable[..., int]
    _get_subject_fn: Any
    _set_subject_fn: Callable[..., int]
    _get_version_fn: Callable[..., int]
    _set_version_fn: Callable[..., int]
    _sign_fn: Callable[..., int]
    _verify_fn: Callable[..., int]

    def as_text(self) -> str:
        return ASN1._print(type(self)._print_fn, self._ptr())

    def as_der(self) -> bytes:
        return type(self)._i2d_fn(self._ptr())

    def as_pem(self) -> bytes:
        return _pem_out(type(self)._write_pem_fn, self._ptr())

    def save_pem(self, filename: str) -> int:
        return self.save(filename, FORMAT_PEM)

    def save(self, filename: str, format: int = FORMAT_PEM) -> int:
        """Write to filename as PEM or DER; 1 on success."""
        _check_format(format)
        writer = type(self)._write_pem_fn if format == FORMAT_PEM else type(self)._i2d_bio_fn
        with BIO.openfile(filename, "wb") as bio:
            return writer(bio._ptr(), self._ptr())

    def get_version(self) -> int:
        return type(self)._get_version_fn(self._ptr())

    def set_version(self, version: int) -> int:
        return type(self)._set_version_fn(self._ptr(), version)

    def get_pubkey(self) -> EVP.PKey:
        return EVP.PKey(type(self)._get_pubkey_fn(self._ptr()), 1)

    def set_pubkey(self, pkey: EVP.PKey) -> int:
        _need(pkey, EVP.PKey, "pkey")
        return type(self)._set_pubkey_fn(self._ptr(), pkey._ptr())

    def get_subject(self) -> X509_Name:
        return X509_Name(type(self)._get_subject_fn(self._ptr()), 0, owner=self)

    def set_subject_name(self, name: X509_Name) -> int:
        _need(name, X509_Name, "name")
        return type(self)._set_subject_fn(self._ptr(), name._ptr())

    set_subject = set_subject_name

    def sign(self, pkey: EVP.PKey, md: Optional[str] = "sha256") -> int:
        """Sign with pkey and digest md ('sha256', ...); md is ignored for the keys that sign
        the message itself (Ed25519, Ed448; ML-DSA and SLH-DSA on OpenSSL 3.5).

        :raises ValueError: for an unknown digest; X509Error if OpenSSL cannot sign."""
        _need(pkey, EVP.PKey, "pkey")
        if md is not None and not isinstance(md, str):
            raise TypeError("md must be a digest name or None")
        if m2.pkey_sign_takes_no_digest(pkey._ptr()):
            md = None
        return type(self)._sign_fn(self._ptr(), pkey._ptr(), md)

    def verify(self, pkey: EVP.PKey) -> int:
        """1 if pkey verifies the signature, else 0."""
        _need(pkey, EVP.PKey, "pkey")
        return type(self)._verify_fn(self._ptr(), pkey._ptr())


class X509(m2.X509Base, _Extensions, _Signed):
    """An X.509 certificate; ``X509()`` is a new, empty one to fill in and sign.

    ``X509(ptr, _pyfree=0, owner=None)`` wraps a pointer (freed when the object dies if
    ``_pyfree``; ``owner`` is kept alive meanwhile).  The pointer lives in the C base
    (``m2.X509Base``), which frees it when the object dies: no Python ``__init__`` or finalizer
    runs per certificate (verification results make several per message).
    """

    _free_fn = m2.x509_free
    _owner: Any = None
    _ext_count_fn, _ext_at_fn = m2.x509_get_ext_count, m2.x509_get_ext
    _print_fn, _write_pem_fn, _i2d_fn, _i2d_bio_fn = m2.x509_print, m2.x509_write_pem, m2.i2d_x509, m2.i2d_x509_bio
    _get_pubkey_fn, _set_pubkey_fn = m2.x509_get_pubkey, m2.x509_set_pubkey
    _get_subject_fn, _set_subject_fn = m2.x509_get_subject_name, m2.x509_set_subject_name
    _get_version_fn, _set_version_fn = m2.x509_get_version, m2.x509_set_version
    _sign_fn, _verify_fn = m2.x509_sign_name, m2.x509_verify

    if TYPE_CHECKING:  # the signature; at run time the C base's __init__ serves it
        def __init__(self, x509: Any = None, _pyfree: int = 0, owner: Any = None) -> None: ...

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, X509):
            return NotImplemented
        return m2.x509_cmp(self._ptr(), other._ptr()) == 0

    def __hash__(self) -> int:
        return hash(self.as_der())

    # -- encodings
    # -- fields
    def _set_time(self, setter: Callable[[Any, Any], int], asn1_time: ASN1.ASN1_TIME) -> int:
        _need(asn1_time, ASN1.ASN1_TIME, "asn1_time")
        return setter(self._ptr(), asn1_time._ptr())

    def set_not_before(self, asn1_time: ASN1.ASN1_TIME) -> int:
        return self._set_time(m2.x509_set_not_before, asn1_time)

    def set_not_after(self, asn1_time: ASN1.ASN1_TIME) -> int:
        return self._set_time(m2.x509_set_not_after, asn1_time)

    def get_not_before(self) -> ASN1.ASN1_TIME:
        """notBefore, borrowed from the certificate (it keeps the certificate alive)."""
        return cast(ASN1.ASN1_TIME, _borrow_time(m2.x509_get_not_before(self._ptr()), self))

    def get_not_after(self) -> ASN1.ASN1_TIME:
        """notAfter, borrowed from the certificate (it keeps the certificate alive)."""
        return cast(ASN1.ASN1_TIME, _borrow_time(m2.x509_get_not_after(self._ptr()), self))

    def get_serial_number(self) -> int:
        return m2.asn1_integer_get(m2.x509_get_serial_number(self._ptr()))

    def set_serial_number(self, serial: int) -> int:
        if not isinstance(serial, int):
            raise TypeError("serial must be an int")
        with ASN1.ASN1_Integer(serial) as asn1int:
            return m2.x509_set_serial_number(self._ptr(), asn1int._ptr())

    def get_issuer(self) -> X509_Name:
        return X509_Name(m2.x509_get_issuer_name(self._ptr()), 0, owner=self)

    def set_issuer(self, name: X509_Name) -> int:
        _need(name, X509_Name, "name")
        return m2.x509_set_issuer_name(self._ptr(), name._ptr())

    set_issuer_name = set_issuer

    # -- extensions
    def add_ext(self, ext: X509_Extension) -> int:
        """Append a copy of ext."""
        _need(ext, X509_Extension, "ext")
        return m2.x509_add_ext(self._ptr(), ext._ptr(), -1)

    def get_subject_alt_names(self) -> List[Tuple[int, bytes]]:
        """subjectAltName as [(GEN_*, value)]: DNS, URI and e-mail as bytes, IP addresses as
        4 or 16 octets, other types as their DER; [] without the extension.

        :raises X509Error: if the extension is malformed or duplicated."""
        return cast(List[Tuple[int, bytes]], m2.x509_get_subject_alt_names(self._ptr()))

    def get_email(self) -> List[str]:
        """The e-mail addresses of the subject and of subjectAltName (X509_get1_email)."""
        return cast(List[str], m2.x509_get1_email(self._ptr()))

    def add_subject_key_identifier(self) -> int:
        """Add subjectKeyIdentifier computed from the certificate's public key."""
        pubkey = self.get_pubkey()  # held for the call: its pointer must outlive _ptr()
        keyid = m2.pkey_key_identifier(pubkey._ptr())
        return self.add_ext(new_extension("subjectKeyIdentifier", binascii.hexlify(keyid).decode()))

    # -- what CA tools and revocation checks read (see the typed extensions at the end)
    def get_subject_key_id(self) -> Optional[bytes]:
        """subjectKeyIdentifier's octets, or None."""
        return m2.x509_get_subject_key_id(self._ptr())

    def get_authority_key_id(self) -> Optional[bytes]:
        """authorityKeyIdentifier's keyIdentifier octets, or None."""
        return m2.x509_get_authority_key_id(self._ptr())

    def get_ocsp_urls(self) -> List[str]:
        """The OCSP responder URLs of authorityInfoAccess ([] without one)."""
        return m2.x509_get_aia_uris(self._ptr(), "OCSP")

    def get_ca_issuers_urls(self) -> List[str]:
        """The caIssuers URLs of authorityInfoAccess."""
        return m2.x509_get_aia_uris(self._ptr(), "caIssuers")

    def get_crl_urls(self) -> List[str]:
        """The full-name URIs of cRLDistributionPoints."""
        return m2.x509_get_crl_dp_uris(self._ptr())

    # -- signatures and checks
    def verify(self, pkey: Optional[EVP.PKey] = None) -> int:
        """1 if pkey (the certificate's own key by default) verifies its signature, else 0."""
        return super().verify(self.get_pubkey() if pkey is None else pkey)

    def check_ca(self) -> int:
        """Nonzero if the certificate is a CA (X509_check_ca)."""
        return m2.x509_check_ca(self._ptr())

    def check_purpose(self, id: int, ca: int) -> int:
        """Nonzero if the certificate may be used for purpose id (X509_PURPOSE_*)."""
        return m2.x509_check_purpose(self._ptr(), id, ca)

    def get_fingerprint(self, md: str = "sha1") -> str:
        """The digest of the DER certificate, as upper-case hex."""
        return binascii.hexlify(m2.x509_digest(self._ptr(), md)).upper().decode()

    def check_host(self, hostname: Union[str, bytes]) -> bool:
        """check_host(self, hostname): see the module function."""
        return check_host(self, hostname)

    def check_ip(self, address: str) -> bool:
        return check_ip(self, address)


m2.x509_set_class(X509)  # the class of the certificates m2's functions make themselves


def load_cert_bio(bio: BIO.BIO, format: int = FORMAT_PEM) -> X509:
    """A certificate read from bio (PEM or DER); X509Error if there is none."""
    return _load_bio(X509, m2.x509_read_pem, m2.d2i_x509, bio, format)


def load_cert(file: Union[str, bytes], format: int = FORMAT_PEM) -> X509:
    """A certificate read from the file named file; X509Error if it holds none."""
    return _load_file(load_cert_bio, file, format)


def load_cert_string(string: Union[str, bytes], format: int = FORMAT_PEM) -> X509:
    """A certificate from PEM (or, with FORMAT_DER, DER) bytes."""
    _check_format(format)
    data = _as_bytes(string)
    if format == FORMAT_DER:
        return X509(m2.x509_from_der(data), 1)
    return _load_string(load_cert_bio, data, format)


def load_cert_der_string(cert_str: Union[str, bytes]) -> X509:
    return load_cert_string(cert_str, FORMAT_DER)


class X509_Stack(Owned):
    """A STACK_OF(X509): it holds one reference to each certificate on it, so certificates
    taken from it stay valid after it is freed."""

    _free_fn = m2.sk_x509_free

    def __init__(self, stack: Any = None, _pyfree: int = 0, _pyfree_x509: int = 0, owner: Any = None) -> None:
        # _pyfree_x509 is M2Crypto's; the stack always owns its certificate references.
        if stack is None:
            stack, _pyfree = m2.sk_x509_new_null(), 1
        super().__init__(stack, _pyfree, owner=owner)

    def __len__(self) -> int:
        return m2.sk_x509_num(self._ptr())

    def __getitem__(self, idx: int) -> X509:
        n = len(self)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError("index out of range")
        ptr = cast("m2.X509_ptr", m2.sk_x509_value(self._ptr(), idx))
        m2.x509_up_ref(ptr)
        return X509(ptr, 1)

    def __iter__(self) -> Iterator[X509]:
        for i in range(len(self)):
            yield self[i]

    def push(self, x509: X509) -> int:
        """Push a new reference to x509; returns the number of certificates."""
        _need(x509, X509, "x509")
        return m2.sk_x509_push(self._ptr(), x509._ptr())

    def pop(self) -> Optional[X509]:
        """The last certificate, or None if the stack is empty."""
        ptr = m2.sk_x509_pop(self._ptr())
        return X509(ptr, 1) if ptr is not None else None

    def as_der(self) -> bytes:
        """The certificates as DER SEQUENCE OF Certificate."""
        return m2.get_der_encoding_stack(self._ptr())

    def create_degenerate(self, bio: BIO.BIO) -> int:
        """Write the certificates to bio as a degenerate (certificates-only) PKCS#7 SignedData.

        :raises X509Error: for an empty stack or a bio that is not a BIO.
        :raises SMIME.PKCS7_Error: if the bio cannot be written."""
        if not isinstance(bio, BIO.BIO):
            raise X509Error("bio must be a BIO.BIO")
        if len(self) == 0:
            raise X509Error("Cannot create degenerate PKCS7 from empty stack")
        return m2.pkcs7_create_degenerate(self._ptr(), bio._ptr())

    def save_degenerate(self, filename: Union[str, bytes]) -> int:
        """Write the certificates to filename as a .p7c (degenerate PKCS#7, DER)."""
        if isinstance(filename, bytes):
            filename = filename.decode("utf-8")
        with BIO.openfile(filename, "wb") as bio:
            return self.create_degenerate(bio)


def new_stack_from_der(der_string: bytes) -> X509_Stack:
    """An X509_Stack from DER SEQUENCE OF Certificate; X509Error if malformed."""
    return X509_Stack(m2.make_stack_from_der_sequence(_as_bytes(der_string)), 1)


# ---------------------------------------------------------------------------------------
# Requests

class Request(_Signed, Owned):
    """A PKCS#10 certificate request; ``Request()`` is a new, empty (version 1) one."""

    _free_fn = m2.x509_req_free
    _print_fn, _write_pem_fn = m2.x509_req_print, m2.x509_req_write_pem
    _i2d_fn, _i2d_bio_fn = m2.i2d_x509_req, m2.i2d_x509_req_bio
    _get_pubkey_fn, _set_pubkey_fn = m2.x509_req_get_pubkey, m2.x509_req_set_pubkey
    _get_subject_fn, _set_subject_fn = m2.x509_req_get_subject_name, m2.x509_req_set_subject_name
    _get_version_fn, _set_version_fn = m2.x509_req_get_version, m2.x509_req_set_version
    _sign_fn, _verify_fn = m2.x509_req_sign_name, m2.x509_req_verify

    def __init__(self, req: Any = None, _pyfree: int = 0) -> None:
        if req is None:
            req, _pyfree = m2.x509_req_new(), 1
            m2.x509_req_set_version(req, 0)
        super().__init__(req, _pyfree)

    def add_extensions(self, ext_stack: X509_Extension_Stack) -> int:
        """Add the extensions (as the extensionRequest attribute)."""
        _need(ext_stack, X509_Extension_Stack, "ext_stack")
        return m2.x509_req_add_extensions(self._ptr(), ext_stack._ptr())

    def get_extensions(self) -> X509_Extension_Stack:
        """A new stack with copies of the requested extensions."""
        return X509_Extension_Stack(m2.x509_req_get_extensions(self._ptr()), 1)


def load_request_bio(bio: BIO.BIO, format: int = FORMAT_PEM) -> Request:
    return _load_bio(Request, m2.x509_req_read_pem, m2.d2i_x509_req, bio, format)


def load_request(file: Union[str, bytes], format: int = FORMAT_PEM) -> Request:
    return _load_file(load_request_bio, file, format)


def load_request_string(string: Union[str, bytes], format: int = FORMAT_PEM) -> Request:
    return _load_string(load_request_bio, string, format)


def load_request_der_string(cert_str: Union[str, bytes]) -> Request:
    return load_request_string(cert_str, FORMAT_DER)


# ---------------------------------------------------------------------------------------
# CRLs

class Revoked(Tuple[Any, ...]):
    """One revoked entry of a CRL: (serial, revocation_date, reason); ``invalidity_date``
    (an aware datetime, or None) is an attribute, not an item."""

    invalidity_date: Optional[Any] = None

    def __new__(cls, serial: int, revocation_date: Any, reason: Optional[int],
                invalidity_date: Optional[Any] = None) -> "Revoked":
        self = tuple.__new__(cls, (serial, revocation_date, reason))
        if invalidity_date is not None:
            self.invalidity_date = invalidity_date
        return self

    serial = property(lambda self: self[0])
    revocation_date = property(lambda self: self[1], doc="an aware datetime in UTC")
    reason = property(lambda self: self[2], doc="the CRLReason code, or None")


class CRL(_Extensions, Owned):
    """A certificate revocation list; ``CRL()`` is a new, empty one to fill in and sign."""

    _free_fn = m2.x509_crl_free
    _ext_count_fn, _ext_at_fn = m2.x509_crl_get_ext_count, m2.x509_crl_get_ext

    def __init__(self, crl: Any = None, _pyfree: int = 0) -> None:
        if crl is None:
            crl, _pyfree = m2.x509_crl_new(), 1
        super().__init__(crl, _pyfree)

    def as_text(self) -> str:
        """The CRL printed by X509_CRL_print."""
        return ASN1._print(m2.x509_crl_print, self._ptr())

    def as_pem(self) -> bytes:
        return _pem_out(m2.x509_crl_write_pem, self._ptr())

    def as_der(self) -> bytes:
        return m2.i2d_x509_crl(self._ptr())

    def get_issuer(self) -> X509_Name:
        return X509_Name(m2.x509_crl_get_issuer(self._ptr()), 0, owner=self)

    def get_lastUpdate(self) -> ASN1.ASN1_TIME:
        return cast(ASN1.ASN1_TIME, _borrow_time(m2.x509_CRL_get_lastUpdate(self._ptr()), self))

    def get_nextUpdate(self) -> Optional[ASN1.ASN1_TIME]:
        return _borrow_time(m2.x509_CRL_get_nextUpdate(self._ptr()), self)

    def verify(self, pkey: EVP.PKey) -> int:
        """1 if pkey verifies the CRL's signature, else 0."""
        _need(pkey, EVP.PKey, "pkey")
        return m2.x509_crl_verify(self._ptr(), pkey._ptr())

    def get_revoked(self) -> List[Revoked]:
        """The revoked entries, in the CRL's order."""
        ptr = self._ptr()
        return [Revoked(serial, _from_epoch(when), reason, _from_epoch(invalid))
                for (serial, when, reason), invalid in zip(m2.x509_crl_get_revoked(ptr),
                                                           m2.x509_crl_get_invalidity_dates(ptr))]

    def __len__(self) -> int:
        return len(m2.x509_crl_get_revoked(self._ptr()))

    def is_revoked(self, serial: Union[int, X509]) -> bool:
        """Whether serial (or the certificate's serial) is listed; the issuer is not checked."""
        if isinstance(serial, X509):
            serial = serial.get_serial_number()
        return any(r.serial == serial for r in self.get_revoked())

    # -- building (RFC 5280 section 5): set the fields, add entries, then sign ----------
    def set_version(self, version: int) -> int:
        """Set the version (1 for v2, which extensions need; a new CRL is v1, 0)."""
        return m2.x509_crl_set_version(self._ptr(), version)

    def get_version(self) -> int:
        return m2.x509_crl_get_version(self._ptr())

    def set_issuer(self, name: X509_Name) -> int:
        _need(name, X509_Name, "name")
        return m2.x509_crl_set_issuer_name(self._ptr(), name._ptr())

    set_issuer_name = set_issuer

    def set_last_update(self, when: Any) -> int:
        """Set thisUpdate (lastUpdate): a datetime, an ASN1_TIME or seconds since the epoch."""
        with _time_arg(when) as t:
            return m2.x509_crl_set_last_update(self._ptr(), t._ptr())

    def set_next_update(self, when: Any) -> int:
        """Set nextUpdate: a datetime, an ASN1_TIME or seconds since the epoch."""
        with _time_arg(when) as t:
            return m2.x509_crl_set_next_update(self._ptr(), t._ptr())

    set_lastUpdate, set_nextUpdate = set_last_update, set_next_update

    def add_revoked(self, serial: Union[int, X509], revocation_date: Any = None, *,
                    reason: Union[int, str, None] = None, invalidity_date: Any = None) -> None:
        """Add a revoked entry (X509_CRL_add0_revoked).

        :param serial: the certificate's serial number, or the certificate.
        :param revocation_date: a datetime, ASN1_TIME or seconds since the epoch; now by default.
        :param reason: a CRLReason code or name (:data:`CRL_REASONS`: 'keyCompromise', ...).
        :param invalidity_date: when the key is known or suspected to have been compromised.
        :raises ValueError: for an unknown reason or a negative serial.
        """
        if isinstance(serial, X509):
            serial = serial.get_serial_number()
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise TypeError("serial must be an int or an X509")
        if serial < 0:
            raise ValueError("a serial number is not negative")
        code = _crl_reason(reason)
        if revocation_date is None:
            revocation_date = datetime.datetime.now(ASN1.UTC)
        with ASN1.ASN1_Integer(serial) as n, _time_arg(revocation_date) as when:
            if invalidity_date is None:
                m2.x509_crl_add_revoked(self._ptr(), n._ptr(), when._ptr(), code, None)
            else:
                with _time_arg(invalidity_date) as invalid:
                    m2.x509_crl_add_revoked(self._ptr(), n._ptr(), when._ptr(), code, invalid._ptr())

    def set_crl_number(self, number: int) -> int:
        """Set the cRLNumber extension (RFC 5280 5.2.3), replacing any."""
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ValueError("the CRL number must be a non-negative int")
        with ASN1.ASN1_Integer(number) as n:
            return m2.x509_crl_set_number(self._ptr(), n._ptr())

    def get_crl_number(self) -> Optional[int]:
        """The cRLNumber, or None without one; X509Error if it is malformed."""
        return cast(Optional[int], m2.x509_crl_get_number(self._ptr()))

    def add_ext(self, ext: X509_Extension) -> int:
        """Add a copy of ext, replacing an extension of the same type."""
        _need(ext, X509_Extension, "ext")
        return m2.x509_crl_add_ext(self._ptr(), ext._ptr())

    def sign(self, pkey: EVP.PKey, md: Optional[str] = "sha256") -> int:
        """Sort the entries by serial and sign with pkey (X509_CRL_sign); md is ignored for
        Ed25519 and Ed448, which sign without a digest (RFC 8410).  A v1 CRL with extensions
        becomes v2.

        :raises X509Error: if OpenSSL cannot sign; ValueError for an unknown digest."""
        _need(pkey, EVP.PKey, "pkey")
        if md is not None and not isinstance(md, str):
            raise TypeError("md must be a digest name or None")
        if pkey.key_type in ("ED25519", "ED448"):
            md = None
        if self.get_version() == 0 and (self.get_ext_count() or any(
                r.reason is not None or r.invalidity_date is not None for r in self.get_revoked())):
            self.set_version(1)  # RFC 5280 5.1.2.1: extensions need a v2 CRL
        return m2.x509_crl_sign_name(self._ptr(), pkey._ptr(), md)

    def save(self, filename: str, format: int = FORMAT_PEM) -> int:
        """Write to filename as PEM or DER; 1 on success."""
        _check_format(format)
        writer = m2.x509_crl_write_pem if format == FORMAT_PEM else m2.i2d_x509_crl_bio
        with BIO.openfile(filename, "wb") as bio:
            return writer(bio._ptr(), self._ptr())

    save_pem = save


class CRL_Stack(Owned):
    """A STACK_OF(X509_CRL) holding one reference to each CRL; pop() gives back the object
    that was pushed."""

    _free_fn = m2.sk_x509_crl_free
    m2_sk_x509_crl_free = staticmethod(m2.sk_x509_crl_free)  # M2Crypto's name

    def __init__(self, stack: Any = None, _pyfree: int = 0, _pyfree_x509_crl: int = 0) -> None:
        if stack is None:
            stack, _pyfree = m2.sk_x509_crl_new_null(), 1
        super().__init__(stack, _pyfree)
        self.pystack: List[CRL] = []
        for i in range(m2.sk_x509_crl_num(stack)):
            ptr = cast("m2.X509_CRL_ptr", m2.sk_x509_crl_value(stack, i))
            m2.x509_crl_up_ref(ptr)
            self.pystack.append(CRL(ptr, 1))

    def __len__(self) -> int:
        return len(self.pystack)

    def __getitem__(self, idx: int) -> CRL:
        return self.pystack[idx]

    def __iter__(self) -> Iterator[CRL]:
        return iter(list(self.pystack))

    def push(self, crl: CRL) -> int:
        _need(crl, CRL, "crl")
        n = m2.sk_x509_crl_push(self._ptr(), crl._ptr())
        self.pystack.append(crl)
        return n

    def pop(self) -> Optional[CRL]:
        ptr = m2.sk_x509_crl_pop(self._ptr())
        if ptr is None:
            return None
        m2.x509_crl_free(ptr)  # the stack's reference; the Python object keeps its own
        return self.pystack.pop()


def load_crl_bio(bio: BIO.BIO, format: int = FORMAT_PEM) -> CRL:
    return _load_bio(CRL, m2.x509_crl_read_pem, m2.d2i_x509_crl, bio, format)


def load_crl(file: Union[str, bytes], format: int = FORMAT_PEM) -> CRL:
    """A CRL read from the file named file (PEM by default)."""
    return _load_file(load_crl_bio, file, format)


def load_crl_string(crl_string: Union[str, bytes], format: int = FORMAT_PEM) -> CRL:
    return _load_string(load_crl_bio, crl_string, format)


def load_crl_der_string(crl_string: bytes) -> CRL:
    return load_crl_string(crl_string, FORMAT_DER)


# ---------------------------------------------------------------------------------------
# Stores and chain verification

def _epoch_seconds(when: Any) -> int:
    if isinstance(when, datetime.datetime):
        return int((ASN1._as_utc(when) - ASN1._EPOCH).total_seconds())
    if isinstance(when, (int, float)):
        return int(when)
    raise TypeError("a datetime or seconds since the epoch is required")


class X509_Store_Context(Owned):
    """An X509_STORE_CTX: one chain verification."""

    _free_fn = m2.x509_store_ctx_free
    m2_x509_store_ctx_free = staticmethod(m2.x509_store_ctx_free)  # M2Crypto's name

    def __init__(self, x509_store_ctx: Any = None, _pyfree: int = 0) -> None:
        if x509_store_ctx is None:
            x509_store_ctx, _pyfree = m2.x509_store_ctx_new(), 1
        super().__init__(x509_store_ctx, _pyfree)
        self._keep: Tuple[Any, ...] = ()

    def init(self, store: "X509_Store", cert: X509, untrusted: Optional[X509_Stack] = None) -> None:
        """Prepare to verify cert against store, with untrusted intermediates."""
        _need(store, X509_Store, "store")
        _need(cert, X509, "cert")
        if untrusted is not None:
            _need(untrusted, X509_Stack, "untrusted")
        m2.x509_store_ctx_init(self._ptr(), store._ptr(), cert._ptr(),
                               untrusted._ptr() if untrusted is not None else None)
        self._keep = (store, cert, untrusted)  # the context points into all three

    def verify_cert(self) -> int:
        """1 if the chain verifies, 0 if not (see get_error()); a verify callback's exception
        is raised here."""
        return m2.x509_verify_cert(self._ptr())

    @property
    def ctx(self) -> Any:
        """The X509_STORE_CTX pointer (M2Crypto's attribute)."""
        return self._ptr()

    def get_error(self) -> int:
        return m2.x509_store_ctx_get_error(self._ptr())

    def get_error_string(self) -> str:
        return m2.x509_get_verify_error(self.get_error())

    def get_error_depth(self) -> int:
        return m2.x509_store_ctx_get_error_depth(self._ptr())

    def set_error(self, err: int) -> None:
        m2.x509_store_ctx_set_error(self._ptr(), err)

    def get_current_cert(self) -> Optional[X509]:
        """The certificate being checked (a new reference), or None."""
        ptr = m2.x509_store_ctx_get_current_cert(self._ptr())
        if ptr is None:
            return None
        m2.x509_up_ref(ptr)
        return X509(ptr, 1)

    def get1_chain(self) -> X509_Stack:
        """The verified chain, leaf first (holding its own references)."""
        return X509_Stack(m2.x509_store_ctx_get1_chain(self._ptr()), 1, 1)

    def set_purpose(self, purpose: int) -> None:
        if not m2.x509_store_ctx_set_purpose(self._ptr(), purpose):
            raise X509Error("unknown purpose %r" % purpose)

    def set_depth(self, depth: int) -> None:
        m2.x509_store_ctx_set_depth(self._ptr(), depth)

    def set_flags(self, flags: int) -> None:
        m2.x509_store_ctx_set_flags(self._ptr(), flags)

    def set_time(self, when: Any) -> None:
        """Verify at when (a datetime or seconds since the epoch) instead of now."""
        m2.x509_store_ctx_set_time(self._ptr(), _epoch_seconds(when))


    def add_crls(self, crls: "CRL_Stack") -> None:
        """Check revocation against crls too (with the CRL check flags set)."""
        _need(crls, CRL_Stack, "crls")
        m2.x509_store_ctx_set0_crls(self._ptr(), crls._ptr())
        self._keep = self._keep + (crls,)  # the context uses the stack without owning it


def x509_store_default_cb(ok: int, ctx: Any) -> int:
    return ok


class X509_Store(Owned):
    """An X509_STORE: trusted certificates, CRLs and verification parameters."""

    _free_fn = m2.x509_store_free

    def __init__(self, store: Any = None, _pyfree: int = 0) -> None:
        if store is None:
            store, _pyfree = m2.x509_store_new(), 1
        super().__init__(store, _pyfree)

    def load_info(self, file: str) -> int:
        """Add the certificates (and CRLs) of a PEM file; 1 on success, X509Error if not."""
        return m2.x509_store_load_locations(self._ptr(), file)

    def load_locations(self, cafile: Optional[str] = None, capath: Optional[str] = None) -> int:
        """Load a PEM CA file and/or use a hashed CA directory."""
        if cafile is None and capath is None:
            raise ValueError("cafile or capath is required")
        if cafile is not None:
            m2.x509_store_load_locations(self._ptr(), cafile)
        if capath is not None:
            m2.x509_store_load_path(self._ptr(), capath)
        return 1

    def set_default_paths(self) -> int:
        """Use OpenSSL's default CA file and directory."""
        return m2.x509_store_set_default_paths(self._ptr())

    def add_x509(self, x509: X509) -> int:
        _need(x509, X509, "x509")
        return m2.x509_store_add_cert(self._ptr(), x509._ptr())

    add_cert = add_x509

    def add_crl(self, crl: CRL) -> int:
        _need(crl, CRL, "crl")
        return m2.x509_store_add_crl(self._ptr(), crl._ptr())

    def set_verify_cb(self, callback: Optional[Callable[[int, X509_Store_Context], int]] = None) -> None:
        """Call callback(ok, X509_Store_Context) for each check; its result decides.

        An exception in the callback fails the verification and is raised by verify_cert().
        None restores OpenSSL's default."""
        if callback is None:
            m2.x509_store_set_verify_cb(self._ptr(), None)
            return
        if not callable(callback):
            raise X509Error("set_verify_cb(): callback is not callable")

        def trampoline(ok: int, ctx_ptr: Any) -> int:
            ctx = X509_Store_Context(ctx_ptr, 0)
            try:
                return int(bool(callback(ok, ctx)))
            finally:
                ctx.close()  # borrowed for the call only: later use raises ClosedError

        m2.x509_store_set_verify_cb(self._ptr(), trampoline)

    def set_flags(self, flags: int) -> int:
        """Set verification flags (the verify_* constants, X509_V_FLAG_* in OpenSSL)."""
        return m2.x509_store_set_flags(self._ptr(), flags)

    def set_purpose(self, purpose: int) -> int:
        return m2.x509_store_set_purpose(self._ptr(), purpose)

    def set_depth(self, depth: int) -> int:
        return m2.x509_store_set_depth(self._ptr(), depth)

    def set_time(self, when: Any) -> None:
        """Verify at when (a datetime or seconds since the epoch) instead of now."""
        m2.x509_store_set_time(self._ptr(), _epoch_seconds(when))


class X509VerificationError(X509Error):
    """A chain did not verify: ``verify_code`` (X509_V_ERR_*), ``depth`` and OpenSSL's text."""

    def __init__(self, verify_code: int, depth: int) -> None:
        self.verify_code = verify_code
        self.depth = depth
        self.verify_message = m2.x509_get_verify_error(verify_code)
        super().__init__("certificate verify failed at depth %d: %s (%d)" % (depth, self.verify_message, verify_code))


def verify_chain(cert: X509, trusted: Union[X509_Store, List[X509]], untrusted: Optional[List[X509]] = None, *,
                 purpose: Optional[int] = None, depth: Optional[int] = None, crls: Optional[List[CRL]] = None,
                 at_time: Any = None, flags: int = 0) -> List[X509]:
    """Verify cert's chain (X509_verify_cert) and return it, leaf first.

    :param trusted: a store, or the trust anchors; :param untrusted: intermediates.
    :param purpose: X509_PURPOSE_*; :param depth: the longest chain of intermediates allowed;
    :param crls: CRLs to check every certificate against (turns on CRL checks for the chain);
    :param at_time: verify at this datetime (or seconds since the epoch) instead of now.
    :raises X509VerificationError: with OpenSSL's verify code and the failing depth.
    """
    _need(cert, X509, "cert")
    if isinstance(trusted, X509_Store):
        store = trusted
    else:
        store = X509_Store()
        for c in trusted:
            store.add_x509(c)
    stack = X509_Stack()
    for c in untrusted or ():
        stack.push(c)
    ctx = X509_Store_Context()
    try:
        ctx.init(store, cert, stack)
        if crls:
            crl_store_flags = m2.VERIFY_CRL_CHECK | m2.VERIFY_CRL_CHECK_ALL
            if store is trusted:
                raise ValueError("pass crls with a list of trust anchors, or add them to the store")
            for crl in crls:
                store.add_crl(crl)
            flags |= crl_store_flags
        if flags:
            ctx.set_flags(flags)
        if purpose is not None:
            ctx.set_purpose(purpose)
        if depth is not None:
            ctx.set_depth(depth)
        if at_time is not None:
            ctx.set_time(at_time)
        if not ctx.verify_cert():
            raise X509VerificationError(ctx.get_error(), ctx.get_error_depth())
        return list(ctx.get1_chain())
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------
# RFC 6125 host name and IP address checks (shared with the SSL layer)

def parse_ip(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    """The IP address text names (IPv6 in brackets or not), or None for a host name.  An IPv6
    zone (``fe80::1%eth0``) names the local link, not the host: it is left out."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def a_label(hostname: str) -> str:
    """hostname as DNS, SNI and certificates carry it: ASCII, an internationalised name in
    its A-label (xn--) form (RFC 5890, RFC 6066 section 3).

    :raises ValueError: for a name IDNA cannot encode."""
    if hostname.isascii():
        return hostname
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("host name is not a valid IDN: %r" % hostname) from exc


def check_ip(cert: X509, address: str) -> bool:
    """Whether cert's subjectAltName has the iPAddress address (X509_check_ip_asc).

    The subject's CN is never used for IP addresses.
    :raises ValueError: if address is not an IPv4 or IPv6 address."""
    _need(cert, X509, "cert")
    if not isinstance(address, str):
        raise TypeError("address must be str")
    ip = parse_ip(address)
    if ip is None:
        raise ValueError("not an IP address: %r" % address)
    return bool(m2.x509_check_ip_asc(cert._ptr(), str(ip), 0))


def check_host(cert: X509, hostname: Union[str, bytes], *, flags: Optional[int] = None) -> bool:
    """Whether cert is valid for hostname, per RFC 6125 (X509_check_host).

    DNS names of subjectAltName are used; the subject's CN only when there is no DNS name.
    A wildcard matches only as the whole left-most label of the certificate's name, one
    label of the host name, never an IDN A-label (xn--) and never an IP address; an IP
    address is checked with check_ip().  A U-label host name is converted to its A-label.

    :param flags: X509_CHECK_FLAG_* to use instead of the default (no partial wildcards).
    :raises TypeError: for a hostname that is not str or bytes; ValueError if it is empty
        or malformed (NUL, empty label).
    """
    _need(cert, X509, "cert")
    if isinstance(hostname, (bytes, bytearray)):
        hostname = bytes(hostname).decode("ascii")
    if not isinstance(hostname, str):
        raise TypeError("hostname must be str")
    if parse_ip(hostname) is not None:
        return check_ip(cert, hostname)
    host = hostname[:-1] if hostname.endswith(".") else hostname
    if not host or "\x00" in host or any(not label for label in host.split(".")):
        raise ValueError("malformed host name: %r" % hostname)
    host = a_label(host).lower()
    if flags is None:
        flags = m2.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
    if host.split(".", 1)[0].startswith("xn--"):
        flags |= m2.X509_CHECK_FLAG_NO_WILDCARDS
    return bool(m2.x509_check_host(cert._ptr(), host, flags))


# ---------------------------------------------------------------------------------------
# CRL building and typed certificate extensions, for CA tools (RFC 5280 sections 4.2 and 5)

#: RFC 5280 5.3.1 CRLReason codes by name
CRL_REASONS: Dict[str, int] = {
    "unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4,
    "cessationOfOperation": 5, "certificateHold": 6, "removeFromCRL": 8, "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


def _crl_reason(reason: Union[int, str, None]) -> int:
    """The CRLReason code for reason (a code or a name); -1 for None."""
    if reason is None:
        return -1
    if isinstance(reason, str):
        if reason not in CRL_REASONS:
            raise ValueError("unknown CRL reason %r (one of %s)" % (reason, ", ".join(CRL_REASONS)))
        return CRL_REASONS[reason]
    if not isinstance(reason, int) or isinstance(reason, bool) or reason not in CRL_REASONS.values():
        raise ValueError("not a CRLReason code: %r" % (reason,))
    return reason


def _from_epoch(seconds: Optional[int]) -> Optional[Any]:
    return None if seconds is None else ASN1._EPOCH + datetime.timedelta(seconds=seconds)


@contextlib.contextmanager
def _time_arg(when: Any) -> Iterator[ASN1.ASN1_TIME]:
    """when (a datetime, an ASN1_TIME or seconds since the epoch) as an ASN1_TIME."""
    if isinstance(when, ASN1.ASN1_TIME):
        yield when
        return
    with ASN1.ASN1_TIME() as t:
        if isinstance(when, datetime.datetime):
            t.set_datetime(when)
        elif isinstance(when, (int, float)) and not isinstance(when, bool):
            t.set_time(int(when))
        else:
            raise TypeError("a datetime, an ASN1_TIME or seconds since the epoch is required, not %s"
                            % type(when).__name__)
        yield t


def make_crl(issuer: X509, issuer_key: EVP.PKey, revoked: Iterable[Any] = (), *, crl_number: Optional[int] = None,
             last_update: Any = None, next_update: Any = None, md: Optional[str] = "sha256") -> CRL:
    """A signed v2 CRL from issuer (RFC 5280 5.1), with its authorityKeyIdentifier.

    :param revoked: serials, certificates, or tuples (serial or certificate, revocation date
        or None, reason or None[, invalidity date]) such as :class:`Revoked` entries.
    :param last_update: now by default; :param next_update: a week after last_update by default.
    :param md: the digest (ignored for Ed25519/Ed448).
    :raises X509Error: if OpenSSL cannot build or sign it.
    """
    _need(issuer, X509, "issuer")
    _need(issuer_key, EVP.PKey, "issuer_key")
    if last_update is None:
        last_update = datetime.datetime.now(ASN1.UTC).replace(microsecond=0)
    if next_update is None:
        with _time_arg(last_update) as t:
            next_update = t.get_datetime() + datetime.timedelta(days=7)
    crl = CRL()
    crl.set_version(1)
    crl.set_issuer(issuer.get_subject())
    crl.set_last_update(last_update)
    crl.set_next_update(next_update)
    for entry in revoked:
        if isinstance(entry, (int, X509)):
            crl.add_revoked(entry)
        else:
            entry = tuple(entry)
            crl.add_revoked(entry[0], entry[1] if len(entry) > 1 else None,
                            reason=entry[2] if len(entry) > 2 else None,
                            invalidity_date=entry[3] if len(entry) > 3 else getattr(entry, "invalidity_date", None))
    crl.add_ext(authority_key_identifier(issuer))
    if crl_number is not None:
        crl.set_crl_number(crl_number)
    crl.sign(issuer_key, md)
    return crl


_OID = re.compile(r"[0-2](\.[0-9]+)+")


class GeneralName(Tuple[int, bytes]):
    """An RFC 5280 GeneralName, (GEN_* type, value as bytes), made by its class methods:
    ``GeneralName.dns('example.com')``, ``.ip('192.0.2.1')`` (``.ip('10.0.0.0/8')`` in name
    constraints), ``.email(...)``, ``.uri(...)``, ``.directory(X509_Name)``, ``.registered_id(oid)``."""

    __slots__ = ()

    def __new__(cls, type: int, value: bytes) -> "GeneralName":
        if not isinstance(value, bytes):
            raise TypeError("value must be bytes")
        return tuple.__new__(cls, (type, value))

    type = property(lambda self: self[0])
    value = property(lambda self: self[1])

    @staticmethod
    def _ia5(text: str, what: str) -> bytes:
        if not isinstance(text, str):
            raise TypeError("%s must be str" % what)
        if not text or "\x00" in text or not text.isascii():
            raise ValueError("%s must be non-empty ASCII without NUL: %r" % (what, text))
        return text.encode("ascii")

    @classmethod
    def dns(cls, name: str) -> "GeneralName":
        """A dNSName (an internationalised name is stored as its A-label)."""
        if not isinstance(name, str):
            raise TypeError("name must be str")
        return cls(m2.GEN_DNS, cls._ia5(a_label(name), "a DNS name"))

    @classmethod
    def email(cls, address: str) -> "GeneralName":
        return cls(m2.GEN_EMAIL, cls._ia5(address, "an e-mail address"))

    @classmethod
    def uri(cls, uri: str) -> "GeneralName":
        return cls(m2.GEN_URI, cls._ia5(uri, "a URI"))

    @classmethod
    def ip(cls, address: Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address,
                               ipaddress.IPv4Network, ipaddress.IPv6Network]) -> "GeneralName":
        """An iPAddress: an address, or a network ('10.0.0.0/8') for name constraints."""
        if isinstance(address, str):
            address = ipaddress.ip_network(address) if "/" in address else ipaddress.ip_address(address)
        if isinstance(address, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return cls(m2.GEN_IPADD, address.network_address.packed + address.netmask.packed)
        if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return cls(m2.GEN_IPADD, address.packed)
        raise TypeError("address must be str or an ipaddress address or network")

    @classmethod
    def directory(cls, name: X509_Name) -> "GeneralName":
        _need(name, X509_Name, "name")
        return cls(m2.GEN_DIRNAME, name.as_der())

    @classmethod
    def registered_id(cls, oid: str) -> "GeneralName":
        """A registeredID: an OID in dotted form ('1.3.6.1.4.1.99999.1')."""
        if not isinstance(oid, str) or not _OID.fullmatch(oid):
            raise ValueError("not a dotted OID: %r" % (oid,))
        return cls(m2.GEN_RID, oid.encode("ascii"))


def _names(items: Iterable[Any], default: Callable[[str], GeneralName]) -> List[Tuple[int, bytes]]:
    """GeneralNames as a list for m2; str items go through default."""
    out = []
    for item in items:
        if isinstance(item, str):
            item = default(item)
        _need(item, GeneralName, "a name")
        out.append(tuple(item))
    return out


def _ext(ptr: Any, critical: bool) -> X509_Extension:
    ext = X509_Extension(ptr, 1)
    ext.set_critical(1 if critical else 0)
    return ext


def subject_key_identifier(key: Union[EVP.PKey, X509]) -> X509_Extension:
    """subjectKeyIdentifier (RFC 5280 4.2.1.2): SHA-1 of the key's subjectPublicKey."""
    if isinstance(key, X509):
        key = key.get_pubkey()
    _need(key, EVP.PKey, "key")
    return new_extension("subjectKeyIdentifier", binascii.hexlify(m2.pkey_key_identifier(key._ptr())).decode())


def authority_key_identifier(issuer: Union[X509, EVP.PKey]) -> X509_Extension:
    """authorityKeyIdentifier (RFC 5280 4.2.1.1) naming issuer's key: its certificate's
    subjectKeyIdentifier when it has one, else the SHA-1 of its key."""
    keyid = issuer.get_subject_key_id() if isinstance(issuer, X509) else None
    if keyid is None:
        key = issuer.get_pubkey() if isinstance(issuer, X509) else issuer
        _need(key, EVP.PKey, "issuer")
        keyid = m2.pkey_key_identifier(key._ptr())
    return AuthorityKeyIdentifier(keyid).as_extension()


def basic_constraints(ca: bool, path_length: Optional[int] = None, *, critical: bool = True) -> X509_Extension:
    """basicConstraints (RFC 5280 4.2.1.9); path_length only for a CA."""
    if path_length is not None:
        if not ca:
            raise ValueError("path_length is for CA certificates only")
        if not isinstance(path_length, int) or isinstance(path_length, bool) or path_length < 0:
            raise ValueError("path_length must be a non-negative int")
    value = "CA:TRUE" if ca else "CA:FALSE"
    if path_length is not None:
        value += ",pathlen:%d" % path_length
    return new_extension("basicConstraints", value, 1 if critical else 0)


_KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
_KEY_USAGE_NAMES = ("digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
                    "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly")


def key_usage(*, critical: bool = True, **usages: bool) -> X509_Extension:
    """keyUsage (RFC 5280 4.2.1.3) from cryptography's keyword names: digital_signature,
    content_commitment, key_encipherment, data_encipherment, key_agreement, key_cert_sign,
    crl_sign, encipher_only, decipher_only."""
    unknown = set(usages) - set(_KEY_USAGES)
    if unknown:
        raise TypeError("unknown key usage %s" % ", ".join(sorted(unknown)))
    names = [n for k, n in zip(_KEY_USAGES, _KEY_USAGE_NAMES) if usages.get(k)]
    if not names:
        raise ValueError("no key usage given")
    if (usages.get("encipher_only") or usages.get("decipher_only")) and not usages.get("key_agreement"):
        raise ValueError("encipher_only and decipher_only need key_agreement")
    return new_extension("keyUsage", ",".join(names), 1 if critical else 0)


def extended_key_usage(*usages: str, critical: bool = False) -> X509_Extension:
    """extendedKeyUsage (RFC 5280 4.2.1.12): OpenSSL's short names ('serverAuth',
    'clientAuth', 'codeSigning', 'emailProtection', 'timeStamping', 'OCSPSigning') or OIDs."""
    if not usages:
        raise ValueError("no extended key usage given")
    for u in usages:
        if not isinstance(u, str) or not (re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", u) or _OID.fullmatch(u)):
            raise ValueError("not a key purpose name or OID: %r" % (u,))
    return new_extension("extendedKeyUsage", ",".join(usages), 1 if critical else 0)


def subject_alt_name(*names: GeneralName, dns: Iterable[str] = (), ip: Iterable[str] = (),
                     email: Iterable[str] = (), uri: Iterable[str] = (), critical: bool = False) -> X509_Extension:
    """subjectAltName (RFC 5280 4.2.1.6) from GeneralNames and/or lists by type."""
    items = (_names(names, GeneralName.dns) + _names(dns, GeneralName.dns) + _names(ip, GeneralName.ip)
             + _names(email, GeneralName.email) + _names(uri, GeneralName.uri))
    if not items:
        raise ValueError("subjectAltName needs at least one name")
    return _ext(m2.x509v3_general_names_ext(m2.obj_txt2nid("subjectAltName"), 1 if critical else 0, items), critical)


def authority_info_access(*, ocsp: Iterable[str] = (), ca_issuers: Iterable[str] = ()) -> X509_Extension:
    """authorityInfoAccess (RFC 5280 4.2.2.1): OCSP responder and caIssuers URLs."""
    items = ([("OCSP", n) for n in _names(ocsp, GeneralName.uri)]
             + [("caIssuers", n) for n in _names(ca_issuers, GeneralName.uri)])
    if not items:
        raise ValueError("authorityInfoAccess needs an OCSP or caIssuers URL")
    return _ext(m2.x509v3_aia_ext(items), False)


def crl_distribution_points(*points: Union[str, GeneralName, Iterable[Union[str, GeneralName]]]) -> X509_Extension:
    """cRLDistributionPoints (RFC 5280 4.2.1.13): each point a URL (or a GeneralName, or a
    list of them: one point with several full names)."""
    if not points:
        raise ValueError("cRLDistributionPoints needs a point")
    dps = [_names([p] if isinstance(p, (str, GeneralName)) else p, GeneralName.uri) for p in points]
    if not all(dps):
        raise ValueError("a distribution point needs a name")
    return _ext(m2.x509v3_crl_dp_ext(dps), False)


def name_constraints(*, permitted: Iterable[GeneralName] = (), excluded: Iterable[GeneralName] = ()) -> X509_Extension:
    """nameConstraints (RFC 5280 4.2.1.10), critical: subtrees given as GeneralNames
    (``GeneralName.dns('example.com')``, ``.ip('10.0.0.0/8')``, ``.email('example.com')``...)."""
    p, e = _names(permitted, GeneralName.dns), _names(excluded, GeneralName.dns)
    if not p and not e:
        raise ValueError("nameConstraints needs a permitted or excluded subtree")
    return _ext(m2.x509v3_name_constraints_ext(p, e), True)


def policy_constraints(*, require_explicit_policy: Optional[int] = None,
                       inhibit_policy_mapping: Optional[int] = None) -> X509_Extension:
    """policyConstraints (RFC 5280 4.2.1.11), critical."""
    parts = []
    for value, name in ((require_explicit_policy, "requireExplicitPolicy"), (inhibit_policy_mapping, "inhibitPolicyMapping")):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError("%s must be a non-negative int" % name)
        parts.append("%s:%d" % (name, value))
    if not parts:
        raise ValueError("policyConstraints needs require_explicit_policy or inhibit_policy_mapping")
    return new_extension("policyConstraints", ",".join(parts), 1)
