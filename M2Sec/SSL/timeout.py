"""Socket read and write timeouts as the kernel's struct timeval (M2Crypto's ``SSL.timeout``)."""

import struct

__all__ = ["DEFAULT_TIMEOUT", "timeout", "struct_to_timeout", "struct_size"]

DEFAULT_TIMEOUT = 600
_TIMEVAL = "ll"  # struct timeval on the LP64 and ILP32 ABIs M2Sec builds on (long, long)


class timeout:
    """A timeout of sec seconds and microsec microseconds, packable for SO_RCVTIMEO/SO_SNDTIMEO."""

    def __init__(self, sec: int = DEFAULT_TIMEOUT, microsec: int = 0) -> None:
        self.sec = sec
        self.microsec = microsec

    def pack(self) -> bytes:
        return struct.pack(_TIMEVAL, self.sec, self.microsec)

    def __repr__(self) -> str:
        return "timeout(sec=%r, microsec=%r)" % (self.sec, self.microsec)


def struct_to_timeout(binstr: bytes) -> timeout:
    sec, microsec = struct.unpack(_TIMEVAL, binstr)
    return timeout(sec, microsec)


def struct_size() -> int:
    return struct.calcsize(_TIMEVAL)
