"""CMS (RFC 5652) and the messages of S/MIME 4.0 (RFC 8551) on OpenSSL's CMS API.

:func:`sign` and :func:`verify` make and check SignedData (RSA PKCS#1 v1.5, RSA-PSS, ECDSA
signers; attached or detached; several signers); :func:`encrypt` and :func:`decrypt` make and
open EnvelopedData, and AuthEnvelopedData for AES-GCM, for recipients of every kind OpenSSL
has (RSA key transport with PKCS#1 v1.5 or OAEP, ECDH and X25519/X448 key agreement, KEK and
password); :func:`compress` and :func:`digest` make CompressedData and DigestedData.  A
:class:`ContentInfo` is written as DER, PEM or S/MIME, and read back with :func:`load_der`,
:func:`load_pem`, :func:`load_smime`::

    ci = CMS.sign(b"hello", key, cert)
    smime = ci.to_smime()
    ci, content = CMS.load_smime(smime)
    result = CMS.verify(ci, trusted=[root])            # result.content, result.signers

    env = CMS.encrypt(b"secret", [bob_cert], cipher="aes-256-gcm")
    CMS.decrypt(CMS.load_der(env.to_der()), bob_key, bob_cert)

Large content streams: give BIOs (``BIO.openfile``) as data and output, and ``stream=True``
to :func:`sign`/:func:`encrypt`; the content then goes from the input BIO to the output BIO
as the structure is written, never held in memory whole; :func:`decrypt_stream` reads an
(auth)envelopedData (DER, PEM or S/MIME) in pieces with memory bounded by its head.

Ed25519/Ed448 signers (RFC 8419) need OpenSSL 3.2 or newer (3.0's CMS cannot sign with
them): :data:`HAS_EDDSA` (probed at import) says whether the OpenSSL M2Sec runs on can; where
it cannot, such keys raise :class:`CMSUnsupportedAlgorithm`.  X25519/X448 recipients (RFC 8418)
work on every OpenSSL: its CMS has no key agreement for them (up to 3.5 at least), so M2Sec
does that part itself around OpenSSL's EnvelopedData (:mod:`M2Sec._cms_ecx`; with
``stream=True`` too, and :func:`decrypt_stream` reads such messages from a stream).  CompressedData needs an OpenSSL built with zlib
(:data:`HAS_ZLIB`: the system's OpenSSL 3.0 on Debian is not, the wheel's OpenSSL is);
:func:`uncompress` stops at ``max_size`` (:data:`MAX_UNCOMPRESSED` by default).
"""

import datetime
import os
import tempfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union, cast

from M2Sec import BIO, EVP, X509, _cms_ecx, m2
from M2Sec._base import Handle
from M2Sec.SMIME import SMIME_Error

__all__ = [
    "CMSError", "CMSFormatError", "CMSSignatureError", "CMSVerificationError", "CMSDecryptError",
    "CMSUnsupportedAlgorithm", "ContentInfo", "Signer", "CertRecipient", "KEKRecipient",
    "PasswordRecipient", "SignerInfo", "SignerResult", "Verified", "sign", "verify", "encrypt",
    "decrypt", "decrypt_stream", "compress", "uncompress", "digest", "verify_digest", "load_der", "load_pem",
    "load_smime", "default_digest", "HAS_ZLIB", "MAX_UNCOMPRESSED", "HAS_EDDSA", "HAS_ECX_RECIPIENTS",
]


class CMSError(SMIME_Error):
    """A CMS operation failed.  Also an :class:`M2Sec.SMIME.SMIME_Error`, so that code catching
    S/MIME errors catches these."""


class CMSFormatError(CMSError, ValueError):
    """The input is not a well-formed CMS structure or S/MIME message (truncated, malformed,
    too deeply nested)."""


class CMSSignatureError(CMSError):
    """A signature or a content digest does not verify: the content or the signed attributes
    were changed, or the wrong key signed."""


class CMSDecryptError(CMSError):
    """The message does not decrypt: no recipient for this key, the wrong key or password, a
    corrupted ciphertext, or an AuthEnvelopedData whose tag does not verify (then nothing of the
    plaintext was released)."""


class CMSUnsupportedAlgorithm(CMSError, ValueError):
    """The message or the call names an algorithm OpenSSL lacks or CMS cannot use."""


class CMSVerificationError(CMSError, X509.X509VerificationError):
    """A signer's certificate chain did not verify: ``verify_code`` (X509_V_ERR_*), ``depth``,
    ``verify_message``, the ``certificate`` concerned and all ``signers`` (SignerResult)."""

    def __init__(self, verify_code: int, depth: int, certificate: Optional[X509.X509] = None,
                 signers: Sequence["SignerResult"] = ()) -> None:
        X509.X509VerificationError.__init__(self, verify_code, depth)
        self.certificate = certificate
        self.signers = list(signers)


m2.cms_init(CMSError)
m2.cms_format_init(CMSFormatError)
m2.cms_signature_init(CMSSignatureError)
m2.cms_decrypt_init(CMSDecryptError)
m2.cms_unsupported_init(CMSUnsupportedAlgorithm)

#: OpenSSL was built with zlib: :func:`compress` and :func:`uncompress` work.
HAS_ZLIB: bool = bool(m2.cms_has_zlib())
#: OpenSSL's CMS signs with Ed25519/Ed448 (RFC 8419): OpenSSL 3.2 and newer; 3.0 cannot.
HAS_EDDSA: bool = bool(m2.cms_probe_key_type("ED25519"))
#: X25519/X448 recipients (RFC 8418) work: always True, M2Sec does their key agreement itself
#: (OpenSSL's CMS, up to 3.5 at least, has none: it takes such keys for key transport).
HAS_ECX_RECIPIENTS: bool = True

TEXT: int = m2.CMS_TEXT
BINARY: int = m2.CMS_BINARY
DETACHED: int = m2.CMS_DETACHED
NOCERTS: int = m2.CMS_NOCERTS
NOATTR: int = m2.CMS_NOATTR
NOSMIMECAP: int = m2.CMS_NOSMIMECAP
NOINTERN: int = m2.CMS_NOINTERN
NOCRL: int = m2.CMS_NOCRL
STREAM: int = m2.CMS_STREAM
USE_KEYID: int = m2.CMS_USE_KEYID

