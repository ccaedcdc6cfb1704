"""SSH public and private keys: Ed25519, ECDSA (NIST P-256/384/521) and RSA, OpenSSH
certificates, and their file formats.

- Public keys: the RFC 4253 6.6 blob, OpenSSH's one-line form ("ssh-ed25519 AAAA... comment")
  and RFC 4716's ("---- BEGIN SSH2 PUBLIC KEY ----").
- Private keys: OpenSSH's "openssh-key-v1" files (PROTOCOL.key), plain or encrypted with
  bcrypt-pbkdf and AES, and the PEM forms OpenSSL reads (PKCS#1, SEC1, PKCS#8, encrypted too).
- Signatures: RFC 4253 6.6 (ssh-rsa), RFC 8332 (rsa-sha2-256/512), RFC 5656 (ECDSA),
  RFC 8709 (Ed25519).
- Certificates: OpenSSH's PROTOCOL.certkeys (``*-cert-v01@openssh.com``).

Every key rests on an :class:`M2Sec.EVP.PKey`, which this module hands to
:mod:`M2Sec.SSH.crypto` for every cryptographic operation; malformed input raises
:class:`~M2Sec.SSH.errors.SSHFormatError` and unusable keys
:class:`~M2Sec.SSH.errors.SSHKeyError` (both ValueErrors).
"""

import base64
import binascii
import os
import re
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

from M2Sec.SSH import crypto
from M2Sec.SSH.crypto import PKey, bcrypt_pbkdf  # noqa: F401 (bcrypt_pbkdf is this module's API too)
from M2Sec.SSH.errors import SSHFormatError, SSHKeyError
from M2Sec.SSH.packet import SSHReader, mpint, string, uint32, uint64

PathOrData = Union[str, bytes, bytearray, memoryview, "os.PathLike[str]"]
Passphrase = Union[bytes, str, None]


class KeyPassphraseError(SSHKeyError):
    """A private key is encrypted and no passphrase, or a wrong one, was given."""


class KeyDerivationCostError(SSHKeyError):
    """An encrypted key file asks for more key-derivation work (bcrypt rounds, PBKDF2
    iterations) than the caller allowed: raise the limit (``max_rounds``/``max_iterations``)
    to read it anyway."""


# The defaults of load_private_key's limits: ssh-keygen writes 16 bcrypt rounds (``-a``) and
# OpenSSL 2048 PBKDF2 iterations; a file may ask for more, but not for hours of work.
MAX_BCRYPT_ROUNDS = 1024
MAX_PBKDF2_ITERATIONS = 2_000_000


class CertificateError(SSHKeyError):
    """An OpenSSH certificate is not valid here: expired, wrong principal or type, bad CA."""


# ---------------------------------------------------------------- the key classes
_CERT_SUFFIX = b"-cert-v01@openssh.com"


