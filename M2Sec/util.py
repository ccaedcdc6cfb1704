"""Small helpers of M2Crypto's util module: padding, hex, passphrase callbacks."""

import binascii
import sys
import unittest
import logging
from typing import Any, Callable, Optional, Tuple, Union

from M2Sec import m2
from M2Sec.Err import M2SecError

AddrType = Union[Tuple[str, int], str]
ModeStr = str

log = logging.getLogger(__name__)  # M2Crypto's module logger


class UtilError(M2SecError):
    pass


def expectedFailureIf(condition: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator marking a test an expected failure when condition holds."""

    def wrapper(func: Callable[..., Any]) -> Callable[..., Any]:
        return unittest.expectedFailure(func) if condition else func

    return wrapper


def pkcs7_pad(data: str, blklen: int) -> str:
    """data padded to a multiple of blklen with PKCS#7 padding (blklen <= 255)."""
    if not 0 < blklen <= 255:
        raise ValueError("illegal block size")
    pad = blklen - (len(data) % blklen)
    return data + chr(pad) * pad


def pkcs5_pad(data: str, blklen: int = 8) -> str:
    """data padded with PKCS#5 padding (8-byte blocks)."""
    return pkcs7_pad(data, 8)


def bin_to_hex(b: bytes) -> str:
    """M2Crypto's bin_to_hex, which gives base64 (without the newline)."""
    return binascii.b2a_base64(b)[:-1].decode()


def octx_to_num(x: bytes) -> int:
    """The big-endian bytes x as an int."""
    return int.from_bytes(x, "big")


def genparam_callback(p: int, n: int) -> int:
    """Prints OpenSSL's progress characters during parameter generation."""
    sys.stdout.write(".+*\n"[p] if 0 <= p < 4 else "")
    sys.stdout.flush()
    return 1


def quiet_genparam_callback(p: int, n: int) -> int:
    return 1


def passphrase_callback(v: bool, prompt1: str = "Enter passphrase:", prompt2: str = "Verify passphrase:") -> Optional[bytes]:
    """Asks for a passphrase on the terminal (twice if v), as UTF-8 bytes; None on Ctrl-C."""
    from getpass import getpass

    try:
        while True:
            p1 = getpass(prompt1)
            if not v or p1 == getpass(prompt2):
                return p1.encode("utf-8")
    except KeyboardInterrupt:
        return None


def no_passphrase_callback(*args: Any) -> bytes:
    """A passphrase callback giving the empty passphrase (for unencrypted keys)."""
    return b""


def time_t_bits() -> int:
    return m2.time_t_bits()
