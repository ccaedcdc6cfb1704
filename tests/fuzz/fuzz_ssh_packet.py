"""SSH packet framing (M2Sec.SSH.packet): the version line, plaintext and zlib packets, and
SSHReader's wire types, fed in the chunk sizes the input chooses.  Faults are DisconnectError
subclasses (ProtocolError, ProtocolVersionNotSupported) or SSHFormatError."""
import sys

from _harness import main, split

from M2Sec.SSH import crypto
from M2Sec.SSH.errors import DisconnectError, SSHFormatError
from M2Sec.SSH.packet import Decompressor, PacketReader, SSHReader

EXPECTED = (DisconnectError, SSHFormatError)


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0], data[1:]
    if mode & 1:  # wire types: each piece read as the types the mode bits name
        r = SSHReader(data)
        getters = (r.get_byte, r.get_boolean, r.get_uint32, r.get_uint64, r.get_string, r.get_text,
                   r.get_mpint, r.get_namelist)
        for i in range(8):
            getters[(mode >> 1) + i & 7]()
        r.get_rest()
        r.done()
        return
    reader = PacketReader(crypto.PlainOpener())
    if mode & 2:
        reader.decompress = Decompressor()
    pieces = split(data)
    reader.feed(pieces[0])
    if reader.read_version() is None:
        return
    for piece in pieces[1:] or [b""]:
        reader.feed(piece)
        while reader.read_packet() is not None:
            pass


if __name__ == "__main__":
    main(one_input, EXPECTED)
