"""S/MIME e-mail (RFC 8551) with the standard library's :mod:`email` package.

Beyond M2Crypto (the successor of its Zope S/MIME messenger): :func:`sign`,
:func:`encrypt` and :func:`sign_and_encrypt` turn an :class:`email.message.EmailMessage`
into an S/MIME message ready for :mod:`smtplib`; :func:`unwrap` decrypts and verifies an
incoming one and gives the inner message and the signers' certificates::

    out = mail.sign_and_encrypt(msg, alice_key, alice_cert, [bob_cert])
    with smtplib.SMTP("mail.example.org") as smtp:
        smtp.send_message(out)

    opened = mail.unwrap(raw_bytes, key=bob_key, cert=bob_cert, trusted=[ca_cert])
    opened.message.get_content(), opened.signers, opened.sender_matches()

The headers that are not ``Content-*`` (From, To, Subject, Date ...) stay outside the
signature and the encryption, as RFC 8551 has it; :func:`unwrap` copies them onto the inner
message, so they are not authenticated: :meth:`Opened.sender_matches` checks From against
the signers' certificates.  Encryption defaults to AES-256-CBC and needs RSA recipients
(PKCS#7 envelopedData has no key agreement).
"""

import base64
import quopri
import re
import secrets
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from M2Sec import BIO, EVP, SMIME, X509

__all__ = ["sign", "encrypt", "sign_and_encrypt", "unwrap", "Opened", "SIGNATURE_TYPES", "MIME_TYPES"]

MessageLike = Union[Message, bytes, bytearray]
Trust = Union[X509.X509_Store, Iterable[X509.X509], str, None]

