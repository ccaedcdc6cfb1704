"""Groups for diffie-hellman-group-exchange (RFC 4419) on the server: an OpenSSH moduli file
(moduli(5)) or the built-in MODP groups of RFC 3526.

:class:`Moduli` chooses as sshd's choose_dh does: among the usable groups that fit the
client's [min, max], the smallest size at least the preferred one (else the largest below it),
and one group of that size at random.
"""

import os
from typing import Dict, List, Optional, Tuple, Union

from M2Sec.SSH import crypto
from M2Sec.SSH.errors import KeyExchangeFailed
from M2Sec.SSH.kex import modp_group

#: moduli(5): type 2 is a safe prime; test bit 0x01 marks a composite.
_SAFE_PRIME = 2
_COMPOSITE = 0x01


class Moduli:
    """Group-exchange groups by size (bits).

    :param path: an OpenSSH moduli file; None uses the RFC 3526 groups of 2048, 4096 and 8192
        bits (sshd's fallback when it has no moduli file).
    :raises ValueError: for a file with no usable line.
    """

    BUILTIN = (2048, 4096, 8192)

    def __init__(self, path: Union[str, "os.PathLike[str]", None] = None) -> None:
        self.groups: Dict[int, List[Tuple[int, int]]] = {}
        if path is None:
            for bits in self.BUILTIN:
                self.groups[bits] = [modp_group(bits)]
            return
        with open(os.fspath(path)) as f:
            for line in f:
                parsed = _parse_line(line)
                if parsed is not None:
                    self.groups.setdefault(parsed[0].bit_length(), []).append(parsed)
        if not self.groups:
            raise ValueError("no usable group in the moduli file %s" % os.fspath(path))

    def choose(self, lo: int, want: int, hi: int) -> Tuple[int, int]:
        """(p, g) for a client asking for lo <= want <= hi bits.

        :raises KeyExchangeFailed: no group fits [lo, hi].
        """
        sizes = sorted(b for b in self.groups if lo <= b <= hi)
        if not sizes:
            raise KeyExchangeFailed("no DH group between %d and %d bits" % (lo, hi), local=True)
        above = [b for b in sizes if b >= want]
        size = above[0] if above else sizes[-1]
        choices = self.groups[size]
        pick = int.from_bytes(crypto.random_bytes(4), "big") % len(choices)
        return choices[pick]


def _parse_line(line: str) -> Optional[Tuple[int, int]]:
    f = line.split()
    if not f or f[0].startswith("#") or len(f) != 7:
        return None
    try:
        kind, tests, size, g, p = int(f[1]), int(f[2]), int(f[4]) + 1, int(f[5], 16), int(f[6], 16)
    except ValueError:
        return None
    if kind != _SAFE_PRIME or tests & _COMPOSITE or not tests & ~_COMPOSITE:
        return None
    if p.bit_length() != size or not 1 < g < p - 1 or size < 1024:
        return None
    return p, g
