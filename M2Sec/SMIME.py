"""S/MIME and PKCS#7 (RFC 2315, RFC 8551): M2Crypto's SMIME module.

:class:`SMIME` signs, verifies, encrypts and decrypts with PKCS#7 and writes S/MIME
messages (opaque or multipart/signed); :class:`PKCS7` holds one PKCS#7 structure.  For whole
e-mail messages see :mod:`M2Sec.mail`.
"""

from typing import Any, Callable, List, Optional, Tuple, Union

from M2Sec import BIO, EVP, X509, m2, util
from M2Sec._base import Owned
from M2Sec.Err import M2SecError

PKCS7_TEXT: int = m2.PKCS7_TEXT
PKCS7_NOCERTS: int = m2.PKCS7_NOCERTS
PKCS7_NOSIGS: int = m2.PKCS7_NOSIGS
PKCS7_NOCHAIN: int = m2.PKCS7_NOCHAIN
PKCS7_NOINTERN: int = m2.PKCS7_NOINTERN
PKCS7_NOVERIFY: int = m2.PKCS7_NOVERIFY
PKCS7_DETACHED: int = m2.PKCS7_DETACHED
PKCS7_BINARY: int = m2.PKCS7_BINARY
PKCS7_NOATTR: int = m2.PKCS7_NOATTR
PKCS7_NOSMIMECAP: int = m2.PKCS7_NOSMIMECAP
PKCS7_NOCRL: int = m2.PKCS7_NOCRL
PKCS7_SIGNED: int = m2.PKCS7_SIGNED
PKCS7_ENVELOPED: int = m2.PKCS7_ENVELOPED
PKCS7_SIGNED_ENVELOPED: int = m2.PKCS7_SIGNED_ENVELOPED  # not made by this module
PKCS7_DATA: int = m2.PKCS7_DATA

#: The cipher of the new API (:mod:`M2Sec.mail`, :func:`encrypt`) when none is named.
DEFAULT_CIPHER = "aes_256_cbc"

DataSource = Union[BIO.BIO, bytes, bytearray, memoryview]


class PKCS7_Error(M2SecError):
    """A PKCS#7 structure could not be read, written, verified or decrypted."""


m2.pkcs7_init(PKCS7_Error)


class SMIME_Error(M2SecError):
    """An S/MIME operation failed (signing, encrypting, reading a MIME message, missing setup)."""


m2.smime_init(SMIME_Error)


class PKCS7VerificationError(PKCS7_Error, X509.X509VerificationError):
    """A signer's certificate chain did not verify: ``verify_code`` (X509_V_ERR_*),
    ``depth`` and ``verify_message`` (OpenSSL's text).  Also an X509VerificationError."""


def _need(obj: Any, cls: type, what: str) -> None:
    if not isinstance(obj, cls):
        raise TypeError("%s must be %s.%s, not %s" % (what, cls.__module__, cls.__name__, type(obj).__name__))


def _bio(data: DataSource) -> BIO.BIO:
    """data itself if it is a BIO, else a memory BIO holding it."""
    if isinstance(data, BIO.BIO):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return BIO.MemoryBuffer(bytes(data))
    raise TypeError("expected a BIO or bytes, not %s" % type(data).__name__)


class PKCS7(Owned):
    """One PKCS#7 structure (signedData, envelopedData ...)."""

    _free_fn = m2.pkcs7_free

    def __init__(self, pkcs7: Any = None, _pyfree: int = 0) -> None:
        if pkcs7 is None:
            pkcs7, _pyfree = m2.pkcs7_new(), 1
        super().__init__(pkcs7, _pyfree)

    @property
    def pkcs7(self) -> Any:
        """The PKCS7 pointer (M2Crypto's attribute)."""
        return self._ptr()

    def type(self, text_name: int = 0) -> Union[int, str]:
        """The content type: its NID (PKCS7_SIGNED ...), or its short name if text_name."""
        if text_name:
            return m2.pkcs7_type_sn(self._ptr())
        return m2.pkcs7_type_nid(self._ptr())

    def write(self, bio: BIO.BIO) -> int:
        """Write PEM to bio: 1, or PKCS7_Error."""
        _need(bio, BIO.BIO, "bio")
        return m2.pkcs7_write_bio(self._ptr(), bio._ptr())

    def write_der(self, bio: BIO.BIO) -> int:
        """Write DER to bio: 1, or PKCS7_Error."""
        _need(bio, BIO.BIO, "bio")
        return m2.pkcs7_write_bio_der(self._ptr(), bio._ptr())

    def as_der(self) -> bytes:
        """The structure as DER."""
        with BIO.MemoryBuffer() as bio:
            self.write_der(bio)
            return bio.read() or b""

    def as_pem(self) -> bytes:
        """The structure as PEM."""
        with BIO.MemoryBuffer() as bio:
            self.write(bio)
            return bio.read() or b""

    def get0_signers(self, certs: X509.X509_Stack, flags: int = 0) -> X509.X509_Stack:
        """The signers' certificates, found in the structure and in certs.

        :raises PKCS7_Error: if one is missing or this is not signedData."""
        _need(certs, X509.X509_Stack, "certs")
        return X509.X509_Stack(m2.pkcs7_get0_signers(self._ptr(), certs._ptr(), flags), 1)

    def get_certificates(self) -> X509.X509_Stack:
        """The certificates a signedData carries (empty for other types)."""
        ptr = m2.pkcs7_get_certs_sk(self._ptr())
        return X509.X509_Stack(ptr, 1) if ptr is not None else X509.X509_Stack()


