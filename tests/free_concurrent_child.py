"""One scenario of tests/test_free_concurrent.py, run in a child process (so that a use after
free that crashes fails that test, not the whole run): ``python free_concurrent_child.py NAME
ROUNDS``.

Each round makes a fresh object, starts a thread inside a long call on it that releases the GIL
(a digest of 256 MiB, a CMS verify of 48 MiB...), closes the object from the main thread while
the call runs, and checks that close() returned at once, that the call either finished with the
right result or raised ClosedError, and that later use raises ClosedError.  The objects whose
methods fetch the pointer first (X509, PKey, BIO, PKCS#7) are also closed at the moment a call
is entered (enter()) and anywhere in a loop (enter_loop()).  At the end no pointer may still be
counted in use or wait for a free, and some frees must have been left to the call (m2's counters).
Prints "ok <deferred frees>" on success.
"""

import gc
import mmap
import os
import random
import sys
import tempfile
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
        _record(out, call, obj, closed)

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    time.sleep(delay)
    t0 = time.monotonic()
    close(obj)  # must neither raise nor wait for the call
    took = time.monotonic() - t0
    after()
    assert took < 0.5, "close() waited %.2fs for the call" % took
    return _outcome(t, out)


def _record(out: Dict[str, Any], call: Callable[[Any], Any], obj: Any, closed: Tuple[type, ...]) -> None:
    """out["ok"] = call(obj), or out["closed"] (one of closed) or out["error"] = what it raised."""
    try:
        out["ok"] = call(obj)
    except closed as exc:
        out["closed"] = exc
    except BaseException as exc:  # reported by the main thread
        out["error"] = exc


def _outcome(t: threading.Thread, out: Dict[str, Any]) -> Tuple[str, Any]:
    """Wait for the calling thread t; ("ok", result) or ("closed", exc) from out (_record)."""
    t.join(120)
    assert not t.is_alive(), "the call never returned"
    if "error" in out:
        raise AssertionError("the call raised %r" % (out["error"],))
    return ("ok", out["ok"]) if "ok" in out else ("closed", out["closed"])


def enter(obj: Any, call: Callable[[Any], Any], close: Callable[[Any], None], match: Tuple[str, ...] = (),
          closed: Tuple[type, ...] = (ClosedError,)) -> Tuple[str, Any]:
    """Close obj from this thread at the moment another thread's call on it reaches its first m2
    function (of those named in match, if given): after its Python method fetched the pointer
    (``self._ptr()``), before the C call uses it.  A profile hook holds the calling thread there
    until close() has returned, which is the GIL switch that a close() from another thread can
    land on.  ("ok", result) or ("closed", exc) as race()."""
    out: Dict[str, Any] = {}
    at_call, resume = threading.Event(), threading.Event()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if (event == "c_call" and not at_call.is_set() and getattr(arg, "__module__", None) == "M2Sec._m2sec"
                and (not match or arg.__name__ in match)):
            at_call.set()
            resume.wait(60)

    def run() -> None:
        sys.setprofile(hook)  # this thread's only
        try:
            _record(out, call, obj, closed)
        finally:
            sys.setprofile(None)

    t = threading.Thread(target=run)
    t.start()
    reached = at_call.wait(60)
    try:
        close(obj)
    finally:
        resume.set()
    assert reached, "the call never reached %s" % (match or "an m2 function",)
    return _outcome(t, out)


def enter_loop(make: Callable[[], Any], call: Callable[[Any], Any], close: Callable[[Any], None],
               good: Callable[[Any], bool], seconds: float = 2.0,
               closed: Tuple[type, ...] = (ClosedError,)) -> int:
    """For about `seconds`: make an object, let another thread call(obj) on it over and over until
    that raises one of closed, and close it from this thread at a random moment, with the GIL
    switched every microsecond so that the close lands anywhere, between a method's fetch of the
    pointer and its C call too.  Every result must satisfy good().  The number of objects."""
    rng = random.Random(1)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    n = 0
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            obj, bad = make(), []  # type: Tuple[Any, List[Any]]
            started = threading.Event()

            def run() -> None:
                started.set()
                while True:
                    try:
                        r = call(obj)
                    except closed:
                        return
                    except BaseException as exc:
                        bad.append(exc)
                        return
                    if not good(r):
                        bad.append(r)
                        return

            t = threading.Thread(target=run)
            t.start()
            started.wait()
            time.sleep(rng.uniform(0, 0.002))
            close(obj)
            t.join(120)
            assert not t.is_alive(), "the call never returned"
            assert not bad, "a call on an object closed meanwhile gave %r" % (bad[0],)
            n += 1
    finally:
        sys.setswitchinterval(old)
    return n


