"""X25519 and X448 recipients of CMS EnvelopedData/AuthEnvelopedData (RFC 8418), which
OpenSSL's CMS lacks (up to 3.5 at least: it takes such keys for key transport and fails).

How: OpenSSL still makes and opens the message; M2Sec does the key agreement around it.

- Encrypting, each X25519/X448 recipient is first added to OpenSSL's CMS as a KEK recipient
  (``CMS_add0_recipient_key``, AES key wrap) whose key-encryption key M2Sec derived itself
  (:func:`prepare`): an ephemeral key, the shared secret with the recipient's public key
  (RFC 7748), then the KDF over it with the DER ECC-CMS-SharedInfo of RFC 5753 section 7.2
  (keyInfo: the wrap algorithm, entityUInfo: the ukm if any, suppPubInfo: the KEK length in
  bits, 4 octets big-endian).  Once OpenSSL has wrapped the content-encryption key,
  :func:`to_key_agreement` rewrites each such KEKRecipientInfo ([2]) into the
  KeyAgreeRecipientInfo ([1], version 3) RFC 8418 section 3 describes: originator
  OriginatorPublicKey {id-X25519 or id-X448, parameters absent; the ephemeral public key},
  keyEncryptionAlgorithm {the KDF scheme, parameters: the key wrap AlgorithmIdentifier},
  one RecipientEncryptedKey {issuerAndSerialNumber or rKeyId; the wrapped key}.  The
  EnvelopedData version stays 2 (RFC 5652 section 6.1: any RecipientInfo of a version other
  than 0; KEKRI is 4, KARI 3) and AuthEnvelopedData's is always 0 (RFC 5083).
- Decrypting, :func:`to_kek` finds the KeyAgreeRecipientInfos for the private key's type (and
  certificate, if given), derives each candidate's KEK and rewrites the KeyAgreeRecipientInfo
  back into KEKRecipientInfos named by fresh key ids, which OpenSSL then opens with
  ``CMS_decrypt_set1_key``.

KDFs (RFC 8418 section 2): ANSI X9.63 with SHA-256/384/512 (dhSinglePass-stdDH-sha*kdf-scheme,
1.3.132.1.11.1-3: the one implementations MUST support, section 5) and HKDF with SHA-256/384/512
(dhSinglePass-stdDH-hkdf-sha*-scheme, 1.2.840.113549.1.9.16.3.19-21: the ukm, when present, is
the salt, and ECC-CMS-SharedInfo the info).  All six are read; M2Sec writes X9.63 by default
(SHA-256 for X25519, SHA-512 for X448) or HKDF on request (the same hashes).

Errors are :class:`ECXError` with a ``kind`` ("format", "decrypt", "unsupported", "key") that
the CMS module turns into its exception classes.
"""

import binascii
import email.parser
import itertools
import struct
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar

from M2Sec import EVP, Rand, X509
from M2Sec import _der as der

__all__ = ["ENVELOPED", "AUTH_ENVELOPED", "ECXError", "is_ecx_key", "Pending", "prepare", "to_key_agreement", "to_kek", "KDFS", "MAX_HEAD",
           "NeedMore", "Head", "parse_head", "rewrite_head", "HeadFilter", "key_agreement_filter",
           "Base64Text", "Base64Filter", "base64_der", "DetachFilter"]

KEY_OIDS = {"X25519": "1.3.101.110", "X448": "1.3.101.111"}
_KEY_BY_OID = {v: k for k, v in KEY_OIDS.items()}
_RAW_LEN = {"X25519": 32, "X448": 56}

#: scheme OID -> (KDF, digest)
SCHEMES: Dict[str, Tuple[str, str]] = {
    "1.3.132.1.11.1": ("x963", "sha256"), "1.3.132.1.11.2": ("x963", "sha384"),
    "1.3.132.1.11.3": ("x963", "sha512"),
    "1.2.840.113549.1.9.16.3.19": ("hkdf", "sha256"), "1.2.840.113549.1.9.16.3.20": ("hkdf", "sha384"),
    "1.2.840.113549.1.9.16.3.21": ("hkdf", "sha512"),
}
_SCHEME_BY = {v: k for k, v in SCHEMES.items()}
#: what M2Sec writes: the digest for each key type
_DIGEST = {"X25519": "sha256", "X448": "sha512"}
KDFS = ("x963", "hkdf")
#: AES key wrap (RFC 3394, RFC 3565: parameters absent) by KEK length
_WRAP = {16: "2.16.840.1.101.3.4.1.5", 24: "2.16.840.1.101.3.4.1.25", 32: "2.16.840.1.101.3.4.1.45"}
_WRAP_LEN = {v: k for k, v in _WRAP.items()}

ENVELOPED = _ENVELOPED = "1.2.840.113549.1.7.3"
AUTH_ENVELOPED = _AUTH_ENVELOPED = "1.2.840.113549.1.9.16.1.23"
_KEKRI, _KARI = 0xA2, 0xA1
_ID_PREFIX = b"M2Sec RFC 8418 "


class ECXError(Exception):
    """An RFC 8418 recipient could not be made or opened; ``kind`` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def is_ecx_key(pkey: EVP.PKey) -> bool:
    """True for an X25519 or X448 key."""
    return pkey.key_type in KEY_OIDS


# ---- the key derivation (RFC 8418 section 2, RFC 5753 section 7.2) ----

def shared_info(wrap_oid: str, ukm: Optional[bytes], kek_len: int) -> bytes:
    """The DER ECC-CMS-SharedInfo: the KDF's SharedInfo (X9.63) or info (HKDF)."""
    parts = [der.seq(der.oid(wrap_oid))]
    if ukm is not None:
        parts.append(der.tlv(0xA0, der.octet_string(ukm)))
    parts.append(der.tlv(0xA2, der.octet_string(struct.pack(">I", kek_len * 8))))
    return der.seq(*parts)


