"""S/MIME 4.0 e-mail (RFC 8551) with the standard library's :mod:`email` package, on CMS.

Beyond M2Crypto (the successor of its Zope S/MIME messenger): :func:`sign`,
:func:`encrypt`, :func:`sign_and_encrypt` and :func:`triple_wrap` turn an
:class:`email.message.EmailMessage` into an S/MIME message ready for :mod:`smtplib`;
:func:`unwrap` decrypts and verifies an incoming one and gives the inner message, the
signers with their verification results, and whether From matches a signer::

    out = mail.sign_and_encrypt(msg, alice_key, alice_cert, [bob_cert])
    with smtplib.SMTP("mail.example.org") as smtp:
        smtp.send_message(out)

    opened = mail.unwrap(raw_bytes, key=bob_key, cert=bob_cert, trusted=[ca_cert])
    opened.message.get_content(), opened.signers, opened.sender_matches()

The defaults are S/MIME 4.0's: SHA-256, the key's own signature scheme (PKCS#1 v1.5 for
RSA, ``padding="pss"`` for RSA-PSS; ECDSA for EC keys), AuthEnvelopedData with AES-256-GCM
unless the recipients' S/MIME capabilities (``capabilities=``, e.g. from
:attr:`Opened.capabilities` of mail they signed) say they only know CBC.  Recipients may hold
RSA or EC (P-256/384/521) keys.  The headers that are not ``Content-*`` (From, To, Subject,
Date ...) stay outside the signature and the encryption, as RFC 8551 has it; :func:`unwrap`
copies them onto the inner message, so they are not authenticated:
:meth:`Opened.sender_matches` checks From against the trusted signers' certificates.
Mailers that sign and encrypt by policy for applications are in :mod:`M2Sec.mailers`.
"""

import base64
import contextlib
import datetime
import quopri
import re
import secrets
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Callable, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union, cast

from M2Sec import CMS, EVP, SMIME, X509, m2
from M2Sec.Err import M2SecError

__all__ = ["load_certificates", "sign", "encrypt", "sign_and_encrypt", "triple_wrap", "unwrap", "Opened", "SignerReport", "choose_cipher",
           "MIMEStructureError", "SIGNATURE_TYPES", "MIME_TYPES", "PREFERRED_CIPHERS"]

MessageLike = Union[Message, bytes, bytearray]
Trust = Union[X509.X509_Store, Iterable[X509.X509], str, None]
Recipient = Union[X509.X509, CMS.CertRecipient]
Capabilities = Union[Callable[[X509.X509], Optional[Sequence[str]]], Mapping[str, Sequence[str]], None]

#: The content ciphers the sender chooses from, in order (RFC 8551 section 2.7).
PREFERRED_CIPHERS = ("aes-256-gcm", "aes-128-gcm", "aes-256-cbc", "aes-192-cbc", "aes-128-cbc")
#: The cipher when nothing is known of the recipients' capabilities.
DEFAULT_CIPHER = "aes-256-gcm"
#: More multipart entities than this in one message are refused before it is parsed.
MAX_MIME_PARTS = 1000


class MIMEStructureError(CMS.CMSFormatError):
    """The MIME structure is too deeply nested or has too many parts to be processed."""

#: The canonical form that is signed and encrypted: CRLF line ends, 78-column folding.
_WIRE = policy.SMTP
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
MIME_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_MICALG = {"sha1": "sha-1", "sha224": "sha-224", "sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512",
           "shake256": "shake-256"}


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def load_certificates(path: str) -> List[X509.X509]:
    """Every certificate of a PEM file (a chain, or a directory's worth of recipients)."""
    with open(path, "rb") as f:
        return [X509.load_cert_string(b) for b in _PEM_CERT.findall(f.read())]


def _parse(data: bytes, pol: policy.Policy = policy.default) -> EmailMessage:
    """data parsed; MIMEStructureError for a structure too large or too deep for the email
    package (which recurses once per nesting level)."""
    if len(re.findall(rb"(?i)content-type:[ \t]*(?:\r?\n[ \t]+)?multipart/", data)) > MAX_MIME_PARTS:
        raise MIMEStructureError("more than %d multipart entities in the message" % MAX_MIME_PARTS)
    try:
        return BytesParser(policy=pol).parsebytes(data)  # type: ignore[return-value]
    except RecursionError:
        raise MIMEStructureError("the MIME structure is nested too deeply") from None


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
        raw = cast(bytes, part.get_payload(decode=True) or b"")
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
    except M2SecError:
        raise  # M2Sec's own verdicts (MIMEStructureError ...) as they are
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
    except M2SecError:
        raise
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


