"""M2Crypto's threading module.  OpenSSL 3 is thread-safe by itself: these do nothing."""

from M2Sec import m2


def init() -> None:
    """Kept for M2Crypto's API; OpenSSL 3 needs no locking set-up."""
    m2.threading_init()


def cleanup() -> None:
    """Kept for M2Crypto's API."""
    m2.threading_cleanup()