def closed_after(call: Callable[[], Any], closed: Tuple[type, ...] = (ClosedError,)) -> None:
    """call() on a closed object must raise one of closed."""
    try:
        call()
    except closed:
        return
    raise AssertionError("a call after close() did not raise")


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

    # ---- objects whose Python methods fetch the pointer before the call (X509, PKey, BIO,
    # PKCS#7): close() while the call runs, as it is entered, and anywhere in a loop

    def x509(rounds: int) -> None:
        sign_key = EVP.generate_key("RSA", bits=4096)
        key, cert = pki()
        der = cert.as_der()
        for i in range(rounds):  # a 4096-bit RSA signature, its certificate closed meanwhile
            c = X509.load_cert_der_string(der)
            kind, r = race(c, lambda o: o.sign(sign_key, "sha256"), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r > 0, r
            closed_after(c.as_der)
        for i in range(4 * rounds):
            c = X509.load_cert_der_string(der)
            call, match = [(lambda o: o.as_der(), ()), (lambda o: o.verify(key), ()),
                           (lambda o: o.get_fingerprint("sha256"), ()),
                           (lambda o: o.sign(key, "sha256"), ("x509_sign_name",))][i % 4]
            kind, r = enter(c, call, lambda o: o.close(), match)
            assert kind == "ok", "the close() after the pointer was fetched did not let the call finish"
            assert r == (der, 1, cert.get_fingerprint("sha256"), r)[i % 4], r
            closed_after(c.as_der)
        # (verify() fetches the certificate's pointer, then the key's in a Python call: a GIL switch point)
        enter_loop(lambda: X509.load_cert_der_string(der), lambda o: o.verify(key), lambda o: o.close(),
                   lambda r: r == 1)

    def pkey(rounds: int) -> None:
        data = bytes(BIG)
        key = pki_helpers.new_key("EC")
        pub, der = key.as_der(), key.private_der()
        for i in range(rounds):  # a one-shot sign of 48 MiB, its key closed meanwhile
            k = EVP.load_key_der(der)
            kind, r = race(k, lambda o: o.sign(data), lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or key.verify(r, data), r
            closed_after(lambda: k.sign(b"x"))
        for i in range(4 * rounds):
            k = EVP.load_key_der(der)
            if i % 4 == 3:
                k.reset_context("sha256")
                k.digest_sign_init()
            call, match = [(lambda o: o.as_der(), ()), (lambda o: o.sign(b"small"), ("pkey_sign_takes_no_digest",)),
                           (lambda o: o.private_der(), ()), (lambda o: o.digest_sign(b"small"), ("pkey_digest_sign",))][i % 4]
            kind, r = enter(k, call, lambda o: o.close(), match)
            assert kind == "ok", "the close() after the pointer was fetched did not let the call finish"
            assert (r == pub, key.verify(r, b"small"), r == der, key.verify(r, b"small"))[i % 4], r
            closed_after(k.as_der)
        enter_loop(lambda: EVP.load_key_der(der), lambda o: o.sign(b"small"), lambda o: o.close(),
                   lambda r: key.verify(r, b"small"), seconds=1.0)
        enter_loop(lambda: EVP.load_key_der(der), lambda o: o.as_der(), lambda o: o.close(), lambda r: r == pub,
                   seconds=1.0)

    def bio(rounds: int) -> None:
        data = bytes(BIG)
        closed = (ClosedError, BIO.BIOError)
        for i in range(rounds):  # 48 MiB written into a memory BIO, then into a file, the BIO freed meanwhile
            b = BIO.MemoryBuffer()
            kind, r = race(b, lambda o: o.write(data), lambda o: o.free(), delays[i % len(delays)], closed=closed)
            assert kind == "closed" or r == len(data), r
            closed_after(lambda: b.write(b"x"), closed)
            with tempfile.TemporaryFile() as f:
                fb = BIO.File(f, close_pyfile=0, mode="wb")
                kind, r = race(fb, lambda o: o.write(data), lambda o: o.close(), delays[i % len(delays)],
                               closed=closed)
                assert kind == "closed" or r == len(data), r
                closed_after(lambda: fb.write(b"x"), (ClosedError, IOError))
        for i in range(4 * rounds):
            b = BIO.MemoryBuffer(b"hello world")
            call = [lambda o: o.write(b"more"), lambda o: o.read(5), lambda o: o.read(), lambda o: len(o)][i % 4]
            kind, r = enter(b, call, lambda o: o.free(), closed=closed)
            assert kind == "ok", "the close() after the pointer was fetched did not let the call finish"
            assert r == (4, b"hello", b"hello world", 11)[i % 4], r
            closed_after(lambda: b.write(b"x"), closed)
        lines = [b"a\n", b"b\n", b"c\n"]  # (readlines() fetches the pointer, then loops: GIL switch points)
        enter_loop(lambda: BIO.MemoryBuffer(), lambda o: (o.write(b"".join(lines)), o.readlines())[1],
                   lambda o: o.free(), lambda r: r == lines, closed=closed)

    def smime(rounds: int) -> None:
        key = pki_helpers.new_key("RSA")
        cert = pki_helpers.build_cert("free-concurrent", key, None, key, 1, [])
        key_der, cert_der = key.private_der(), cert.as_der()
        data = bytes(BIG)
        stack = X509.X509_Stack()
        stack.push(cert)
        store = X509.X509_Store()
        store.add_x509(cert)

        def signer() -> SMIME.SMIME:
            s = SMIME.SMIME()
            s.set_key(EVP.load_key_der(key_der), X509.load_cert_der_string(cert_der))
            s.set_x509_stack(stack)
            s.set_x509_store(store)
            return s

        def close_key(s: SMIME.SMIME) -> None:
            s.pkey.close()
            s.x509.close()

        s0 = signer()
        p7_der = s0.sign(BIO.MemoryBuffer(data), SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY).as_der()
        small_der = s0.sign(BIO.MemoryBuffer(b"small"), SMIME.PKCS7_BINARY).as_der()

        def load(d: bytes) -> Any:
            return SMIME.load_pkcs7_bio_der(BIO.MemoryBuffer(d))

        for i in range(rounds):  # sign 48 MiB, the key and certificate closed meanwhile; verify, the PKCS#7 closed
            s = signer()
            kind, r = race(s, lambda o: o.sign(BIO.MemoryBuffer(data), SMIME.PKCS7_DETACHED | SMIME.PKCS7_BINARY),
                           close_key, delays[i % len(delays)])
            assert kind == "closed" or s0.verify(r, BIO.MemoryBuffer(data), SMIME.PKCS7_BINARY) == data
            closed_after(lambda: s.sign(BIO.MemoryBuffer(b"x")))
            p7 = load(p7_der)
            kind, r = race(p7, lambda o: s0.verify(o, BIO.MemoryBuffer(data), SMIME.PKCS7_BINARY),
                           lambda o: o.close(), delays[i % len(delays)])
            assert kind == "closed" or r == data
            closed_after(p7.as_der)
        for i in range(3 * rounds):
            if i % 3 == 0:  # the signer's key and certificate closed as sign() enters pkcs7_sign1
                s = signer()
                kind, r = enter(s, lambda o: o.sign(BIO.MemoryBuffer(b"small"), SMIME.PKCS7_BINARY), close_key,
                                ("pkcs7_sign1",))
                assert kind == "ok" and s0.verify(r, None, SMIME.PKCS7_BINARY) == b"small"
            else:  # the PKCS#7 closed as verify() or as_der() enters OpenSSL
                p7 = load(small_der)
                call, match = [(lambda o: s0.verify(o, None, SMIME.PKCS7_BINARY), ("pkcs7_verify0",)),
                               (lambda o: o.as_der(), ("pkcs7_write_bio_der",))][i % 3 - 1]
                kind, r = enter(p7, call, lambda o: o.close(), match)
                assert kind == "ok" and r == (b"small", small_der)[i % 3 - 1], r
                closed_after(p7.as_der)
        enter_loop(lambda: load(small_der), lambda o: s0.verify(o, None, SMIME.PKCS7_BINARY), lambda o: o.close(),
                   lambda r: r == b"small")

    return {f.__name__: f for f in (digest, hmac, cipher, pkey_digest_sign, cms_verify, cms_decrypt, cms_to_der,
                                    bio_read, pkcs7_decrypt, x509, pkey, bio, smime)}


def main(argv: List[str]) -> int:
    name, rounds = argv[1], int(argv[2])
    scenarios()[name](rounds)
    in_use, deferred = m2.lib_pointers_in_use()
    assert in_use == 0, "%d pointers still counted in use" % in_use
    gc.collect()
    assert m2.lib_frees_waiting() == 0, "%d frees still waiting for a pointer object" % m2.lib_frees_waiting()
    print("ok", deferred)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