def _signed_entity(entity: bytes, key: EVP.PKey, cert: X509.X509, chain: Iterable[X509.X509],
                   digest: Optional[str], detached: bool, padding: str = "pkcs1") -> bytes:
    digest = digest or CMS.default_digest(key)
    ci = CMS.sign(entity, key, cert, certs=chain, digest=digest, padding=padding, detached=detached)
    if not detached:
        return _p7m(ci.to_der(), "signed-data")
    der = ci.to_der()
    b = ("----=_M2Sec_" + secrets.token_hex(12)).encode()
    return b"".join((
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
        b' micalg=%s; boundary="%s"\r\n\r\n' % (_micalg(digest).encode(), b),
        b"This is an S/MIME signed message.\r\n\r\n--%s\r\n" % b, entity, b"\r\n--%s\r\n" % b,
        b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n',
        _b64(der), b"--%s--\r\n" % b))


def _capabilities_of(cert: X509.X509, capabilities: Capabilities) -> Optional[Sequence[str]]:
    if capabilities is None:
        return None
    if callable(capabilities):
        return capabilities(cert)
    for addr in cert.get_email():
        if addr.lower() in capabilities:
            return capabilities[addr.lower()]
    return None


def choose_cipher(recipients: Sequence[Recipient], capabilities: Capabilities = None) -> str:
    """The content cipher for recipients (RFC 8551 section 2.7.1): the first of
    PREFERRED_CIPHERS that every recipient whose capabilities are known announced;
    DEFAULT_CIPHER (AES-256-GCM) when none are known.

    :param capabilities: a callable(cert) or a mapping by e-mail address (lower case) giving
        the cipher names a recipient announced (``Opened.capabilities`` of mail it signed)."""
    known = []
    for r in recipients:
        cert = r.cert if isinstance(r, CMS.CertRecipient) else r
        caps = _capabilities_of(cert, capabilities)
        if caps is not None:
            known.append({c.lower().replace("_", "-") for c in caps})
    if not known:
        return DEFAULT_CIPHER
    for c in PREFERRED_CIPHERS:
        if all(c in k for k in known):
            return c
    raise SMIME.SMIME_Error("the recipients have no content cipher in common with M2Sec's")


def _enveloped_entity(entity: bytes, recipients: Iterable[Recipient], cipher: Optional[str],
                      capabilities: Capabilities = None) -> bytes:
    recipients = list(recipients)
    if not recipients:
        raise SMIME.SMIME_Error("no recipients given")
    if cipher is None:
        cipher = choose_cipher(recipients, capabilities)
    ci = CMS.encrypt(entity, recipients, cipher=cipher)
    kind = "authEnveloped-data" if ci.type == m2.CMS_AUTH_ENVELOPED else "enveloped-data"
    return _p7m(ci.to_der(), kind)


def _finish(envelope: Sequence[Tuple[str, str]], entity: bytes, signed: Optional[bytes] = None) -> EmailMessage:
    out = _rewrap(envelope, entity)
    if signed is not None and signed not in out.as_bytes(policy=_WIRE):  # pragma: no cover - a safety net
        raise SMIME.SMIME_Error("the email package would change the signed part of this message")
    return out


def sign(message: MessageLike, key: EVP.PKey, cert: X509.X509, *, chain: Iterable[X509.X509] = (),
         digest: Optional[str] = None, detached: bool = True, padding: str = "pkcs1") -> EmailMessage:
    """message signed by key (whose certificate is cert, sent with the certificates of chain):
    multipart/signed (RFC 8551 section 3.5.3), or application/pkcs7-mime signed-data when
    not detached.  Parts that are not 7-bit clean are re-encoded first.

    :param padding: for RSA keys, "pkcs1" (PKCS#1 v1.5, what every receiver knows) or "pss"
        (RSASSA-PSS, RFC 4056).  EC keys sign with ECDSA, RSA-PSS keys with PSS, Ed25519 and
        Ed448 keys with EdDSA (RFC 8419; OpenSSL 3.2 or newer: CMS.HAS_EDDSA).
    :param digest: None: the key's natural digest (SHA-256; SHA-512 for Ed25519, SHAKE256
        for Ed448: CMS.default_digest).
    :raises CMS.CMSUnsupportedAlgorithm: for a key OpenSSL's CMS cannot sign with (Ed25519,
        Ed448 on OpenSSL 3.0) or an unknown digest; :raises SMIME.SMIME_Error: (CMS.CMSError) otherwise."""
    envelope, entity = _split(message)
    return _finish(envelope, _signed_entity(entity, key, cert, chain, digest, detached, padding),
                   entity if detached else None)


