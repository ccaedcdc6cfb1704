"""RFC 6125 host name and IP address checks: X509.check_host / X509.check_ip."""

import subprocess

import pytest

from M2Sec import X509

from pki_helpers import openssl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def make(tmp_path_factory):
    d = tmp_path_factory.mktemp("hosts")
    counter = [0]

    def mint(cn, san=None):
        counter[0] += 1
        out = d / ("c%d.pem" % counter[0])
        args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(d / "k.pem"), "-subj", "/O=M2Sec/CN=" + cn, "-days", "2", "-out", str(out)]
        if san:
            args += ["-addext", "subjectAltName=" + san]
        openssl(*args)
        return X509.load_cert(str(out)), str(out)

    return mint


def cli_matches(path, host):
    p = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-checkhost", host], capture_output=True,
                       timeout=60)
    out = p.stdout.decode()
    # OpenSSL 3.5 exits 1 on a mismatch, 3.0 exits 0: the text says which it was
    assert ("does match" in out) != ("does NOT match" in out), (p.returncode, out, p.stderr)
    return "does match" in out


@pytest.fixture(scope="module")
def san_cert(make):
    return make("ignored.example.com",
                "DNS:www.example.com,DNS:*.example.org,DNS:w*.example.net,DNS:*.example.info,"
                "DNS:xn--bcher-kva.example.com,DNS:198.51.100.7,IP:192.0.2.1,IP:2001:db8::1")


@pytest.mark.parametrize("host", ["www.example.com", "WWW.Example.COM", "www.example.com.", "a.example.org"])
def test_matches_and_openssl_agrees(san_cert, host):
    cert, path = san_cert
    assert X509.check_host(cert, host) is True
    assert cli_matches(path, host.rstrip("."))


@pytest.mark.parametrize("host", ["example.com", "wwwexample.com", "a.b.example.org", "example.org",
                                  "www.example.com.evil", "ignored.example.com"])
def test_no_match_and_openssl_agrees(san_cert, host):
    cert, path = san_cert
    assert X509.check_host(cert, host) is False
    assert not cli_matches(path, host)


def test_no_partial_wildcards(san_cert):
    cert, path = san_cert
    assert cli_matches(path, "www.example.net")  # OpenSSL's default would allow it...
    assert X509.check_host(cert, "www.example.net") is False  # ...RFC 6125 as applied here does not


def test_idn_a_labels_are_never_wildcarded(san_cert):
    cert, path = san_cert
    assert X509.check_host(cert, "plain.example.info") is True
    assert cli_matches(path, "xn--caf-dma.example.info")  # OpenSSL alone lets '*' match an A-label
    assert X509.check_host(cert, "xn--caf-dma.example.info") is False
    assert X509.check_host(cert, "café.example.info") is False  # the U-label becomes that A-label
    # an A-label matches exactly, also given as its U-label
    assert X509.check_host(cert, "xn--bcher-kva.example.com") is True
    assert X509.check_host(cert, "bücher.example.com") is True
    assert X509.check_host(cert, "xn--bcher-kvb.example.com") is False


def test_ip_addresses(san_cert):
    cert, _ = san_cert
    assert X509.check_ip(cert, "192.0.2.1") is True
    assert X509.check_ip(cert, "192.0.2.2") is False
    assert X509.check_ip(cert, "2001:DB8:0::1") is True
    assert X509.check_ip(cert, "[2001:db8::1]") is True
    assert X509.check_ip(cert, "2001:db8::2") is False
    assert cert.check_ip("192.0.2.1") is True
    # check_host sends IP literals to the iPAddress names only
    assert X509.check_host(cert, "192.0.2.1") is True
    assert X509.check_host(cert, "2001:db8::1") is True
    # a DNS name that looks like an address is not an IP address SAN
    assert X509.check_host(cert, "198.51.100.7") is False
    with pytest.raises(ValueError):
        X509.check_ip(cert, "www.example.com")
    with pytest.raises(ValueError):
        X509.check_ip(cert, "192.0.2")


def test_wildcards_never_match_ip_addresses(make):
    cert, _ = make("x", "DNS:*.0.2.1,DNS:*.example.com")
    assert X509.check_host(cert, "192.0.2.1") is False


def test_cn_fallback_only_without_dns_san(make):
    cn_only, path = make("cn.example.com")
    assert X509.check_host(cn_only, "cn.example.com") is True
    assert cli_matches(path, "cn.example.com")
    assert X509.check_host(cn_only, "other.example.com") is False
    with_san, path = make("cn.example.com", "DNS:san.example.com")
    assert X509.check_host(with_san, "san.example.com") is True
    assert X509.check_host(with_san, "cn.example.com") is False
    assert not cli_matches(path, "cn.example.com")
    # a CN is never an IP address identity
    ip_cn, _ = make("192.0.2.9")
    assert X509.check_host(ip_cn, "192.0.2.9") is False


def test_bad_input(san_cert):
    cert, _ = san_cert
    for bad in ("", ".", ".example.com", "www..example.com", "www.example.com\x00.evil.org"):
        with pytest.raises(ValueError):
            X509.check_host(cert, bad)
    with pytest.raises(TypeError):
        X509.check_host(cert, 42)
    with pytest.raises(TypeError):
        X509.check_host("cert", "www.example.com")
    with pytest.raises(TypeError):
        X509.check_ip(cert, 3221225985)
    assert X509.check_host(cert, b"www.example.com") is True


def test_closed_cert(make):
    cert, _ = make("closed.example.com")
    cert.close()
    with pytest.raises(ValueError):
        X509.check_host(cert, "closed.example.com")
