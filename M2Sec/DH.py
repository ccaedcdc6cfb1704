"""Diffie-Hellman (M2Crypto's DH module) over OpenSSL's DH* API, and the RFC 7919 groups."""

from typing import Any, Callable, Optional, Union

from M2Sec import BIO, m2, util
from M2Sec._base import Owned
from M2Sec._keyutil import bio_ptr, read_file, write_file
from M2Sec.Err import M2SecError
from M2Sec.util import genparam_callback  # noqa: F401  (M2Crypto's DH exports it)


class DHError(M2SecError, ValueError):
    """A DH operation failed."""


m2.dh_init(DHError)

_READONLY = ("p", "g", "pub", "priv")

#: RFC 7919 named groups: name -> NID.
FFDHE_GROUPS = {
    "ffdhe2048": m2.NID_ffdhe2048,
    "ffdhe3072": m2.NID_ffdhe3072,
    "ffdhe4096": m2.NID_ffdhe4096,
    "ffdhe6144": m2.NID_ffdhe6144,
    "ffdhe8192": m2.NID_ffdhe8192,
}


class DH(Owned):
    """DH parameters and, after gen_key(), a key pair (DH*)."""

    _free_fn = m2.dh_free
    m2_dh_free = staticmethod(m2.dh_free)  # M2Crypto's name

    def __init__(self, dh: Any, _pyfree: int = 0) -> None:
        if dh is None or isinstance(dh, (str, bytes, int)):
            raise TypeError("DH() takes a DH pointer; use gen_params/load_params/set_params")
        super().__init__(dh, _pyfree)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _READONLY:
            raise DHError("insufficient permission to change %s" % name)
        super().__setattr__(name, value)

    @property
    def dh(self) -> Any:
        return self._ptr()

    def __len__(self) -> int:
        return m2.dh_size(self._ptr())

    p = property(lambda self: m2.dh_get_p(self._ptr()), doc="The prime as an MPI.")
    g = property(lambda self: m2.dh_get_g(self._ptr()), doc="The generator as an MPI.")
    pub = property(lambda self: m2.dh_get_pub(self._ptr()), doc="The public value as an MPI.")
    priv = property(lambda self: m2.dh_get_priv(self._ptr()), doc="The private value as an MPI.")

    def check_params(self) -> int:
        """DH_check: 0 when the parameters are good, else OpenSSL's DH_CHECK_* flags."""
        return m2.dh_check(self._ptr())

    def gen_key(self) -> None:
        """DH_generate_key: a new key pair for the parameters."""
        m2.dh_generate_key(self._ptr())

    def compute_key(self, pubkey: bytes) -> bytes:
        """DH_compute_key: the shared secret with the peer's public value (an MPI, its pub)."""
        return m2.dh_compute_key(self._ptr(), pubkey)

    def print_params(self, bio: BIO.BIO) -> int:
        """DHparams_print: the parameters as text into bio."""
        return m2.dhparams_print(bio_ptr(bio, DHError), self._ptr())

    def save_params_bio(self, bio: BIO.BIO) -> int:
        return m2.dh_write_parameters(self._ptr(), bio_ptr(bio, DHError))

    def save_params(self, file: Union[str, bytes]) -> int:
        with write_file(file) as bio:
            return self.save_params_bio(bio)


DH_GENERATOR_2 = m2.DH_GENERATOR_2
DH_GENERATOR_5 = m2.DH_GENERATOR_5


def gen_params(plen: int, g: int, callback: Optional[Callable[..., Any]] = util.genparam_callback) -> DH:
    """DH_generate_parameters_ex: a safe prime of plen bits with generator g."""
    return DH(m2.dh_generate_parameters(plen, g, callback), 1)


def load_params_bio(bio: BIO.BIO) -> DH:
    return DH(m2.dh_read_parameters(bio_ptr(bio, DHError)), 1)


def load_params(file: Union[str, bytes]) -> DH:
    """Read PEM DH parameters from a file."""
    with read_file(file) as bio:
        return load_params_bio(bio)


def set_params(p: bytes, g: bytes) -> DH:
    """A DH object with prime p and generator g (MPIs)."""
    dh = DH(m2.dh_new(), 1)
    m2.dh_set_pg(dh._ptr(), p, g)
    return dh


def ffdhe_group(name: str) -> DH:
    """The RFC 7919 group ``ffdhe2048`` ... ``ffdhe8192`` (DH_new_by_nid).

    :raises ValueError: for another name.
    """
    try:
        nid = FFDHE_GROUPS[name]
    except KeyError:
        raise ValueError("not an RFC 7919 group: %r" % (name,)) from None
    return DH(m2.dh_new_by_nid(nid), 1)