class SSHKey:
    """An SSH public key, with its private half when :attr:`has_private`.

    :attr:`algorithm` is the key's name in a public key blob (``b"ssh-rsa"``);
    :attr:`sig_algorithms` are the public key algorithm names it can be used with, best first
    (an RSA key: rsa-sha2-512, rsa-sha2-256, ssh-rsa).
    """

    algorithm: bytes = b""
    sig_algorithms: List[bytes] = []
    _registry: Dict[bytes, Type["SSHKey"]] = {}

    def __init__(self, pkey: PKey, comment: str = "") -> None:
        self._pkey = pkey
        self.comment = comment
        self._blob: Optional[bytes] = None
        self._private: Optional[bool] = None

    # -- what every key type supplies
    def _public_fields(self) -> bytes:
        raise NotImplementedError

    def _private_fields(self) -> bytes:
        raise NotImplementedError

    def _sign_raw(self, data: bytes, sig_alg: bytes) -> bytes:
        raise NotImplementedError

    def _verify_raw(self, data: bytes, sig: bytes, sig_alg: bytes) -> bool:
        raise NotImplementedError

    @classmethod
    def _read_public(cls, r: SSHReader, name: bytes) -> "SSHKey":
        raise NotImplementedError

    @classmethod
    def _read_private(cls, r: SSHReader, name: bytes) -> "SSHKey":
        raise NotImplementedError

    # -- public API
    @property
    def pkey(self) -> PKey:
        """The EVP key underneath."""
        return self._pkey

    @property
    def has_private(self) -> bool:
        if self._private is None:  # asked once: a key never gains or loses its private half
            self._private = self._pkey.is_private()
        return self._private

    @property
    def bits(self) -> int:
        """The key size, as ``ssh-keygen -l`` prints it."""
        return self._pkey.bits()

    @property
    def key_type(self) -> str:
        """The type as ``ssh-keygen -l`` shows it in parentheses: 'ED25519', 'ECDSA', 'RSA'."""
        return self._pkey.key_type if self._pkey.key_type != "EC" else "ECDSA"

    def public_blob(self) -> bytes:
        """The RFC 4253 6.6 public key encoding."""
        if self._blob is None:
            self._blob = string(self.algorithm) + self._public_fields()
        return self._blob

    def public_key(self) -> "SSHKey":
        """This key without its private half (and with its comment)."""
        key = decode_public_blob(self.public_blob())
        key.comment = self.comment
        return key

    def signature_algorithm(self, algorithm: Optional[bytes] = None) -> bytes:
        """The name a signature made for public key algorithm ``algorithm`` carries.

        :raises SSHKeyError: if this key cannot sign with that algorithm.
        """
        if algorithm is None:
            return self.sig_algorithms[0]
        algorithm = _to_bytes(algorithm)
        if algorithm not in self.sig_algorithms:
            raise SSHKeyError("a %s key cannot make %s signatures" % (self.algorithm.decode(), algorithm.decode()))
        return algorithm

    def sign(self, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
        """A signature blob (string algorithm, string signature) of data.

        :param algorithm: one of :attr:`sig_algorithms`; default the first.
        :raises SSHKeyError: no private key, or an algorithm this key does not sign with.
        """
        if not self.has_private:
            raise SSHKeyError("this is a public key: it cannot sign")
        sig_alg = self.signature_algorithm(algorithm)
        return string(sig_alg) + string(self._sign_raw(data, sig_alg))

    def verify(self, data: bytes, signature_blob: bytes) -> bool:
        """True if signature_blob is a valid signature of data by this key.

        A well-formed signature that does not match, or one of an algorithm this key does not
        make, gives False.

        :raises SSHFormatError: for a malformed signature blob.
        """
        r = SSHReader(signature_blob)
        sig_alg = r.get_string()
        sig = r.get_string()
        r.done()
        if sig_alg not in self._plain_sig_algorithms():
            return False
        return self._verify_raw(data, sig, sig_alg)

    def _plain_sig_algorithms(self) -> List[bytes]:
        return self.sig_algorithms

    def fingerprint(self, hash: str = "sha256") -> str:
        """The fingerprint as ``ssh-keygen -l`` prints it: 'SHA256:<base64>' or 'MD5:aa:bb:...'."""
        h = hash.lower()
        if h == "md5":
            d = crypto.digest("md5", self.public_blob())
            return "MD5:" + ":".join("%02x" % b for b in d)
        if h not in ("sha256", "sha384", "sha512", "sha1"):
            raise ValueError("hash must be 'sha256', 'md5', 'sha1', 'sha384' or 'sha512'")
        d = crypto.digest(h, self.public_blob())
        return h.upper() + ":" + base64.b64encode(d).decode().rstrip("=")

    def public_line(self, comment: Optional[str] = None) -> str:
        """The public key as an OpenSSH line ("ssh-ed25519 AAAA... comment"), without newline.

        :param comment: default: the key's own :attr:`comment`.
        """
        comment = self.comment if comment is None else comment
        line = "%s %s" % (self.algorithm.decode(), base64.b64encode(self.public_blob()).decode())
        return line + " " + comment if comment else line

    def public_rfc4716(self, comment: Optional[str] = None) -> str:
        """The public key in RFC 4716 form, as ``ssh-keygen -e`` writes it."""
        comment = self.comment if comment is None else comment
        lines = ["---- BEGIN SSH2 PUBLIC KEY ----"]
        if comment:
            header = 'Comment: "%s"' % comment.replace("\\", "\\\\").replace('"', '\\"')
            while len(header) > 70:  # RFC 4716 3.3: lines of at most 72 bytes, "\" continues
                lines.append(header[:69] + "\\")
                header = header[69:]
            lines.append(header)
        b64 = base64.b64encode(self.public_blob()).decode()
        lines.extend(b64[i:i + 70] for i in range(0, len(b64), 70))
        lines.append("---- END SSH2 PUBLIC KEY ----")
        return "\n".join(lines) + "\n"

    def private_bytes(self, passphrase: Passphrase = None, *, format: str = "openssh",
                      comment: Optional[str] = None, cipher: str = "aes256-ctr", rounds: int = 16) -> bytes:
        """The private key file's contents.

        :param format: 'openssh' (openssh-key-v1, what ``ssh-keygen`` writes) or 'pkcs8' (PEM).
        :param passphrase: encrypts the file (bcrypt-pbkdf with ``rounds`` and ``cipher`` for
            'openssh'; PKCS#8 with AES-256-CBC for 'pkcs8').
        :raises SSHKeyError: for a public key.
        """
        if not self.has_private:
            raise SSHKeyError("this is a public key: it has no private half to save")
        pw = _passphrase(passphrase)
        if format == "openssh":
            return _write_openssh(self, pw, self.comment if comment is None else comment, cipher, rounds)
        if format == "pkcs8":
            return crypto.private_pem(self._pkey, pw)
        raise ValueError("format must be 'openssh' or 'pkcs8'")

    def save_private(self, path: Union[str, "os.PathLike[str]"], passphrase: Passphrase = None, **kw: Any) -> None:
        """Write :meth:`private_bytes` to path, readable by its owner only (mode 0600)."""
        data = self.private_bytes(passphrase, **kw)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def save_public(self, path: Union[str, "os.PathLike[str]"], comment: Optional[str] = None) -> None:
        """Write :meth:`public_line` and a newline to path."""
        with open(path, "w") as f:
            f.write(self.public_line(comment) + "\n")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SSHKey):
            return NotImplemented
        return self.public_blob() == other.public_blob()

    def __hash__(self) -> int:
        return hash(self.public_blob())

    def __repr__(self) -> str:
        return "<%s %s %s%s>" % (type(self).__name__, self.algorithm.decode(), self.fingerprint(),
                                 " private" if self.has_private else "")


def _register(cls: Type[SSHKey], *names: bytes) -> Type[SSHKey]:
    for name in names:
        SSHKey._registry[name] = cls
    return cls