def encrypt(message: MessageLike, recipients: Iterable[Recipient], *, cipher: Optional[str] = None,
            capabilities: Capabilities = None) -> EmailMessage:
    """message encrypted for recipients (certificates with RSA, EC or X25519/X448 keys, RFC 8418;
    or CMS.CertRecipient for RSA-OAEP) as application/pkcs7-mime: authEnveloped-data for AES-GCM
    (RFC 8551 section 3.3, RFC 5083), enveloped-data for CBC ciphers.

    :param cipher: the content cipher; None chooses by the recipients' capabilities
        (:func:`choose_cipher`; AES-256-GCM when none are known).
    :raises SMIME.SMIME_Error: without recipients; :raises CMS.CMSUnsupportedAlgorithm: for an
        unknown cipher or a key type CMS cannot encrypt to."""
    envelope, entity = _split(message)
    return _finish(envelope, _enveloped_entity(entity, recipients, cipher, capabilities))


def sign_and_encrypt(message: MessageLike, key: EVP.PKey, cert: X509.X509, recipients: Iterable[Recipient], *,
                     chain: Iterable[X509.X509] = (), digest: Optional[str] = None, cipher: Optional[str] = None,
                     padding: str = "pkcs1", capabilities: Capabilities = None) -> EmailMessage:
    """message signed (multipart/signed), then encrypted for recipients (RFC 8551 section 3.7)."""
    envelope, entity = _split(message)
    signed = _signed_entity(entity, key, cert, chain, digest, True, padding)
    return _finish(envelope, _enveloped_entity(signed, recipients, cipher, capabilities))


def triple_wrap(message: MessageLike, key: EVP.PKey, cert: X509.X509, recipients: Iterable[Recipient], *,
                chain: Iterable[X509.X509] = (), digest: Optional[str] = None, cipher: Optional[str] = None,
                padding: str = "pkcs1", capabilities: Capabilities = None) -> EmailMessage:
    """message signed, encrypted, and signed again (RFC 2634's triple wrapping): the outer
    signature covers the ciphertext, so that relays can check who sent it."""
    envelope, entity = _split(message)
    inner = _signed_entity(entity, key, cert, chain, digest, True, padding)
    middle = _enveloped_entity(inner, recipients, cipher, capabilities)
    return _finish(envelope, _signed_entity(middle, key, cert, chain, digest, True, padding), middle)