def _x963(z: bytes, info: bytes, length: int, digest: str) -> bytes:
    """ANSI X9.63 KDF: Hash(Z || counter || SharedInfo) for counter = 1, 2, ... (SEC 1 3.6.1)."""
    out = b""
    counter = 1
    while len(out) < length:
        md = EVP.MessageDigest(digest)
        md.update(z + struct.pack(">I", counter) + info)
        out += md.final()
        counter += 1
    return out[:length]


def derive_kek(kdf: str, digest: str, z: bytes, wrap_oid: str, ukm: Optional[bytes], kek_len: int) -> bytes:
    """The key-encryption key from the shared secret z."""
    info = shared_info(wrap_oid, ukm, kek_len)
    if kdf == "hkdf":
        return EVP.hkdf(z, kek_len, salt=ukm or b"", info=info, algo=digest)
    return _x963(z, info, kek_len, digest)


def _agree(private: EVP.PKey, public: EVP.PKey, kind: str) -> bytes:
    """The X25519/X448 shared secret; an all-zero one (a low-order public key, RFC 7748
    section 6) is refused."""
    try:
        z = private.derive(public)
    except EVP.EVPError:
        raise ECXError(kind, "no shared secret with this %s key (a low-order point?)" % private.key_type) from None
    if not any(z):
        raise ECXError(kind, "the %s shared secret is all zero (a low-order point)" % private.key_type)
    return z


# ---- encrypting ----

class Pending(NamedTuple):
    """One X25519/X448 recipient added to OpenSSL as a KEK recipient, waiting for
    :func:`to_key_agreement`."""

    kek: bytes
    key_id: bytes
    originator: bytes   # the DER [0] EXPLICIT OriginatorIdentifierOrKey
    ukm: Optional[bytes]
    algorithm: bytes    # the DER keyEncryptionAlgorithm
    wrap: bytes         # the DER wrap AlgorithmIdentifier OpenSSL must have used
    rid: bytes          # the DER KeyAgreeRecipientIdentifier


def _issuer_and_serial(cert: X509.X509) -> bytes:
    return der.seq(cert.get_issuer().as_der(), der.integer(cert.get_serial_number()))


def prepare(cert: X509.X509, kek_len: int, *, kdf: str = "x963", use_key_id: bool = False,
            ukm: Optional[bytes] = None) -> Pending:
    """An ephemeral key agreement with cert's X25519/X448 key, and the KEK it gives.

    :param kek_len: 16, 24 or 32: the AES key wrap to use (match it to the content cipher).
    :raises ECXError: not an X25519/X448 certificate, a low-order key, no subject key
        identifier with use_key_id.
    """
    if kdf not in KDFS:
        raise ValueError("kdf must be one of %s" % ", ".join(KDFS))
    if kek_len not in _WRAP:
        raise ValueError("kek_len must be 16, 24 or 32")
    public = cert.get_pubkey()
    alg = public.key_type
    if alg not in KEY_OIDS:
        raise ECXError("unsupported", "not an X25519 or X448 certificate")
    if use_key_id:
        ski = cert.get_subject_key_id()
        if not ski:
            raise ECXError("key", "the recipient's certificate has no subject key identifier")
        rid = der.tlv(0xA0, der.octet_string(ski))  # rKeyId [0] IMPLICIT RecipientKeyIdentifier
    else:
        rid = _issuer_and_serial(cert)
    ephemeral = EVP.generate_key(alg)
    z = _agree(ephemeral, public, "key")
    digest, wrap_oid = _DIGEST[alg], _WRAP[kek_len]
    kek = derive_kek(kdf, digest, z, wrap_oid, ukm, kek_len)
    originator = der.tlv(0xA0, der.tlv(0xA1, der.seq(der.oid(KEY_OIDS[alg])) + der.bit_string(ephemeral.raw_public_bytes())))
    wrap = der.seq(der.oid(wrap_oid))
    algorithm = der.seq(der.oid(_SCHEME_BY[(kdf, digest)]), wrap)
    return Pending(kek, _ID_PREFIX + Rand.rand_bytes(16), originator, ukm, algorithm, wrap, rid)


def _kari(p: Pending, encrypted_key: bytes) -> bytes:
    ukm = der.tlv(0xA1, der.octet_string(p.ukm)) if p.ukm is not None else b""
    body = der.integer(3) + p.originator + ukm + p.algorithm + der.seq(der.seq(p.rid + der.octet_string(encrypted_key)))
    return der.tlv(_KARI, body)


def _set_of(items: Sequence[bytes]) -> bytes:
    """A DER SET OF: its elements in ascending order of their encodings (X.690 11.6)."""
    width = max((len(i) for i in items), default=0)
    return der.tlv(der.SET, b"".join(sorted(items, key=lambda i: bytes(i).ljust(width, b"\0"))))