_TYPE_NAMES = {
    m2.CMS_DATA: "data", m2.CMS_SIGNED: "signedData", m2.CMS_ENVELOPED: "envelopedData",
    m2.CMS_DIGESTED: "digestedData", m2.CMS_ENCRYPTED: "encryptedData",
    m2.CMS_AUTH_ENVELOPED: "authEnvelopedData", m2.CMS_COMPRESSED: "compressedData",
}
_RECIPIENT_KINDS = {
    m2.CMS_RECIPINFO_TRANS: "key_transport", m2.CMS_RECIPINFO_AGREE: "key_agreement",
    m2.CMS_RECIPINFO_KEK: "kek", m2.CMS_RECIPINFO_PASS: "password", m2.CMS_RECIPINFO_OTHER: "other",
}

Data = Union[bytes, bytearray, memoryview, BIO.BIO]
Trust = Union[X509.X509_Store, Iterable[X509.X509], str, None]


def _in_bio(data: Data) -> BIO.BIO:
    """data itself if it is a BIO, else a memory BIO holding it that reports its end."""
    if isinstance(data, BIO.BIO):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        bio = BIO.MemoryBuffer(bytes(data))
        bio.write_close()
        return bio
    raise TypeError("data must be bytes or a BIO, not %s" % type(data).__name__)


def _check_bytes(data: Any) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes or a BIO, not %s" % type(data).__name__)


def _optional_bio(data: Optional[Data]) -> Optional[BIO.BIO]:
    return None if data is None else _in_bio(data)


def _p(obj: Any) -> Any:
    """obj's pointer, or None.  (The caller keeps obj referenced for the call: a pointer
    taken from a temporary would be freed before OpenSSL used it.)"""
    return None if obj is None else obj._ptr()


def _out(out: Optional[BIO.BIO]) -> Any:
    """The pointer of an output BIO, or None: the C call then returns the output as bytes."""
    if out is None:
        return None
    if not isinstance(out, BIO.BIO):
        raise TypeError("out must be a BIO, not %s" % type(out).__name__)
    return out._ptr()


def _complete(ci: "ContentInfo", data: Data, flags: int, stream: bool) -> "ContentInfo":
    """ci completed over data now, or (stream) when it is written."""
    if type(data) is bytes and not stream:  # the common case first: read in place, not copied
        m2.cms_final_buffer(ci._ptr(), data, flags)
    elif stream:
        if not isinstance(data, BIO.BIO):
            raise TypeError("stream=True needs data as a BIO")
        ci._stream, ci._flags = data, flags | m2.CMS_STREAM
    elif isinstance(data, BIO.BIO):
        m2.cms_final(ci._ptr(), data._ptr(), flags)
    else:
        _check_bytes(data)
        m2.cms_final_buffer(ci._ptr(), data, flags)  # read in place, not copied
    return ci


# EVP_CIPHERs and EVP_MDs by the names callers give, checked once: for a small message, the
# checks of every call cost as much as OpenSSL's work (bench/cms.py).
_ciphers: Dict[str, Any] = {}
_digests: Dict[Optional[str], Any] = {}


def _cipher(name: str) -> Any:
    c = _ciphers.get(name)
    if c is not None:
        return c
    if not isinstance(name, str):
        raise TypeError("the cipher name must be a str, not %s" % type(name).__name__)
    try:
        c = _ciphers[name] = EVP.get_cipher(name)
    except EVP.EVPError:
        raise CMSUnsupportedAlgorithm("unknown cipher: %s" % name) from None
    return c


def _digest(name: Optional[str]) -> Any:
    md = _digests.get(name)
    if md is not None or name is None:
        return md
    if not isinstance(name, str):
        raise TypeError("the digest name must be a str, not %s" % type(name).__name__)
    try:
        md = _digests[name] = EVP.get_digest(name)
    except EVP.EVPError:
        raise CMSUnsupportedAlgorithm("unknown digest: %s" % name) from None
    return md


def _stack(certs: Sequence[X509.X509]) -> Optional[X509.X509_Stack]:
    """A stack of certs, or None when there are none (OpenSSL takes NULL for no stack)."""
    if not certs:
        return None
    stack = X509.X509_Stack()
    for c in certs:
        if not isinstance(c, X509.X509):
            raise TypeError("expected X509.X509 certificates, not %s" % type(c).__name__)
        stack.push(c)
    return stack


def store_from(trusted: Trust) -> X509.X509_Store:
    """An X509_Store from a store (itself), certificates, a CA file name, or None (the
    system's default CA paths)."""
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


def _when(seconds: Optional[int]) -> Optional[datetime.datetime]:
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


@dataclass
class SignerInfo:
    """One SignerInfo: the signer's certificate (None when neither the message nor the
    certificates given carry it), the digest and signature algorithms' short names, the
    signing-time attribute (None if absent) and the sender's S/MIME capabilities (cipher
    names such as 'aes-256-gcm', most preferred first; RFC 8551 section 2.5.2)."""

    certificate: Optional[X509.X509]
    digest: str
    signature_algorithm: str
    signing_time: Optional[datetime.datetime]
    capabilities: List[str] = field(default_factory=list)


@dataclass
class SignerResult:
    """A signer whose signature verified, and the result of its chain: ``verify_code`` 0
    (X509_V_OK) and the ``chain`` (leaf first) when it verified."""

    certificate: X509.X509
    verify_code: int
    verify_depth: int
    chain: List[X509.X509] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.verify_code == 0

    @property
    def verify_message(self) -> str:
        return m2.x509_get_verify_error(self.verify_code) or ""


class Verified:
    """What :func:`verify` found: the content (None when written to ``out``), each signer's
    result, and the SignerInfos; the last two are made when first asked for (a caller that
    only wants the content pays for neither)."""

    def __init__(self, content: Optional[bytes], signers: Sequence[Any], ci: "ContentInfo",
                 certs: Sequence[X509.X509]) -> None:
        # signers: SignerResults, or verify's (certificate, code, depth, rest of chain) tuples
        self.content, self._found = content, signers
        self._ci, self._certs, self._infos = ci, certs, None  # type: Any, Sequence[X509.X509], Optional[List[SignerInfo]]
        self._signers: Optional[List[SignerResult]] = None

    @property
    def signers(self) -> List[SignerResult]:
        """Each signer's :class:`SignerResult`, in the message's order."""
        if self._signers is None:
            found = self._found
            self._signers = [r if isinstance(r, SignerResult) else _signer_results([r])[0] for r in found]
        return self._signers

    @signers.setter
    def signers(self, value: List[SignerResult]) -> None:
        self._signers = value

    @property
    def infos(self) -> List[SignerInfo]:
        if self._infos is None:
            self._infos = self._ci.signer_infos(self._certs)
        return self._infos

    def __repr__(self) -> str:
        return "Verified(content=%s, signers=%r)" % (
            "None" if self.content is None else "<%d bytes>" % len(self.content), self.signers)


