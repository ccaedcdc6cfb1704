"""What every fuzz target shares: atheris set-up, the exceptions a parser may raise, and the
checks made after each input.

A target module defines ``one_input(data: bytes)`` that parses ``data`` with one M2Sec parser
and calls ``main(one_input, EXPECTED)``.  An input fails (libFuzzer writes it out as crash-*) when
the parser

- raises anything outside ``EXPECTED`` (M2Sec's documented exceptions for that parser), or
- leaves an error in OpenSSL's queue (every M2Sec call must leave it empty), or
- takes longer than libFuzzer's -timeout, or exceeds -rss_limit_mb.

Run one:  python tests/fuzz/fuzz_x509.py -max_total_time=60 NEWDIR tests/fuzz/corpus/x509
(libFuzzer's flags; the first directory receives new inputs).  ``make fuzz`` runs them all.
"""

import os
import sys
from typing import Any, Callable, Tuple, Type

import atheris

# Instrument M2Sec's Python code for coverage: every module a target parses with is imported
# here, inside the block (atheris instruments only what is imported in it).
with atheris.instrument_imports(include=["M2Sec"]):
    import M2Sec  # noqa: F401
    import M2Sec.AuthCookie  # noqa: F401
    import M2Sec.mail  # noqa: F401
    import M2Sec.SMIME  # noqa: F401
    import M2Sec.SSH.authorized_keys  # noqa: F401
    import M2Sec.SSH.config  # noqa: F401
    import M2Sec.SSH.connection  # noqa: F401
    import M2Sec.SSH.keys  # noqa: F401
    import M2Sec.SSH.knownhosts  # noqa: F401
    import M2Sec.SSH.scp  # noqa: F401
    import M2Sec.SSH.server  # noqa: F401
    import M2Sec.SSH.sftp  # noqa: F401
    import M2Sec.SSH.sftp_client  # noqa: F401
    import M2Sec.SSH.sftp_server  # noqa: F401
    import M2Sec.TLS._engine  # noqa: F401
    import M2Sec.TLS.settings  # noqa: F401
    import M2Sec.TLS.verifierdb  # noqa: F401
    import M2Sec.X509  # noqa: F401
    from M2Sec import m2

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


class QueueLeft(AssertionError):
    """The parser returned (or raised) with an error left in OpenSSL's queue."""


def checked(one_input: Callable[[bytes], None], expected: Tuple[Type[BaseException], ...],
            known_open: Tuple[Type[BaseException], ...] = ()) -> Callable[[bytes], None]:
    """one_input wrapped: expected exceptions swallowed, OpenSSL's queue checked after each input.

    known_open are defects already filed and being fixed elsewhere: tolerated so that the
    target keeps looking for new ones, unless FUZZ_STRICT=1 is set.
    """
    if os.environ.get("FUZZ_STRICT") == "1":
        known_open = ()

    def run(data: bytes) -> None:
        try:
            one_input(data)
        except expected:
            pass
        except known_open:
            pass
        code = m2.err_peek_error()
        if code:
            m2.err_clear_error()
            raise QueueLeft("OpenSSL error 0x%x left in the queue" % code)
    return run


def main(one_input: Callable[[bytes], None], expected: Tuple[Type[BaseException], ...],
         known_open: Tuple[Type[BaseException], ...] = ()) -> None:
    """atheris.Setup + Fuzz with sys.argv (libFuzzer's flags and corpus directories)."""
    atheris.Setup(sys.argv, checked(one_input, expected, known_open))
    atheris.Fuzz()


def split(data: bytes, parts: int = 8) -> list:
    """Cut data into pieces at the byte 0xFF 0x00 (so that mutations can make and join pieces)."""
    return data.split(b"\xff\x00", parts)


def run_now(coro: Any) -> None:
    """Run a coroutine that never waits (a target's fakes answer at once): no event loop."""
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise AssertionError("the coroutine waited")