def _recipient_infos(buf: bytes) -> Tuple[List[der.TLV], List[der.TLV]]:
    """(the chain ContentInfo -> [0] -> (Auth)EnvelopedData, the RecipientInfos) of an
    (auth)envelopedData in DER.  :raises der.DERError:"""
    ci = der.read_all(buf, der.SEQUENCE)
    top = der.children(buf, ci)
    kind = der.decode_oid(buf, der.expect(top, 0, der.OID, "contentType"))
    if kind not in (_ENVELOPED, _AUTH_ENVELOPED):
        raise der.DERError("not an envelopedData or authEnvelopedData")
    explicit = der.expect(top, 1, 0xA0, "content [0]")
    inner = der.children(buf, explicit)
    if len(inner) != 1 or inner[0].tag != der.SEQUENCE:
        raise der.DERError("the content is not one SEQUENCE")
    fields = der.children(buf, inner[0])
    der.expect(fields, 0, der.INTEGER, "version")
    i = 1
    if i < len(fields) and fields[i].tag == 0xA0:  # originatorInfo
        i += 1
    ris = der.expect(fields, i, der.SET, "recipientInfos")
    return [ci, explicit, inner[0], ris], der.children(buf, ris)


def _replace(buf: bytes, chain: List[der.TLV], new_set: bytes) -> bytes:
    """buf with the innermost element of chain (the SET) replaced by new_set, the lengths of
    the elements around it rewritten."""
    out = new_set
    for outer, inner in zip(reversed(chain[:-1]), reversed(chain[1:])):
        body = buf[outer.body:inner.start] + out + buf[inner.end:outer.end]
        out = der.tlv(outer.tag, body)
    return out


def _kari_set(buf: bytes, ris: Sequence[der.TLV], pending: Sequence[Pending]) -> bytes:
    """The RecipientInfos SET with each pending KEK recipient made its KeyAgreeRecipientInfo.
    :raises ECXError:"""
    by_id = {p.key_id: p for p in pending}
    try:
        out: List[bytes] = []
        for ri in ris:
            p = None
            if ri.tag == _KEKRI:
                f = der.children(buf, ri)
                kekid = der.children(buf, der.expect(f, 1, der.SEQUENCE, "kekid"))
                p = by_id.pop(der.expect(kekid, 0, der.OCTET_STRING, "keyIdentifier").content(buf), None)
            if p is None:
                out.append(ri.encoding(buf))
                continue
            if der.expect(f, 2, der.SEQUENCE, "keyEncryptionAlgorithm").encoding(buf) != p.wrap:
                raise ECXError("format", "OpenSSL wrapped the key with another algorithm than expected")
            out.append(_kari(p, der.expect(f, 3, der.OCTET_STRING, "encryptedKey").content(buf)))
    except der.DERError as e:
        raise ECXError("format", "cannot rewrite the recipients: %s" % e) from None
    if by_id:
        raise ECXError("format", "OpenSSL's message lacks an X25519/X448 recipient")
    return _set_of(out)


def to_key_agreement(buf: bytes, pending: Sequence[Pending]) -> bytes:
    """The DER message OpenSSL made, each pending KEK recipient made the
    KeyAgreeRecipientInfo it stands for.  :raises ECXError:"""
    try:
        chain, ris = _recipient_infos(buf)
    except der.DERError as e:
        raise ECXError("format", "cannot rewrite the recipients: %s" % e) from None
    return _replace(buf, chain, _kari_set(buf, ris, pending))


# ---- decrypting ----

class Candidate(NamedTuple):
    kek: bytes
    key_id: bytes


def _rid_matches(buf: bytes, rid: der.TLV, cert: Optional[X509.X509]) -> bool:
    if cert is None:
        return True
    if rid.tag == der.SEQUENCE:  # issuerAndSerialNumber
        return rid.encoding(buf) == _issuer_and_serial(cert)
    if rid.tag == 0xA0:  # rKeyId [0] IMPLICIT RecipientKeyIdentifier
        ski = der.expect(der.children(buf, rid), 0, der.OCTET_STRING, "subjectKeyIdentifier").content(buf)
        return ski == (cert.get_subject_key_id() or b"")
    return False  # no other KeyAgreeRecipientIdentifier choice exists (RFC 5652 6.2.2)