@dataclass
class SignerReport:
    """One signature found by :func:`unwrap`: the signer's certificate, its chain's verify
    code (0: trusted), the layer it was found in (1 = outermost), and from the SignerInfo the
    signing time, the digest and signature algorithms and the sender's capabilities."""

    certificate: X509.X509
    verify_code: int
    layer: int
    signing_time: Optional[datetime.datetime] = None
    digest: str = ""
    signature_algorithm: str = ""
    capabilities: List[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.verify_code == 0

    @property
    def verify_message(self) -> str:
        return m2.x509_get_verify_error(self.verify_code)


@dataclass
class Opened:
    """What :func:`unwrap` found: the inner message, the certificates of its signers whose
    signatures verified (empty if it was not signed), a report per signature (``reports``:
    chain result, layer, signing time, capabilities), and whether it was signed and
    encrypted."""

    message: EmailMessage
    signers: List[X509.X509] = field(default_factory=list)
    signed: bool = False
    encrypted: bool = False
    reports: List[SignerReport] = field(default_factory=list)
    layers: List[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        """True if it was signed and every signer's chain verified."""
        return bool(self.reports) and all(r.trusted for r in self.reports)

    @property
    def capabilities(self) -> List[str]:
        """The S/MIME capabilities the (first) signer announced: what to encrypt to it with."""
        for r in self.reports:
            if r.capabilities:
                return list(r.capabilities)
        return []

    def sender_matches(self) -> bool:
        """True if every From address is an e-mail address of a trusted signer's certificate
        (RFC 8550 section 3): the check that makes the unauthenticated From header usable."""
        senders = {addr.lower() for _, addr in getaddresses(self.message.get_all("From", [])) if addr}
        known = {e.lower() for r in self.reports if r.trusted for e in r.certificate.get_email()}
        return bool(senders) and senders <= known


@contextlib.contextmanager
def _email_errors() -> Iterator[None]:
    """The email package's own failures on malformed headers (``To::;x`` gives AttributeError,
    ``Content-Type:;i*`` IndexError) become SMIME_Error."""
    try:
        yield
    except M2SecError:
        raise
    except (AttributeError, LookupError, TypeError, ValueError) as exc:
        raise SMIME.SMIME_Error("malformed message headers: %s: %s" % (type(exc).__name__, exc)) from exc


def _layer(msg: Message) -> bool:
    """True if msg is an S/MIME layer (signed, or CMS enveloped/signed data)."""
    ctype = msg.get_content_type()
    if ctype == "multipart/signed":
        return str(msg.get_param("protocol", "")).lower() in SIGNATURE_TYPES
    return ctype in MIME_TYPES


def unwrap(message: MessageLike, *, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None,
           trusted: Trust = None, untrusted: Iterable[X509.X509] = (), max_layers: int = 4,
           require_trust: bool = True) -> Opened:
    """Decrypt and verify every S/MIME layer of message (raw bytes, as received, or a parsed
    message; made by M2Sec, ``openssl smime``/``openssl cms``, gpgsm ...) and return the inner
    message with the outer envelope headers added.

    :param key: the recipient's key, with its certificate cert, for encrypted messages.
    :param trusted: the trust anchors (a store, certificates or a CA file); None uses the
        system's default CA paths.  Signers' chains are checked for S/MIME signing.
    :param untrusted: more certificates to find signers and intermediates in.
    :param require_trust: raise when a signer's chain does not verify; if False, the reports
        carry each chain's verify code instead (and sender_matches counts trusted signers only).
    :raises CMS.CMSVerificationError: if a signer's chain does not verify (with OpenSSL's
        verify code; also an X509.X509VerificationError); :raises CMS.CMSSignatureError: for
        a bad signature or tampered content; :raises CMS.CMSDecryptError: for a message that
        does not decrypt with key (or a bad AES-GCM tag); :raises SMIME.SMIME_Error: (all of
        the above are) for malformed S/MIME, or an encrypted message without key.
    """
    current = bytes(message) if isinstance(message, (bytes, bytearray)) else message.as_bytes(policy=_WIRE)
    with _email_errors():
        outer = _parse(current)
        envelope = [(k, v) for k, v in outer.items() if not _is_content_header(k)]
    opened = Opened(message=outer)
    untrusted = list(untrusted)
    store = CMS.store_from(trusted)
    layer = outer
    for depth in range(1, max_layers + 2):
        with _email_errors():
            if not _layer(layer):
                break
        if depth > max_layers:
            raise SMIME.SMIME_Error("more than %d S/MIME layers" % max_layers)
        ci, content = CMS.load_smime(current)
        with ci:
            if ci.type in (m2.CMS_ENVELOPED, m2.CMS_AUTH_ENVELOPED):
                if key is None:
                    raise SMIME.SMIME_Error("the message is encrypted: give key (and cert)")
                current = CMS.decrypt(ci, key, cert) or b""
                opened.encrypted = True
                opened.layers.append(ci.type_name)
            elif ci.type == m2.CMS_SIGNED:
                result = CMS.verify(ci, store, certs=untrusted, data=content, require_trust=require_trust)
                current = result.content or b""
                infos = {i.certificate.as_der(): i for i in result.infos if i.certificate is not None}
                for r in result.signers:
                    info = infos.get(r.certificate.as_der())
                    opened.reports.append(SignerReport(
                        r.certificate, r.verify_code, depth, info.signing_time if info else None,
                        info.digest if info else "", info.signature_algorithm if info else "",
                        list(info.capabilities) if info else []))
                    opened.signers.append(r.certificate)
                opened.signed = True
                opened.layers.append(ci.type_name)
            elif ci.type == m2.CMS_COMPRESSED:
                current = CMS.uncompress(ci) or b""
                opened.layers.append(ci.type_name)
            else:
                raise SMIME.SMIME_Error("unsupported CMS content: %s" % ci.type_name)
        with _email_errors():
            layer = _parse(current)
    with _email_errors():
        layer = _parse(current.replace(b"\r\n", b"\n"))  # the email package's own line ends
        present = {k.lower() for k in layer.keys()}
        for k, v in envelope:
            if k.lower() not in present:
                layer[k] = v
    opened.message = layer
    return opened
