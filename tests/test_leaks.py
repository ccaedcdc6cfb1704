"""Leak check: 100,000 create/free cycles of each owner class keep resident memory flat."""

import datetime
import gc

import pytest

from M2Sec import ASN1, BIO, EVP, X509

CYCLES = 100_000
WARMUP = 5_000
LIMIT = 4 * 1024 * 1024  # a few MiB of slack for allocator noise

_DT = datetime.datetime(2030, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)


def _membuf():
    b = BIO.MemoryBuffer(b"leak check data" * 4)
    b.read(10)
    b.free()


def _membuf_collected():
    BIO.MemoryBuffer(b"freed by __del__")


def _integer():
    with ASN1.ASN1_Integer(2 ** 300 + 17) as i:
        int(i)


def _string():
    s = ASN1.ASN1_String(b"an ASN.1 string of some length")
    bytes(s)
    s.close()


def _time():
    t = ASN1.ASN1_TIME()
    t.set_datetime(_DT)
    t.get_datetime()
    t.close()


def _utctime():
    t = ASN1.ASN1_UTCTIME()
    t.set_string("300506070809Z")
    t.close()


def _name():
    n = X509.X509_Name()
    n.CN = "leak.example"
    n.O = "Org"
    n.as_der()
    n.close()


def _pkey():
    p = EVP.PKey()
    p.close()


CASES = [_membuf, _membuf_collected, _integer, _string, _time, _utctime, _name, _pkey]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cycle", CASES, ids=[c.__name__.lstrip("_") for c in CASES])
def test_resident_memory_stays_flat(cycle, rss):
    for _ in range(WARMUP):
        cycle()
    gc.collect()
    before = rss()
    for _ in range(CYCLES):
        cycle()
    gc.collect()
    after = rss()
    growth = after - before
    print("%s: RSS %.1f MiB -> %.1f MiB (%+d KiB over %d cycles)"
          % (cycle.__name__, before / 2 ** 20, after / 2 ** 20, growth // 1024, CYCLES))
    assert growth < LIMIT, "%s grew RSS by %d KiB" % (cycle.__name__, growth // 1024)


def test_leak_check_can_detect_a_leak(rss):
    """The measurement itself works: keeping 100,000 buffers alive shows up."""
    gc.collect()
    before = rss()
    kept = [BIO.MemoryBuffer(b"x" * 64) for _ in range(CYCLES)]
    after = rss()
    assert after - before > LIMIT
    for b in kept:
        b.free()