class Ed25519Key(SSHKey):
    """An ssh-ed25519 key (RFC 8709)."""

    algorithm = b"ssh-ed25519"
    sig_algorithms = [b"ssh-ed25519"]

    def _public_fields(self) -> bytes:
        return string(crypto.raw_bytes(self._pkey))

    def _private_fields(self) -> bytes:
        pub = crypto.raw_bytes(self._pkey)
        return string(pub) + string(crypto.raw_bytes(self._pkey, private=True) + pub)

    def _sign_raw(self, data: bytes, sig_alg: bytes) -> bytes:
        return crypto.sign(self._pkey, data)

    def _verify_raw(self, data: bytes, sig: bytes, sig_alg: bytes) -> bool:
        return len(sig) == 64 and crypto.verify(self._pkey, sig, data)

    @classmethod
    def _read_public(cls, r: SSHReader, name: bytes) -> "Ed25519Key":
        return cls(crypto.raw_key("ED25519", _exact(r.get_string(), 32, "Ed25519 public key"), private=False))

    @classmethod
    def _read_private(cls, r: SSHReader, name: bytes) -> "Ed25519Key":
        pub = _exact(r.get_string(), 32, "Ed25519 public key")
        both = _exact(r.get_string(), 64, "Ed25519 private key")
        key = cls(crypto.raw_key("ED25519", both[:32], private=True))
        if crypto.raw_bytes(key._pkey) != pub or both[32:] != pub:
            raise SSHKeyError("Ed25519 private key does not match its public key")
        return key

    @classmethod
    def generate(cls) -> "Ed25519Key":
        return cls(crypto.generate_key("ED25519"))


# SSH curve name -> (OpenSSL group, digest); OpenSSL reports P-256 as prime256v1.
_CURVES = {b"nistp256": ("P-256", "sha256"), b"nistp384": ("P-384", "sha384"), b"nistp521": ("P-521", "sha512")}
_GROUPS = {"prime256v1": b"nistp256", "P-256": b"nistp256", "secp384r1": b"nistp384", "P-384": b"nistp384",
           "secp521r1": b"nistp521", "P-521": b"nistp521"}
_CURVE_BITS = {256: b"nistp256", 384: b"nistp384", 521: b"nistp521"}


class ECDSAKey(SSHKey):
    """An ecdsa-sha2-nistp256/384/521 key (RFC 5656)."""

    def __init__(self, pkey: PKey, comment: str = "") -> None:
        super().__init__(pkey, comment)
        group = crypto.key_param(pkey, "group", "s")
        curve = _GROUPS.get(group)
        if curve is None:
            raise SSHKeyError("EC curve %s has no SSH name" % group)
        self.curve = curve
        self.algorithm = b"ecdsa-sha2-" + self.curve
        self.sig_algorithms = [self.algorithm]
        self._digest = _CURVES[self.curve][1]

    def _point(self) -> bytes:
        return crypto.key_param(self._pkey, "pub", "o")

    def _public_fields(self) -> bytes:
        return string(self.curve) + string(self._point())

    def _private_fields(self) -> bytes:
        return self._public_fields() + mpint(crypto.key_param(self._pkey, "priv", "n"))

    def _sign_raw(self, data: bytes, sig_alg: bytes) -> bytes:
        r, s = _der_to_rs(crypto.sign(self._pkey, data, self._digest))
        return mpint(r) + mpint(s)

    def _verify_raw(self, data: bytes, sig: bytes, sig_alg: bytes) -> bool:
        rd = SSHReader(sig)
        r, s = rd.get_mpint(), rd.get_mpint()
        rd.done()
        if r <= 0 or s <= 0:
            return False
        return crypto.verify(self._pkey, _rs_to_der(r, s), data, self._digest)

    @classmethod
    def _curve_of(cls, r: SSHReader, name: bytes) -> bytes:
        curve = r.get_string()
        if curve not in _CURVES or name != b"ecdsa-sha2-" + curve:
            raise SSHFormatError("ECDSA key of algorithm %r names curve %r" % (name, curve))
        return curve

    @classmethod
    def _read_public(cls, r: SSHReader, name: bytes) -> "ECDSAKey":
        curve = cls._curve_of(r, name)
        params = {"group": _CURVES[curve][0], "pub": r.get_string()}
        return cls(crypto.key_from_params("EC", params, private=False))

    @classmethod
    def _read_private(cls, r: SSHReader, name: bytes) -> "ECDSAKey":
        curve = cls._curve_of(r, name)
        params = {"group": _CURVES[curve][0], "pub": r.get_string(), "priv": r.get_mpint()}
        return cls(crypto.key_from_params("EC", params, private=True))

    @classmethod
    def generate(cls, bits: Optional[int] = None) -> "ECDSAKey":
        curve = _CURVE_BITS.get(bits or 256)
        if curve is None:
            raise ValueError("ECDSA keys have 256, 384 or 521 bits")
        return cls(crypto.generate_key("EC", curve=_CURVES[curve][0]))


_RSA_DIGESTS = {b"rsa-sha2-512": "sha512", b"rsa-sha2-256": "sha256", b"ssh-rsa": "sha1"}
RSA_MIN_BITS = 1024