def _open_kari(buf: bytes, ri: der.TLV, key: EVP.PKey, cert: Optional[X509.X509],
               problems: List[ECXError]) -> List[Tuple[Candidate, bytes]]:
    """(candidate, KEKRI DER) for each RecipientEncryptedKey of this KARI that may be key's."""
    f = der.children(buf, ri)
    if der.decode_integer(buf, der.expect(f, 0, der.INTEGER, "version")) != 3:
        raise der.DERError("KeyAgreeRecipientInfo version is not 3")
    originator = der.children(buf, der.expect(f, 1, 0xA0, "originator"))
    if len(originator) != 1 or originator[0].tag != 0xA1:
        return []  # named by issuer or key identifier: a static key, not RFC 8418's ephemeral
    opk = der.children(buf, originator[0])
    alg = der.children(buf, der.expect(opk, 0, der.SEQUENCE, "originatorKey algorithm"))
    key_type = _KEY_BY_OID.get(der.decode_oid(buf, der.expect(alg, 0, der.OID, "algorithm")))
    if key_type is None or key_type != key.key_type:
        return []  # an EC originator (OpenSSL's business), or another curve
    if len(alg) != 1:
        raise der.DERError("the %s originator key has parameters (RFC 8418: absent)" % key_type)
    public = der.decode_bit_string(buf, der.expect(opk, 1, der.BIT_STRING, "publicKey"))
    if len(public) != _RAW_LEN[key_type] or len(opk) != 2:
        raise der.DERError("the %s originator key is %d bytes" % (key_type, len(public)))
    i = 2
    ukm = None
    if i < len(f) and f[i].tag == 0xA1:
        ukm = der.expect(der.children(buf, f[i]), 0, der.OCTET_STRING, "ukm").content(buf)
        i += 1
    kea = der.children(buf, der.expect(f, i, der.SEQUENCE, "keyEncryptionAlgorithm"))
    reks = der.children(buf, der.expect(f, i + 1, der.SEQUENCE, "recipientEncryptedKeys"))
    if len(f) != i + 2:
        raise der.DERError("extra fields in a KeyAgreeRecipientInfo")
    scheme_oid = der.decode_oid(buf, der.expect(kea, 0, der.OID, "key agreement algorithm"))
    wrap = der.expect(kea, 1, der.SEQUENCE, "key wrap algorithm")
    wrap_oid = der.decode_oid(buf, der.expect(der.children(buf, wrap), 0, der.OID, "key wrap algorithm"))
    mine = []
    for rek in reks:
        parts = der.children(buf, rek)
        if rek.tag != der.SEQUENCE or len(parts) != 2 or parts[1].tag != der.OCTET_STRING:
            raise der.DERError("malformed RecipientEncryptedKey")
        if _rid_matches(buf, parts[0], cert):
            mine.append(parts[1].content(buf))
    if not mine:
        return []
    if scheme_oid not in SCHEMES:
        problems.append(ECXError("unsupported", "unknown key agreement algorithm %s for %s (RFC 8418 has the "
                                 "X9.63 and HKDF schemes)" % (scheme_oid, key_type)))
        return []
    if wrap_oid not in _WRAP_LEN:
        problems.append(ECXError("unsupported", "unknown key wrap algorithm %s" % wrap_oid))
        return []
    kdf, digest = SCHEMES[scheme_oid]
    kek_len = _WRAP_LEN[wrap_oid]
    try:
        z = _agree(key, EVP.load_raw_public_key(key_type, public), "decrypt")
    except EVP.EVPError:
        raise ECXError("decrypt", "the originator's %s key is not valid" % key_type) from None
    kek = derive_kek(kdf, digest, z, wrap_oid, ukm, kek_len)
    out = []
    for encrypted_key in mine:
        c = Candidate(kek, _ID_PREFIX + Rand.rand_bytes(16))
        kekri = der.tlv(_KEKRI, der.integer(4) + der.seq(der.octet_string(c.key_id)) + wrap.encoding(buf)
                        + der.octet_string(encrypted_key))
        out.append((c, kekri))
    return out


def _kek_set(buf: bytes, ris: Sequence[der.TLV], key: EVP.PKey,
             cert: Optional[X509.X509]) -> Tuple[bytes, List[Candidate]]:
    """(the RecipientInfos SET with key's KeyAgreeRecipientInfos made KEK recipients, the
    candidates).  :raises ECXError: as :func:`to_kek`."""
    problems: List[ECXError] = []
    candidates: List[Candidate] = []
    try:
        out: List[bytes] = []
        for ri in ris:
            opened = _open_kari(buf, ri, key, cert, problems) if ri.tag == _KARI else []
            if not opened:
                out.append(ri.encoding(buf))
            for c, kekri in opened:
                candidates.append(c)
                out.append(kekri)
    except der.DERError as e:
        raise ECXError("format", "malformed KeyAgreeRecipientInfo: %s" % e) from None
    if not candidates:
        if problems:
            raise problems[0]
        raise ECXError("decrypt", "no %s recipient for this key in the message" % key.key_type)
    return _set_of(out), candidates


def to_kek(buf: bytes, key: EVP.PKey, cert: Optional[X509.X509] = None) -> Tuple[bytes, List[Candidate]]:
    """(the DER message with key's KeyAgreeRecipientInfos made KEK recipients, the
    candidates' KEKs and key ids to try in turn).

    :raises ECXError: malformed ("format"), no recipient for this key ("decrypt"), only
        recipients with an unknown KDF or wrap ("unsupported"), a low-order originator key
        ("decrypt").
    """
    try:
        chain, ris = _recipient_infos(buf)
    except der.DERError as e:
        raise ECXError("format", "malformed KeyAgreeRecipientInfo: %s" % e) from None
    new_set, candidates = _kek_set(buf, ris, key, cert)
    return _replace(buf, chain, new_set), candidates


# ---- streaming: only the head of the message (up to the end of its RecipientInfos) is rewritten ----
#
# OpenSSL writes a streamed (Auth)EnvelopedData with indefinite lengths on ContentInfo, its [0],
# the (Auth)EnvelopedData SEQUENCE and what follows the RecipientInfos; the version, the
# originatorInfo and the RecipientInfos SET before the content are DER.  A non-streamed message
# (or Bouncy Castle's) has definite lengths throughout.  Either way the RecipientInfos come
# before the encrypted content, so rewriting them needs only the bytes up to their end: the
# head.  The outer headers are rewritten (a definite length grows or shrinks by what the SET
# did, an indefinite one stays so), everything after the SET passes through unchanged.

#: the most bytes of a message's head (everything up to the end of its RecipientInfos) held in
#: memory while streaming; a longer head is refused
MAX_HEAD = 1 << 20


class NeedMore(Exception):
    """The head is not complete yet: more of the stream is needed."""