class ContentInfo(m2.CMSBase, Handle):
    """One CMS ContentInfo (signedData, envelopedData, authEnvelopedData ...).

    Owns its CMS_ContentInfo; ``close()`` frees it.  A structure made with ``stream=True``
    holds its input BIO until it is written (``write_der``/``write_pem``/``write_smime``).

    The pointer lives in the C base (``m2.CMSBase``), which frees it when the object dies (no
    Python finalizer: one is made per message); ``_p`` is the object itself, which every
    ``m2.cms_*`` function takes.
    """

    _pyfree = 1
    _owner = None
    # the attributes of a streaming structure default on the class
    _stream: Optional[BIO.BIO] = None
    _flags: int = 0
    _ecx: Optional[List[_cms_ecx.Pending]] = None  # X25519/X448 recipients to rewrite as written

    if TYPE_CHECKING:  # the signature; at run time the C base's __init__ serves it
        def __init__(self, ptr: Any, _stream: Optional[BIO.BIO] = None, _flags: int = 0) -> None: ...

    def close(self) -> None:
        self._stream = None
        Handle.close(self)

    free = close

    # ---- what it is ----
    @property
    def type(self) -> int:
        """The content type's NID (m2.CMS_SIGNED, m2.CMS_AUTH_ENVELOPED ...)."""
        return m2.cms_type_nid(self._ptr())

    @property
    def type_name(self) -> str:
        """'signedData', 'envelopedData', 'authEnvelopedData', 'compressedData', ..."""
        return _TYPE_NAMES.get(self.type, "unknown")

    @property
    def detached(self) -> bool:
        """True if the content is not inside (a detached signature)."""
        return bool(m2.cms_is_detached(self._ptr()))

    def certificates(self) -> List[X509.X509]:
        """The certificates a signedData carries."""
        ptr = m2.cms_get1_certs(self._ptr())
        return list(X509.X509_Stack(ptr, 1)) if ptr is not None else []

    def crls(self) -> List[X509.CRL]:
        """The CRLs a signedData carries."""
        ptr = m2.cms_get1_crls(self._ptr())
        return list(X509.CRL_Stack(ptr, 1).pystack) if ptr is not None else []

    def signer_infos(self, certs: Iterable[X509.X509] = ()) -> List[SignerInfo]:
        """The SignerInfos of a signedData (not verified: see :func:`verify`); certs helps to
        find signers' certificates the message does not carry."""
        stack = _stack(list(certs))
        return [SignerInfo(c, d, s, _when(t), caps) for c, d, s, t, caps in m2.cms_signer_infos(self._ptr(), _p(stack))]

    def recipient_kinds(self) -> List[str]:
        """The kind of each recipient of an (auth)envelopedData: 'key_transport',
        'key_agreement', 'kek', 'password'."""
        return [_RECIPIENT_KINDS.get(k, "other") for k in m2.cms_recipient_kinds(self._ptr())]

    # ---- writing ----
    def _write(self, writer: Any, bio: BIO.BIO, data: Optional[Data], flags: int) -> None:
        if not isinstance(bio, BIO.BIO):
            raise TypeError("bio must be a BIO, not %s" % type(bio).__name__)
        if data is None and self._stream is not None:
            data, self._stream = self._stream, None
        source = _optional_bio(data)
        if self._ecx is not None:
            return _ecx_write(self, writer, bio, source, flags | self._flags)
        writer(self._ptr(), bio._ptr(), _p(source), flags | self._flags)

    def write_der(self, bio: BIO.BIO, data: Optional[Data] = None, flags: int = 0) -> None:
        """Write DER to bio; a streaming structure reads its content from data as it goes."""
        self._write(m2.cms_write_der, bio, data, flags)

    def write_pem(self, bio: BIO.BIO, data: Optional[Data] = None, flags: int = 0) -> None:
        """Write PEM to bio (streaming as write_der)."""
        self._write(m2.cms_write_pem, bio, data, flags)

    def write_smime(self, bio: BIO.BIO, data: Optional[Data] = None, flags: int = 0) -> None:
        """Write an S/MIME message to bio: multipart/signed around data for a detached
        signature, application/pkcs7-mime with its smime-type otherwise (SMIME_write_CMS).
        The data is written as it is (CMS_BINARY) unless flags has CMS_TEXT."""
        if not flags & m2.CMS_TEXT:
            flags |= m2.CMS_BINARY
        if self.type == m2.CMS_SIGNED and self.detached:
            flags |= m2.CMS_DETACHED
            if self._stream is None:  # already signed: the data is only copied, not signed again
                flags |= m2.CMS_REUSE_DIGEST
        self._write(m2.cms_write_smime, bio, data, flags)

    def _bytes(self, method: Any, data: Optional[Data], flags: int) -> bytes:
        with BIO.MemoryBuffer() as out:
            method(out, data, flags)
            return out.read() or b""

    def to_der(self) -> bytes:
        if self._stream is None and self._ecx is None:  # complete: encoded straight into the bytes returned
            return m2.cms_to_der(self._p or self._ptr())
        return self._bytes(self.write_der, None, 0)

    def to_pem(self) -> bytes:
        return self._bytes(self.write_pem, None, 0)

    def to_smime(self, data: Optional[Data] = None, flags: int = 0) -> bytes:  # noqa: D401
        """The S/MIME message (data: the content of a detached signature)."""
        return self._bytes(self.write_smime, data, flags)


# ---- reading ----

def load_der(data: Union[Data, Any]) -> ContentInfo:
    """A ContentInfo from DER: a BIO, or a bytes-like object (bytes, memoryview, mmap), parsed
    in place without a copy.  :raises CMSFormatError: if malformed."""
    if type(data) is bytes:  # the common case first
        return ContentInfo(m2.cms_read_der_buffer(data))
    if isinstance(data, BIO.BIO):
        return ContentInfo(m2.cms_read_der(data._ptr()))
    if isinstance(data, str):
        raise TypeError("data must be bytes-like or a BIO, not str")
    return ContentInfo(m2.cms_read_der_buffer(data))


def load_pem(data: Data) -> ContentInfo:
    """A ContentInfo from PEM ("-----BEGIN CMS-----" or PKCS7).  :raises CMSFormatError:"""
    bio = _in_bio(data)
    return ContentInfo(m2.cms_read_pem(bio._ptr()))


