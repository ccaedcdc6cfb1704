"""One scenario of tests/test_free_concurrent.py, run in a child process (so that a use after
free that crashes fails that test, not the whole run): ``python free_concurrent_child.py NAME
ROUNDS``.

Each round makes a fresh object, starts a thread inside a long call on it that releases the GIL
(a digest of 256 MiB, a CMS verify of 48 MiB...), closes the object from the main thread while
the call runs, and checks that close() returned at once, that the call either finished with the
right result or raised ClosedError, and that later use raises ClosedError.  At the end no pointer
may still be counted in use, and some frees must have been left to the call (m2's counters).
Prints "ok <deferred frees>" on success.
"""

import mmap
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

from M2Sec import BIO, CMS, EVP, SMIME, X509, m2
from M2Sec.Err import ClosedError

import pki_helpers

#: sizes are divided by this (to run the scenarios under valgrind: FREE_CONCURRENT_DIVISOR=16)
DIVISOR = int(os.environ.get("FREE_CONCURRENT_DIVISOR", "1"))
BIG = (48 << 20) // DIVISOR  # past glibc's largest mmap threshold: freeing the content unmaps it
HUGE = (256 << 20) // DIVISOR
KEY, IV = bytes(range(16)), bytes(16)


def zeros(n: int) -> memoryview:
    """n zero bytes that cost no memory (untouched anonymous pages)."""
    return memoryview(mmap.mmap(-1, n))


def race(obj: Any, call: Callable[[Any], Any], close: Callable[[Any], None], delay: float,
         after: Callable[[], None] = lambda: None, closed: Tuple[type, ...] = (ClosedError,)) -> Tuple[str, Any]:
    """Run call(obj) in a thread, close obj after delay seconds, then run after() (which lets a
    blocked call go on); ("ok", result) or ("closed", exc) where the call raised one of closed."""
    out: Dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            out["ok"] = call(obj)
        except closed as exc:
            out["closed"] = exc
        except BaseException as exc:  # reported by the main thread
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    time.sleep(delay)
    t0 = time.monotonic()
    close(obj)  # must neither raise nor wait for the call
    took = time.monotonic() - t0
    after()
    t.join(120)
    assert not t.is_alive(), "the call never returned"
    assert took < 0.5, "close() waited %.2fs for the call" % took
    if "error" in out:
        raise AssertionError("the call raised %r" % (out["error"],))
    return ("ok", out["ok"]) if "ok" in out else ("closed", out["closed"])


def pki() -> Tuple[Any, Any]:
    key = pki_helpers.new_key("EC")
    cert = pki_helpers.build_cert("free-concurrent", key, None, key, 1, [])
    return key, cert


def scenarios() -> Dict[str, Callable[[int], None]]:
    delays = [0.0, 0.001, 0.005, 0.02]

    def digest(rounds: int) -> None:
        data = zeros(HUGE)
        for i in range(rounds):
            md = EVP.MessageDigest("sha256")
            kind, r = race(md, lambda o: o.update(data), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == 1, r
            try:
                md.final()
                raise AssertionError("final() after close() did not raise")
            except ClosedError:
                pass

    def hmac(rounds: int) -> None:
        data = zeros(HUGE)
        want = EVP.hmac(b"k", b"small", "sha256")
        for i in range(rounds):
            h = EVP.HMAC(b"key", "sha256")
            race(h, lambda o: o.update(data), lambda o: o.close(), delays[i % len(delays)])
            # the contexts go back to a pool: one released under a running call would be handed out again
            for _ in range(3):
                h2 = EVP.HMAC(b"k", "sha256")
                h2.update(b"small")
                assert h2.final() == want

    def cipher(rounds: int) -> None:
        data = bytes(BIG)
        want = EVP.Cipher("aes_128_ctr", KEY, IV, 1).update(data)
        for i in range(rounds):
            c = EVP.Cipher("aes_128_ctr", KEY, IV, 1)
            kind, r = race(c, lambda o: o.update(data), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == want

    def pkey_digest_sign(rounds: int) -> None:
        data = bytes(BIG)
        for i in range(rounds):
            k = pki_helpers.new_key("EC")
            k.reset_context("sha256")
            k.digest_sign_init()
            kind, r = race(k, lambda o: o.digest_sign(data), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or isinstance(r, bytes)

    def cms_verify(rounds: int) -> None:
        key, cert = pki()
        data = bytes(BIG)
        store = X509.X509_Store()
        store.add_x509(cert)
        for i in range(rounds):
            ci = CMS.sign(data, key, cert)
            kind, r = race(ci, lambda o: CMS.verify(o, store, require_trust=False).content,
                           lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == data

    def cms_decrypt(rounds: int) -> None:
        key, cert = pki()
        data = bytes(BIG)
        der = CMS.encrypt(data, [cert], cipher="aes-128-cbc").to_der()
        for i in range(rounds):
            ci = CMS.load_der(der)
            kind, r = race(ci, lambda o: CMS.decrypt(o, key, cert), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == data

    def cms_to_der(rounds: int) -> None:
        key, cert = pki()
        want = CMS.sign(bytes(BIG), key, cert).to_der()
        for i in range(rounds):
            ci = CMS.load_der(want)
            kind, r = race(ci, lambda o: o.to_der(), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == want

    def bio_read(rounds: int) -> None:
        # a read blocked on an empty pipe, its BIO closed meanwhile, then data written
        for i in range(rounds):
            rfd, wfd = os.pipe()
            try:
                b = BIO.BIO(m2.bio_new_fd(rfd, m2.bio_noclose), 1)
                kind, r = race(b, lambda o: o.read(5), lambda o: o.close(), delays[i % len(delays)] + 0.01,
                               after=lambda: os.write(wfd, b"hello"), closed=(ClosedError, BIO.BIOError))
                assert kind == "closed" or r == b"hello", r
            finally:
                os.close(rfd)
                os.close(wfd)

    def pkcs7_decrypt(rounds: int) -> None:
        key = pki_helpers.new_key("RSA")
        cert = pki_helpers.build_cert("free-concurrent", key, None, key, 1, [])
        data = bytes(BIG)
        s = SMIME.SMIME()
        s.pkey, s.x509 = key, cert
        stack = X509.X509_Stack()
        stack.push(cert)
        s.set_x509_stack(stack)
        s.set_cipher(SMIME.Cipher("aes_128_cbc"))
        der = s.encrypt(BIO.MemoryBuffer(data), SMIME.PKCS7_BINARY).as_der()
        for i in range(rounds):
            p7 = SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(der))
            kind, r = race(p7, lambda o: s.decrypt(o, SMIME.PKCS7_BINARY), lambda o: o.close(),
                           delays[i % len(delays)])
            assert kind == "closed" or r == data

    return {f.__name__: f for f in (digest, hmac, cipher, pkey_digest_sign, cms_verify, cms_decrypt, cms_to_der,
                                    bio_read, pkcs7_decrypt)}


def main(argv: List[str]) -> int:
    name, rounds = argv[1], int(argv[2])
    scenarios()[name](rounds)
    in_use, deferred = m2.lib_pointers_in_use()
    assert in_use == 0, "%d pointers still counted in use" % in_use
    print("ok", deferred)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