class Head(NamedTuple):
    """The parsed head of a BER (Auth)EnvelopedData."""

    outer: List[Tuple[int, int, int, Optional[int]]]  # (tag, start, body, length or None) of ContentInfo, [0], the SEQUENCE
    ris: der.TLV                                      # the RecipientInfos SET
    children: List[der.TLV]                           # its RecipientInfos
    kind: str                                         # the content type's OID


def _header(buf: bytes, pos: int, end: Optional[int]) -> Tuple[int, int, Optional[int]]:
    """(tag, where the content starts, the length or None when indefinite) of the BER element
    at pos, which must lie before end (the enclosing definite end).  :raises NeedMore, der.DERError:"""
    def need(n: int) -> None:
        if end is not None and n > end:
            raise der.DERError("an element at offset %d runs past the one around it" % pos)
        if n > len(buf):
            raise NeedMore
    need(pos + 2)
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise der.DERError("tag in the high-number form at offset %d" % pos)
    if first < 0x80:
        length = first
        body = pos + 2
    elif first == 0x80:
        if not tag & 0x20:
            raise der.DERError("indefinite length on a primitive element at offset %d" % pos)
        return tag, pos + 2, None
    else:
        n = first & 0x7F
        if n > 8:
            raise der.DERError("a length of %d octets at offset %d" % (n, pos))
        need(pos + 2 + n)
        length = int.from_bytes(buf[pos + 2:pos + 2 + n], "big")
        body = pos + 2 + n
    if end is not None and body + length > end:
        raise der.DERError("the length at offset %d runs past the element around it" % pos)
    return tag, body, length


def _element(buf: bytes, pos: int, end: Optional[int], tags: Tuple[int, ...], what: str, limit: int) -> der.TLV:
    """The whole definite-length element at pos (one of tags), ending by limit.
    :raises NeedMore, der.DERError:"""
    t, body, length = _header(buf, pos, end)
    if t not in tags:
        raise der.DERError("%s expected at offset %d" % (what, pos))
    if length is None:
        raise der.DERError("%s with an indefinite length (only its enclosers may have one)" % what)
    if body + length > limit:
        raise der.DERError("the message's head (up to the end of its RecipientInfos) is over %d bytes" % limit)
    if body + length > len(buf):
        raise NeedMore
    return der.TLV(t, pos, body, body + length)


def parse_head(buf: bytes, limit: int = MAX_HEAD) -> Head:
    """The head of the (Auth)EnvelopedData whose first bytes buf holds.

    :raises NeedMore: buf ends inside the head.
    :raises der.DERError: not an (auth)envelopedData, malformed, lengths that contradict each
        other, an indefinite-length RecipientInfos or originatorInfo, a head over limit bytes.
    """
    outer: List[Tuple[int, int, int, Optional[int]]] = []
    end: Optional[int] = None

    def enter(pos: int, tag: int, what: str) -> int:
        nonlocal end
        t, body, length = _header(buf, pos, end)
        if t != tag:
            raise der.DERError("%s expected (tag 0x%02x) at offset %d" % (what, tag, pos))
        outer.append((t, pos, body, length))
        if length is not None:
            end = body + length
        return body

    def element(pos: int, tags: Tuple[int, ...], what: str) -> der.TLV:
        return _element(buf, pos, end, tags, what, limit)

    pos = enter(0, der.SEQUENCE, "ContentInfo")
    kind = element(pos, (der.OID,), "contentType")
    kind_oid = der.decode_oid(buf, kind)
    if kind_oid not in (_ENVELOPED, _AUTH_ENVELOPED):
        raise der.DERError("not an envelopedData or authEnvelopedData")
    pos = enter(kind.end, 0xA0, "content [0]")
    pos = enter(pos, der.SEQUENCE, "(Auth)EnvelopedData")
    version = element(pos, (der.INTEGER,), "version")
    nxt = element(version.end, (0xA0, der.SET), "originatorInfo or recipientInfos")
    if nxt.tag == 0xA0:
        nxt = element(nxt.end, (der.SET,), "recipientInfos")
    return Head(outer, nxt, der.children(buf, nxt), kind_oid)


def rewrite_head(buf: bytes, head: Head, new_set: bytes) -> bytes:
    """The head with its RecipientInfos SET replaced by new_set: definite outer lengths
    recomputed (inside out: a header may change size), indefinite ones kept."""
    delta = len(new_set) - (head.ris.end - head.ris.start)
    headers: List[bytes] = []
    for tag, start, body, length in reversed(head.outer):
        h = bytes([tag]) + (b"\x80" if length is None else der._length(length + delta))
        delta += len(h) - (body - start)
        headers.append(h)
    out = bytearray()
    pos = 0
    for (tag, start, body, length), h in zip(head.outer, reversed(headers)):
        out += buf[pos:start] + h
        pos = body
    out += buf[pos:head.ris.start] + new_set
    return bytes(out)


_T = TypeVar("_T")


def _complete_head(parse: Callable[[bytes, int], _T], buf: bytes, limit: int) -> Optional[_T]:
    """parse(buf, limit), or None while buf ends inside the head (up to limit bytes).
    :raises ECXError: a head over limit bytes, or malformed."""
    try:
        return parse(buf, limit)
    except NeedMore:
        if len(buf) > limit:
            raise ECXError("format", "the message's head is over %d bytes" % limit) from None
        return None
    except der.DERError as e:
        raise ECXError("format", "cannot read the recipients of the stream: %s" % e) from None