def load_smime(data: Data, *, binary: bool = False) -> Tuple[ContentInfo, Optional[BIO.BIO]]:
    """(ContentInfo, content BIO or None) from an S/MIME message: the content BIO holds the
    signed first part of a multipart/signed message, with CRLF line ends (the canonical form
    of RFC 8551) unless binary (then as they are: for content signed with ``openssl -binary``).
    :raises CMSFormatError: if not S/MIME."""
    source = _in_bio(data)
    ptr, bio = m2.cms_read_smime(source._ptr(), m2.CMS_BINARY if binary else 0)
    return ContentInfo(ptr), (BIO.BIO(bio, 1) if bio is not None else None)


# ---- SignedData ----

# The message digest each EdDSA key signs with (RFC 8419 section 3.1: SHA-512 for Ed25519;
# SHAKE256 with 512 bits of output for Ed448, which OpenSSL names id-shake256 as RFC 8702 does).
_EDDSA_DIGESTS = {"ED25519": "sha512", "ED448": "shake256"}


def default_digest(key: EVP.PKey) -> str:
    """The digest a signer with key uses when none is named: SHA-512 for Ed25519 and SHAKE256
    for Ed448 (RFC 8419), SHA-256 for RSA and EC keys (RFC 8551 section 2.1)."""
    if not isinstance(key, EVP.PKey):
        raise TypeError("key must be an EVP.PKey, not %s" % type(key).__name__)
    return _EDDSA_DIGESTS.get(m2.pkey_type_name(key._ptr()), "sha256")


@dataclass
class Signer:
    """One signer for :func:`sign`: its key and certificate, the digest (None: the key's
    natural one, :func:`default_digest`) and, for RSA keys, the padding: "pkcs1" (PKCS#1 v1.5)
    or "pss" (RFC 4056)."""

    key: EVP.PKey
    cert: X509.X509
    digest: Optional[str] = None
    padding: str = "pkcs1"


def _check_padding(padding: str) -> bool:
    if padding not in ("pkcs1", "pss"):
        raise ValueError("padding must be 'pkcs1' or 'pss', not %r" % (padding,))
    return padding == "pss"


def sign(data: Data, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None, *,
         signers: Iterable[Signer] = (), certs: Iterable[X509.X509] = (), crls: Iterable[X509.CRL] = (),
         digest: Optional[str] = None, padding: str = "pkcs1", detached: bool = False, text: bool = False,
         attributes: bool = True, smime_capabilities: bool = True, include_signer_cert: bool = True,
         stream: bool = False) -> ContentInfo:
    """SignedData over data (bytes or a BIO), signed by key/cert and by every Signer of
    signers (CMS_sign, CMS_add1_signer): RSA (PKCS#1 v1.5 or PSS), ECDSA, Ed25519 and Ed448
    (RFC 8419, where :data:`HAS_EDDSA`).

    :param certs: more certificates to include (intermediates); :param crls: CRLs to include.
    :param digest: the digest (None: :func:`default_digest`, SHA-256 for RSA and EC keys);
    :param padding: "pss" for RSA-PSS (RFC 4056).
    :param detached: leave the content out (for multipart/signed).
    :param attributes: signed attributes (content type, signing time, message digest and,
        with smime_capabilities, the S/MIME capabilities: AES-GCM and AES-CBC).
    :param stream: data must be a BIO; it is read when the result is written (write_der,
        write_pem, write_smime), so that large content is never held in memory.
    :raises CMSUnsupportedAlgorithm: for unknown digests, or Ed25519/Ed448 keys where this
        OpenSSL's CMS cannot sign with them (HAS_EDDSA is False).
    :raises CMSError: if a key does not match its certificate or cannot sign.
    """
    # (key, cert, digest, padding) of each signer: tuples, not Signer objects, on this hot path
    all_signers = [(s.key, s.cert, s.digest, s.padding) for s in signers] if signers else []
    if key is not None or cert is not None:
        if key is None or cert is None:
            raise ValueError("give both key and cert")
        all_signers.insert(0, (key, cert, digest, padding))
    if not all_signers:
        raise ValueError("no signer given")
    flags = m2.CMS_BINARY if not text else m2.CMS_TEXT
    if detached:
        flags |= m2.CMS_DETACHED
    if not attributes:
        flags |= m2.CMS_NOATTR
    if not smime_capabilities:
        flags |= m2.CMS_NOSMIMECAP
    if not include_signer_cert:
        flags |= m2.CMS_NOCERTS
    if stream:
        flags |= m2.CMS_STREAM
    elif type(data) is bytes and type(key) is EVP.PKey and type(cert) is X509.X509 and not (signers or certs or crls):
        # one signer, content in bytes (the common case): one C call
        pss = padding == "pss" or (padding != "pkcs1" and _check_padding(padding))
        return ContentInfo(m2.cms_sign_buffer(data, cert, key._p or key._ptr(),  # type: ignore[arg-type]  # (X509 * takes the object)
                                              _digest(digest or default_digest(key)), flags, int(pss)))
    certs = list(certs)
    if include_signer_cert and certs:  # a signer's own certificate is added with it: not twice
        own = {c.as_der() for _, c, _, _ in all_signers if isinstance(c, X509.X509)}
        certs = [c for c in certs if not isinstance(c, X509.X509) or c.as_der() not in own]
    extra = _stack(certs)
    ci = ContentInfo(m2.cms_sign_new(_p(extra), flags))
    p = ci._ptr()
    for k, c, md, pad in all_signers:
        if not isinstance(k, EVP.PKey) or not isinstance(c, X509.X509):
            raise TypeError("a signer is an EVP.PKey and an X509.X509")
        pss = pad == "pss" or _check_padding(pad)
        m2.cms_add1_signer(p, c._ptr(), k._ptr(), _digest(md or default_digest(k)), flags, int(pss))
    for crl in crls:
        m2.cms_add1_crl(p, crl._ptr())
    return _complete(ci, data, flags, stream)


_VERIFY_FLAGS = m2.CMS_NO_SIGNER_CERT_VERIFY | m2.CMS_BINARY  # the chain is checked after, by cms_check_signers


