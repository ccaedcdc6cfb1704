"""TLS Lite's key functions, parsePEMKey and generateRSAKey, returning M2Sec EVP keys."""

from typing import Any, Callable, Optional, Union, cast

from M2Sec import EVP, m2

_CERT_ALGS = {"RSA": "rsa", "RSA-PSS": "rsa-pss", "EC": "ecdsa", "ED25519": "Ed25519",
              "ED448": "Ed448", "DSA": "dsa"}


class Key(EVP.PKey):
    """An EVP.PKey with TLS Lite's key methods (``hasPrivateKey``, ``len()``, ``write``, ``hashAndSign``)."""

    def __len__(self) -> int:
        return self.bits()

    def hasPrivateKey(self) -> bool:
        return self.is_private()

    @property
    def certAlg(self) -> str:
        return _CERT_ALGS.get(self.key_type.upper(), self.key_type.lower())

    def write(self, password: Optional[str] = None) -> str:
        """The key as PEM text: the private key (encrypted under password when given), else the public key."""
        if not self.is_private():
            return self.public_pem().decode("ascii")
        if password is None:
            return self.as_pem(cipher=None).decode("ascii")
        pw = password.encode("utf-8")
        return self.as_pem(cipher="aes_256_cbc", callback=lambda *a: pw).decode("ascii")

    def hashAndSign(self, data: bytes, rsaScheme: str = "PKCS1", hAlg: str = "sha1", sLen: int = 0) -> bytes:
        """Sign data hashed with hAlg ('PSS' or 'PKCS1' padding for RSA keys)."""
        padding = "pss" if rsaScheme.upper() == "PSS" else None
        return self.sign(bytes(data), digest=hAlg, padding=padding)

    def hashAndVerify(self, sig: bytes, data: bytes, rsaScheme: str = "PKCS1", hAlg: str = "sha1",
                      sLen: int = 0) -> bool:
        padding = "pss" if rsaScheme.upper() == "PSS" else None
        return bool(self.verify(bytes(sig), bytes(data), digest=hAlg, padding=padding))


def as_key(pkey: EVP.PKey) -> Key:
    """pkey, as a Key (the same object, same pointer)."""
    if not isinstance(pkey, Key):
        pkey.__class__ = Key
    return cast(Key, pkey)


def parsePEMKey(s: Union[str, bytes], private: bool = False, public: bool = False,
                passwordCallback: Optional[Callable[[], Any]] = None, implementations: Any = None) -> Key:
    """A key from PEM text: a private key (any PKCS#8 or traditional form) or, with public=True,
    the public half of a public or private key.

    :param passwordCallback: called without arguments for the passphrase of an encrypted key.
    :raises SyntaxError: when s holds no such key or the passphrase is wrong (TLS Lite's exception).
    """
    if isinstance(s, str):
        s = s.encode("ascii")
    pw = (lambda *a: passwordCallback()) if passwordCallback is not None else (lambda *a: None)
    try:
        if b"-----BEGIN PUBLIC KEY-----" in s:
            if private:
                raise SyntaxError("not a private key")
            return as_key(EVP.load_key_string_pubkey(s, pw))  # pw: never the terminal
        key = as_key(EVP.load_key_string(s, pw))
    except EVP.EVPError as e:
        raise SyntaxError("not a PEM %s key: %s" % ("private" if private else "", e)) from e
    if public and not private:
        return as_key(EVP.load_key_string_pubkey(key.public_pem()))
    return key


def generateRSAKey(bits: int, implementations: Any = None) -> Key:
    """A new RSA private key of bits bits (EVP_PKEY_keygen)."""
    return as_key(EVP.generate_key("RSA", bits=bits))
