"""SSL sessions, for resumption (M2Crypto's ``SSL.Session``)."""

from typing import TYPE_CHECKING, Any, Union

from M2Sec import BIO, m2
from M2Sec._base import Owned

__all__ = ["Session", "load_session"]


class Session(Owned):
    """One SSL_SESSION: give it to ``Connection.set_session()`` to resume it."""

    _free_fn = m2.ssl_session_free
    m2_ssl_session_free = staticmethod(m2.ssl_session_free)  # M2Crypto's name

    def __init__(self, session: Any, _pyfree: int = 0) -> None:
        super().__init__(session, _pyfree)

    @property
    def session(self) -> Any:
        return self._ptr()

    def as_text(self) -> bytes:
        buf = BIO.MemoryBuffer()
        m2.ssl_session_print(buf._ptr(), self._ptr())
        return buf.read_all() or b""

    def as_der(self) -> bytes:
        buf = BIO.MemoryBuffer()
        m2.i2d_ssl_session(buf._ptr(), self._ptr())
        return buf.read_all() or b""

    def as_pem(self) -> bytes:
        buf = BIO.MemoryBuffer()
        m2.ssl_session_write_pem(self._ptr(), buf._ptr())
        return buf.read_all() or b""

    def write_bio(self, bio: BIO.BIO) -> int:
        """Write the session as PEM to bio."""
        return m2.ssl_session_write_pem(self._ptr(), bio._ptr())

    def get_time(self) -> int:
        return m2.ssl_session_get_time(self._ptr())

    def set_time(self, t: int) -> int:
        return m2.ssl_session_set_time(self._ptr(), t)

    def get_timeout(self) -> int:
        return m2.ssl_session_get_timeout(self._ptr())

    def set_timeout(self, t: int) -> int:
        return m2.ssl_session_set_timeout(self._ptr(), t)

    # -- beyond M2Crypto
    def get_id(self) -> bytes:
        """The session id (empty for a TLS 1.3 ticket-only session)."""
        return m2.ssl_session_get_id(self._ptr())

    def is_resumable(self) -> bool:
        """Whether the session can be used to resume (SSL_SESSION_is_resumable)."""
        return bool(m2.ssl_session_is_resumable(self._ptr()))

    def has_ticket(self) -> bool:
        return bool(m2.ssl_session_has_ticket(self._ptr()))


def _session_ptr(session: Session) -> Any:
    """session's SSL_SESSION; TypeError for anything but a Session, ClosedError once freed."""
    if not isinstance(session, Session):
        raise TypeError("an SSL.Session is required, not %s" % type(session).__name__)
    return session._ptr()


def load_session(pemfile: Union[str, bytes]) -> Session:
    """A session read from a PEM file; raises SSLError if the file holds none."""
    with BIO.openfile(pemfile) as f:
        ptr = m2.ssl_session_read_pem(f._ptr())
    return Session(ptr, 1)


def load_session_der(der: bytes) -> Session:
    """A session from its DER encoding (Session.as_der()); raises SSLError if malformed."""
    if not isinstance(der, (bytes, bytearray, memoryview)):
        raise TypeError("the DER session must be bytes, not %s" % type(der).__name__)
    with BIO.MemoryBuffer(der) as buf:
        ptr = m2.d2i_ssl_session(buf._ptr())
    return Session(ptr, 1)
