"""OpenSSL's BIO: memory buffers, files, buffering and cipher filters (M2Crypto's API).

A BIO owns its pointer; ``close()`` frees it, except on :class:`MemoryBuffer`, where, as in
M2Crypto, ``close()`` only ends writing (``free()`` or leaving a ``with`` block frees it).
"""

import functools
import logging
from typing import TYPE_CHECKING, IO, Any, Callable, List, Optional, TypeVar, Union, cast

from M2Sec import m2
from M2Sec._base import release
from M2Sec.Err import ClosedError, M2SecError


_B = TypeVar("_B", bound="BIO")

log = logging.getLogger(__name__)  # M2Crypto's module logger

class BIOError(M2SecError, ValueError):
    """A BIO operation failed."""


class BIOClosedError(BIOError, ClosedError):
    """A closed BIO was used (a BIOError, as in M2Crypto, and a ClosedError)."""


m2.bio_init(BIOError)


class BIO:
    """An object interface to one OpenSSL BIO."""

    def __init__(self, bio: Any = None, _pyfree: int = 0, _close_cb: Optional[Callable[[], Any]] = None) -> None:
        self.bio = bio
        self._pyfree = _pyfree
        self._close_cb = _close_cb
        self.closed = 0
        self.write_closed = 0

    def __del__(self) -> None:
        try:
            self._free()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def _free(self) -> None:
        bio = getattr(self, "bio", None)
        self.bio = None
        if bio is not None and getattr(self, "_pyfree", False):
            release(bio, m2.bio_free)  # a call being entered with it (another thread) frees it

    free = _free

    def _ptr(self) -> Any:
        bio = self.bio  # read once: a close() from another thread may clear it between two reads
        if bio is None:
            raise BIOClosedError("the BIO is closed or was never set")
        return bio

    bio_ptr = _ptr  # M2Crypto's deprecated name

    def fileno(self) -> int:
        return m2.bio_get_fd(self._ptr())

    def readable(self) -> bool:
        return not self.closed

    def read(self, size: Optional[int] = None) -> bytes:
        """Up to size bytes (all there is if size is None); b'' when nothing is left."""
        if not self.readable():
            raise IOError("cannot read: the BIO is closed")
        bio = self._ptr()
        if size is None:
            chunks = []
            while True:
                data = m2.bio_read(bio, 65536)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks)
        if size < 0:
            raise ValueError("read count is negative")
        return m2.bio_read(bio, size) or b""

    def readline(self, size: int = 4096) -> bytes:
        if not self.readable():
            raise IOError("cannot read: the BIO is closed")
        return m2.bio_gets(self._ptr(), size) or b""

    def readlines(self, sizehint: Any = "ignored") -> List[bytes]:
        if not self.readable():
            raise IOError("cannot read: the BIO is closed")
        bio = self._ptr()
        lines: List[bytes] = []
        while True:
            line = m2.bio_gets(bio, 4096)
            if line is None:
                return lines
            lines.append(line)

    def writeable(self) -> bool:
        return not self.closed and not self.write_closed

    writable = writeable

    def write(self, data: Union[str, bytes]) -> int:
        """Write data; the count written, or 0/-1 when nothing was (see should_retry)."""
        if not self.writeable():
            raise IOError("cannot write: the BIO is closed for writing")
        if isinstance(data, str):
            data = data.encode("utf8")
        return m2.bio_write(self._ptr(), data)

    def write_close(self) -> None:
        self.write_closed = 1

    def flush(self) -> None:
        m2.bio_flush(self._ptr())

    def reset(self) -> int:
        return m2.bio_reset(self._ptr())

    def close(self) -> None:
        self.closed = 1
        if self._close_cb:
            self._close_cb()
        self._free()

    def should_retry(self) -> int:
        return m2.bio_should_retry(self._ptr())

    def should_read(self) -> int:
        return m2.bio_should_read(self._ptr())

    def should_write(self) -> int:
        return m2.bio_should_write(self._ptr())

    def tell(self) -> int:
        return m2.bio_tell(self._ptr())

    def seek(self, off: int) -> int:
        return m2.bio_seek(self._ptr(), off)

    def __enter__(self: "_B") -> "_B":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()


def _pop_free(bio: Any, keep: Any = None) -> None:
    """Free a filter BIO, taken off the BIO it was pushed on (which its owner frees; keep: what
    must live until then)."""
    m2.bio_pop(bio)
    m2.bio_free(bio)


class MemoryBuffer(BIO):
    """A memory BIO (BIO_s_mem)."""

    def __init__(self, data: Optional[bytes] = None) -> None:
        super().__init__(_pyfree=1)
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes or None, not %s" % type(data).__name__)
        self.bio = m2.bio_new(m2.bio_s_mem())
        if data:
            m2.bio_write(self.bio, data)

    def __len__(self) -> int:
        return m2.bio_ctrl_pending(self._ptr())

    def read(self, size: Optional[int] = None) -> Optional[bytes]:  # type: ignore[override]
        """Up to size bytes (all pending if None); None when the buffer is empty, as M2Crypto."""
        if not self.readable():
            raise IOError("cannot read: the BIO is closed")
        bio = self._ptr()
        if size is None:
            size = m2.bio_ctrl_pending(bio)
        elif size < 0:
            raise ValueError("read count is negative")
        return m2.bio_read(bio, size)

    getvalue = read_all = read

    def write_close(self) -> None:
        super().write_close()
        m2.bio_set_mem_eof_return(self._ptr(), 0)

    close = write_close  # M2Crypto: closing a MemoryBuffer ends writing; free() releases it

    def __exit__(self, *args: Any) -> None:
        self._free()


