"""EVP: keys, digests and ciphers through OpenSSL's EVP API (M2Crypto's EVP module)."""

from typing import Any

from M2Sec import m2
from M2Sec._base import Owned
from M2Sec.Err import M2SecError


class EVPError(M2SecError, ValueError):
    """An EVP operation failed."""


m2.evp_init(EVPError)


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
