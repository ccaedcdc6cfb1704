"""SessionCache: a server's memory of sessions, bounded in size and age, shared between threads."""

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Optional, Tuple


class SessionCache:
    """Up to maxEntries sessions, each kept for maxAge seconds (TLS Lite's defaults: 10000, 4 hours).

    A server passes it to :meth:`TLSConnection.handshakeServer`: connections handshaking with the
    same cache and the same credentials share one OpenSSL context, whose session cache and
    ticket lifetime take these limits, so clients can resume (by session ID in TLS 1.2, by ticket
    in TLS 1.3).  The cache also holds the :class:`Session` of every handshake by session ID.
    """

    def __init__(self, maxEntries: int = 10000, maxAge: int = 14400, clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(maxEntries, int) or maxEntries < 1:
            raise ValueError("maxEntries must be a positive int")
        if not isinstance(maxAge, (int, float)) or maxAge <= 0:
            raise ValueError("maxAge must be a positive number of seconds")
        self.maxEntries = maxEntries
        self.maxAge = maxAge
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: "OrderedDict[bytes, Tuple[float, Any]]" = OrderedDict()
        self._contexts: Dict[Hashable, Any] = {}

    def _expire(self, now: float) -> None:
        while self._entries:
            key, (stamp, _) = next(iter(self._entries.items()))
            if now - stamp < self.maxAge and len(self._entries) <= self.maxEntries:
                break
            del self._entries[key]

    def __getitem__(self, sessionID: bytes) -> Any:
        """The session stored under sessionID.

        :raises KeyError: when it is unknown or older than maxAge.
        """
        with self._lock:
            self._expire(self._clock())
            return self._entries[bytes(sessionID)][1]

    def __setitem__(self, sessionID: bytes, session: Any) -> None:
        with self._lock:
            key = bytes(sessionID)
            self._entries.pop(key, None)
            self._entries[key] = (self._clock(), session)
            self._expire(self._clock())

    def __contains__(self, sessionID: object) -> bool:
        try:
            self[sessionID]  # type: ignore[index]
            return True
        except (KeyError, TypeError):
            return False

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._entries)

    def _context(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The server context for key, made once by make()."""
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None:
                ctx = self._contexts[key] = make()
            return ctx
