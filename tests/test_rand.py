"""M2Sec.Rand: OpenSSL's random generator."""

import os

import pytest

from M2Sec import Rand, m2


@pytest.mark.parametrize("n", [0, 1, 16, 4097, 100_000])
def test_rand_bytes_length(n):
    out = Rand.rand_bytes(n)
    assert isinstance(out, bytes) and len(out) == n


def test_rand_bytes_differ():
    assert len({Rand.rand_bytes(16) for _ in range(20)}) == 20
    assert Rand.rand_priv_bytes(32) != Rand.rand_priv_bytes(32)


def test_rand_bytes_not_constant():
    data = Rand.rand_bytes(4096)
    assert len(set(data)) > 200  # all 256 values are expected; a stuck generator gives few


@pytest.mark.parametrize("fn", [Rand.rand_bytes, Rand.rand_priv_bytes])
def test_negative_count_raises(fn):
    with pytest.raises(MemoryError):
        fn(-1)


@pytest.mark.parametrize("bad", ["16", 1.5, None])
def test_wrong_count_type(bad):
    with pytest.raises(TypeError):
        Rand.rand_bytes(bad)


def test_rand_pseudo_bytes_deprecated():
    with pytest.warns(DeprecationWarning):
        out, ok = Rand.rand_pseudo_bytes(8)
    assert len(out) == 8 and ok == 1


def test_status_and_poll():
    assert Rand.rand_status() == 1
    assert Rand.rand_poll() == 1


@pytest.mark.parametrize("data", [b"seed", bytearray(b"seed"), memoryview(b"seed"), b""])
def test_seed_and_add_accept_buffers(data):
    assert Rand.rand_seed(data) is None
    assert Rand.rand_add(data, 0.5) is None
    assert Rand.rand_status() == 1


@pytest.mark.parametrize("bad", ["text", 5, None])
def test_seed_rejects_non_bytes(bad):
    with pytest.raises(TypeError):
        Rand.rand_seed(bad)
    with pytest.raises(TypeError):
        Rand.rand_add(bad, 1.0)


def test_add_rejects_non_number_entropy():
    with pytest.raises((TypeError, ValueError)):
        Rand.rand_add(b"x", "lots")


def test_save_and_load_file(tmp):
    path = tmp / "seed.rnd"
    n = Rand.save_file(str(path))
    assert n > 0
    assert path.stat().st_size == n
    assert Rand.load_file(str(path), -1) == n
    assert Rand.load_file(os.fsencode(str(path)), 16) == 16


def test_load_missing_file(tmp):
    assert Rand.load_file(str(tmp / "missing"), -1) == -1


def test_save_to_missing_dir(tmp):
    assert Rand.save_file(str(tmp / "no" / "dir")) == -1


def test_load_file_none_raises():
    with pytest.raises(TypeError):
        m2.rand_load_file(None, -1)


def test_rand_file_name_follows_randfile(monkeypatch, tmp):
    target = str(tmp / "my.rnd")
    monkeypatch.setenv("RANDFILE", target)
    assert Rand.rand_file_name() == target
    monkeypatch.delenv("RANDFILE")
    monkeypatch.setenv("HOME", str(tmp))
    assert Rand.rand_file_name() == os.path.join(str(tmp), ".rnd")


def test_all_exports_exist():
    for name in Rand.__all__:
        assert hasattr(Rand, name)
    assert issubclass(Rand.RandError, ValueError)