class RSAKey(SSHKey):
    """An ssh-rsa key signing with rsa-sha2-512, rsa-sha2-256 (RFC 8332) or ssh-rsa (SHA-1)."""

    algorithm = b"ssh-rsa"
    sig_algorithms = [b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa"]

    def __init__(self, pkey: PKey, comment: str = "") -> None:
        super().__init__(pkey, comment)
        if pkey.bits() < RSA_MIN_BITS:
            raise SSHKeyError("RSA keys of fewer than %d bits are refused" % RSA_MIN_BITS)

    def _n(self, name: str) -> int:
        return crypto.key_param(self._pkey, name, "n")

    def _public_fields(self) -> bytes:
        return mpint(self._n("e")) + mpint(self._n("n"))

    def _private_fields(self) -> bytes:
        p, q = self._n("rsa-factor1"), self._n("rsa-factor2")
        return b"".join(mpint(v) for v in (self._n("n"), self._n("e"), self._n("d"), pow(q, -1, p), p, q))

    def _sign_raw(self, data: bytes, sig_alg: bytes) -> bytes:
        return crypto.sign(self._pkey, data, _RSA_DIGESTS[sig_alg], "pkcs1")

    def _verify_raw(self, data: bytes, sig: bytes, sig_alg: bytes) -> bool:
        size = self._pkey.size()
        if len(sig) > size:
            return False
        sig = bytes(size - len(sig)) + sig  # RFC 4253 allows a shorter encoding
        return crypto.verify(self._pkey, sig, data, _RSA_DIGESTS[sig_alg], "pkcs1")

    @classmethod
    def _read_public(cls, r: SSHReader, name: bytes) -> "RSAKey":
        e, n = r.get_mpint(), r.get_mpint()
        return cls(crypto.key_from_params("RSA", {"n": n, "e": e}, private=False))

    @classmethod
    def _read_private(cls, r: SSHReader, name: bytes) -> "RSAKey":
        n, e, d, iqmp, p, q = (r.get_mpint() for _ in range(6))
        if p <= 1 or q <= 1 or p * q != n:
            raise SSHKeyError("RSA private key: p * q is not n")
        params = {"n": n, "e": e, "d": d, "rsa-factor1": p, "rsa-factor2": q, "rsa-exponent1": d % (p - 1),
                  "rsa-exponent2": d % (q - 1), "rsa-coefficient1": pow(q, -1, p)}
        return cls(crypto.key_from_params("RSA", params, private=True))

    @classmethod
    def generate(cls, bits: Optional[int] = None) -> "RSAKey":
        bits = 3072 if bits is None else bits
        if bits < RSA_MIN_BITS:
            raise ValueError("RSA keys need at least %d bits" % RSA_MIN_BITS)
        return cls(crypto.generate_key("RSA", bits=bits))


_register(Ed25519Key, b"ssh-ed25519")
_register(ECDSAKey, *(b"ecdsa-sha2-" + c for c in _CURVES))
_register(RSAKey, b"ssh-rsa")


# ---------------------------------------------------------------- certificates
CERT_USER = 1
CERT_HOST = 2


class SSHCertificate(SSHKey):
    """An OpenSSH certificate (PROTOCOL.certkeys): a key, signed by a CA, with a validity
    window, principals and options.

    It signs and verifies as its :attr:`key` does; :attr:`algorithm` is the certificate's
    name (``b"ssh-ed25519-cert-v01@openssh.com"``) and :attr:`sig_algorithms` the certificate
    forms of the key's (``b"rsa-sha2-512-cert-v01@openssh.com"``, ...).  A certificate loaded
    with :func:`load_certificate` and a private key can sign.
    """

    def __init__(self, blob: bytes, key: SSHKey, fields: Dict[str, Any], comment: str = "") -> None:
        super().__init__(key.pkey, comment)
        self._blob = self._cert_blob = bytes(blob)
        self.key = key
        self._fields = fields
        self.algorithm = fields["algorithm"]
        self.sig_algorithms = [a + _CERT_SUFFIX for a in key.sig_algorithms]
        self.nonce: bytes = fields["nonce"]
        self.serial: int = fields["serial"]
        self.cert_type: int = fields["cert_type"]
        self.key_id: str = fields["key_id"]
        self.principals: List[str] = fields["principals"]
        self.valid_after: int = fields["valid_after"]
        self.valid_before: int = fields["valid_before"]
        self.critical_options: Dict[str, bytes] = fields["critical_options"]
        self.extensions: Dict[str, bytes] = fields["extensions"]
        self.signature_key: SSHKey = fields["signature_key"]
        self._signed: bytes = fields["signed"]
        self._signature: bytes = fields["signature"]

    def _public_fields(self) -> bytes:  # the blob is kept as read
        raise AssertionError("unreachable")

    def public_blob(self) -> bytes:
        return self._cert_blob

    def private_bytes(self, passphrase: Passphrase = None, **kw: Any) -> bytes:
        """The private key file of the certified key (the certificate stays in its own file)."""
        if not self.has_private:
            raise SSHKeyError("this is a public key: it has no private half to save")
        return self.key.private_bytes(passphrase, **kw)

    def with_private_key(self, key: SSHKey) -> "SSHCertificate":
        """This certificate joined to the private key of its public key, able to sign.

        :raises SSHKeyError: if key is not the certificate's key or has no private half.
        """
        if key.public_blob() != self.key.public_blob():
            raise SSHKeyError("the private key is not the certificate's key")
        if not key.has_private:
            raise SSHKeyError("a private key is needed")
        return SSHCertificate(self._cert_blob, key, self._fields, self.comment)

    def signature_algorithm(self, algorithm: Optional[bytes] = None) -> bytes:
        """The plain signature name for a certificate algorithm (rsa-sha2-256-cert-v01@... ->
        rsa-sha2-256); plain names are accepted too."""
        if algorithm is not None:
            algorithm = _to_bytes(algorithm)
            if algorithm.endswith(_CERT_SUFFIX):
                algorithm = algorithm[:-len(_CERT_SUFFIX)]
        return self.key.signature_algorithm(algorithm)

    def _sign_raw(self, data: bytes, sig_alg: bytes) -> bytes:
        return self.key._sign_raw(data, sig_alg)

    def _verify_raw(self, data: bytes, sig: bytes, sig_alg: bytes) -> bool:
        return self.key._verify_raw(data, sig, sig_alg)

    def _plain_sig_algorithms(self) -> List[bytes]:
        return self.key.sig_algorithms

    def fingerprint(self, hash: str = "sha256") -> str:
        """The fingerprint of the certified key, as ``ssh-keygen -l`` prints it."""
        return self.key.fingerprint(hash)

    @property
    def type_name(self) -> str:
        return {CERT_USER: "user", CERT_HOST: "host"}.get(self.cert_type, "unknown")

    @property
    def key_type(self) -> str:
        return self.key.key_type + "-CERT"

    def signature_valid(self) -> bool:
        """True if the CA's signature over the certificate verifies."""
        try:
            return self.signature_key.verify(self._signed, self._signature)
        except SSHFormatError:
            return False

    def check(self, principal: Optional[str] = None, now: Optional[float] = None,
              ca_keys: Optional[Sequence[SSHKey]] = None, cert_type: Optional[int] = None, *,
              require_principal: bool = False, allow_sha1: bool = False) -> None:
        """Check that the certificate is valid for principal at time now, as OpenSSH's
        sshkey_cert_check_authority does.

        :param principal: a user name (user certificates) or host name (host certificates).
        :param now: seconds since the epoch; default the current time.
        :param ca_keys: if given, the signing key must be one of them.
        :param cert_type: :data:`CERT_USER` or :data:`CERT_HOST` to require that type.
        :param require_principal: refuse a certificate without principals (sshd does for user
            certificates); otherwise an empty list allows any principal.
        :param allow_sha1: accept a CA signature of type ssh-rsa (SHA-1), which OpenSSH's
            default CASignatureAlgorithms refuse.
        :raises CertificateError: saying why the certificate is not valid.
        """
        if cert_type is not None and self.cert_type != cert_type:
            raise CertificateError("a %s certificate was given where a %s certificate is needed"
                                   % (self.type_name, {CERT_USER: "user", CERT_HOST: "host"}.get(cert_type)))
        if ca_keys is not None and not any(self.signature_key == k for k in ca_keys):
            raise CertificateError("the certificate is signed by an untrusted CA (%s)" % self.signature_key.fingerprint())
        if not allow_sha1 and self._signature.startswith(string(b"ssh-rsa")):
            raise CertificateError("the certificate is signed with ssh-rsa (SHA-1), which is refused")
        if not self.signature_valid():
            raise CertificateError("the CA's signature on the certificate does not verify")
        t = int(time.time() if now is None else now)
        if t < self.valid_after:
            raise CertificateError("the certificate is not valid yet")
        if t >= self.valid_before:
            raise CertificateError("the certificate has expired")
        if require_principal and not self.principals:
            raise CertificateError("the certificate has no principals")
        if principal is not None and self.principals and principal not in self.principals:
            raise CertificateError("the certificate is not valid for %r" % principal)

    def __repr__(self) -> str:
        return "<SSHCertificate %s %s id=%r %s>" % (self.algorithm.decode(), self.type_name, self.key_id,
                                                    self.key.fingerprint())


_USER_EXTENSIONS = ("permit-X11-forwarding", "permit-agent-forwarding", "permit-port-forwarding", "permit-pty",
                    "permit-user-rc")
FOREVER = 0xFFFFFFFFFFFFFFFF


def _write_options(options: Dict[str, Union[bytes, str]]) -> bytes:
    out = b""
    for name in sorted(options):
        option = options[name]
        value = _to_bytes(option) if isinstance(option, str) else bytes(option)
        out += string(name) + (string(string(value)) if value else string(b""))
    return out


def create_certificate(ca_key: SSHKey, key: SSHKey, key_id: str, principals: Sequence[str] = (), *,
                       cert_type: int = CERT_USER, valid_after: int = 0, valid_before: int = FOREVER,
                       serial: int = 0, critical_options: Optional[Dict[str, Union[bytes, str]]] = None,
                       extensions: Optional[Dict[str, Union[bytes, str]]] = None,
                       algorithm: Optional[bytes] = None) -> "SSHCertificate":
    """A certificate for key signed by ca_key, as ``ssh-keygen -s ca -I key_id -n principals``.

    :param extensions: default: for a user certificate the five permit-* extensions
        ssh-keygen grants, for a host certificate none.
    :param algorithm: the CA's signature algorithm (default its first, e.g. rsa-sha2-512).
    :raises SSHKeyError: ca_key has no private half, or key is itself a certificate.
    """
    if isinstance(key, SSHCertificate) or isinstance(ca_key, SSHCertificate):
        raise SSHKeyError("certificates cannot certify or be certified")
    if cert_type not in (CERT_USER, CERT_HOST):
        raise ValueError("cert_type must be CERT_USER or CERT_HOST")
    if extensions is None:
        extensions = dict.fromkeys(_USER_EXTENSIONS, b"") if cert_type == CERT_USER else {}
    name = key.algorithm + _CERT_SUFFIX
    body = (string(name) + string(crypto.random_bytes(32)) + key._public_fields() + uint64(serial) + uint32(cert_type)
            + string(key_id) + string(b"".join(string(p) for p in principals)) + uint64(valid_after)
            + uint64(valid_before) + string(_write_options(critical_options or {}))
            + string(_write_options(extensions)) + string(b"") + string(ca_key.public_blob()))
    blob = body + string(ca_key.sign(body, algorithm))
    r = SSHReader(blob)
    cert = _decode_certificate(blob, r, r.get_string())
    return cert.with_private_key(key) if key.has_private else cert


def _read_options(raw: bytes, what: str) -> Dict[str, bytes]:
    """A certificate's critical options or extensions: name -> data (a string's content)."""
    r, out, last = SSHReader(raw), {}, None
    while r.remaining():
        name = r.get_text()
        data = r.get_string()
        if last is not None and name <= last:
            raise SSHFormatError("certificate %s are not sorted or repeat %r" % (what, name))
        last = name
        if data:
            inner = SSHReader(data)
            value = inner.get_string()
            inner.done()
            data = value
        out[name] = data
    return out


def _decode_certificate(blob: bytes, r: SSHReader, name: bytes) -> SSHCertificate:
    base_name = name[:-len(_CERT_SUFFIX)]
    base_cls = SSHKey._registry.get(base_name)
    if base_cls is None:
        raise SSHKeyError("unsupported certificate type %r" % name.decode(errors="replace"))
    nonce = r.get_string()
    key = base_cls._read_public(r, base_name)
    fields: Dict[str, Any] = {"algorithm": name, "nonce": nonce}
    fields["serial"] = r.get_uint64()
    fields["cert_type"] = r.get_uint32()
    if fields["cert_type"] not in (CERT_USER, CERT_HOST):
        raise SSHFormatError("unknown certificate type %d" % fields["cert_type"])
    fields["key_id"] = r.get_text()
    pr = SSHReader(r.get_string())
    principals = []
    while pr.remaining():
        principals.append(pr.get_text())
    fields["principals"] = principals
    fields["valid_after"] = r.get_uint64()
    fields["valid_before"] = r.get_uint64()
    fields["critical_options"] = _read_options(r.get_string(), "critical options")
    fields["extensions"] = _read_options(r.get_string(), "extensions")
    r.get_string()  # reserved
    sig_key_blob = r.get_string()
    fields["signed"] = blob[:len(blob) - r.remaining()]
    fields["signature"] = r.get_string()
    r.done()
    ca = decode_public_blob(sig_key_blob)
    if isinstance(ca, SSHCertificate):
        raise SSHFormatError("a certificate's signing key cannot be a certificate")
    fields["signature_key"] = ca
    return SSHCertificate(blob, key, fields)


# ---------------------------------------------------------------- public keys
def decode_public_blob(blob: bytes) -> SSHKey:
    """The key (or :class:`SSHCertificate`) an RFC 4253 6.6 public key blob encodes.

    :raises SSHFormatError: truncated or malformed blob.
    :raises SSHKeyError: unknown key type, or a key OpenSSL refuses.
    """
    blob = bytes(blob)
    r = SSHReader(blob)
    name = r.get_string()
    if name.endswith(_CERT_SUFFIX):
        return _decode_certificate(blob, r, name)
    cls = SSHKey._registry.get(name)
    if cls is None:
        raise SSHKeyError("unsupported key type %r" % name.decode(errors="replace"))
    key = cls._read_public(r, name)
    r.done()
    key._blob = blob
    return key


def verify_signature(public_blob: bytes, signature_blob: bytes, data: bytes) -> bool:
    """True if signature_blob is a valid signature of data by the key public_blob encodes."""
    return decode_public_blob(public_blob).verify(data, signature_blob)


def parse_public_line(line: Union[str, bytes]) -> SSHKey:
    """A key from an OpenSSH public key line "algorithm base64 [comment]".

    :raises SSHFormatError: not such a line, bad base64, or the name does not match the blob.
    """
    text = line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray)) else line
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise SSHFormatError("not an SSH public key line")
    blob = _b64decode(parts[1])
    key = decode_public_blob(blob)
    if key.algorithm.decode() != parts[0]:
        raise SSHFormatError("the line names %s but holds a %s key" % (parts[0], key.algorithm.decode()))
    key.comment = parts[2] if len(parts) > 2 else ""
    return key


_RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----"
_RFC4716_END = "---- END SSH2 PUBLIC KEY ----"


def parse_rfc4716(text: Union[str, bytes]) -> SSHKey:
    """A key from RFC 4716's public key file format.

    :raises SSHFormatError: missing markers, bad headers or base64.
    """
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if not lines or lines[0] != _RFC4716_BEGIN or _RFC4716_END not in lines:
        raise SSHFormatError("not an RFC 4716 public key")
    body = lines[1:lines.index(_RFC4716_END)]
    headers: Dict[str, str] = {}
    i = 0
    while i < len(body) and ":" in body[i]:
        header = body[i]
        while header.endswith("\\"):
            i += 1
            if i >= len(body):
                raise SSHFormatError("RFC 4716 header continues past the end")
            header = header[:-1] + body[i]
        tag, _, value = header.partition(":")
        headers[tag.strip().lower()] = value.strip()
        i += 1
    key = decode_public_blob(_b64decode("".join(body[i:])))
    comment = headers.get("comment", "")
    if len(comment) >= 2 and comment[0] == comment[-1] == '"':
        comment = re.sub(r'\\(.)', r"\1", comment[1:-1])
    key.comment = comment
    return key


def load_public_key(data_or_path: PathOrData) -> SSHKey:
    """A public key (or certificate) from an OpenSSH public key line, an RFC 4716 file or a
    PEM public key, given as the data (bytes) or a path (str or os.PathLike).

    :raises SSHFormatError: none of these formats.
    """
    data = _read(data_or_path)
    text = data.decode("utf-8", "replace").strip()
    if text.startswith(_RFC4716_BEGIN):
        return parse_rfc4716(text)
    if text.startswith("-----BEGIN"):
        return from_pkey(crypto.load_pem_public_key(data))
    return parse_public_line(text.splitlines()[0] if text else "")


