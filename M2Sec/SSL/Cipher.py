"""SSL cipher suites (M2Crypto's ``SSL.Cipher`` and ``SSL.Cipher_Stack``)."""

from typing import Any, Iterator

from M2Sec import m2

__all__ = ["Cipher", "Cipher_Stack"]


class Cipher:
    """One cipher suite; OpenSSL's SSL_CIPHER entries are static, so nothing is freed."""

    def __init__(self, cipher: Any) -> None:
        if cipher is None:
            raise ValueError("Cipher needs an SSL_CIPHER pointer, got None")
        self.cipher = cipher

    def __len__(self) -> int:
        """The suite's secret bits."""
        return m2.ssl_cipher_get_bits(self.cipher)

    def __repr__(self) -> str:
        return "%s-%s" % (self.name(), len(self))

    __str__ = __repr__

    def version(self) -> str:
        """The protocol version that introduced the suite ("TLSv1.3", "TLSv1.2" ...)."""
        return m2.ssl_cipher_get_version(self.cipher)

    def name(self) -> str:
        """OpenSSL's name of the suite ("TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256")."""
        return m2.ssl_cipher_get_name(self.cipher)

    def standard_name(self) -> str:
        """The IANA (RFC) name of the suite."""
        return m2.ssl_cipher_standard_name(self.cipher) or ""

    def protocol_id(self) -> int:
        """The suite's IANA number (0x1301 for TLS_AES_128_GCM_SHA256)."""
        return m2.ssl_cipher_get_protocol_id(self.cipher)


class Cipher_Stack:
    """The cipher suites of a connection; keeps the connection alive while it is used."""

    def __init__(self, stack: Any, owner: Any = None) -> None:
        self.stack = stack
        self._owner = owner

    def __len__(self) -> int:
        return m2.sk_ssl_cipher_num(self.stack)

    def __getitem__(self, idx: int) -> Cipher:
        n = len(self)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError("index out of range")
        return Cipher(m2.sk_ssl_cipher_value(self.stack, idx))

    def __iter__(self) -> Iterator[Cipher]:
        for i in range(len(self)):
            yield self[i]