def load_pkcs7(p7file: Union[str, bytes]) -> PKCS7:
    """A PKCS7 from a PEM file; BIOError if it cannot be opened, PKCS7_Error if unreadable."""
    with BIO.openfile(p7file, "rb") as bio:
        return load_pkcs7_bio(bio)


def load_pkcs7_der(p7file: Union[str, bytes]) -> PKCS7:
    """A PKCS7 from a DER file; BIOError if it cannot be opened, PKCS7_Error if unreadable."""
    with BIO.openfile(p7file, "rb") as bio:
        return load_pkcs7_bio_der(bio)


def load_pkcs7_bio(p7_bio: BIO.BIO) -> PKCS7:
    """A PKCS7 read as PEM from p7_bio; PKCS7_Error if there is none."""
    _need(p7_bio, BIO.BIO, "p7_bio")
    return PKCS7(m2.pkcs7_read_bio(p7_bio._ptr()), 1)


def load_pkcs7_bio_der(p7_bio: BIO.BIO) -> PKCS7:
    """A PKCS7 read as DER from p7_bio; PKCS7_Error if there is none."""
    _need(p7_bio, BIO.BIO, "p7_bio")
    return PKCS7(m2.pkcs7_read_bio_der(p7_bio._ptr()), 1)


def smime_load_pkcs7(p7file: Union[str, bytes]) -> Tuple[PKCS7, Optional[BIO.BIO]]:
    """(PKCS7, content BIO or None) from an S/MIME message file (see smime_load_pkcs7_bio)."""
    with BIO.openfile(p7file, "rb") as bio:
        return smime_load_pkcs7_bio(bio)


def smime_load_pkcs7_bio(p7_bio: BIO.BIO) -> Tuple[PKCS7, Optional[BIO.BIO]]:
    """(PKCS7, content BIO or None) from an S/MIME message: the content BIO holds the first
    part of a multipart/signed message.  SMIME_Error if it is not S/MIME."""
    _need(p7_bio, BIO.BIO, "p7_bio")
    p7_ptr, bio_ptr = m2.smime_read_pkcs7(p7_bio._ptr())
    p7 = PKCS7(p7_ptr, 1)
    return p7, (BIO.BIO(bio_ptr, 1) if bio_ptr is not None else None)


def create_degenerate(cert_stack: X509.X509_Stack, bio: BIO.BIO) -> int:
    """Write cert_stack to bio as a certificates-only signedData (.p7c, DER): 1.

    :raises SMIME_Error: for an empty stack or arguments of the wrong type."""
    if not isinstance(cert_stack, X509.X509_Stack):
        raise SMIME_Error("cert_stack must be an X509.X509_Stack")
    if not isinstance(bio, BIO.BIO):
        raise SMIME_Error("bio must be a BIO.BIO")
    if len(cert_stack) == 0:
        raise SMIME_Error("cert_stack cannot be empty")
    return m2.pkcs7_create_degenerate(cert_stack._ptr(), bio._ptr())


def save_degenerate(cert_stack: X509.X509_Stack, filename: Union[str, bytes]) -> int:
    """create_degenerate into the file filename."""
    with BIO.openfile(filename, "wb") as bio:
        return create_degenerate(cert_stack, bio)


def load_certificates(filename: Union[str, bytes]) -> X509.X509_Stack:
    """The certificates of a .p7c file (DER signedData).

    :raises SMIME_Error: if the file holds another PKCS#7 type."""
    p7 = load_pkcs7_der(filename)
    if p7.type() != PKCS7_SIGNED:
        raise SMIME_Error("not a certificates-only PKCS#7 (.p7c) file")
    return p7.get_certificates()