def load_certificate(data_or_path: PathOrData, private_key: Optional[SSHKey] = None) -> SSHCertificate:
    """An OpenSSH certificate from its public line (``id_ed25519-cert.pub``), joined to
    private_key when given so that it can sign.

    :raises SSHFormatError: the file holds no certificate.
    """
    cert = load_public_key(data_or_path)
    if not isinstance(cert, SSHCertificate):
        raise SSHFormatError("not an OpenSSH certificate")
    return cert.with_private_key(private_key) if private_key is not None else cert


# ---------------------------------------------------------------- private keys
_OPENSSH_MAGIC = b"openssh-key-v1\x00"
_OPENSSH_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_OPENSSH_END = b"-----END OPENSSH PRIVATE KEY-----"

# The ciphers private key files may use; their sizes are crypto.CIPHERS'.
_FILE_CIPHERS = (b"none", b"aes128-ctr", b"aes192-ctr", b"aes256-ctr", b"aes128-cbc", b"aes192-cbc",
                 b"aes256-cbc", b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com")


def _file_cipher_sizes(name: bytes) -> Tuple[int, int, int, int]:
    """(key length, IV length, block size, tag length) of a private key file cipher."""
    spec = crypto.CIPHERS[name]
    return spec.key_len, spec.iv_len, spec.block, spec.tag_len


def _read_openssh(data: bytes, passphrase: Optional[bytes], max_rounds: int = MAX_BCRYPT_ROUNDS) -> SSHKey:
    r = SSHReader(data)
    if r.get_bytes(len(_OPENSSH_MAGIC)) != _OPENSSH_MAGIC:
        raise SSHFormatError("not an openssh-key-v1 private key")
    cipher, kdf, kdfopts = r.get_string(), r.get_string(), r.get_string()
    if r.get_uint32() != 1:
        raise SSHFormatError("only files holding one key are supported")
    pub_blob = r.get_string()
    section = r.get_string()
    if cipher not in _FILE_CIPHERS:
        raise SSHKeyError("unsupported private key cipher %r" % cipher.decode(errors="replace"))
    keylen, ivlen, block, taglen = _file_cipher_sizes(cipher)
    tag = r.get_bytes(taglen) if taglen else b""
    r.done()
    if len(section) % block:
        raise SSHFormatError("private section is not a whole number of cipher blocks")
    if cipher != b"none":
        if kdf != b"bcrypt":
            raise SSHKeyError("unsupported private key KDF %r" % kdf.decode(errors="replace"))
        if not passphrase:
            raise KeyPassphraseError("the private key is encrypted: a passphrase is needed")
        kr = SSHReader(kdfopts)
        salt, rounds = kr.get_string(), kr.get_uint32()
        kr.done()
        if not salt or rounds < 1:
            raise SSHFormatError("bad bcrypt KDF options")
        if rounds > max_rounds:
            raise KeyDerivationCostError("the key file asks for %d bcrypt rounds, more than max_rounds=%d"
                                         % (rounds, max_rounds))
        kiv = bcrypt_pbkdf(passphrase, salt, rounds, keylen + ivlen)
        opened = crypto.file_cipher(cipher, kiv[:keylen], kiv[keylen:], False, section, tag)
        if opened is None:  # an AEAD tag mismatch
            raise KeyPassphraseError("wrong passphrase for the private key")
        section = opened[0]
    elif kdf != b"none":
        raise SSHFormatError("an unencrypted key names KDF %r" % kdf.decode(errors="replace"))
    pr = SSHReader(section)
    if pr.get_uint32() != pr.get_uint32():
        if cipher != b"none":
            raise KeyPassphraseError("wrong passphrase for the private key")
        raise SSHFormatError("private section check bytes differ")
    name = pr.get_string()
    cls = SSHKey._registry.get(name)
    if cls is None:
        raise SSHKeyError("unsupported key type %r" % name.decode(errors="replace"))
    key = cls._read_private(pr, name)
    key.comment = pr.get_text()
    pad = pr.get_rest()
    if pad != bytes(range(1, len(pad) + 1)) or len(pad) >= block:
        raise SSHFormatError("bad padding in the private section")
    if key.public_blob() != pub_blob:
        raise SSHKeyError("the private key does not match the file's public key")
    return key


def _write_openssh(key: SSHKey, passphrase: Optional[bytes], comment: str, cipher: str, rounds: int) -> bytes:
    cname = (cipher if passphrase else "none").encode()
    if cname not in _FILE_CIPHERS:
        raise ValueError("unsupported cipher %r" % cipher)
    if passphrase and rounds < 1:
        raise ValueError("rounds must be at least 1")
    keylen, ivlen, block, _ = _file_cipher_sizes(cname)
    check = crypto.random_bytes(4)
    section = check + check + string(key.algorithm) + key._private_fields() + string(comment)
    section += bytes(range(1, 1 + (-len(section)) % block))
    tag = b""
    if passphrase:
        salt = crypto.random_bytes(16)
        kdf, kdfopts = b"bcrypt", string(salt) + uint32(rounds)
        kiv = bcrypt_pbkdf(passphrase, salt, rounds, keylen + ivlen)
        sealed = crypto.file_cipher(cname, kiv[:keylen], kiv[keylen:], True, section)
        if sealed is None:  # only a tag check when decrypting gives None
            raise SSHKeyError("the key file's cipher failed")
        section, tag = sealed
    else:
        kdf, kdfopts = b"none", b""
    body = (_OPENSSH_MAGIC + string(cname) + string(kdf) + string(kdfopts) + uint32(1)
            + string(key.public_blob()) + string(section) + tag)
    b64 = base64.b64encode(body)
    lines = [_OPENSSH_BEGIN] + [b64[i:i + 70] for i in range(0, len(b64), 70)] + [_OPENSSH_END]
    return b"\n".join(lines) + b"\n"


def from_pkey(pkey: PKey, comment: str = "") -> SSHKey:
    """An SSH key around an EVP key (Ed25519, EC on P-256/384/521, or RSA).

    :raises SSHKeyError: for another key type or curve, or an RSA key under 1024 bits.
    """
    kind = pkey.key_type
    cls = {"ED25519": Ed25519Key, "EC": ECDSAKey, "RSA": RSAKey}.get(kind)
    if cls is None:
        raise SSHKeyError("%s keys are not supported for SSH" % (kind or "unknown"))
    return cls(pkey, comment)


def load_private_key(data_or_path: PathOrData, passphrase: Passphrase = None, *,
                     max_rounds: int = MAX_BCRYPT_ROUNDS, max_iterations: int = MAX_PBKDF2_ITERATIONS) -> SSHKey:
    """A private key from an OpenSSH private key file (openssh-key-v1, plain or encrypted with
    bcrypt-pbkdf) or a PEM file (PKCS#1, SEC1, PKCS#8, encrypted or not).

    :param data_or_path: the file's bytes, or its path (str or os.PathLike).
    :param max_rounds: the most bcrypt rounds an openssh-key-v1 file may ask for.
    :param max_iterations: the most PBKDF2 iterations an encrypted PKCS#8 file may ask for.
    :raises KeyPassphraseError: encrypted without a passphrase, or a wrong one.
    :raises KeyDerivationCostError: the file asks for more rounds or iterations than allowed.
    :raises SSHFormatError: not a private key file, or a malformed one.
    :raises SSHKeyError: an unsupported key type or cipher.
    """
    data = _read(data_or_path)
    pw = _passphrase(passphrase)
    stripped = data.strip()
    if stripped.startswith(_OPENSSH_BEGIN):
        if _OPENSSH_END not in stripped:
            raise SSHFormatError("the OpenSSH private key has no END line")
        b64 = stripped[len(_OPENSSH_BEGIN):stripped.index(_OPENSSH_END)]
        return _read_openssh(_b64decode(b64), pw, max_rounds)
    if stripped.startswith(_OPENSSH_MAGIC):
        return _read_openssh(stripped, pw, max_rounds)
    if not stripped.startswith(b"-----BEGIN"):
        raise SSHFormatError("not a private key file (OpenSSH or PEM)")
    encrypted = b"ENCRYPTED" in stripped[:200]
    if encrypted and not pw:
        raise KeyPassphraseError("the private key is encrypted: a passphrase is needed")
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in stripped:
        iterations = crypto.pkcs8_kdf_iterations(stripped)
        if iterations > max_iterations:
            raise KeyDerivationCostError("the key file asks for %d PBKDF2 iterations, more than max_iterations=%d"
                                         % (iterations, max_iterations))
    try:
        pkey = crypto.load_pem_private_key(stripped, pw)
    except SSHFormatError:
        if encrypted:
            raise KeyPassphraseError("wrong passphrase for the private key") from None
        raise
    return from_pkey(pkey)


def generate_private_key(algorithm: Union[str, bytes] = "ssh-ed25519", bits: Optional[int] = None,
                         comment: str = "") -> SSHKey:
    """A new private key: 'ssh-ed25519' ('ed25519'), 'ecdsa-sha2-nistp256/384/521' ('ecdsa'
    with bits 256, 384 or 521) or 'ssh-rsa' ('rsa', bits default 3072), as ``ssh-keygen -t``.

    :raises ValueError: unknown algorithm or size.
    """
    alg = algorithm.decode() if isinstance(algorithm, bytes) else algorithm
    alg = alg.lower()
    if alg in ("ssh-ed25519", "ed25519"):
        if bits not in (None, 256):
            raise ValueError("Ed25519 keys have 256 bits")
        key: SSHKey = Ed25519Key.generate()
    elif alg.startswith("ecdsa-sha2-nistp"):
        fixed = int(alg[len("ecdsa-sha2-nistp"):]) if alg[len("ecdsa-sha2-nistp"):].isdigit() else 0
        if fixed not in _CURVE_BITS or bits not in (None, fixed):
            raise ValueError("unknown ECDSA algorithm %r" % alg)
        key = ECDSAKey.generate(fixed)
    elif alg == "ecdsa":
        key = ECDSAKey.generate(bits)
    elif alg in ("ssh-rsa", "rsa"):
        key = RSAKey.generate(bits)
    else:
        raise ValueError("unknown key algorithm %r" % alg)
    key.comment = comment
    return key


# ---------------------------------------------------------------- helpers
def _exact(b: bytes, n: int, what: str) -> bytes:
    if len(b) != n:
        raise SSHFormatError("%s must be %d bytes, not %d" % (what, n, len(b)))
    return b


def _to_bytes(name: Union[bytes, str]) -> bytes:
    return name.encode("ascii") if isinstance(name, str) else bytes(name)


def _passphrase(passphrase: Passphrase) -> Optional[bytes]:
    if passphrase is None:
        return None
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


def _b64decode(text: Union[str, bytes]) -> bytes:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", _to_bytes(text) if isinstance(text, str) else text),
                                validate=True)
    except (binascii.Error, ValueError):
        raise SSHFormatError("bad base64") from None


