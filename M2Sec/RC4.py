"""RC4 (M2Crypto's RC4 module), on EVP's RC4 from OpenSSL's legacy provider.

RC4 is broken (RFC 7465 forbids it in TLS); it is here only to read old data.  Making an
:class:`RC4` object emits a DeprecationWarning and loads the legacy provider.
"""

import warnings
from typing import Any, Optional, Union

from M2Sec import m2
from M2Sec._base import Owned
from M2Sec.EVP import EVPError, _load_legacy

Buffer = Union[bytes, bytearray, memoryview]


class RC4(Owned):
    """The RC4 stream cipher: the same call encrypts and decrypts.

    :raises EVPError: if this system's OpenSSL has no legacy provider (and so no RC4).
    """

    _free_fn = m2.rc4_free
    rc4_free = staticmethod(m2.rc4_free)  # M2Crypto's name

    def __init__(self, key: Optional[Buffer] = None) -> None:
        warnings.warn("M2Sec.RC4 is deprecated: RC4 is insecure (RFC 7465); use AES-GCM or ChaCha20-Poly1305",
                      DeprecationWarning, stacklevel=2)
        if not _load_legacy():
            raise EVPError("RC4 needs OpenSSL's legacy provider, which is not available on this system")
        super().__init__(m2.rc4_new(), 1)
        if key:
            self.set_key(key)

    @property
    def cipher(self) -> Any:
        return self._ptr()

    def set_key(self, key: Buffer) -> None:
        """Start a new key stream with key (1 to 256 bytes)."""
        m2.rc4_set_key(self._ptr(), key)

    def update(self, data: Buffer) -> bytes:
        """Encrypt or decrypt data."""
        return m2.rc4_update(self._ptr(), data)

    def final(self) -> str:
        """Nothing: RC4 has no final block (M2Crypto returns an empty str)."""
        return ""