def verify(ci: ContentInfo, trusted: Trust = None, *, certs: Iterable[X509.X509] = (),
           data: Optional[Data] = None, out: Optional[BIO.BIO] = None, purpose: str = "smime_sign",
           at_time: Union[datetime.datetime, int, None] = None, require_trust: bool = True,
           use_message_certs: bool = True) -> Verified:
    """Verify every signature of a signedData (CMS_verify) and each signer's certificate chain
    against trusted (a store, certificates, a CA file; None: the system's CAs) for purpose at
    at_time, with the message's certificates, certs and the message's CRLs.

    :param data: the content of a detached signature (bytes or a BIO).
    :param out: write the content there (a BIO) instead of returning it: what it receives is
        only to be trusted once verify returns.
    :param require_trust: raise CMSVerificationError when a chain fails; if False, report each
        signer's verify code in the result instead.
    :raises CMSSignatureError: a signature or the content digest does not verify.
    :raises CMSVerificationError: a signer's chain does not verify (OpenSSL's verify code).
    :raises CMSError: not a signedData, or a signer's certificate is missing.
    """
    if not isinstance(ci, ContentInfo):
        raise TypeError("ci must be a CMS.ContentInfo")
    certs = list(certs)
    stack = _stack(certs) if certs else None  # held for the calls below
    sp, cp = None if stack is None else stack._ptr(), ci._p or ci._ptr()
    flags = _VERIFY_FLAGS if use_message_certs else _VERIFY_FLAGS | m2.CMS_NOINTERN
    op = None if out is None else _out(out)
    if type(data) is bytes:  # immutable: the content verified is the caller's object itself
        content = m2.cms_verify_buffer(cp, sp, data, op, flags, 0)
        if out is None:
            content = data
    elif data is None or isinstance(data, BIO.BIO):
        content = m2.cms_verify(cp, sp, None, _p(data), op, flags)
    else:
        _check_bytes(data)
        content = m2.cms_verify_buffer(cp, sp, data, op, flags, 1)
    when = -1
    if at_time is not None:
        when = int(at_time.timestamp()) if isinstance(at_time, datetime.datetime) else int(at_time)
    store = trusted if type(trusted) is X509.X509_Store else store_from(trusted)
    # [(signer's X509, verify code, depth, [the rest of its chain])]: SignerResults made when asked for
    found = m2.cms_check_signers(cp, sp, store._p or store._ptr(), 0, when, purpose)
    if require_trust:
        for _, code, _, _ in found:
            if code:
                results = _signer_results(found)
                bad = next(r for r in results if r.verify_code)
                raise CMSVerificationError(bad.verify_code, bad.verify_depth, bad.certificate, results)
    return Verified(content, found, ci, certs)


def _signer_results(found: List[Tuple[X509.X509, int, int, List[X509.X509]]]) -> List[SignerResult]:
    """SignerResults from cms_check_signers' tuples (the signer is its chain's first when it verified)."""
    return [SignerResult(c, code, depth, [] if code else [c] + rest) for c, code, depth, rest in found]


# ---- EnvelopedData / AuthEnvelopedData ----

@dataclass
class CertRecipient:
    """A recipient by certificate: RSA key transport (rsa_padding "pkcs1" or "oaep", RFC 3560,
    with digest for OAEP and MGF1), or key agreement for EC (ECDH with the X9.63 KDF over
    digest, RFC 5753), X25519 and X448 (RFC 8418, with kdf "x963" or "hkdf" over SHA-256 for
    X25519, SHA-512 for X448; digest does not apply)."""

    cert: X509.X509
    rsa_padding: str = "pkcs1"
    digest: str = "sha256"
    kdf: str = "x963"


@dataclass
class KEKRecipient:
    """A recipient holding a shared key-encryption key (16, 24 or 32 bytes for AES key wrap),
    named by key_id (RFC 5652 section 6.2.3)."""

    key: bytes
    key_id: bytes


@dataclass
class PasswordRecipient:
    """A recipient knowing a password (RFC 3211: PBKDF2-HMAC-SHA256, then key wrap)."""

    password: bytes
    iterations: int = 100000


Recipient = Union[X509.X509, CertRecipient, KEKRecipient, PasswordRecipient]


def _add_recipient(ci: ContentInfo, r: Recipient, flags: int) -> None:
    if isinstance(r, X509.X509):
        m2.cms_add1_recipient_cert(ci._ptr(), r._ptr(), _digest("sha256"), flags, 0)
    elif isinstance(r, CertRecipient):
        if r.rsa_padding not in ("pkcs1", "oaep"):
            raise ValueError("rsa_padding must be 'pkcs1' or 'oaep'")
        m2.cms_add1_recipient_cert(ci._ptr(), r.cert._ptr(), _digest(r.digest), flags, int(r.rsa_padding == "oaep"))
    elif isinstance(r, KEKRecipient):
        m2.cms_add0_recipient_key(ci._ptr(), bytes(r.key), bytes(r.key_id))
    elif isinstance(r, PasswordRecipient):
        pw = r.password.encode() if isinstance(r.password, str) else bytes(r.password)
        m2.cms_add0_recipient_password(ci._ptr(), pw, int(r.iterations))
    else:
        raise TypeError("a recipient is an X509, CertRecipient, KEKRecipient or PasswordRecipient, not %s"
                        % type(r).__name__)


def encrypt(data: Data, recipients: Iterable[Recipient], *, cipher: str = "aes-256-gcm", text: bool = False,
            use_key_id: bool = False, stream: bool = False) -> ContentInfo:
    """data encrypted for recipients: AuthEnvelopedData for AES-GCM (RFC 5083/5084, S/MIME 4.0's
    default), EnvelopedData for other ciphers (AES-CBC for older receivers).

    :param recipients: certificates (RSA: PKCS#1 v1.5 key transport; EC/X25519/X448: key
        agreement, X25519/X448 by M2Sec itself: RFC 8418), or CertRecipient, KEKRecipient,
        PasswordRecipient.
    :param use_key_id: name certificate recipients by subject key identifier.
    :param stream: data must be a BIO, read when the result is written.
    :raises CMSUnsupportedAlgorithm: for an unknown cipher or a key type without CMS support.
    :raises ValueError: without recipients.
    """
    recipients = list(recipients)
    if not recipients:
        raise ValueError("no recipients given")
    flags = m2.CMS_BINARY if not text else m2.CMS_TEXT
    if use_key_id:
        flags |= m2.CMS_USE_KEYID
    if stream:
        flags |= m2.CMS_STREAM
    if type(data) is bytes and not stream:  # certificates only (the common case): one C call
        # None when a recipient is not a certificate, or has an X25519/X448 key (RFC 8418): the
        # loop below adds those; a closed certificate raises ClosedError
        ptr = m2.cms_encrypt_buffer(data, recipients, _ciphers.get(cipher) or _cipher(cipher),
                                    _digests.get("sha256") or _digest("sha256"), flags)
        if ptr is not None:
            return ContentInfo(ptr)
    ci = ContentInfo(m2.cms_encrypt_new(_cipher(cipher), flags))
    p, kdf = ci._ptr(), _digest("sha256")
    ecx: List[_cms_ecx.Pending] = []
    for r in recipients:
        target = _ecx_target(r)
        if target is not None:
            _add_ecx(ci, target, cipher, use_key_id, stream, ecx)
        elif type(r) is X509.X509:  # the common case, without _add_recipient's dispatch
            m2.cms_add1_recipient_cert(p, r._ptr(), kdf, flags, 0)
        else:
            _add_recipient(ci, r, flags)
    ci = _complete(ci, data, flags, stream)
    if ecx and stream:  # rewritten as it is written (_ecx_write)
        ci._ecx = ecx
        return ci
    return _ecx_finish(ci, ecx) if ecx else ci