class HeadFilter:
    """A stream filter: :meth:`feed` takes the message in pieces and returns what to pass on;
    it holds back the head (at most limit bytes) until it is complete, rewrites it with
    rewrite(buf, head) and passes the rest through unchanged.  :meth:`close` at the end."""

    def __init__(self, rewrite: Callable[[bytes, Head], bytes], limit: int = MAX_HEAD) -> None:
        self._rewrite, self._limit = rewrite, limit
        self._buf: Optional[bytearray] = bytearray()

    def feed(self, data: bytes) -> bytes:
        if self._buf is None:
            return data
        self._buf += data
        buf = bytes(self._buf)
        head = _complete_head(parse_head, buf, self._limit)
        if head is None:
            return b""
        self._buf = None
        return self._rewrite(buf, head) + buf[head.ris.end:]

    def close(self) -> bytes:
        if self._buf is not None:
            raise ECXError("format", "the stream ends inside the message's head (%d bytes): truncated"
                           % len(self._buf))
        return b""


def key_agreement_filter(pending: Sequence[Pending], limit: int = MAX_HEAD) -> HeadFilter:
    """The filter that makes OpenSSL's streamed KEK recipients RFC 8418's key agreement."""
    return HeadFilter(lambda buf, head: rewrite_head(buf, head, _kari_set(buf, head.children, pending)), limit)


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
def _body_end(buf: bytes, pos: int, end: int) -> int:
    """Where the first line of buf[pos:end] (whole lines) that ends a base64 body starts (an
    empty line, or a "-----" line such as "-----END CMS-----"), or -1.  Found with C-speed
    calls (a multi-byte find on base64 text is slow: its every line break is a near match)."""
    lines = buf[pos:end - 1].split(b"\n")
    at = [i for i in (lines.index(b"") if b"" in lines else -1, lines.index(b"\r") if b"\r" in lines else -1) if i >= 0]
    blank = pos + sum(len(line) + 1 for line in lines[:min(at)]) if at else -1
    dash = buf.find(b"-", pos, end if blank < 0 else blank)  # no base64 character: rare in a body
    if dash >= 0:
        start = buf.rfind(b"\n", pos, dash) + 1 or pos
        if buf.startswith(b"-----", start):
            return start
    return blank


class Base64Text:
    """Base64 text (PEM, S/MIME) read in pieces, in bounded memory: :meth:`feed` and
    :meth:`close` return what they made of it as (part, bytes) in order: "pre" for each line
    before the body (up to and with its "-----BEGIN" line, or for start="mime" the blank line
    ending the headers; "either" takes the first of the two), "body" for decoded bytes, one
    "end" (empty) where the body ends (an empty or "-----" line, or the end of the text), then
    "post" for the text from that line on.  Body lines are decoded in bulk; at most max_line
    bytes of one line and max_pre bytes before the body are held.  :raises ECXError:"""

    def __init__(self, start: str = "either", max_line: int = 1 << 16, max_pre: int = MAX_HEAD) -> None:
        self._start, self._max_line, self._max_pre = start, max_line, max_pre
        self._state = "pre"  # pre, body, post
        self._line = b""     # the last line, not complete yet
        self._text = b""     # base64 characters not yet decoded (less than 4)
        self._pre = 0        # bytes before the body so far
        self._padded = False
        self.crlf: Optional[bool] = None  # the body's lines end in CRLF (None: no body line yet)

    def _decode(self, body: bytes) -> bytes:
        text = self._text + body.translate(None, b" \t\r\n")
        if not text:
            return b""
        if self._padded or text.translate(None, _B64_ALPHABET):
            raise ECXError("format", "bad base64 in the message: %s" % (
                "text after its padding" if self._padded else "a character outside its alphabet"))
        n = len(text) - len(text) % 4
        pad = text.find(b"=")
        if pad >= 0:  # the last group: "xx==" or "xxx=", nothing after it
            if n != len(text) or len(text) - pad > 2 or text[pad:].strip(b"="):
                raise ECXError("format", "bad base64 in the message: misplaced padding")
            self._padded = True
        self._text = text[n:]
        return binascii.a2b_base64(text[:n])

    def _end(self, post: bytes) -> List[Tuple[str, bytes]]:
        if self._text:
            raise ECXError("format", "the base64 text ends in the middle of a group")
        self._state = "post"
        return [("end", b""), ("post", post)]

    def feed(self, data: bytes) -> List[Tuple[str, bytes]]:
        if self._state == "post":
            return [("post", data)]
        buf = self._line + data
        cut = buf.rfind(b"\n") + 1
        self._line = buf[cut:]
        if len(self._line) > self._max_line:
            raise ECXError("format", "a line of over %d bytes in base64 text" % self._max_line)
        out: List[Tuple[str, bytes]] = []
        pos = 0
        while self._state == "pre" and pos < cut:
            nl = buf.index(b"\n", pos) + 1
            line = buf[pos:nl]
            out.append(("pre", line))
            self._pre += len(line)
            pos = nl
            if (line.startswith(b"-----BEGIN") and self._start != "mime") or (not line.strip() and self._start != "pem"):
                self._state = "body"
            elif self._pre > self._max_pre:
                raise ECXError("format", "over %d bytes before the base64 body" % self._max_pre)
        if self._state == "body" and pos < cut:
            stop = _body_end(buf, pos, cut)
            if self.crlf is None:
                self.crlf = buf.find(b"\r\n", pos, cut) >= 0
            out.append(("body", self._decode(buf[pos:cut if stop < 0 else stop])))
            if stop >= 0:
                out += self._end(buf[stop:])
                self._line = b""
        return out

    def close(self) -> List[Tuple[str, bytes]]:
        """What is left: the body's last line (without a line end) and its end."""
        if self._state == "pre":
            raise ECXError("format", "no base64 body in the message")
        if self._state == "post":
            return []
        line, self._line = self._line, b""
        if not line.rstrip(b"\r") or line.startswith(b"-----"):
            return self._end(line)
        return [("body", self._decode(line))] + self._end(b"")


