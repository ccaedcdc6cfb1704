"""OpenSSL 3 providers (M2Crypto's Provider module, and more).

:func:`load` makes a provider such as ``legacy`` (RC4, Blowfish, single DES ...) available to
all of M2Sec; :class:`Provider` loads one into a library context of its own and loads keys
and certificates from it by URI (``pkcs11:...``, ``file:...``), as M2Crypto's does.
"""

import weakref
from typing import Any, Dict, List, Optional, TypeVar, cast

from M2Sec import EVP, X509, m2
from M2Sec.Err import M2SecError

_T = TypeVar("_T")


class ProviderError(M2SecError, ValueError):
    """A provider could not be loaded or used."""


m2.provider_init_error(ProviderError)

_loaded: Dict[str, Any] = {}


def load(name: str) -> None:
    """Load the provider called name into OpenSSL's default context (once; later calls do
    nothing).  The default provider stays available.  Raises ProviderError if it cannot load."""
    if name in _loaded:
        return
    if name != "default" and "default" not in _loaded and not m2.provider_available(None, "default"):
        _loaded["default"] = m2.provider_load(None, "default")
    _loaded[name] = m2.provider_load(None, name)


def unload(name: str) -> None:
    """Unload a provider loaded with load(); KeyError if it was not."""
    m2.provider_unload(_loaded.pop(name))


def available(name: str) -> bool:
    """Whether the provider called name is active in the default context."""
    return bool(m2.provider_available(None, name))


def names() -> List[str]:
    """The names of the providers active in the default context."""
    return m2.provider_names(None)


class Provider:
    """A provider loaded into a library context of its own."""

    def __init__(self, _id: str) -> None:
        self._id = _id
        self._closed = False
        self._issued = 0  # keys and certificates made here and still alive
        self._ctx: Optional[m2.OSSL_LIB_CTX_ptr] = m2.provider_context_new()
        try:
            self._prov = m2.provider_load(self._ctx, _id)
        except ProviderError:
            m2.provider_context_free(self._ctx)
            self._ctx = None
            raise

    def _context_ptr(self) -> Any:
        if self._ctx is None or self._closed:
            raise ProviderError("the provider has been closed")
        return self._ctx

    def _provider_ptr(self) -> Any:
        self._context_ptr()
        return self._prov

    def get_name(self) -> str:
        return m2.provider_get0_name(self._provider_ptr())

    def load_key(self, uri: str) -> EVP.PKey:
        """The private key (or else the public key) at uri."""
        return self._owned(EVP.PKey(m2.provider_load_key(self._context_ptr(), uri), 1))

    def load_certificate(self, uri: str) -> X509.X509:
        """The certificate at uri."""
        return self._owned(X509.X509(m2.provider_load_certificate(self._context_ptr(), uri), 1))

    def _owned(self, obj: _T) -> _T:
        """obj keeps this provider (and its library context) alive while it lives: close()
        frees them only once no key or certificate made here is left."""
        cast(Any, obj)._provider_owner = self
        self._issued += 1
        weakref.finalize(obj, self._released)
        return obj

    def _released(self) -> None:
        self._issued -= 1
        if self._closed and not self._issued:
            self._free()

    def generate_rsa_key_pair(self, bits: int = 2048, exponent: int = 65537) -> EVP.PKey:
        """A new RSA key pair made by this provider (EVP_PKEY_generate in its library context).

        :raises ProviderError: bits below 512, an even or small exponent, or the provider failed
        """
        if not isinstance(bits, int) or bits < 512:
            raise ProviderError("invalid bits value: %r" % (bits,))
        if not isinstance(exponent, int) or exponent < 3 or not exponent & 1:
            raise ProviderError("invalid exponent value: %r" % (exponent,))
        return self._owned(EVP.PKey(m2.provider_generate_rsa_key_pair(bits, exponent, self._context_ptr(),
                                                                       self._provider_ptr()), 1))

    def generate_ec_key_pair(self, curve_name: str = "prime256v1") -> EVP.PKey:
        """A new EC key pair on the named curve, made by this provider.

        :raises ProviderError: an empty or unknown curve name, or the provider failed
        """
        if not isinstance(curve_name, str) or not curve_name:
            raise ProviderError("invalid curve_name: %r" % (curve_name,))
        return self._owned(EVP.PKey(m2.provider_generate_ec_key_pair(curve_name, self._context_ptr(),
                                                                      self._provider_ptr()), 1))

    def destroy_key(self, uri: str, user_pin: Optional[str] = None) -> None:
        """Destroying a stored key is specific to each provider: raises NotImplementedError (as M2Crypto).

        :raises ProviderError: uri is not a str
        """
        if not isinstance(uri, str):
            raise ProviderError("wrong type %s for uri, a str is required" % type(uri).__name__)
        m2.provider_destroy_key(uri, user_pin)

    def close(self) -> None:
        """No more keys from this provider; its context is freed now, or else when the last
        key or certificate it made goes away."""
        self._closed = True
        if not getattr(self, "_issued", 0):
            self._free()

    def _free(self) -> None:
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is not None:
            m2.provider_unload(cast("m2.OSSL_PROVIDER_ptr", self._prov))
            m2.provider_context_free(ctx)

    _close = close

    def __enter__(self) -> "Provider":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._free()  # the keys it made are gone: they held it
        except Exception:  # pragma: no cover
            pass
