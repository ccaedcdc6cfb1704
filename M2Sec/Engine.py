"""OpenSSL's ENGINE API (M2Crypto's Engine module).

OpenSSL 3 deprecates engines in favour of providers (see :mod:`M2Sec.Provider`) but still
builds them on most systems: ``m2.HAS_ENGINE`` says whether this one has them.
"""

from typing import Any, Optional, Union

from M2Sec import EVP, X509, m2
from M2Sec.Err import M2SecError


class EngineError(M2SecError):
    """An engine operation failed."""


m2.engine_init_error(EngineError)


class Engine:
    """An OpenSSL engine, found by id."""

    m2_engine_free = staticmethod(m2.engine_free)  # M2Crypto's name

    def __init__(self, id: Optional[Union[str, bytes]] = None, _ptr: Any = None, _pyfree: int = 1) -> None:
        if _ptr is None:
            if not id:
                raise ValueError("an engine id or pointer is required")
            if isinstance(id, bytes):
                id = id.decode()
            _ptr = m2.engine_by_id(id)
        self._engine = _ptr
        self._pyfree = _pyfree
        self._initialized = False

    @classmethod
    def is_available(cls) -> bool:
        return bool(m2.HAS_ENGINE)

    def _ptr(self) -> Any:
        engine = self._engine  # read once, as Handle._ptr
        if engine is None:
            raise EngineError("the engine has been freed")
        return engine

    def __enter__(self) -> "Engine":
        self.init()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._initialized:
            self.finish()
        self.free()

    def free(self) -> None:
        e, self._engine = getattr(self, "_engine", None), None
        if e is not None and getattr(self, "_pyfree", False):
            if self._initialized:
                m2.engine_finish(e)
            m2.engine_free(e)

    def __del__(self) -> None:
        try:
            self.free()
        except Exception:  # pragma: no cover
            pass

    def init(self) -> int:
        """Get a functional reference (ENGINE_init); raises EngineError on failure."""
        r = m2.engine_init(self._ptr())
        self._initialized = True
        return r

    def finish(self) -> int:
        """Release the functional reference taken by init()."""
        if not self._initialized:
            return 0
        self._initialized = False
        return m2.engine_finish(self._ptr())

    def is_initialized(self) -> bool:
        return self._initialized

    def ctrl_cmd_string(self, cmd: str, arg: Optional[str], optional: int = 0) -> None:
        m2.engine_ctrl_cmd_string(self._ptr(), cmd, arg, optional)

    def get_name(self) -> str:
        return m2.engine_get_name(self._ptr()) or ""

    def get_id(self) -> str:
        return m2.engine_get_id(self._ptr()) or ""

    def set_default(self, methods: int = m2.ENGINE_METHOD_ALL) -> int:
        return m2.engine_set_default(self._ptr(), methods)

    def load_private_key(self, name: Union[str, bytes], pin: Union[str, bytes, None] = None) -> EVP.PKey:
        """The private key called name (for engine_pkcs11, a ``pkcs11:`` URI) as an EVP.PKey.

        :param pin: answers the engine's PIN prompt.  Without one, an engine that needs a PIN
            fails instead of reading the terminal.
        :raises EngineError: the engine cannot load the key (wrong PIN, no such key, ...)
        """
        return EVP.PKey(m2.engine_load_private_key(self._ptr(), _text(name), _pin(pin)), 1)

    def load_public_key(self, name: Union[str, bytes], pin: Union[str, bytes, None] = None) -> EVP.PKey:
        """The public key called name, as an EVP.PKey (pin as for load_private_key)."""
        return EVP.PKey(m2.engine_load_public_key(self._ptr(), _text(name), _pin(pin)), 1)

    def load_certificate(self, name: str) -> X509.X509:
        return X509.X509(m2.engine_load_certificate(self._ptr(), name), 1)


def _text(name: Union[str, bytes]) -> str:
    return name.decode() if isinstance(name, bytes) else name


def _pin(pin: Union[str, bytes, None]) -> Optional[bytes]:
    """The PIN as bytes; an empty PIN is a PIN (b""), only None means none."""
    if pin is None:
        return None
    return pin.encode() if isinstance(pin, str) else bytes(pin)


def load_dynamic_engine(id: Union[str, bytes], sopath: Union[str, bytes]) -> Engine:
    """Load the engine in the shared library sopath under id, through the 'dynamic' engine."""
    id = id.decode() if isinstance(id, bytes) else id
    sopath = sopath.decode() if isinstance(sopath, bytes) else sopath
    load_dynamic()
    e = Engine("dynamic")
    e.ctrl_cmd_string("SO_PATH", sopath)
    e.ctrl_cmd_string("ID", id)
    e.ctrl_cmd_string("LIST_ADD", "1")
    e.ctrl_cmd_string("LOAD", None)
    return e


def load_dynamic() -> None:
    m2.engine_load_dynamic()


def load_openssl() -> None:
    m2.engine_load_openssl()


def cleanup() -> None:
    m2.engine_cleanup()
