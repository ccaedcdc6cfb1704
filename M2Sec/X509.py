"""X.509 names, certificates and the rest of the PKI (M2Crypto's X509 module)."""

from typing import Any, Dict, Iterator, Optional, Union

from M2Sec import ASN1, BIO, m2
from M2Sec._base import Owned
from M2Sec.Err import M2SecError


class X509Error(M2SecError, ValueError):
    """An X.509 operation failed."""


m2.x509_init(X509Error)


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
        m2.x509_name_add_entry_by_txt(self._ptr(), m2.obj_nid2sn(nid), ASN1.MBSTRING_UTF8, value, -1, 0)

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

    def get_entries_by_nid(self, nid: int) -> list:
        entries, last = [], -1
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


class X509(Owned):
    """An X.509 certificate."""

    _free_fn = m2.x509_free

    def __init__(self, x509: Any, _pyfree: int = 0) -> None:
        super().__init__(x509, _pyfree)