def decrypt(ci: ContentInfo, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None, *,
            kek: Optional[Tuple[bytes, bytes]] = None, password: Union[bytes, str, None] = None,
            out: Optional[BIO.BIO] = None, text: bool = False) -> Optional[bytes]:
    """The content of an (auth)envelopedData, decrypted with key (cert picks its recipient;
    without it every recipient is tried), with kek=(key, key_id), or with password.  With out,
    the plaintext is written there and None returned; an AuthEnvelopedData writes nothing
    unless its tag verifies.

    An X25519/X448 key opens RFC 8418's key agreement recipients (M2Sec's own; the message is
    re-encoded once for it).

    :raises CMSDecryptError: wrong key, no matching recipient, bad tag, corrupted data, a
        low-order X25519/X448 originator key.
    :raises CMSUnsupportedAlgorithm: the message names a cipher (or an X25519/X448 KDF) M2Sec lacks.
    :raises CMSFormatError: a malformed X25519/X448 recipient.
    """
    if not isinstance(ci, ContentInfo):
        raise TypeError("ci must be a CMS.ContentInfo")
    if (key is not None) + (kek is not None) + (password is not None) != 1:
        raise ValueError("give exactly one of key, kek and password")
    flags = m2.CMS_TEXT if text else m2.CMS_BINARY
    if kek is not None:
        m2.cms_decrypt_set1_key(ci._ptr(), bytes(kek[0]), bytes(kek[1]))
    elif password is not None:
        m2.cms_decrypt_set1_password(ci._ptr(), password.encode() if isinstance(password, str) else bytes(password))
    else:
        if type(key) is not EVP.PKey and not isinstance(key, EVP.PKey):
            raise TypeError("key must be an EVP.PKey, not %s" % type(key).__name__)
        # NotImplemented for an X25519/X448 key: RFC 8418's key agreement is M2Sec's own (below)
        # (an X509 * argument takes the certificate object itself)
        plain: Any = m2.cms_decrypt_key(ci._p or ci._ptr(), key._p or key._ptr(), cert,  # type: ignore[arg-type]
                                        None if out is None else _out(out), flags)
        if plain is NotImplemented:
            return _ecx_decrypt(ci, key, cert, out, flags)
        return plain  # type: ignore[no-any-return]  # (bytes or None: a cast's Optional[bytes] costs a lookup per call)
    return cast(Optional[bytes], m2.cms_decrypt(ci._ptr(), None, None, None, _out(out), flags))


# ---- X25519/X448 recipients (RFC 8418): the key agreement OpenSSL's CMS lacks, in _cms_ecx ----

_ECX_ERRORS = {"format": CMSFormatError, "decrypt": CMSDecryptError, "unsupported": CMSUnsupportedAlgorithm}


def _ecx_error(e: _cms_ecx.ECXError) -> CMSError:
    return _ECX_ERRORS.get(e.kind, CMSError)(str(e))


def _ecx_target(r: Any) -> Optional[Tuple[X509.X509, str]]:
    """(certificate, KDF) of an X25519/X448 recipient, or None."""
    cert, kdf = (r, "x963") if isinstance(r, X509.X509) else (r.cert, r.kdf) if isinstance(r, CertRecipient) else (None, "")
    return (cert, kdf) if cert is not None and _cms_ecx.is_ecx_key(cert.get_pubkey()) else None


def _add_ecx(ci: ContentInfo, target: Tuple[X509.X509, str], cipher: str, use_key_id: bool, stream: bool,
             pending: List[_cms_ecx.Pending]) -> None:
    """An X25519/X448 recipient, added as the KEK recipient _ecx_finish turns into key agreement."""
    cert, kdf = target
    keylen = m2.cipher_key_length(_cipher(cipher))
    try:
        p = _cms_ecx.prepare(cert, keylen if keylen in (16, 24, 32) else 32, kdf=kdf, use_key_id=use_key_id)
    except _cms_ecx.ECXError as e:
        raise _ecx_error(e) from None
    m2.cms_add0_recipient_key(ci._ptr(), p.kek, p.key_id)
    pending.append(p)


def _ecx_finish(ci: ContentInfo, pending: List[_cms_ecx.Pending]) -> ContentInfo:
    with ci:
        try:
            return load_der(_cms_ecx.to_key_agreement(ci.to_der(), pending))
        except _cms_ecx.ECXError as e:
            raise _ecx_error(e) from None


def _ecx_decrypt(ci: ContentInfo, key: EVP.PKey, cert: Optional[X509.X509], out: Optional[BIO.BIO],
                 flags: int) -> Optional[bytes]:
    """decrypt() for an X25519/X448 key: each candidate recipient made a KEK recipient, tried."""
    try:
        rewritten, candidates = _cms_ecx.to_kek(ci.to_der(), key, cert)
    except _cms_ecx.ECXError as e:
        raise _ecx_error(e) from None
    return _ecx_try(lambda: load_der(rewritten), candidates, key, out, flags)


def _ecx_try(load: Callable[[], ContentInfo], candidates: List[_cms_ecx.Candidate], key: EVP.PKey,
             out: Optional[BIO.BIO], flags: int) -> Optional[bytes]:
    """The content, decrypted with the first candidate KEK that unwraps the content key of
    the rewritten message load() gives (a fresh one for each)."""
    for c in candidates:
        with load() as one:
            try:
                m2.cms_decrypt_set1_key(one._ptr(), c.kek, c.key_id)
            except CMSDecryptError:
                continue  # the key does not unwrap: another recipient's, or tampered
            return cast(Optional[bytes], m2.cms_decrypt(one._ptr(), None, None, None, _out(out), flags))
    raise CMSDecryptError("cannot decrypt: the %s key does not unwrap the content key" % key.key_type)


# ---- streaming for X25519/X448 recipients: only the message's head is rewritten (_cms_ecx) ----