class File(BIO):
    """A BIO on a Python file's descriptor (the file stays the descriptor's owner)."""

    def __init__(self, pyfile_arg: Union[IO[Any], str], close_pyfile: int = 1, mode: str = "rb") -> None:
        super().__init__(_pyfree=1)
        pyfile = open(pyfile_arg, mode) if isinstance(pyfile_arg, str) else pyfile_arg
        pyfile.flush()
        self.fname = getattr(pyfile, "name", "<unnamed>")
        self.pyfile = pyfile
        self.close_pyfile = close_pyfile
        self.bio = m2.bio_new_pyfd(pyfile.fileno(), m2.bio_noclose)

    def flush(self) -> None:
        super().flush()
        self.pyfile.flush()

    def close(self) -> None:
        if self.closed:
            return
        if self.bio is not None:
            m2.bio_flush(self.bio)
        super().close()
        if self.close_pyfile:
            self.pyfile.close()


def openfile(filename: Union[str, bytes], mode: str = "rb") -> File:
    """Open filename and return a File BIO on it; raises BIOError if it cannot be opened."""
    try:
        f = open(filename, mode)
    except OSError as ex:
        raise BIOError(str(ex)) from ex
    return File(f)


class IOBuffer(BIO):
    """A buffering BIO (BIO_f_buffer) pushed on another BIO, which it keeps alive."""

    def __init__(self, under_bio: BIO, mode: str = "rwb", _pyfree: int = 1) -> None:
        super().__init__(_pyfree=_pyfree)
        self.io: Optional[m2.BIO_ptr] = m2.bio_new(m2.bio_f_buffer())
        self.bio = m2.bio_push(self.io, under_bio._ptr())
        self._under_bio: Optional[BIO] = under_bio
        self.write_closed = 0 if "w" in mode else 1

    def _free(self) -> None:
        io, bio, under = getattr(self, "io", None), getattr(self, "bio", None), getattr(self, "_under_bio", None)
        self.io = self.bio = self._under_bio = None
        if io is not None:
            p = bio if bio is not None else io  # one BIO (bio is bio_push's result): the methods fetch bio
            del io, bio
            # the BIO below lives as long as this one (a call reading through it may outlive close())
            release(p, functools.partial(_pop_free, keep=under))

    def close(self) -> None:
        self.closed = 1
        self._free()


class CipherStream(BIO):
    """A cipher filter (BIO_f_cipher) over another BIO: writes encrypt, reads decrypt."""

    SALT_LEN = m2.PKCS5_SALT_LEN

    def __init__(self, obio: BIO) -> None:
        super().__init__(_pyfree=1)
        self.obio = obio
        self.bio = m2.bio_new(m2.bio_f_cipher())

    def _free(self) -> None:
        bio = getattr(self, "bio", None)
        self.bio = None
        if bio is not None:
            release(bio, _pop_free)

    def close(self) -> None:
        self.closed = 1
        self._free()

    def write_close(self) -> None:
        self.obio.write_close()

    def set_cipher(self, algo: str, key: Union[str, bytes], iv: Union[str, bytes], op: int) -> None:
        """Use the cipher m2.<algo> (such as 'aes_128_cbc') with key and iv; op 1 encrypts."""
        cipher = getattr(m2, algo, None)
        if cipher is None or not callable(cipher):
            raise ValueError("unknown cipher", algo)
        key = key.encode("utf8") if isinstance(key, str) else key
        iv = iv.encode("utf8") if isinstance(iv, str) else iv
        try:
            m2.bio_set_cipher(self._ptr(), cipher(), key, iv, int(op))
        except ValueError as ex:
            raise BIOError(str(ex)) from ex
        m2.bio_push(self.bio, self.obio._ptr())


class SSLBio(BIO):
    """An SSL filter BIO (BIO_f_ssl) on an SSL.Connection's SSL.

    The Connection keeps owning its SSL: this BIO holds a reference to the Connection and never
    frees the SSL (M2Crypto handed the SSL to the BIO and then leaked both)."""

    def __init__(self, _pyfree: int = 1) -> None:
        super().__init__(_pyfree=1)
        self.bio = m2.bio_new(cast("m2.BIO_METHOD_ptr", m2.bio_f_ssl()))
        self.closed = 0
        self._conn: Any = None

    def set_ssl(self, conn: Any, close_flag: int = m2.bio_noclose) -> None:
        """Work on conn's SSL (an SSL.Connection); close_flag is ignored: conn frees it."""
        m2.bio_set_ssl(self._ptr(), conn.ssl, m2.bio_noclose)
        self._conn = conn

    def do_handshake(self) -> int:
        """Run the handshake: 1 when done, 0 or less when it failed or must be retried
        (see should_retry(), should_read(), should_write())."""
        return m2.bio_do_handshake(self._ptr())

    def _free(self) -> None:
        super()._free()
        self._conn = None
