"""A small, strict DER reader and writer (X.690) for the few structures M2Sec builds or edits
itself, where OpenSSL has no public API for them (CMS RecipientInfos for RFC 8418).

The reader takes attacker input: every length is checked against the buffer and the enclosing
element, only definite lengths in their minimal form are accepted (DER), tags are the one-byte
form, and nesting is walked one level at a time by the caller (no recursion here).  Errors are
:class:`DERError` (a ValueError); callers turn them into their area's exception.
"""

from typing import List, NamedTuple, Optional, Sequence

__all__ = ["DERError", "TLV", "read", "read_all", "children", "expect", "tlv", "seq", "octet_string",
           "integer", "oid", "decode_oid", "bit_string", "decode_bit_string", "decode_integer"]

# universal tags
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
SEQUENCE = 0x30
SET = 0x31

_MAX_LENGTH_OCTETS = 4  # 4 GiB: more than any message this reader is given in memory


class DERError(ValueError):
    """The input is not the DER expected: truncated, an overlong or indefinite length, a
    length past its enclosing element, an unexpected tag."""


class TLV(NamedTuple):
    """One element: its tag byte, and where its header starts, its content starts and ends, in
    the buffer it was read from."""

    tag: int
    start: int
    body: int
    end: int

    def content(self, buf: bytes) -> bytes:
        return bytes(buf[self.body:self.end])

    def encoding(self, buf: bytes) -> bytes:
        return bytes(buf[self.start:self.end])


def read(buf: bytes, pos: int, end: int) -> TLV:
    """The element starting at buf[pos], which must end by end.  :raises DERError:"""
    if not 0 <= pos < end <= len(buf):
        raise DERError("truncated DER: an element expected at offset %d" % pos)
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("DER tag in the high-number form at offset %d" % pos)
    if pos + 1 >= end:
        raise DERError("truncated DER: no length at offset %d" % pos)
    first = buf[pos + 1]
    p = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DERError("indefinite length at offset %d (BER, not DER)" % pos)
    else:
        n = first & 0x7F
        if n > _MAX_LENGTH_OCTETS:
            raise DERError("DER length of %d octets at offset %d" % (n, pos))
        if p + n > end:
            raise DERError("truncated DER length at offset %d" % pos)
        length = int.from_bytes(buf[p:p + n], "big")
        if buf[p] == 0 or length < 0x80:
            raise DERError("DER length not in its shortest form at offset %d" % pos)
        p += n
    if length > end - p:
        raise DERError("DER length %d at offset %d runs past its end (%d bytes left)" % (length, pos, end - p))
    return TLV(tag, pos, p, p + length)


def read_all(buf: bytes, tag: Optional[int] = None) -> TLV:
    """The one element that is all of buf (with tag, if given).  :raises DERError:"""
    t = read(buf, 0, len(buf))
    if t.end != len(buf):
        raise DERError("%d bytes after the DER element" % (len(buf) - t.end))
    if tag is not None and t.tag != tag:
        raise DERError("DER tag 0x%02x where 0x%02x was expected" % (t.tag, tag))
    return t


def children(buf: bytes, parent: TLV) -> List[TLV]:
    """The elements inside a constructed parent, in order.  :raises DERError:"""
    if not parent.tag & 0x20:
        raise DERError("DER tag 0x%02x is not constructed" % parent.tag)
    out = []
    pos = parent.body
    while pos < parent.end:
        t = read(buf, pos, parent.end)
        out.append(t)
        pos = t.end
    return out


def expect(items: Sequence[TLV], index: int, tag: int, what: str) -> TLV:
    """items[index], which must have tag.  :raises DERError: naming what was expected."""
    if index >= len(items) or items[index].tag != tag:
        raise DERError("%s expected (DER tag 0x%02x)" % (what, tag))
    return items[index]


# ---- writing ----

def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def seq(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def octet_string(data: bytes) -> bytes:
    return tlv(OCTET_STRING, data)


def integer(value: int) -> bytes:
    n = value.bit_length() // 8 + 1 if value >= 0 else (-value - 1).bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(n, "big", signed=True))


def decode_integer(buf: bytes, t: TLV) -> int:
    """The value of an INTEGER (minimal form checked).  :raises DERError:"""
    if t.tag != INTEGER or t.end == t.body:
        raise DERError("INTEGER expected")
    c = buf[t.body:t.end]
    if len(c) > 1 and ((c[0] == 0 and c[1] < 0x80) or (c[0] == 0xFF and c[1] >= 0x80)):
        raise DERError("INTEGER not in its shortest form")
    return int.from_bytes(c, "big", signed=True)


def oid(dotted: str) -> bytes:
    """The DER OBJECT IDENTIFIER of a dotted string."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError("not an object identifier: %s" % dotted)
    body = bytearray()
    for a in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def decode_oid(buf: bytes, t: TLV) -> str:
    """The dotted string of an OBJECT IDENTIFIER.  :raises DERError:"""
    c = buf[t.body:t.end]
    if t.tag != OID or not c or c[-1] & 0x80:
        raise DERError("OBJECT IDENTIFIER expected")
    arcs: List[int] = []
    value, fresh = 0, True
    for b in c:
        if fresh and b == 0x80:
            raise DERError("OBJECT IDENTIFIER arc not in its shortest form")
        value = (value << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(value)
            value = 0
        elif value.bit_length() > 64:
            raise DERError("OBJECT IDENTIFIER arc too large")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


def bit_string(data: bytes) -> bytes:
    """A BIT STRING of whole octets (no unused bits)."""
    return tlv(BIT_STRING, b"\x00" + data)


def decode_bit_string(buf: bytes, t: TLV) -> bytes:
    """The octets of a BIT STRING of whole octets.  :raises DERError:"""
    if t.tag != BIT_STRING or t.end == t.body or buf[t.body] != 0:
        raise DERError("BIT STRING of whole octets expected")
    return bytes(buf[t.body + 1:t.end])