class Cipher:
    """A cipher for :meth:`SMIME.encrypt`: M2Crypto's names ('aes_256_cbc', 'des_ede3_cbc')
    or OpenSSL's ('AES-256-CBC', 'camellia-256-cbc').  Ciphers of OpenSSL's legacy provider
    load it.

    :raises ValueError: (EVP.EVPError) for an unknown cipher."""

    def __init__(self, algo: str) -> None:
        self.cipher = EVP.get_cipher(algo)
        self.name = algo

    def _ptr(self) -> Any:
        return self.cipher

    def __repr__(self) -> str:
        return "Cipher(%r)" % (self.name,)


def cipher_names() -> List[str]:
    """The names of the ciphers the loaded providers offer that PKCS#7 envelopedData can use
    (CBC, ECB, CFB, OFB and CTR modes with an identifier of their own; not AEAD, key wrap or
    XTS).  Legacy ciphers appear once the legacy provider is loaded."""
    return [n for n in EVP.cipher_names() if m2.pkcs7_cipher_usable(EVP.get_cipher(n))]


def _digest(algo: Optional[str]) -> Any:
    if algo is None:
        return None
    try:
        return EVP.get_digest(algo)
    except (EVP.EVPError, TypeError):
        raise SMIME_Error("no such hash algorithm %s" % (algo,)) from None


