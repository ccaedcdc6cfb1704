"""Helpers shared by the key modules (RSA, DSA, DH, EC, EVP.PKey): cipher lookup, file BIOs."""

from typing import Any, Callable, ClassVar, Optional, Type, Union

from M2Sec import BIO, util


def cipher_ptr(name: Optional[str], errcls: Type[Exception]) -> Any:
    """The EVP_CIPHER for an M2Crypto cipher name ('aes_128_cbc'), or None for no cipher.

    The name is looked up in OpenSSL's cipher table (EVP.get_cipher), never among ``m2``'s
    functions.

    :raises errcls: (a ValueError) for an unknown name.
    """
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError("cipher must be a name such as 'aes_128_cbc' or None")
    from M2Sec import EVP  # EVP imports this module

    try:
        return EVP.get_cipher(name)
    except EVP.EVPError:
        raise errcls("no such cipher: %s" % name) from None


def to_bytes(data: Union[str, bytes, bytearray, memoryview]) -> Any:
    """str becomes UTF-8 bytes (M2Crypto accepted str); buffers pass through."""
    return data.encode("utf-8") if isinstance(data, str) else data


def bio_ptr(bio: "BIO.BIO", errcls: Type[Exception]) -> Any:
    if bio is None or getattr(bio, "bio", None) is None:
        raise errcls("the BIO is not initialised or was closed")
    return bio._ptr()


def read_file(path: Union[str, bytes]) -> "BIO.BIO":
    return BIO.openfile(path, "rb")


def write_file(path: Union[str, bytes]) -> "BIO.BIO":
    return BIO.openfile(path, "wb")


class PrivateKeyPEM:
    """save_key_bio, save_key and as_pem for a key class: subclasses name their PEM writers
    (with a cipher, and without) and their error class."""

    _write_key_fn: ClassVar[Callable[..., int]]
    _write_key_plain_fn: ClassVar[Callable[..., int]]
    _key_error: ClassVar[Type[Exception]]
    _ptr: Callable[[], Any]  # Owned's, in the classes that use this mixin

    def save_key_bio(self, bio: "BIO.BIO", cipher: Optional[str] = "aes_128_cbc",
                     callback: Callable[..., Any] = util.passphrase_callback) -> int:
        """Write the private key as PEM to bio, encrypted with cipher unless it is None;
        callback (or a bytes passphrase) gives the passphrase."""
        errcls = type(self)._key_error
        ptr = bio_ptr(bio, errcls)
        if cipher is None:
            return type(self)._write_key_plain_fn(self._ptr(), ptr, callback)
        return type(self)._write_key_fn(self._ptr(), ptr, cipher_ptr(cipher, errcls), callback)

    def save_key(self, file: Union[str, bytes], cipher: Optional[str] = "aes_128_cbc",
                 callback: Callable[..., Any] = util.passphrase_callback) -> int:
        """save_key_bio to the file named file."""
        with write_file(file) as bio:
            return self.save_key_bio(bio, cipher, callback)

    def as_pem(self, cipher: Optional[str] = "aes_128_cbc",
               callback: Callable[..., Any] = util.passphrase_callback) -> bytes:
        """The private key as PEM bytes (see save_key_bio)."""
        with BIO.MemoryBuffer() as bio:
            self.save_key_bio(bio, cipher, callback)
            return bio.read() or b""