class Base64Filter:
    """A HeadFilter inside base64 text (PEM, S/MIME): the lines before the base64 body (up to
    a "-----BEGIN" or a blank line) and from its end (a blank or "-----" line) pass as they
    are; the body is decoded, filtered and encoded again in lines of 64 characters."""

    def __init__(self, inner: HeadFilter, max_line: int = 1 << 16) -> None:
        self._inner = inner
        self._reader = Base64Text("either", max_line)
        self._bin = b""      # filtered bytes not yet encoded (less than 48)

    def _encode(self, data: bytes, final: bool) -> bytes:
        self._bin += data
        n = len(self._bin) if final else len(self._bin) - len(self._bin) % 48
        eol = b"\r\n" if self._reader.crlf else b"\n"
        out = b"".join(binascii.b2a_base64(self._bin[i:i + 48], newline=False) + eol for i in range(0, n, 48))
        self._bin = self._bin[n:]
        return out

    def _filtered(self, parts: List[Tuple[str, bytes]]) -> bytes:
        out = []
        for part, data in parts:
            if part == "body":
                out.append(self._encode(self._inner.feed(data), False))
            elif part == "end":
                out.append(self._encode(self._inner.close(), True))
            else:
                out.append(data)
        return b"".join(out)

    def feed(self, data: bytes) -> bytes:
        return self._filtered(self._reader.feed(data))

    def close(self) -> bytes:
        return self._filtered(self._reader.close())


_PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")


def _check_preamble(pre: bytes, form: str) -> None:
    """The PEM label (CMS or PKCS7) or S/MIME headers (Content-Type application/pkcs7-mime,
    base64) before a base64 body.  :raises ECXError:"""
    if form == "PEM":
        label = pre.rstrip().rsplit(b"\n", 1)[-1].strip()
        if label not in (b"-----BEGIN CMS-----", b"-----BEGIN PKCS7-----"):
            raise ECXError("format", "no CMS in the PEM text (%r)" % label[:64])
        return
    headers = email.parser.BytesHeaderParser().parsebytes(pre)
    if headers.get_content_type() not in _PKCS7_MIME:
        raise ECXError("format", "not an application/pkcs7-mime message (Content-Type: %s)"
                       % headers.get_content_type())
    cte = str(headers.get("Content-Transfer-Encoding", "base64")).strip().lower()
    if cte != "base64":
        raise ECXError("format", "the S/MIME body is not in base64 (Content-Transfer-Encoding: %s)" % cte)


def base64_der(chunks: Iterable[bytes], form: str, limit: int = MAX_HEAD) -> Iterator[bytes]:
    """The DER inside a PEM ("PEM") or S/MIME ("SMIME", application/pkcs7-mime) message given
    in pieces, decoded as it comes (OpenSSL's PEM and S/MIME readers take the whole message
    into memory first).  At most limit bytes before the body are held; what follows the body
    is not read.  :raises ECXError:"""
    reader = Base64Text("pem" if form == "PEM" else "mime", max_pre=limit)
    pre: Optional[List[bytes]] = []
    for chunk in itertools.chain(chunks, [b""]):
        for part, data in reader.feed(chunk) if chunk else reader.close():
            if part == "pre" and pre is not None:
                pre.append(data)
            elif part in ("body", "end"):
                if pre is not None:
                    _check_preamble(b"".join(pre), form)
                    pre = None
                if data:
                    yield data
            elif part == "post":
                return


