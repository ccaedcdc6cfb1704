"""SSH wire encoding (RFC 4251 section 5): byte, boolean, uint32, uint64, string, mpint,
name-list, and :class:`SSHReader` to take them apart.

Encoders are pure functions returning bytes.  The reader raises :class:`SSHFormatError` for
truncated or malformed input, never IndexError or struct.error.
"""

import struct
from typing import Iterable, List, Union

from M2Sec.SSH.errors import SSHFormatError

Buffer = Union[bytes, bytearray, memoryview]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def byte(n: int) -> bytes:
    """One byte (a message number, a flag)."""
    return bytes((n,))


def boolean(b: bool) -> bytes:
    """RFC 4251 boolean: one byte, 0 or 1."""
    return b"\x01" if b else b"\x00"


def uint32(n: int) -> bytes:
    return _U32.pack(n)


def uint64(n: int) -> bytes:
    return _U64.pack(n)


def string(b: Union[Buffer, str]) -> bytes:
    """RFC 4251 string: uint32 length then the bytes (str is encoded as UTF-8)."""
    if isinstance(b, str):
        b = b.encode("utf-8")
    return _U32.pack(len(b)) + bytes(b)


def mpint(n: int) -> bytes:
    """RFC 4251 mpint: two's complement, big-endian, minimal length, as a string."""
    if n == 0:
        return b"\x00\x00\x00\x00"
    length = (n.bit_length() + 8) // 8 if n > 0 else ((-n - 1).bit_length() + 8) // 8
    return _U32.pack(length) + n.to_bytes(length, "big", signed=True)


def namelist(names: Iterable[Union[bytes, str]]) -> bytes:
    """RFC 4251 name-list: comma-separated ASCII names, as a string."""
    parts = [n.encode("ascii") if isinstance(n, str) else bytes(n) for n in names]
    for p in parts:
        if not p or b"," in p:
            raise ValueError("a name-list entry must be non-empty and contain no comma: %r" % p)
    return string(b",".join(parts))


class SSHReader:
    """Reads SSH wire types from bytes, front to back.

    Every getter raises :class:`SSHFormatError` if the data ends too soon; :meth:`done`
    raises if bytes are left over.
    """

    __slots__ = ("_data", "_pos")

    def __init__(self, data: Buffer) -> None:
        self._data = bytes(data)
        self._pos = 0

    def _take(self, n: int, what: str) -> bytes:
        pos = self._pos
        end = pos + n
        if end > len(self._data):
            raise SSHFormatError("truncated %s: %d bytes needed, %d left" % (what, n, len(self._data) - pos))
        self._pos = end
        return self._data[pos:end]

    def get_byte(self) -> int:
        return self._take(1, "byte")[0]

    def get_boolean(self) -> bool:
        return self._take(1, "boolean")[0] != 0

    def get_uint32(self) -> int:
        return _U32.unpack(self._take(4, "uint32"))[0]

    def get_uint64(self) -> int:
        return _U64.unpack(self._take(8, "uint64"))[0]

    def get_string(self) -> bytes:
        """A string's bytes."""
        return self._take(self.get_uint32(), "string")

    def get_text(self) -> str:
        """A string decoded as UTF-8 (SSHFormatError if it is not)."""
        raw = self.get_string()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SSHFormatError("a string is not valid UTF-8") from None

    def get_mpint(self) -> int:
        """An mpint (leading zero bytes are tolerated, as OpenSSH does)."""
        return int.from_bytes(self.get_string(), "big", signed=True)

    def get_namelist(self) -> List[bytes]:
        raw = self.get_string()
        if not raw:
            return []
        names = raw.split(b",")
        if not all(names):
            raise SSHFormatError("name-list has an empty name")
        if not raw.isascii():
            raise SSHFormatError("name-list is not ASCII")
        return names

    def get_bytes(self, n: int) -> bytes:
        """n raw bytes (fixed-size fields such as a KEXINIT cookie)."""
        return self._take(n, "field")

    def get_rest(self) -> bytes:
        """Everything not read yet."""
        rest = self._data[self._pos:]
        self._pos = len(self._data)
        return rest

    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self._data) - self._pos

    def done(self) -> None:
        """Raise SSHFormatError if bytes are left over."""
        if self._pos != len(self._data):
            raise SSHFormatError("%d unexpected trailing bytes" % (len(self._data) - self._pos))