#: The canonical form that is signed and encrypted: CRLF line ends, 78-column folding.
_WIRE = policy.SMTP
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
MIME_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_MICALG = {"sha1": "sha-1", "sha224": "sha-224", "sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}


def _parse(data: bytes, pol: policy.Policy = policy.default) -> EmailMessage:
    return BytesParser(policy=pol).parsebytes(data)  # type: ignore[return-value]


def _is_content_header(name: str) -> bool:
    n = name.lower()
    return n.startswith("content-") or n == "mime-version"


def _from_line(data: bytes) -> bool:
    return data.startswith(b"From ") or b"\nFrom " in data


def _to_7bit(entity: Message) -> None:
    """Re-encode every leaf part that is not 7-bit clean, or has a line starting with "From "
    (which mail software rewrites as ">From "): quoted-printable for text, base64 for the
    rest (RFC 8551 section 3.1: what is signed must survive any transport unchanged)."""
    for part in entity.walk():
        if part.is_multipart():
            continue
        cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
        encoded = str(part.get_payload()).encode("utf-8", "surrogateescape")
        if cte == "base64" or (cte == "quoted-printable" and not _from_line(encoded)):
            continue
        raw = part.get_payload(decode=True) or b""
        if cte == "7bit" and raw.isascii() and not _from_line(raw) and \
                all(len(line) <= 998 for line in raw.splitlines()):
            continue
        del part["Content-Transfer-Encoding"]
        if part.get_content_maintype() == "text":
            qp = quopri.encodestring(raw)
            qp = re.sub(rb"(?m)^From ", b"=46rom ", qp)
            part.set_payload(qp.decode("ascii"))
            part["Content-Transfer-Encoding"] = "quoted-printable"
        else:
            part.set_payload(base64.encodebytes(raw).decode("ascii"))
            part["Content-Transfer-Encoding"] = "base64"


# What the email package raises on malformed headers it parsed leniently and cannot write back
# (8-bit bytes, broken address lists and parameters, unknown charsets).
_EMAIL_FAULTS = (ValueError, LookupError, AttributeError, IndexError)


def _split(message: MessageLike) -> Tuple[List[Tuple[str, str]], bytes]:
    """(the envelope headers, the MIME entity as canonical bytes that the email package
    reproduces exactly when it parses and writes them again).

    :raises SMIME.SMIME_Error: for a message the email package cannot write back."""
    try:
        return _split_entity(message)
    except _EMAIL_FAULTS as e:
        raise SMIME.SMIME_Error("malformed message: %s: %s" % (type(e).__name__, e)) from None


def _split_entity(message: MessageLike) -> Tuple[List[Tuple[str, str]], bytes]:
    raw = bytes(message) if isinstance(message, (bytes, bytearray)) else message.as_bytes(policy=_WIRE)
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    if re.search(rb"[\x80-\xff]", head):
        # RFC 5322 headers are ASCII (RFC 2047 encodes the rest); the email package cannot write
        # 8-bit header bytes back, and refolding some of them never ends (CPython's
        # _fold_mime_parameters), so they are refused here.
        raise SMIME.SMIME_Error("8-bit bytes in the message's headers (encode them as RFC 2047 says)")
    entity = _parse(raw, _WIRE)
    envelope = [(k, v) for k, v in entity.items() if not _is_content_header(k)]
    for name in {k for k, _ in envelope}:
        del entity[name]
    if "Content-Type" not in entity:
        entity["Content-Type"] = 'text/plain; charset="us-ascii"'
    _to_7bit(entity)
    data = entity.as_bytes(policy=_WIRE)
    for _ in range(4):
        again = _parse(data, _WIRE).as_bytes(policy=_WIRE)
        if again == data:
            return envelope, data
        data = again
    raise SMIME.SMIME_Error("the email package does not reproduce this message exactly")


def _rewrap(envelope: Sequence[Tuple[str, str]], entity: bytes) -> EmailMessage:
    """An EmailMessage with the envelope headers, then entity's headers and body."""
    inner = _parse(entity)
    out = EmailMessage()
    try:
        for k, v in envelope:
            out[k] = v
        if "MIME-Version" not in inner:
            out["MIME-Version"] = "1.0"
        for k, v in inner.items():
            out[k] = v
        for k, v in out.items():  # what as_bytes() will do: fails on undecodable 8-bit header bytes
            out.policy.fold_binary(k, v)
    except _EMAIL_FAULTS as e:  # a second To, Subject, ... (RFC 5322 3.6), undecodable bytes
        raise SMIME.SMIME_Error("malformed message headers: %s: %s" % (type(e).__name__, e)) from None
    out.set_payload(inner.get_payload())
    out.preamble, out.epilogue = inner.preamble, inner.epilogue
    return out


def _b64(der: bytes) -> bytes:
    return base64.encodebytes(der).replace(b"\n", b"\r\n")


def _p7m(der: bytes, smime_type: str) -> bytes:
    """An application/pkcs7-mime entity around DER."""
    return (b'Content-Type: application/pkcs7-mime; smime-type=%s; name="smime.p7m"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n' % smime_type.encode() + _b64(der))


def _micalg(digest: str) -> str:
    n = digest.lower().replace("-", "").replace("_", "")
    return _MICALG.get(n, digest.lower())


def _signer(key: EVP.PKey, cert: X509.X509, chain: Iterable[X509.X509]) -> SMIME.SMIME:
    s = SMIME.SMIME()
    s.set_key(key, cert)
    chain = list(chain)
    if chain:
        stack = X509.X509_Stack()
        for c in chain:
            stack.push(c)
        s.set_x509_stack(stack)
    return s


def _signed_entity(entity: bytes, key: EVP.PKey, cert: X509.X509, chain: Iterable[X509.X509],
                   digest: str, detached: bool) -> bytes:
    s = _signer(key, cert, chain)
    if not detached:
        return _p7m(s.sign(entity, SMIME.PKCS7_BINARY, digest).as_der(), "signed-data")
    der = s.sign(entity, SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY, digest).as_der()
    b = ("----=_M2Sec_" + secrets.token_hex(12)).encode()
    return b"".join((
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
        b' micalg=%s; boundary="%s"\r\n\r\n' % (_micalg(digest).encode(), b),
        b"This is an S/MIME signed message.\r\n\r\n--%s\r\n" % b, entity, b"\r\n--%s\r\n" % b,
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n',
        _b64(der), b"--%s--\r\n" % b))


def _enveloped_entity(entity: bytes, recipients: Iterable[X509.X509], cipher: str) -> bytes:
    s = SMIME.SMIME()
    stack = X509.X509_Stack()
    for c in recipients:
        stack.push(c)
    s.set_x509_stack(stack)
    s.set_cipher(SMIME.Cipher(cipher))
    return _p7m(s.encrypt(entity, SMIME.PKCS7_BINARY).as_der(), "enveloped-data")


def _finish(envelope: Sequence[Tuple[str, str]], entity: bytes, signed: Optional[bytes] = None) -> EmailMessage:
    out = _rewrap(envelope, entity)
    if signed is not None and signed not in out.as_bytes(policy=_WIRE):  # pragma: no cover - a safety net
        raise SMIME.SMIME_Error("the email package would change the signed part of this message")
    return out


def sign(message: MessageLike, key: EVP.PKey, cert: X509.X509, *, chain: Iterable[X509.X509] = (),
         digest: str = "sha256", detached: bool = True) -> EmailMessage:
    """message signed by key (whose certificate is cert, sent with the certificates of chain):
    multipart/signed (RFC 8551 section 3.5.3), or application/pkcs7-mime signed-data when
    not detached.  Parts that are not 7-bit clean are re-encoded first.

    :raises SMIME.SMIME_Error: if the key cannot sign (PKCS#7 signs with RSA, RSA-PSS or
        ECDSA keys) or digest is unknown."""
    envelope, entity = _split(message)
    return _finish(envelope, _signed_entity(entity, key, cert, chain, digest, detached), entity if detached else None)


def encrypt(message: MessageLike, recipients: Iterable[X509.X509], *,
            cipher: str = SMIME.DEFAULT_CIPHER) -> EmailMessage:
    """message encrypted for recipients (certificates with RSA keys) as application/pkcs7-mime
    enveloped-data (RFC 8551 section 3.3), with cipher (AES-256-CBC unless named).

    :raises SMIME.SMIME_Error: without recipients or for a cipher envelopedData cannot use."""
    envelope, entity = _split(message)
    return _finish(envelope, _enveloped_entity(entity, recipients, cipher))


def sign_and_encrypt(message: MessageLike, key: EVP.PKey, cert: X509.X509, recipients: Iterable[X509.X509], *,
                     chain: Iterable[X509.X509] = (), digest: str = "sha256",
                     cipher: str = SMIME.DEFAULT_CIPHER) -> EmailMessage:
    """message signed (multipart/signed), then encrypted for recipients (RFC 8551 section 3.7)."""
    envelope, entity = _split(message)
    signed = _signed_entity(entity, key, cert, chain, digest, True)
    return _finish(envelope, _enveloped_entity(signed, recipients, cipher))


@dataclass
class Opened:
    """What :func:`unwrap` found: the inner message, the certificates of its signers (empty if
    it was not signed) and whether it was signed and encrypted."""

    message: EmailMessage
    signers: List[X509.X509] = field(default_factory=list)
    signed: bool = False
    encrypted: bool = False

    def sender_matches(self) -> bool:
        """True if every From address is an e-mail address of a signer's certificate
        (RFC 8550 section 3): the check that makes the unauthenticated From header usable."""
        senders = {addr.lower() for _, addr in getaddresses(self.message.get_all("From", [])) if addr}
        known = {e.lower() for c in self.signers for e in c.get_email()}
        return bool(senders) and senders <= known


def _store(trusted: Trust) -> X509.X509_Store:
    if isinstance(trusted, X509.X509_Store):
        return trusted
    store = X509.X509_Store()
    if trusted is None:
        store.set_default_paths()
    elif isinstance(trusted, str):
        store.load_info(trusted)
    else:
        for c in trusted:
            store.add_x509(c)
    return store


def _layer(msg: Message) -> bool:
    """True if msg is an S/MIME layer (signed, or PKCS#7 enveloped/signed data)."""
    ctype = msg.get_content_type()
    if ctype == "multipart/signed":
        return str(msg.get_param("protocol", "")).lower() in SIGNATURE_TYPES
    return ctype in MIME_TYPES


def unwrap(message: MessageLike, *, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None,
           trusted: Trust = None, untrusted: Iterable[X509.X509] = (), max_layers: int = 4) -> Opened:
    """Decrypt and verify every S/MIME layer of message (raw bytes, as received, or a parsed
    message) and return the inner message with the outer envelope headers added.

    :param key: the recipient's key, with its certificate cert, for encrypted messages.
    :param trusted: the trust anchors (a store, certificates or a CA file); None uses the
        system's default CA paths.  Signers' chains are checked for S/MIME signing.
    :param untrusted: more certificates to find signers and intermediates in.
    :raises SMIME.PKCS7VerificationError: if a signer's chain does not verify (with
        OpenSSL's verify code); :raises SMIME.PKCS7_Error: for a bad signature, tampered
        content, or a message that does not decrypt with key; :raises SMIME.SMIME_Error:
        for malformed S/MIME, or an encrypted message without key and cert.
    """
    current = bytes(message) if isinstance(message, (bytes, bytearray)) else message.as_bytes(policy=_WIRE)
    outer = _parse(current)
    envelope = [(k, v) for k, v in outer.items() if not _is_content_header(k)]
    opened = Opened(message=outer)
    untrusted = list(untrusted)
    layer = outer
    for _ in range(max_layers + 1):
        if not _layer(layer):
            break
        with BIO.MemoryBuffer(current) as bio:
            p7, content = SMIME.smime_load_pkcs7_bio(bio)
        kind = p7.type()
        if kind == SMIME.PKCS7_ENVELOPED:
            if key is None or cert is None:
                raise SMIME.SMIME_Error("the message is encrypted: give key and cert")
            s = SMIME.SMIME()
            s.set_key(key, cert)
            current = s.decrypt(p7)
            opened.encrypted = True
        elif kind == SMIME.PKCS7_SIGNED:
            s = SMIME.SMIME()
            stack = X509.X509_Stack()
            for c in untrusted:
                stack.push(c)
            s.set_x509_stack(stack)
            s.set_x509_store(_store(trusted))
            current = s.verify(p7, content)
            opened.signers.extend(p7.get0_signers(stack))
            opened.signed = True
        else:
            raise SMIME.SMIME_Error("unsupported PKCS#7 content: %s" % (p7.type(1),))
        layer = _parse(current)
    else:
        raise SMIME.SMIME_Error("more than %d S/MIME layers" % max_layers)
    layer = _parse(current.replace(b"\r\n", b"\n"))  # the email package's own line ends
    present = {k.lower() for k in layer.keys()}
    for k, v in envelope:
        if k.lower() not in present:
            layer[k] = v
    opened.message = layer
    return opened