class DetachFilter:
    """An (Auth)EnvelopedData streamed through in two parts, for OpenSSL's CMS_decrypt with
    detached content: once the head and the EncryptedContentInfo's algorithm have passed,
    ``message`` is a small DER EnvelopedData (with key, key's KeyAgreeRecipientInfos made KEK
    recipients and ``candidates`` set; without, the RecipientInfos as they are), the
    encryptedContent left out; :meth:`feed` then returns the bytes of the encrypted content
    alone (a primitive [0], or the chunks of a constructed one, definite or indefinite).  An
    AuthEnvelopedData's ``message`` needs its mac, after the content: it is set by
    :meth:`close`.  ``kind`` is the content type's OID once the head has passed.  At most
    limit bytes are held."""

    def __init__(self, key: Optional[EVP.PKey], cert: Optional[X509.X509], limit: int = MAX_HEAD) -> None:
        self._key, self._cert, self._limit = key, cert, limit
        self._buf = bytearray()
        self.message: Optional[bytes] = None
        self.candidates: List[Candidate] = []
        self._state = "head"     # head, start, prim, cons, done
        self._left = 0           # bytes left in the current primitive piece
        self._pos = 0            # bytes of the content passed (for a definite constructed end)
        self._end: Optional[int] = None
        self._base = 0           # where the content starts in the stream
        self.kind = ""           # the content type's OID
        self._inner = b""        # the (Auth)EnvelopedData's fields up to the EncryptedContentInfo
        self._closers: List[Optional[int]] = []  # where EncryptedContentInfo ... ContentInfo end (None: indefinite)

    def _split(self, buf: bytes, limit: int) -> int:
        """Parses the head and the EncryptedContentInfo's start; sets message.  :raises NeedMore:"""
        head = parse_head(buf, limit)
        seq = head.outer[2]
        tag, body, length = _header(buf, head.ris.end, None if seq[3] is None else seq[2] + seq[3])
        if tag != der.SEQUENCE:
            raise der.DERError("EncryptedContentInfo expected")
        end = None if length is None else body + length
        kind = _element(buf, body, end, (der.OID,), "contentType", limit)
        alg = _element(buf, kind.end, end, (der.SEQUENCE,), "contentEncryptionAlgorithm", limit)
        self.kind = head.kind
        if self._key is None:
            new_set = bytes(buf[head.ris.start:head.ris.end])
        else:
            new_set, self.candidates = _kek_set(buf, head.children, self._key, self._cert)
        self._base = alg.end
        self._closers = [end] + [None if n is None else b + n for _, _, b, n in reversed(head.outer)]
        eci = der.seq(buf[kind.start:alg.end])
        self._inner = bytes(buf[head.outer[2][2]:head.ris.start]) + new_set + eci
        if self.kind == _ENVELOPED:  # (an AuthEnvelopedData's needs its mac, after the content: close())
            self.message = der.seq(der.oid(_ENVELOPED), der.tlv(0xA0, der.seq(self._inner)))
        return alg.end

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        if self._state == "head":
            n = _complete_head(self._split, bytes(self._buf), self._limit)
            if n is None:
                return b""
            del self._buf[:n]
            self._state = "start"
        return self._content()

    def _content(self) -> bytes:
        out: List[bytes] = []
        buf = self._buf
        while self._state != "done":
            if self._left:
                n = min(self._left, len(buf))
                if not n:
                    break
                out.append(bytes(buf[:n]))
                del buf[:n]
                self._left -= n
                self._pos += n
                if not self._left and self._state == "prim":
                    self._state = "done"
                continue
            if self._state == "cons" and self._end is not None and self._pos >= self._end:
                self._state = "done"
                break
            try:
                tag, body, length = _header(bytes(buf[:12]), 0, None)
            except NeedMore:
                break
            except der.DERError as e:
                raise ECXError("format", "malformed encrypted content: %s" % e) from None
            del buf[:body]
            self._pos += body
            if self._state == "start":
                if tag == 0x80 and length is not None:
                    self._state, self._left = "prim", length
                    if not length:
                        self._state = "done"
                elif tag == 0xA0:
                    self._state = "cons"
                    self._end = None if length is None else self._pos + length
                else:
                    raise ECXError("format", "no encrypted content in the message (detached?)")
            elif tag == 0 and length == 0 and self._end is None:
                self._state = "done"
            elif tag == der.OCTET_STRING and length is not None:
                self._left = length
            else:
                raise ECXError("format", "malformed encrypted content: tag 0x%02x in its chunks" % tag)
        if len(buf) > self._limit:  # what follows the content: unprotectedAttrs, end-of-contents
            raise ECXError("format", "over %d bytes after the encrypted content" % self._limit)
        return b"".join(out)

    def _fields(self, tail: bytes, i: int) -> int:
        """Where the optional unprotectedAttrs [1] of an EnvelopedData, or authAttrs [1], mac and
        unauthAttrs [2] of an AuthEnvelopedData, that start at tail[i] end.  :raises ECXError:"""
        fields = ((0xA1, False),) if self.kind == _ENVELOPED else ((0xA1, False), (der.OCTET_STRING, True), (0xA2, False))
        for tag, required in fields:
            if tail[i:i + 1] == bytes([tag]) or required:
                try:
                    i = _element(tail, i, None, (tag,), "a field after the content (tag 0x%02x)" % tag, len(tail)).end
                except (NeedMore, der.DERError) as e:
                    raise ECXError("format", "after the encrypted content: %s" % (str(e) or "truncated")) from None
        return i

    def _check_tail(self) -> None:
        """What follows the content closes the EncryptedContentInfo, (an unprotectedAttrs,)
        the EnvelopedData, its [0] and the ContentInfo, as their lengths say.  :raises ECXError:"""
        tail, at = bytes(self._buf), self._base + self._pos  # where tail starts in the stream
        i = 0
        for n, end in enumerate(self._closers):
            if n == 1:  # the fields after the content, inside the (Auth)EnvelopedData
                start = i
                i = self._fields(tail, i)
                if self.kind == _AUTH_ENVELOPED:
                    self.message = der.seq(der.oid(_AUTH_ENVELOPED),
                                           der.tlv(0xA0, der.seq(self._inner + tail[start:i])))
            if end is None:
                if tail[i:i + 2] != b"\0\0":
                    raise ECXError("format", "an end-of-contents expected after the encrypted content: truncated "
                                   "or malformed")
                i += 2
            elif at + i != end:
                raise ECXError("format", "the message's lengths disagree with its content (%d bytes where "
                               "%d were announced)" % (at + i, end))
        if i != len(tail):
            raise ECXError("format", "%d bytes after the end of the message" % (len(tail) - i))

    def close(self) -> bytes:
        if self._state == "head":
            raise ECXError("format", "the stream ends inside the message's head (%d bytes): truncated"
                           % len(self._buf))
        if self._state != "done":
            raise ECXError("format", "the stream ends inside the encrypted content: truncated")
        self._check_tail()
        return b""
