"""SSH wire encoding (RFC 4251 section 5): byte, boolean, uint32, uint64, string, mpint,
name-list, and :class:`SSHReader` to take them apart.

Encoders are pure functions returning bytes.  The reader raises :class:`SSHFormatError` for
truncated or malformed input, never IndexError or struct.error.
"""

import struct
from typing import Any, Iterable, List, Union

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
        n: int = _U32.unpack(self._take(4, "uint32"))[0]
        return n

    def get_uint64(self) -> int:
        n: int = _U64.unpack(self._take(8, "uint64"))[0]
        return n

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


# ---- the binary packet protocol (RFC 4253 sections 4.2 and 6) --------------------------------
#
# PacketWriter frames payloads (compress, pad, seal) and counts sequence numbers and bytes;
# PacketReader takes bytes as they arrive, finds the version line first, then opens packets
# one by one.  Neither knows about messages: connection.py does.

import zlib as _zlib  # noqa: E402
from typing import Any, Callable, Optional, Protocol  # noqa: E402

from M2Sec.SSH.errors import (CompressionError, MACError, ProtocolError,  # noqa: E402
                              ProtocolVersionNotSupported)

#: The largest packet accepted (OpenSSH's PACKET_MAX_SIZE): larger ones end the connection.
MAX_PACKET = 256 * 1024
#: The longest line a server may send before its version line, and how many such lines.
MAX_LINE = 8192
MAX_PRE_LINES = 1024

_pack_u32 = _U32.pack


class Compressor:
    """zlib (RFC 4253 section 6.2) for one direction: a stream flushed at each packet."""

    def __init__(self) -> None:
        self._z = _zlib.compressobj(6)

    def __call__(self, payload: bytes) -> bytes:
        z = self._z
        return z.compress(payload) + z.flush(_zlib.Z_SYNC_FLUSH)


class Decompressor:
    """The incoming zlib stream; a packet inflating past MAX_PACKET is an error."""

    def __init__(self) -> None:
        self._z = _zlib.decompressobj()

    def __call__(self, payload: bytes) -> bytes:
        try:
            out = self._z.decompress(payload, MAX_PACKET)
        except _zlib.error as e:
            raise CompressionError("bad compressed data: %s" % e, local=False) from None
        if self._z.unconsumed_tail:
            raise CompressionError("a packet inflates past %d bytes" % MAX_PACKET, local=False)
        if not out:  # every packet carries a message number: nothing is a broken packet
            raise CompressionError("a packet inflates to nothing", local=False)
        return out


def _no_compression(payload: bytes) -> bytes:
    return payload


class PacketSealer(Protocol):
    """What :class:`PacketWriter` needs of a direction's protection (crypto.Sealer, PlainSealer)."""

    kind: str          # "none", "cbc", "ctr", "gcm", "chachapoly"
    block: int
    length_apart: bool

    def seal(self, seq: int, body: bytes) -> bytes: ...


class PacketOpener(Protocol):
    """What :class:`PacketReader` needs of a direction's protection (crypto.Opener, PlainOpener)."""

    block: int
    length_apart: bool
    head: int
    tail: int

    def length(self, seq: int, head: memoryview) -> int: ...

    def open(self, seq: int, packet: memoryview) -> Optional[bytes]: ...


class PacketWriter:
    """Frames outgoing payloads: compression, padding, then the direction's sealer.

    :attr:`seq` is the sequence number of the next packet; :attr:`bytes_out` counts what was
    sealed since the last :meth:`set_keys` (for rekeying by volume).
    """

    def __init__(self, sealer: PacketSealer, random: Callable[[int], bytes]) -> None:
        self.seq = 0
        self.bytes_out = 0
        self.packets = 0
        self._random = random
        self.compress: Callable[[bytes], bytes] = _no_compression
        self.set_keys(sealer)

    def set_keys(self, sealer: PacketSealer) -> None:
        self._sealer = sealer
        self._seal = sealer.seal
        self._block = max(sealer.block, 8)
        self._apart = 0 if sealer.length_apart else 4
        # Padding is random under no cipher (it is then visible) and with CBC; under a stream
        # cipher or an AEAD its content is never seen, and zero bytes cost nothing to make.
        self._random_pad = sealer.kind in ("none", "cbc")
        self.bytes_out = 0

    def write(self, payload: bytes, data: Buffer = b"") -> bytes:
        """The wire form of one payload (payload + data: a channel message's header and its
        data, joined once with the padding), and the sequence number moves on."""
        if self.compress is not _no_compression:
            payload, data = self.compress(payload + data), b""
        block = self._block
        pad = block - ((self._apart + 1 + len(payload) + len(data)) % block)
        if pad < 4:
            pad += block
        padding = self._random(pad) if self._random_pad else bytes(pad)
        seq = self.seq
        self.seq = (seq + 1) & 0xFFFFFFFF
        wire = self._seal(seq, b"".join((bytes((pad,)), payload, data, padding)))
        self.bytes_out += len(wire)
        self.packets += 1
        return wire


