"""VerifierDB: SRP password verifiers (RFC 5054) in memory or on disk, safe to share between threads."""

import base64
import binascii
import dbm
import hmac
import threading
from typing import Dict, Iterator, List, Optional, Tuple, Union, cast

from M2Sec import m2

Verifier = Tuple[int, int, bytes, int]      # (N, g, salt, verifier)
SRP_GROUP_BITS = (1024, 1536, 2048, 3072, 4096, 6144, 8192)
_TYPE_KEY = "--Reserved--type"
_TYPE = "verifier"


def _name(username: Union[str, bytes]) -> str:
    if isinstance(username, (bytes, bytearray)):
        username = bytes(username).decode("utf-8")
    if not isinstance(username, str):
        raise TypeError("a username is str or bytes")
    if not username or len(username.encode("utf-8")) > 255 or username.startswith("--Reserved--"):
        raise ValueError("a username is 1 to 255 bytes and does not start with --Reserved--")
    return username


# An entry on disk: N, g, salt and verifier as big-endian bytes in base64, joined by spaces (the
# layout TLS Lite's tlsdb.py writes, so that either tool reads the other's databases).
def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")


def _encode(entry: Verifier) -> bytes:
    N, g, salt, v = entry
    if not (isinstance(N, int) and isinstance(g, int) and isinstance(v, int)):
        raise TypeError("a verifier entry is (N: int, g: int, salt: bytes, verifier: int)")
    return b" ".join(base64.b64encode(b) for b in (_int_bytes(N), _int_bytes(g), bytes(salt), _int_bytes(v)))


def _decode(raw: bytes) -> Verifier:
    try:
        N_raw, g_raw, salt, v_raw = (base64.b64decode(f) for f in bytes(raw).split(b" "))
    except (ValueError, binascii.Error):
        raise ValueError("a damaged verifier entry") from None
    N, g, v = int.from_bytes(N_raw, "big"), int.from_bytes(g_raw, "big"), int.from_bytes(v_raw, "big")
    # what RFC 5054's arithmetic needs: an odd modulus of at most 8192 bits, 1 < g < N, 0 < v < N
    if not (N > 2 and N & 1 and N.bit_length() <= max(SRP_GROUP_BITS) and 1 < g < N and 0 < v < N
            and 0 < len(salt) <= 255):
        raise ValueError("a damaged verifier entry")
    return N, g, salt, v


class VerifierDB:
    """SRP verifiers by username: in memory (no filename) or in a dbm file.

    Every access takes one lock, so a server's threads can share one database.
    """

    def __init__(self, filename: Optional[str] = None) -> None:
        self.filename = filename
        self.db: Optional[Union[Dict[str, bytes], "dbm._Database"]] = None if filename else {}
        self.lock = threading.Lock()

    # ---- opening --------------------------------------------------------------------------------
    def create(self) -> None:
        """Start a new, empty database (replacing any file of that name)."""
        with self.lock:
            if not self.filename:
                self.db = {}
                return
            self.db = dbm.open(self.filename, "n")
            self.db[_TYPE_KEY] = _TYPE

    def open(self) -> None:
        """Open an existing on-disk database.

        :raises ValueError: for an in-memory database, or a file that is not a verifier database.
        :raises dbm.error: when the file cannot be opened.
        """
        if not self.filename:
            raise ValueError("only an on-disk database can be opened")
        with self.lock:
            db = dbm.open(self.filename, "w")
            try:
                kind = db[_TYPE_KEY]
            except KeyError:
                db.close()
                raise ValueError("%s is not a verifier database" % self.filename) from None
            if kind != _TYPE.encode():
                db.close()
                raise ValueError("%s is not a verifier database" % self.filename)
            self.db = db

    def close(self) -> None:
        with self.lock:
            if self.filename and self.db is not None:
                cast("dbm._Database", self.db).close()  # a file name: a dbm database
            self.db = None if self.filename else self.db

    def _need(self) -> Union[Dict[str, bytes], "dbm._Database"]:
        if self.db is None:
            raise ValueError("the database is not open (call create() or open())")
        return self.db

    def _sync(self) -> None:
        sync = getattr(self.db, "sync", None)
        if sync is not None:
            sync()

    # ---- the mapping ----------------------------------------------------------------------------
    def __getitem__(self, username: Union[str, bytes]) -> Verifier:
        with self.lock:
            return _decode(self._need()[_name(username)])

    def __setitem__(self, username: Union[str, bytes], entry: Verifier) -> None:
        raw = _encode(entry)
        with self.lock:
            self._need()[_name(username)] = raw
            self._sync()

    def __delitem__(self, username: Union[str, bytes]) -> None:
        with self.lock:
            del self._need()[_name(username)]
            self._sync()

    def __contains__(self, username: object) -> bool:
        try:
            name = _name(username)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        with self.lock:
            return name in self._need()

    def keys(self) -> List[str]:
        """The usernames, sorted."""
        with self.lock:
            names = [k.decode("utf-8") if isinstance(k, bytes) else k for k in self._need().keys()]
        return sorted(n for n in names if not n.startswith("--Reserved--"))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    add = __setitem__

    def delete(self, username: Union[str, bytes]) -> None:
        del self[username]

    def check(self, username: Union[str, bytes], password: Union[str, bytes]) -> bool:
        """True when password is username's (the verifier is recomputed with the stored salt)."""
        N, g, salt, v = self[username]
        _, v2 = m2.srp_create_verifier(_name(username), _text(password), N, g, salt)
        n = (N.bit_length() + 7) // 8
        return hmac.compare_digest(v.to_bytes(n, "big"), v2.to_bytes(n, "big"))

    @staticmethod
    def makeVerifier(username: Union[str, bytes], password: Union[str, bytes], bits: int) -> Verifier:
        """A new (N, g, salt, verifier) for RFC 5054's group of bits bits and a random salt.

        :raises ValueError: when bits is not one of 1024, 1536, 2048, 3072, 4096, 6144, 8192.
        """
        if bits not in SRP_GROUP_BITS:
            raise ValueError("SRP groups have %s bits, not %r" % (", ".join(map(str, SRP_GROUP_BITS)), bits))
        N, g = m2.srp_group(bits)
        salt, v = m2.srp_create_verifier(_name(username), _text(password), N, g, None)
        return N, g, salt, v

    def _lookup(self, username: bytes) -> Optional[Verifier]:
        """The server's view: the entry of username, None when unknown."""
        try:
            return self[username]
        except (KeyError, ValueError, UnicodeDecodeError):
            return None


def _text(password: Union[str, bytes]) -> str:
    if isinstance(password, (bytes, bytearray)):
        return bytes(password).decode("utf-8")
    if not isinstance(password, str):
        raise TypeError("a password is str or bytes")
    return password
