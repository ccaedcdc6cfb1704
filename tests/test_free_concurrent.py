"""close() from another thread while a call runs on the object without the GIL: the call
finishes (or raises ClosedError), nothing is freed under it, and each pointer is freed once.

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
