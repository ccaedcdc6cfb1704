"""M2Sec.Provider: OpenSSL 3 providers, and keys loaded by URI through OSSL_STORE."""

import pytest

from M2Sec import BIO, EVP, Err, Provider, m2
from conftest import run_openssl


def _system_has_legacy():
    proc = run_openssl(["list", "-providers", "-provider", "legacy"], check=False)
    return proc.returncode == 0 and b"legacy" in proc.stdout


HAS_LEGACY = _system_has_legacy()


def test_default_provider_is_active():
    assert "default" in Provider.names()
    assert Provider.available("default")


def test_provider_error_is_rooted():
    assert issubclass(Provider.ProviderError, Err.M2SecError)
    assert issubclass(Provider.ProviderError, ValueError)


def _bf_cbc_encrypt(key, iv, data):
    mem = BIO.MemoryBuffer()
    cf = BIO.CipherStream(mem)
    cf.set_cipher("bf_cbc", key, iv, 1)
    cf.write(data)
    cf.flush()
    cf.close()
    out = mem.read()
    mem.free()
    return out


def test_legacy_provider(openssl):
    if not HAS_LEGACY:
        with pytest.raises(Provider.ProviderError, match="cannot load the provider"):
            Provider.load("legacy")
        return
    was_loaded = Provider.available("legacy")
    Provider.load("legacy")
    try:
        assert Provider.available("legacy") and Provider.available("default")
        assert "legacy" in Provider.names()
        Provider.load("legacy")  # a second load does nothing
        key, iv, data = bytes(range(16)), bytes(8), b"legacy provider data"
        ours = _bf_cbc_encrypt(key, iv, data)
        theirs = openssl(["enc", "-bf-cbc", "-provider", "legacy", "-provider", "default",
                          "-K", key.hex(), "-iv", iv.hex()], input=data).stdout
        assert ours == theirs
    finally:
        if not was_loaded:
            Provider.unload("legacy")
    if not was_loaded:
        assert not Provider.available("legacy")


def test_unknown_provider_raises_clearly():
    with pytest.raises(Provider.ProviderError, match="cannot load the provider"):
        Provider.load("no_such_provider_m2sec")
    assert "no_such_provider_m2sec" not in Provider.names()
    with pytest.raises(Provider.ProviderError):
        Provider.Provider("no_such_provider_m2sec")


def test_unload_not_loaded():
    with pytest.raises(KeyError):
        Provider.unload("never_loaded")


def test_load_none_is_type_error():
    with pytest.raises(TypeError):
        m2.provider_load(None, None)


@pytest.fixture(scope="module")
def keyfiles(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    rsa, ec = d / "rsa.pem", d / "ec.pem"
    run_openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa)])
    run_openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(ec)])
    pub = d / "rsa.pub"
    run_openssl(["pkey", "-in", str(rsa), "-pubout", "-out", str(pub)])
    der = d / "rsa.pub.der"
    run_openssl(["pkey", "-in", str(rsa), "-pubout", "-outform", "DER", "-out", str(der)])
    return {"rsa": rsa, "ec": ec, "pub": pub, "der": der, "dir": d}


def test_provider_load_key_from_file(keyfiles):
    with Provider.Provider("default") as p:
        assert p.get_name() == "default"
        key = p.load_key("file:" + str(keyfiles["rsa"]))
        assert isinstance(key, EVP.PKey)
        assert key.bits() == 2048
        assert key.size() == 256
        assert key.get_der_pub() == keyfiles["der"].read_bytes()
        ec = p.load_key("file:" + str(keyfiles["ec"]))
        assert ec.bits() == 256
        pub = p.load_key("file:" + str(keyfiles["pub"]))  # a public key when no private one
        assert pub.get_der_pub() == keyfiles["der"].read_bytes()
        key.close()
        ec.close()
        pub.close()


def test_provider_load_key_errors(keyfiles):
    with Provider.Provider("default") as p:
        with pytest.raises(Provider.ProviderError):
            p.load_key("file:" + str(keyfiles["dir"] / "missing.pem"))
        junk = keyfiles["dir"] / "junk.pem"
        junk.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n")
        with pytest.raises(Provider.ProviderError):
            p.load_key("file:" + str(junk))
        empty = keyfiles["dir"] / "empty.pem"
        empty.write_bytes(b"")
        with pytest.raises(Provider.ProviderError):
            p.load_key("file:" + str(empty))
        truncated = keyfiles["dir"] / "trunc.pem"
        truncated.write_bytes(keyfiles["rsa"].read_bytes()[:200])
        with pytest.raises(Provider.ProviderError):
            p.load_key("file:" + str(truncated))
        with pytest.raises(TypeError):
            p.load_key(None)


def test_closed_provider(keyfiles):
    p = Provider.Provider("default")
    p.close()
    p.close()
    with pytest.raises(Provider.ProviderError, match="closed"):
        p.load_key("file:" + str(keyfiles["rsa"]))
    with pytest.raises(Provider.ProviderError):
        p.get_name()