class PacketReader:
    """Takes bytes as they arrive and returns whole payloads.

    First the version line (:meth:`read_version`), then packets (:meth:`read_packet`).  Every
    fault raises the DisconnectError subclass for it: an oversized or misaligned packet is a
    ProtocolError, a bad MAC or tag a MACError, a bad version line
    ProtocolVersionNotSupported.
    """

    def __init__(self, opener: PacketOpener) -> None:
        self.seq = 0
        self.bytes_in = 0
        self.packets = 0
        self.decompress: Callable[[bytes], bytes] = _no_compression
        self.pre_lines: List[bytes] = []
        self._buf = bytearray()
        self._pos = 0
        self._length = -1
        self.set_keys(opener)

    def set_keys(self, opener: PacketOpener) -> None:
        self._opener = opener
        self._open = opener.open
        self._head = opener.head
        self._block = max(opener.block, 8)
        self._apart = 0 if opener.length_apart else 4
        self._tail = opener.tail
        self.bytes_in = 0

    def feed(self, data: Buffer) -> None:
        buf = self._buf
        if self._pos and self._pos * 2 >= len(buf):
            del buf[:self._pos]
            self._pos = 0
        buf += data

    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def read_version(self) -> Optional[bytes]:
        """The peer's version line without CR LF once it has arrived, else None.

        Lines before it are kept in :attr:`pre_lines` (RFC 4253 section 4.2).
        """
        buf = self._buf
        while True:
            end = buf.find(b"\n", self._pos, self._pos + MAX_LINE)
            if end < 0:
                if len(buf) - self._pos >= MAX_LINE:
                    raise ProtocolVersionNotSupported("no version line in the first %d bytes" % MAX_LINE,
                                                      local=False)
                return None
            line = bytes(buf[self._pos:end])
            self._pos = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.startswith(b"SSH-"):
                if not (line.startswith(b"SSH-2.0-") or line.startswith(b"SSH-1.99-")):
                    raise ProtocolVersionNotSupported("the peer speaks %r" % line[:40], local=False)
                if len(line) > 253 or b"\0" in line:
                    raise ProtocolVersionNotSupported("malformed version line", local=False)
                return line
            if len(self.pre_lines) >= MAX_PRE_LINES or b"\0" in line:
                raise ProtocolVersionNotSupported("garbage instead of a version line", local=False)
            self.pre_lines.append(line)

    def read_packet(self) -> Optional[bytes]:
        """The next payload once it has all arrived, else None; the sequence number moves on."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        length = self._length
        if length < 0:
            if avail < self._head:
                return None
            mv = memoryview(buf)
            try:
                length = self._opener.length(self.seq, mv[pos:pos + self._head])
            finally:
                mv.release()
            if length > MAX_PACKET or length < 5:
                raise ProtocolError("bad packet length %d" % length, local=False)
            if (length + self._apart) % self._block:
                raise ProtocolError("packet length %d is not a multiple of the block size" % length,
                                    local=False)
            self._length = length
        total = 4 + length + self._tail
        if avail < total:
            return None
        mv = memoryview(buf)
        try:
            body = self._open(self.seq, mv[pos:pos + total])
        finally:
            mv.release()
        if body is None:
            raise MACError("packet %d failed its MAC or tag" % self.seq, local=False)
        self._pos = pos + total
        self._length = -1
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.bytes_in += total
        self.packets += 1
        pad = body[0]
        if pad < 4 or pad + 1 >= len(body):
            raise ProtocolError("bad padding length %d" % pad, local=False)
        return self.decompress(body[1:len(body) - pad])
