"""close() from another thread while a call runs on the object without the GIL, or as the call
is entered (after its Python method fetched the pointer): the call finishes (or raises
ClosedError), nothing is freed under it, and each pointer is freed once.

Each scenario runs in a child process (tests/free_concurrent_child.py), so that a use after
free that crashes the interpreter fails its test.  In the child glibc's malloc overwrites what
is freed (MALLOC_PERTURB_, with its per-thread cache off so that every free goes through the
checks: a double free aborts), so that a call still reading freed memory computes garbage or
crashes."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(600)

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "free_concurrent_child.py")

SCENARIOS = {  # name -> rounds
    "digest": 8,
    "hmac": 8,
    "cipher": 6,
    "pkey_digest_sign": 6,
    "cms_verify": 6,
    "cms_decrypt": 6,
    "cms_to_der": 6,
    "bio_read": 6,
    "pkcs7_decrypt": 4,
    # each also closes the object as a call is entered (after the method fetched the pointer)
    "x509": 4,
    "pkey": 4,
    "bio": 4,
    "smime": 4,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_close_during_released_call(name):
    env = dict(os.environ, MALLOC_PERTURB_="165", GLIBC_TUNABLES="glibc.malloc.tcache_count=0")
    env["PYTHONPATH"] = os.pathsep.join([HERE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    proc = subprocess.run([sys.executable, CHILD, name, str(SCENARIOS[name])], capture_output=True, timeout=540,
                          env=env, cwd=HERE)
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, "the child ended with %d (a negative value is a signal)\n%s\n%s" % (
        proc.returncode, out, err[-4000:])
    assert out.startswith("ok "), out
    # at least one close() landed while the call ran, and that call did the free
    assert int(out.split()[1]) > 0, "no close() landed during a call: the test proved nothing"


def test_close_while_the_pointer_is_held_frees_at_its_last_reference():
    """What a close() landing between a method's fetch of the pointer and its C call sees, in one
    thread: the pointer object is still held, so the free waits for it (m2.lib_frees_waiting),
    the held pointer still works, and its last reference does the free, once."""
    from M2Sec import BIO, EVP, SMIME, X509, m2
    from M2Sec.Err import ClosedError

    import pki_helpers

    key = pki_helpers.new_key("EC")
    cert = pki_helpers.build_cert("held", key, None, key, 1, [])
    der = cert.as_der()
    objects = [
        (X509.load_cert_der_string(der), lambda p: m2.i2d_x509(p) == der, lambda o: o.as_der()),
        (EVP.load_key_der(key.private_der()), lambda p: m2.pkey_get1_der_pub(p) == key.as_der(), lambda o: o.as_der()),
        (BIO.MemoryBuffer(b"held"), lambda p: m2.bio_read(p, 4) == b"held", lambda o: o.write(b"x")),
    ]
    s = SMIME.SMIME()
    s.set_key(key, cert)
    p7 = s.sign(BIO.MemoryBuffer(b"held"), SMIME.PKCS7_BINARY)
    objects.append((p7, lambda p: m2.pkcs7_type_nid(p) == SMIME.PKCS7_SIGNED, lambda o: o.as_der()))
    for obj, works, use in objects:
        waiting, deferred = m2.lib_frees_waiting(), m2.lib_pointers_in_use()[1]
        held = obj._ptr()
        obj.free() if isinstance(obj, BIO.MemoryBuffer) else obj.close()
        assert m2.lib_frees_waiting() == waiting + 1, obj
        with pytest.raises(ClosedError):
            use(obj)
        assert works(held), obj
        del held
        assert m2.lib_frees_waiting() == waiting and m2.lib_pointers_in_use()[1] == deferred + 1, obj
    # not held: freed at once
    c = X509.load_cert_der_string(der)
    waiting, deferred = m2.lib_frees_waiting(), m2.lib_pointers_in_use()[1]
    c.close()
    assert (m2.lib_frees_waiting(), m2.lib_pointers_in_use()[1]) == (waiting, deferred)


def test_a_closed_bio_raises_bioerror_and_closederror():
    from M2Sec import BIO
    from M2Sec.Err import ClosedError

    b = BIO.MemoryBuffer(b"x")
    b.free()
    with pytest.raises(BIO.BIOError) as e:
        b.write(b"y")
    assert isinstance(e.value, ClosedError)
