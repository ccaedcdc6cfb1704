"""The base class of every object that owns (or borrows) one OpenSSL pointer."""

from typing import Any, Callable, ClassVar, Optional, TypeVar

from M2Sec import m2
from M2Sec.Err import ClosedError

_T = TypeVar("_T", bound="Handle")


def _calibrate_release() -> None:
    p = object()
    m2.lib_release(p, None)  # the references to a pointer object its caller alone holds


_calibrate_release()

#: release(p, free_fn): free the pointer object p with free_fn, now if the caller holds its only
#: reference (in a local, having cleared its owner's), else when its last reference goes.
#: Another reference is a method of another thread that fetched the pointer (``self._ptr()``)
#: and is entering or inside a call with it: freeing now would free it under that call.  The
#: free is then tied to the pointer object (SWIG/_lib.i, m2_free_later) and done when that call
#: has returned and dropped it; calls made after close() find the owner closed.  In C: a close()
#: costs no more than it did.
release: Callable[[Any, Callable[[Any], Any]], Any] = m2.lib_release


class Handle:
    """What every owner of an OpenSSL pointer offers: ``_ptr()``, ``closed``, an idempotent
    ``close()``/``free()`` and the context-manager protocol.  A class whose C base type frees
    the pointer when the object dies (EVP.Cipher) uses this without :class:`Owned`'s finalizer.
    """

    _free_fn: ClassVar[Optional[Callable[[Any], Any]]] = None

    def _ptr(self) -> Any:
        """The pointer; raises ClosedError once the object was freed."""
        p = self._p
        if p is None:
            raise ClosedError("%s has been freed" % type(self).__name__)
        return p

    @property
    def closed(self) -> bool:
        return self._p is None

    def close(self) -> None:
        """Free the pointer (if owned); further use raises ClosedError.  Idempotent.

        Safe while another thread's call runs on the pointer, or is being entered with it: the
        free is left to that call, which does it when it returns (:func:`release`; SWIG/_lib.i,
        M2_FREE and M2_ALLOW_USING)."""
        p = getattr(self, "_p", None)
        self._p = None
        self._owner = None
        free_fn = type(self)._free_fn
        if p is not None and getattr(self, "_pyfree", False) and free_fn is not None:
            release(p, free_fn)

    free = close

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Owned(Handle):
    """Holds one OpenSSL pointer and frees it exactly once.

    Subclasses set ``_free_fn`` to the ``m2`` function that frees their pointer.  An object
    made with ``_pyfree=0`` (``owned=False``) borrows the pointer: it never frees it, and it
    keeps ``owner`` alive so that the pointer cannot outlive what it belongs to.
    """

    def __init__(self, ptr: Any, _pyfree: int = 1, *, owned: Optional[bool] = None, owner: Any = None) -> None:
        if ptr is None:
            raise ValueError("%s needs an OpenSSL pointer, got None" % type(self).__name__)
        self._p = ptr
        self._pyfree = int(owned) if owned is not None else int(_pyfree)
        self._owner = owner

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