def _read(data_or_path: PathOrData) -> bytes:
    """The bytes given, or the contents of the file a str/os.PathLike names."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return bytes(data_or_path)
    with open(data_or_path, "rb") as f:
        return f.read()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(b),)) + b


def _der_int(v: int) -> bytes:
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(b)) + b


def _rs_to_der(r: int, s: int) -> bytes:
    """ECDSA-Sig-Value (RFC 3279 2.2.3) DER from r and s."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + _der_len(len(body)) + body


def _der_to_rs(der: bytes) -> Tuple[int, int]:
    """(r, s) from the DER ECDSA-Sig-Value OpenSSL produced."""
    def tlv(buf: bytes, pos: int, tag: int) -> Tuple[bytes, int]:
        if buf[pos] != tag:
            raise SSHFormatError("unexpected DER tag")
        n, pos = buf[pos + 1], pos + 2
        if n & 0x80:
            k = n & 0x7F
            n, pos = int.from_bytes(buf[pos:pos + k], "big"), pos + k
        return buf[pos:pos + n], pos + n
    seq, _ = tlv(der, 0, 0x30)
    r, pos = tlv(seq, 0, 0x02)
    s, _ = tlv(seq, pos, 0x02)
    return int.from_bytes(r, "big"), int.from_bytes(s, "big")