class SMIME:
    """The state of S/MIME operations: the signer's key and certificate (load_key), the
    certificates (set_x509_stack: recipients for encrypt, candidate signers for verify, extra
    certificates for sign), the trust store (set_x509_store) and the cipher (set_cipher)."""

    def load_key(self, keyfile: Union[str, bytes], certfile: Union[str, bytes, None] = None,
                 callback: Callable[..., Any] = util.passphrase_callback) -> None:
        """Load the private key (EVPError if none) and its certificate (from keyfile too
        when certfile is None)."""
        if certfile is None:
            certfile = keyfile
        self.pkey = EVP.load_key(keyfile, callback)
        self.x509 = X509.load_cert(certfile)

    def load_key_bio(self, keybio: BIO.BIO, certbio: Optional[BIO.BIO] = None,
                     callback: Callable[..., Any] = util.passphrase_callback) -> None:
        """load_key from BIOs."""
        if certbio is None:
            certbio = keybio
        self.pkey = EVP.load_key_bio(keybio, callback)
        self.x509 = X509.load_cert_bio(certbio)

    def set_key(self, pkey: EVP.PKey, x509: X509.X509) -> None:
        """Use pkey and its certificate x509 (already loaded)."""
        _need(pkey, EVP.PKey, "pkey")
        _need(x509, X509.X509, "x509")
        self.pkey, self.x509 = pkey, x509

    def set_x509_stack(self, stack: X509.X509_Stack) -> None:
        _need(stack, X509.X509_Stack, "stack")
        self.x509_stack = stack

    def set_x509_store(self, store: X509.X509_Store) -> None:
        _need(store, X509.X509_Store, "store")
        self.x509_store = store

    def set_cipher(self, cipher: Cipher) -> None:
        _need(cipher, Cipher, "cipher")
        self.cipher = cipher

    def unset_key(self) -> None:
        del self.pkey
        del self.x509

    def unset_x509_stack(self) -> None:
        del self.x509_stack

    def unset_x509_store(self) -> None:
        del self.x509_store

    def unset_cipher(self) -> None:
        del self.cipher

    def _setting(self, name: str, hint: str) -> Any:
        """The attribute name, or SMIME_Error(hint) if it was not set."""
        value = getattr(self, name, None)
        if value is None:
            raise SMIME_Error(hint)
        return value

    def _key(self) -> Tuple[EVP.PKey, X509.X509]:
        return (self._setting("pkey", "no private key: use load_key()"),
                self._setting("x509", "no certificate: load_key() used incorrectly?"))

    def encrypt(self, data_bio: DataSource, flags: int = 0) -> PKCS7:
        """envelopedData of data_bio's content for the certificates of set_x509_stack, with
        the cipher of set_cipher.  Recipients need RSA keys (PKCS#7 has no key agreement).

        :raises SMIME_Error: without a cipher or recipients, or if OpenSSL cannot encrypt."""
        cipher = self._setting("cipher", "no cipher: use set_cipher()")
        stack = self._setting("x509_stack", "no recipient certs: use set_x509_stack()")
        if len(stack) == 0:
            raise SMIME_Error("no recipient certs: the stack is empty")
        if not m2.pkcs7_cipher_usable(cipher._ptr()):
            raise SMIME_Error("PKCS#7 envelopedData cannot use the cipher %s (AEAD, key wrap, XTS, or no "
                              "identifier of its own)" % (cipher.name,))
        data = _bio(data_bio)
        return PKCS7(m2.pkcs7_encrypt(stack._ptr(), data._ptr(), cipher._ptr(), flags), 1)

    def decrypt(self, pkcs7: PKCS7, flags: int = 0) -> bytes:
        """The content of an envelopedData, with the key of load_key.

        :raises PKCS7_Error: if the key does not match the certificate, the certificate is
            not a recipient, or the data does not decrypt."""
        pkey, x509 = self._key()
        _need(pkcs7, PKCS7, "pkcs7")
        return m2.pkcs7_decrypt(pkcs7._ptr(), pkey._ptr(), x509._ptr(), flags)

    def sign(self, data_bio: DataSource, flags: int = PKCS7_DETACHED, algo: str = "sha256") -> PKCS7:
        """signedData over data_bio's content with the key of load_key and the digest algo;
        the certificates of set_x509_stack, if any, go with the signer's.

        :raises SMIME_Error: without a key, for an unknown digest, or if OpenSSL cannot sign."""
        pkey, x509 = self._key()
        md = _digest(algo)
        stack = getattr(self, "x509_stack", None)
        data = _bio(data_bio)
        if stack is not None:
            ptr = m2.pkcs7_sign1(x509._ptr(), pkey._ptr(), stack._ptr(), data._ptr(), md, flags)
        else:
            ptr = m2.pkcs7_sign0(x509._ptr(), pkey._ptr(), data._ptr(), md, flags)
        return PKCS7(ptr, 1)

    def verify(self, pkcs7: PKCS7, data_bio: Optional[DataSource] = None, flags: int = 0) -> bytes:
        """The signed content, once the signatures and the signers' chains (against
        set_x509_store, candidates from set_x509_stack and the message) verify.  data_bio is
        the content of a detached signature.

        :raises SMIME_Error: without a stack or a store.
        :raises PKCS7VerificationError: if a signer's chain does not verify.
        :raises PKCS7_Error: if a signature does not verify or a signer is missing."""
        stack = self._setting("x509_stack", "no signer certs: use set_x509_stack()")
        store = self._setting("x509_store", "no x509 cert store: use set_x509_store()")
        _need(pkcs7, PKCS7, "pkcs7")
        data = _bio(data_bio) if data_bio is not None else None
        try:
            if data is None:
                return m2.pkcs7_verify0(pkcs7._ptr(), stack._ptr(), store._ptr(), flags)
            return m2.pkcs7_verify1(pkcs7._ptr(), stack._ptr(), store._ptr(), data._ptr(), flags)
        except PKCS7_Error as exc:
            code = getattr(exc, "verify_code", None)
            if code is None:
                raise
            raise PKCS7VerificationError(code, getattr(exc, "verify_depth", 0)) from None

    def write(self, out_bio: BIO.BIO, pkcs7: PKCS7, data_bio: Optional[DataSource] = None,
              flags: int = PKCS7_DETACHED) -> int:
        """Write pkcs7 as an S/MIME message to out_bio: multipart/signed around data_bio's
        content when data_bio is given, else application/x-pkcs7-mime.  1, or SMIME_Error."""
        _need(out_bio, BIO.BIO, "out_bio")
        _need(pkcs7, PKCS7, "pkcs7")
        if data_bio is None:
            return m2.smime_write_pkcs7(out_bio._ptr(), pkcs7._ptr(), flags)
        data = _bio(data_bio)
        return m2.smime_write_pkcs7_multi(out_bio._ptr(), pkcs7._ptr(), data._ptr(), flags)


def text_crlf(text: bytes) -> bytes:
    """text as a text/plain MIME entity with CRLF line ends (what PKCS7_TEXT signs)."""
    with BIO.MemoryBuffer(text) as bio_in:
        return text_crlf_bio(bio_in).read() or b""


def text_crlf_bio(bio_in: BIO.BIO) -> BIO.BIO:
    """text_crlf from bio_in into a new memory BIO."""
    _need(bio_in, BIO.BIO, "bio_in")
    bio_out = BIO.MemoryBuffer()
    m2.smime_crlf_copy(bio_in._ptr(), bio_out._ptr())
    return bio_out
