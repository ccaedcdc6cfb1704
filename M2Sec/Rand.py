"""OpenSSL's random number generator (M2Crypto's API)."""

import os
import warnings
from typing import Tuple, Union

from M2Sec import m2
from M2Sec.Err import M2SecError

__all__ = ["rand_seed", "rand_add", "load_file", "save_file", "rand_bytes", "rand_priv_bytes",
           "rand_pseudo_bytes", "rand_file_name", "rand_status", "rand_poll", "RandError"]


class RandError(M2SecError, ValueError):
    """The random generator failed."""


m2.rand_init(RandError)


def rand_bytes(num: int) -> bytes:
    """num cryptographically strong random bytes (RAND_bytes); MemoryError if num < 0."""
    return m2.rand_bytes(num)


def rand_priv_bytes(num: int) -> bytes:
    """num random bytes from OpenSSL's private generator, for keys (RAND_priv_bytes)."""
    return m2.rand_priv_bytes(num)


def rand_pseudo_bytes(num: int) -> Tuple[bytes, int]:
    """Deprecated: (rand_bytes(num), 1)."""
    warnings.warn("rand_pseudo_bytes is deprecated, use rand_bytes", DeprecationWarning, stacklevel=2)
    return m2.rand_pseudo_bytes(num)


def rand_seed(seed: bytes) -> None:
    """Mix seed into the generator's state (RAND_seed)."""
    m2.rand_seed(seed)


def rand_add(blob: bytes, entropy: float) -> None:
    """Mix blob, estimated to hold entropy bytes of entropy, into the state (RAND_add)."""
    m2.rand_add(blob, float(entropy))


def rand_status() -> int:
    """1 if the generator is seeded well enough, else 0."""
    return m2.rand_status()


def rand_poll() -> int:
    """Reseed from the system's sources; 1 on success."""
    return m2.rand_poll()


def rand_file_name() -> str:
    """The default seed file ($RANDFILE, else $HOME/.rnd)."""
    return os.fsdecode(m2.rand_file_name())


def load_file(filename: Union[str, bytes], max_bytes: int) -> int:
    """Mix up to max_bytes of filename (-1: all of it) into the state; bytes read, or -1."""
    return m2.rand_load_file(os.fsdecode(filename), max_bytes)


def save_file(filename: Union[str, bytes]) -> int:
    """Write 1024 fresh random bytes to filename; bytes written, or -1."""
    return m2.rand_save_file(os.fsdecode(filename))