_CHUNK = 1 << 16


def _ecx_write(ci: ContentInfo, writer: Any, bio: BIO.BIO, source: Optional[BIO.BIO], flags: int) -> None:
    """ci written by writer (DER, PEM or S/MIME) to bio through the filter that makes its KEK
    recipients RFC 8418's key agreement: OpenSSL writes into a pipe from a thread (the GIL
    released), the filter reads it here; memory stays bounded by the head and a chunk."""
    inner = _cms_ecx.key_agreement_filter(ci._ecx or [])
    filt = inner if writer is m2.cms_write_der else _cms_ecx.Base64Filter(inner)
    r, wbio = _pipe(write=True)
    failure: List[BaseException] = []
    args = (ci._ptr(), wbio, _p(source), flags)

    def run() -> None:
        try:
            writer(*args)
        except BaseException as e:  # raised in the caller's thread below
            failure.append(e)
        finally:
            m2.bio_free(wbio)  # closes the pipe: the reader sees its end

    t = threading.Thread(target=run, name="M2Sec CMS writer", daemon=True)
    t.start()
    error: Optional[CMSError] = None
    chunk = b""
    try:
        with open(r, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(_CHUNK)
                _write_all(bio, filt.feed(chunk) if chunk else filt.close())
                if not chunk:
                    break
    except _cms_ecx.ECXError as e:
        error = _ecx_error(e)
    finally:
        t.join()  # the pipe is closed by now: a writer still writing fails and ends
    # OpenSSL's failure first when it ended the stream early; the filter's when it broke the pipe
    if failure and (error is None or not chunk):
        raise failure[0]
    if error is not None:
        raise error


def _pipe(write: bool) -> Tuple[int, Any]:
    """A pipe: (the descriptor of one end, a BIO owning the other: its write end if write)."""
    r, w = os.pipe()
    try:
        return (r, m2.bio_new_fd(w, m2.bio_close)) if write else (w, m2.bio_new_fd(r, m2.bio_close))
    except BaseException:
        os.close(r)
        os.close(w)
        raise


def _write_all(bio: BIO.BIO, data: bytes) -> None:
    while data:
        n = bio.write(data)
        if n <= 0:
            raise CMSError("cannot write the CMS structure")
        data = data[n:]


def _chunks(source: Any) -> Iterator[bytes]:
    """source (a BIO, a binary file object, or a bytes-like object) in pieces."""
    if isinstance(source, BIO.BIO) or hasattr(source, "read"):
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                return
            yield bytes(chunk)
    elif isinstance(source, (str, int)):
        raise TypeError("source must be a BIO, a binary file or bytes-like, not %s" % type(source).__name__)
    else:
        view = memoryview(source).cast("B")
        for i in range(0, len(view), _CHUNK):
            yield view[i:i + _CHUNK].tobytes()


def _opened(filt: _cms_ecx.DetachFilter, key: Optional[EVP.PKey], cert: Optional[X509.X509],
            kek: Optional[Tuple[bytes, bytes]], password: Optional[bytes]) -> Tuple[ContentInfo, Any, Any]:
    """(the small message filt made of the head, keyed; the key and certificate for
    cms_decrypt): an X25519/X448 key's KEK set from the first candidate that unwraps the
    content key, a KEK or password set.  :raises CMSDecryptError:"""
    assert filt.message is not None
    ci = load_der(filt.message)
    try:
        if kek is not None:
            m2.cms_decrypt_set1_key(ci._ptr(), bytes(kek[0]), bytes(kek[1]))
        elif password is not None:
            m2.cms_decrypt_set1_password(ci._ptr(), password)
        elif filt.candidates:
            assert key is not None
            for c in filt.candidates:
                try:
                    m2.cms_decrypt_set1_key(ci._ptr(), c.kek, c.key_id)
                    return ci, None, None
                except CMSDecryptError:
                    continue  # the key does not unwrap: another recipient's, or tampered
            raise CMSDecryptError("cannot decrypt: the %s key does not unwrap the content key" % key.key_type)
        else:
            return ci, _p(key), _p(cert)
    except BaseException:
        ci.close()
        raise
    return ci, None, None


def _spooled(filt: _cms_ecx.DetachFilter, first: List[bytes], chunks: Iterator[bytes], opened: Callable[[], Any],
             out: Optional[BIO.BIO], flags: int, tmpdir: Optional[str]) -> Optional[bytes]:
    """decrypt_stream() of an AuthEnvelopedData: its tag comes after the content and OpenSSL
    needs it first, so the encrypted content goes into a temporary file (in tmpdir), which
    OpenSSL then reads as detached content of the small message DetachFilter made, the tag
    included; the plaintext goes into a second temporary file (the spool) and on to out only
    once the tag has verified (m2.cms_decrypt_spooled).  Both files are unnamed (O_TMPFILE
    where the file system has it), readable by the owner only, and gone when closed."""
    with tempfile.TemporaryFile(dir=tmpdir) as tmp:
        try:
            tmp.writelines(first)
            for chunk in chunks:
                tmp.write(filt.feed(chunk))
            filt.close()
        except _cms_ecx.ECXError as e:
            raise _ecx_error(e) from None
        tmp.flush()
        tmp.seek(0)
        ci, pkey, pcert = opened()
        with ci, BIO.File(tmp, close_pyfile=0) as dcont, tempfile.TemporaryFile(dir=tmpdir) as spool, \
                BIO.File(spool, close_pyfile=0) as sbio:
            return cast(Optional[bytes], m2.cms_decrypt_spooled(ci._ptr(), pkey, pcert, dcont._ptr(), sbio._ptr(),
                                                                _out(out), flags))


def _piped(filt: _cms_ecx.DetachFilter, first: List[bytes], chunks: Iterator[bytes], opened: Callable[[], Any],
           out: Optional[BIO.BIO], flags: int) -> Optional[bytes]:
    """decrypt_stream() of an EnvelopedData with memory bounded by the head: OpenSSL gets the
    small message DetachFilter made of the head (the content left out) and reads the encrypted
    content as detached content from a pipe, which a thread fills from the rest of the stream
    (CMS_decrypt's dcont)."""
    ci, pkey, pcert = opened()
    with ci:
        w, rbio = _pipe(write=False)
        failure: List[BaseException] = []

        def run() -> None:
            try:
                with open(w, "wb") as pipe:
                    pipe.writelines(first)
                    for chunk in chunks:
                        pipe.write(filt.feed(chunk))
                    filt.close()
            except BrokenPipeError:
                pass  # OpenSSL stopped reading: its error is raised
            except BaseException as e:  # raised in the caller's thread below
                failure.append(e)

        t = threading.Thread(target=run, name="M2Sec CMS reader", daemon=True)
        t.start()
        error: Optional[CMSError] = None
        try:
            result = m2.cms_decrypt(ci._ptr(), pkey, pcert, rbio, _out(out), flags)
        except CMSError as e:
            result, error = None, e
        finally:
            m2.bio_free(rbio)  # closes the pipe: a writer still writing ends
            t.join()
        if failure:  # the stream's own error says more than OpenSSL's at its cut end
            f = failure[0]
            raise _ecx_error(f) if isinstance(f, _cms_ecx.ECXError) else f
        if error is not None:
            raise error
        return cast(Optional[bytes], result)


def decrypt_stream(source: Any, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None, *,
                   out: Optional[BIO.BIO] = None, form: str = "DER", text: bool = False,
                   kek: Optional[Tuple[bytes, bytes]] = None, password: Union[bytes, str, None] = None,
                   max_head: int = _cms_ecx.MAX_HEAD, tmpdir: Optional[str] = None) -> Optional[bytes]:
    """The content of an (auth)envelopedData read from source (a BIO, a binary file object or
    a bytes-like object such as an mmap) in pieces, as :func:`decrypt` (same keys, out and
    exceptions), with memory bounded whatever the size when out is given.

    Only the head of the message (up to the end of its RecipientInfos and the content's
    algorithm, at most max_head bytes) is held; OpenSSL gets a small message made of it (for an
    X25519/X448 key, its key agreement recipients rewritten: see :mod:`M2Sec._cms_ecx`) and
    reads the encrypted content as detached content: from a pipe for an EnvelopedData, from a
    temporary file (in tmpdir) for an AuthEnvelopedData, whose tag follows the content.  An
    AuthEnvelopedData's plaintext goes to a second temporary file and reaches out only once
    the tag has verified (a bad tag: :class:`CMSDecryptError`, nothing written, the file gone).
    PEM and S/MIME are decoded from base64 as they come.

    :param form: "DER", "PEM" or "SMIME" (application/pkcs7-mime).
    :param tmpdir: where the temporary files of an AuthEnvelopedData go (the default: tempfile's).
    :raises CMSFormatError: also for a head over max_head bytes, a stream that ends inside the
        head or the content, outer lengths that contradict each other, bad base64, a PEM label
        other than CMS or PKCS7, an S/MIME Content-Type other than application/pkcs7-mime.
    """
    if form not in ("DER", "PEM", "SMIME"):
        raise ValueError("form must be 'DER', 'PEM' or 'SMIME'")
    if (key is not None) + (kek is not None) + (password is not None) != 1:
        raise ValueError("give exactly one of key, kek and password")
    pw = password.encode() if isinstance(password, str) else None if password is None else bytes(password)
    ecx = key is not None and _cms_ecx.is_ecx_key(key)
    chunks: Iterator[bytes] = _chunks(source)
    if form != "DER":
        chunks = _cms_ecx.base64_der(chunks, form, max_head)
    filt = _cms_ecx.DetachFilter(key if ecx else None, cert, max_head)
    first: List[bytes] = []
    try:
        for chunk in chunks:
            first.append(filt.feed(chunk))
            if filt.kind:
                break
        else:
            if not first:
                raise CMSFormatError("the stream is empty")
            filt.close()  # raises: the stream ends inside the head
    except _cms_ecx.ECXError as e:
        raise _ecx_error(e) from None
    flags = m2.CMS_TEXT if text else m2.CMS_BINARY

    def opened() -> Tuple[ContentInfo, Any, Any]:
        return _opened(filt, key, cert, kek, pw)

    if filt.kind == _cms_ecx.ENVELOPED:
        return _piped(filt, first, chunks, opened, out, flags)
    return _spooled(filt, first, chunks, opened, out, flags, tmpdir)


# ---- CompressedData and DigestedData ----

#: The largest content :func:`uncompress` inflates by default (64 MiB).
MAX_UNCOMPRESSED = 64 << 20

_NO_ZLIB = "CompressedData needs an OpenSSL built with zlib; this one is not (CMS.HAS_ZLIB is False)"


def compress(data: Data) -> ContentInfo:
    """CompressedData of data (zlib, RFC 3274; OpenSSL's CMS_compress).

    :raises CMSUnsupportedAlgorithm: if this OpenSSL has no zlib (:data:`HAS_ZLIB` is False).
    """
    if not HAS_ZLIB:
        raise CMSUnsupportedAlgorithm(_NO_ZLIB)
    bio = _in_bio(data)
    return ContentInfo(m2.cms_compress(bio._ptr(), m2.CMS_BINARY))


def uncompress(ci: ContentInfo, out: Optional[BIO.BIO] = None, *,
               max_size: Optional[int] = MAX_UNCOMPRESSED) -> Optional[bytes]:
    """The content of a compressedData (RFC 3274), or None when written to ``out``.

    :param max_size: the most bytes the content may inflate to (``None``: no limit, for an
        ``out`` that can take any size); memory stays bounded by it.
    :raises CMSFormatError: not a compressedData, corrupt zlib data, or content larger than
        ``max_size`` (a compression bomb).
    :raises CMSUnsupportedAlgorithm: if this OpenSSL has no zlib (:data:`HAS_ZLIB` is False).
    """
    if not isinstance(ci, ContentInfo):
        raise TypeError("ci must be a CMS.ContentInfo")
    if max_size is not None and (not isinstance(max_size, int) or max_size < 0):
        raise ValueError("max_size must be None or an int >= 0")
    if not HAS_ZLIB and ci.type == m2.CMS_COMPRESSED:
        raise CMSUnsupportedAlgorithm(_NO_ZLIB)
    return cast(Optional[bytes], m2.cms_uncompress(ci._ptr(), None, _out(out), m2.CMS_BINARY, -1 if max_size is None else max_size))


def digest(data: Data, algorithm: str = "sha256") -> ContentInfo:
    """DigestedData of data (RFC 5652 section 7)."""
    bio = _in_bio(data)
    return ContentInfo(m2.cms_digest_create(bio._ptr(), _digest(algorithm), m2.CMS_BINARY))


def verify_digest(ci: ContentInfo, out: Optional[BIO.BIO] = None) -> Optional[bytes]:
    """The content of a digestedData once its digest verifies.  :raises CMSSignatureError:"""
    return cast(Optional[bytes], m2.cms_digest_verify(ci._ptr(), None, _out(out), m2.CMS_BINARY))
