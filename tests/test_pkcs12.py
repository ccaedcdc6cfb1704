"""PKCS#12: round trips, interop both ways with `openssl pkcs12` (modern and -legacy), NSS's
pk12util and the cryptography package; bad input (truncated, wrong password, 10,000 bags,
2^31 iterations) refused with clear errors."""

import shutil
import subprocess

import pytest

from M2Sec import EVP, PKCS12, X509
from M2Sec.Err import ClosedError

from pki_helpers import Chain, new_key, openssl

pytestmark = pytest.mark.timeout(120)

PW = b"s3cret pass"


@pytest.fixture(scope="module")
def chain():
    return Chain("EC")


@pytest.fixture(scope="module")
def rsa_chain():
    return Chain("RSA")


def p12(chain, password=PW, **kw):
    return PKCS12.serialize_key_and_certificates(
        b"my key", chain.leaf_key, chain.leaf, [chain.inter, PKCS12.PKCS12Certificate(chain.root, b"the root")],
        password, **kw)


def info(path, password=PW, *extra):
    """`openssl pkcs12 -info`'s description of the file (its stderr), checked to succeed."""
    p = subprocess.run(["openssl", "pkcs12", "-in", path, "-info", "-noout", "-passin", b"pass:" + password, *extra],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stderr.decode()


def assert_contents(result, chain, names=(b"my key", None, b"the root")):
    assert result.key is not None and result.key == chain.leaf_key
    assert result.cert.certificate == chain.leaf and result.cert.friendly_name == names[0]
    assert [c.certificate for c in result.additional_certs] == [chain.inter, chain.root]
    assert [c.friendly_name for c in result.additional_certs] == list(names[1:])


# ---- M2Sec both ways -----------------------------------------------------------------------

@pytest.mark.parametrize("encryption", ["aes256", "legacy", "3des"])
def test_round_trip(chain, encryption):
    der = p12(chain, encryption=encryption)
    assert_contents(PKCS12.load_pkcs12(der, PW), chain)
    key, cert, extra = PKCS12.load_key_and_certificates(der, PW.decode())
    assert key == chain.leaf_key and cert == chain.leaf and extra == [chain.inter, chain.root]
    # usable at once: the key signs, the certificate's key verifies
    assert cert.get_pubkey().verify(key.sign(b"data"), b"data")


def test_rsa_key_and_no_cert(rsa_chain):
    der = PKCS12.serialize_key_and_certificates(None, rsa_chain.leaf_key, None, None, PW)
    key, cert, extra = PKCS12.load_key_and_certificates(der, PW)
    assert key == rsa_chain.leaf_key and key.key_type == "RSA" and cert is None and extra == []
    der = PKCS12.serialize_key_and_certificates(None, None, None, [rsa_chain.root], PW)
    result = PKCS12.load_pkcs12(der, PW)
    assert result.key is None and result.cert is None
    assert [c.certificate for c in result.additional_certs] == [rsa_chain.root]


def test_defaults_are_modern(chain, tmp_path):
    path = tmp_path / "a.p12"
    path.write_bytes(p12(chain))
    text = info(str(path))
    assert "MAC: sha256, Iteration 2048" in text
    assert text.count("PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256") == 2  # certificates and key
    assert "RC2" not in text and "TripleDES" not in text


def test_legacy_only_when_asked(chain, tmp_path):
    path = tmp_path / "legacy.p12"
    path.write_bytes(p12(chain, encryption="legacy"))
    text = info(str(path), PW, "-legacy")
    assert "MAC: sha1" in text and "pbeWithSHA1And40BitRC2-CBC" in text and "pbeWithSHA1And3-KeyTripleDES-CBC" in text
    path = tmp_path / "3des.p12"
    path.write_bytes(p12(chain, encryption="3des"))
    text = info(str(path))  # no legacy provider needed
    assert text.count("pbeWithSHA1And3-KeyTripleDES-CBC") == 2 and "RC2" not in text


def test_no_password(chain, tmp_path):
    for password in (None, PKCS12.NoEncryption()):
        der = p12(chain, password)
        assert_contents(PKCS12.load_pkcs12(der, None), chain)
        assert_contents(PKCS12.load_pkcs12(der, b""), chain)
    path = tmp_path / "plain.p12"
    path.write_bytes(der)
    text = info(str(path), b"")
    assert "Shrouded" not in text and "Encrypted" not in text and "Key bag" in text and "MAC: sha256" in text
    with pytest.raises(PKCS12.PKCS12PasswordError):
        PKCS12.load_pkcs12(der, b"not empty")


# ---- openssl pkcs12 ------------------------------------------------------------------------

def _pem(tmp_path, chain):
    key = tmp_path / "key.pem"
    key.write_bytes(chain.leaf_key.as_pem(None))
    cert = tmp_path / "cert.pem"
    cert.write_bytes(chain.leaf.as_pem())
    cas = tmp_path / "cas.pem"
    cas.write_bytes(chain.inter.as_pem() + chain.root.as_pem())
    return str(key), str(cert), str(cas)


@pytest.mark.parametrize("extra", [[], ["-legacy"], ["-keypbe", "AES-128-CBC", "-certpbe", "NONE", "-macalg", "sha512"],
                                   ["-nomac"]])
def test_openssl_writes_m2sec_reads(chain, tmp_path, extra):
    key, cert, cas = _pem(tmp_path, chain)
    out = str(tmp_path / "o.p12")
    openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-certfile", cas, "-name", "my key",
            "-passout", "pass:" + PW.decode(), "-out", out, *extra)
    with open(out, "rb") as f:
        result = PKCS12.load_pkcs12(f.read(), PW)
    assert result.key == chain.leaf_key and result.cert.certificate == chain.leaf
    assert result.cert.friendly_name == b"my key"
    assert sorted(c.certificate.get_subject().CN for c in result.additional_certs) == ["Chain Inter", "Chain Root"]


@pytest.mark.parametrize("extra", [[], ["-nomac"], ["-certpbe", "NONE", "-nomac"], ["-keypbe", "NONE", "-certpbe", "NONE"]])
def test_openssl_empty_password(chain, tmp_path, extra):
    # "" and no password derive different keys; without a MAC to tell, both are tried
    key, cert, cas = _pem(tmp_path, chain)
    out = str(tmp_path / "e.p12")
    openssl("pkcs12", "-export", "-inkey", key, "-in", cert, "-certfile", cas, "-passout", "pass:", "-out", out, *extra)
    with open(out, "rb") as f:
        der = f.read()
    for password in (None, b""):
        result = PKCS12.load_pkcs12(der, password)
        assert result.key == chain.leaf_key and result.cert.certificate == chain.leaf
    if "-keypbe" not in extra:
        with pytest.raises(PKCS12.PKCS12PasswordError):
            PKCS12.load_pkcs12(der, b"x")


@pytest.mark.parametrize("encryption,extra", [("aes256", []), ("legacy", ["-legacy"]), ("3des", [])])
def test_m2sec_writes_openssl_reads(chain, tmp_path, encryption, extra):
    path = tmp_path / "m.p12"
    path.write_bytes(p12(chain, encryption=encryption))
    out = openssl("pkcs12", "-in", str(path), "-passin", "pass:" + PW.decode(), "-nodes", *extra).decode()
    assert "friendlyName: my key" in out and "friendlyName: the root" in out
    assert out.count("BEGIN CERTIFICATE") == 3
    key = EVP.load_key_string(out[out.index("-----BEGIN PRIVATE KEY"):].encode())
    assert key == chain.leaf_key
    # the wrong password is refused by openssl too: the MAC binds the password
    p = subprocess.run(["openssl", "pkcs12", "-in", str(path), "-passin", "pass:wrong", "-nodes", *extra],
                       capture_output=True, timeout=60)
    assert p.returncode != 0 and b"mac verify error" in p.stderr.lower()


# ---- NSS pk12util --------------------------------------------------------------------------

def _nss(tmp_path):
    for tool in ("pk12util", "certutil"):
        if shutil.which(tool) is None:
            pytest.fail("NSS's %s is needed (apt-get install libnss3-tools)" % tool)
    db = tmp_path / "nssdb"
    db.mkdir()
    (db / "pw").write_text("db password\n")
    subprocess.run(["certutil", "-N", "-d", "sql:%s" % db, "-f", str(db / "pw")], check=True, timeout=60, capture_output=True)
    return db


def _nss_run(*args):
    p = subprocess.run(list(args), capture_output=True, timeout=60)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout.decode(errors="replace")


@pytest.mark.parametrize("encryption,password", [("aes256", PW), ("legacy", PW), ("aes256", None)])
def test_nss_imports_m2sec(chain, tmp_path, encryption, password):
    db = _nss(tmp_path)
    path = tmp_path / "m.p12"
    path.write_bytes(p12(chain, password, encryption=encryption))
    _nss_run("pk12util", "-i", str(path), "-d", "sql:%s" % db, "-k", str(db / "pw"), "-W", (password or b"").decode())
    certs = _nss_run("certutil", "-L", "-d", "sql:%s" % db)
    assert "my key" in certs and "u,u,u" in certs  # the leaf, with its private key
    keys = _nss_run("certutil", "-K", "-d", "sql:%s" % db, "-f", str(db / "pw"))
    assert "my key" in keys and "ec" in keys
    # the certificate NSS holds is ours
    der = subprocess.run(["certutil", "-L", "-d", "sql:%s" % db, "-n", "my key", "-r"], capture_output=True, timeout=60).stdout
    assert X509.load_cert_der_string(der) == chain.leaf


def test_nss_exports_m2sec_reads(chain, tmp_path):
    db = _nss(tmp_path)
    path = tmp_path / "in.p12"
    path.write_bytes(p12(chain))
    _nss_run("pk12util", "-i", str(path), "-d", "sql:%s" % db, "-k", str(db / "pw"), "-W", PW.decode())
    out = tmp_path / "out.p12"
    _nss_run("pk12util", "-o", str(out), "-n", "my key", "-d", "sql:%s" % db, "-k", str(db / "pw"), "-W", "nss pw")
    result = PKCS12.load_pkcs12(out.read_bytes(), b"nss pw")
    assert result.key == chain.leaf_key
    assert result.cert.certificate == chain.leaf and result.cert.friendly_name == b"my key"
    with pytest.raises(PKCS12.PKCS12PasswordError):
        PKCS12.load_pkcs12(out.read_bytes(), PW)


# ---- the cryptography package (the API M2Sec's names come from) ----------------------------

def test_cryptography_interop(chain):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, PrivateFormat, NoEncryption
    from cryptography.hazmat.primitives.serialization import load_der_private_key, pkcs12
    from cryptography import x509

    theirs = pkcs12.load_pkcs12(p12(chain), PW)
    assert theirs.cert.friendly_name == b"my key"
    assert theirs.cert.certificate.public_bytes(Encoding.DER) == chain.leaf.as_der()
    assert [c.friendly_name for c in theirs.additional_certs] == [None, b"the root"]
    key_der = theirs.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    assert EVP.load_key_string(theirs.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())) == chain.leaf_key
    der = pkcs12.serialize_key_and_certificates(
        b"theirs", load_der_private_key(key_der, None), x509.load_der_x509_certificate(chain.leaf.as_der()),
        [x509.load_der_x509_certificate(chain.root.as_der())], BestAvailableEncryption(PW))
    mine = PKCS12.load_pkcs12(der, PW)
    assert mine.key == chain.leaf_key and mine.cert.friendly_name == b"theirs"
    assert [c.certificate for c in mine.additional_certs] == [chain.root]
    # and their encryption objects are understood by name
    assert PKCS12.load_pkcs12(PKCS12.serialize_key_and_certificates(
        None, chain.leaf_key, chain.leaf, None, PKCS12.BestAvailableEncryption(PW)), PW).key == chain.leaf_key


# ---- bad input -----------------------------------------------------------------------------

def _tlv(data, i):
    """(tag, header length, content length) of the DER element at i."""
    tag, n = data[i], data[i + 1]
    if n < 0x80:
        return tag, 2, n
    k = n & 0x7F
    return tag, 2 + k, int.from_bytes(data[i + 2:i + 2 + k], "big")


def _enc(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    k = (n.bit_length() + 7) // 8
    return bytes([tag, 0x80 | k]) + n.to_bytes(k, "big") + content


def _rewrite(data, fn):
    """data (DER) with every INTEGER passed through fn, descending into constructed elements and
    into OCTET STRINGs that hold DER (PKCS#12 wraps its contents in them)."""
    out, i = b"", 0
    while i < len(data):
        tag, h, n = _tlv(data, i)
        content = data[i + h:i + h + n]
        if tag == 0x02:
            content = fn(content)
        elif tag & 0x20:
            content = _rewrite(content, fn)
        elif tag == 0x04:
            try:
                inner = _rewrite(content, fn)
                content = inner if len(inner) >= 2 else content
            except (IndexError, ValueError):
                pass
        out += _enc(tag, content)
        i += h + n
    return out


def _outer(der):
    """The PFX's three elements (version, authSafe, macData) as DER."""
    tag, h, n = _tlv(der, 0)
    body, parts, i = der[h:h + n], [], 0
    while i < len(body):
        _, hh, nn = _tlv(body, i)
        parts.append(body[i:i + hh + nn])
        i += hh + nn
    return parts


ITER_2_31 = (2 ** 31).to_bytes(5, "big")  # 00 80 00 00 00: positive 2^31


def test_mac_iteration_count_2_31_refused(chain):
    der = p12(chain)
    version, auth, mac = _outer(der)
    mac = _rewrite(mac, lambda c: ITER_2_31 if c == (2048).to_bytes(2, "big") else c)
    bad = _enc(0x30, version + auth + mac)
    with pytest.raises(PKCS12.PKCS12Error) as exc:
        PKCS12.load_pkcs12(bad, PW)
    assert "2147483648" in str(exc.value) and "MAC" in str(exc.value)
    assert not isinstance(exc.value, PKCS12.PKCS12PasswordError)


def test_encryption_iteration_count_2_31_refused(chain):
    # no MAC, so that the encrypted contents' PBKDF2 count is the first one met
    version, auth, _mac = _outer(p12(chain))
    bad = _enc(0x30, version + _rewrite(auth, lambda c: ITER_2_31 if c == (2048).to_bytes(2, "big") else c))
    with pytest.raises(PKCS12.PKCS12Error, match="encrypted contents asks for 2147483648"):
        PKCS12.load_pkcs12(bad, PW)


def test_iteration_limit_is_a_parameter(chain):
    der = p12(chain, iterations=5000)
    with pytest.raises(PKCS12.PKCS12Error, match="more than the limit of 4000"):
        PKCS12.load_pkcs12(der, PW, max_iterations=4000)
    assert PKCS12.load_pkcs12(der, PW, max_iterations=5000).key == chain.leaf_key
    with pytest.raises(ValueError):
        PKCS12.load_pkcs12(der, PW, max_iterations=0)


def test_ten_thousand_bags_refused(chain):
    der = PKCS12.serialize_key_and_certificates(None, None, None, [chain.root] * 10000, None, mac_iterations=1)
    with pytest.raises(PKCS12.PKCS12Error, match="more than 1000 bags"):
        PKCS12.load_pkcs12(der, None)
    with pytest.raises(PKCS12.PKCS12Error, match="more than 50 bags"):
        PKCS12.load_pkcs12(der, None, max_bags=50)


def test_truncated_and_malformed(chain):
    der = p12(chain)
    for bad in (der[:-1], der[: len(der) // 2], der[:10], der[:1], b"", b"\x30\x00", b"garbage" * 10,
                chain.leaf.as_der(), chain.leaf.as_pem(), der + b"\x00"):
        with pytest.raises(PKCS12.PKCS12Error) as exc:
            PKCS12.load_pkcs12(bad, PW)
        assert not isinstance(exc.value, PKCS12.PKCS12PasswordError), bad[:20]
    # a flipped byte inside the encrypted part: the MAC catches it
    flipped = bytearray(der)
    flipped[len(der) // 2] ^= 1
    with pytest.raises(PKCS12.PKCS12Error):
        PKCS12.load_pkcs12(bytes(flipped), PW)


def test_unknown_mac_algorithm_is_not_a_password_error(chain):
    version, auth, mac = _outer(p12(chain))
    sha256 = b"\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01"
    assert sha256 in mac
    bad = _enc(0x30, version + auth + mac.replace(sha256, sha256[:-1] + b"\x63"))
    with pytest.raises(PKCS12.PKCS12Error, match="cannot compute the MAC") as exc:
        PKCS12.load_pkcs12(bad, PW)
    assert not isinstance(exc.value, PKCS12.PKCS12PasswordError)


def test_wrong_password(chain):
    der = p12(chain)
    for wrong in (b"wrong", b"", None, PW + b"\x00", PW.upper()):
        with pytest.raises(PKCS12.PKCS12PasswordError, match="wrong password"):
            PKCS12.load_pkcs12(der, wrong)
    assert issubclass(PKCS12.PKCS12PasswordError, PKCS12.PKCS12Error)
    # without a MAC, the decryption is what fails
    version, auth, _mac = _outer(der)
    with pytest.raises(PKCS12.PKCS12PasswordError, match="wrong password"):
        PKCS12.load_pkcs12(_enc(0x30, version + auth), b"wrong")
    assert PKCS12.load_pkcs12(_enc(0x30, version + auth), PW).key == chain.leaf_key


def test_wrong_types_and_arguments(chain):
    der = p12(chain)
    with pytest.raises(TypeError):
        PKCS12.load_pkcs12(der.decode("latin-1"), PW)
    with pytest.raises(TypeError):
        PKCS12.load_pkcs12(der, 1234)
    with pytest.raises(TypeError):
        PKCS12.serialize_key_and_certificates("name", chain.leaf_key, chain.leaf, None, PW)
    with pytest.raises(TypeError):
        PKCS12.serialize_key_and_certificates(None, chain.leaf, chain.leaf, None, PW)
    with pytest.raises(TypeError):
        PKCS12.serialize_key_and_certificates(None, chain.leaf_key, chain.leaf, ["not a cert"], PW)
    with pytest.raises(ValueError):
        PKCS12.serialize_key_and_certificates(None, chain.leaf_key, chain.leaf, None, PW, encryption="rc4")
    with pytest.raises(ValueError):
        PKCS12.serialize_key_and_certificates(None, chain.leaf_key, chain.leaf, None, PW, iterations=0)
    with pytest.raises(ValueError):
        PKCS12.serialize_key_and_certificates(None, None, None, None, PW)
    with pytest.raises(ValueError):
        PKCS12.serialize_key_and_certificates(None, chain.leaf_key, chain.leaf, None, b"pass\x00word")
    with pytest.raises(PKCS12.PKCS12Error, match="does not match"):
        PKCS12.serialize_key_and_certificates(None, new_key("EC"), chain.leaf, None, PW)
    key = new_key("EC")
    key.close()
    with pytest.raises(ClosedError):
        PKCS12.serialize_key_and_certificates(None, key, None, None, PW)


def test_no_leaks_on_success_or_failure(chain, rss):
    """Every path of load and serialize frees what it made: 2,000 rounds keep RSS flat (a
    lost certificate or key a round would show as several MiB)."""
    import gc

    der = p12(chain, iterations=1)
    many = PKCS12.serialize_key_and_certificates(None, None, None, [chain.root] * 30, None, mac_iterations=1)

    def one_round():
        PKCS12.load_pkcs12(der, PW)
        PKCS12.serialize_key_and_certificates(b"n", chain.leaf_key, chain.leaf, [chain.root], PW, iterations=1)
        for data, password, limits in ((der, b"wrong", {}), (der[:-40], PW, {}), (many, None, {"max_bags": 20})):
            with pytest.raises(PKCS12.PKCS12Error):
                PKCS12.load_pkcs12(data, password, **limits)

    for _ in range(200):
        one_round()
    gc.collect()
    before = rss()
    for _ in range(2000):
        one_round()
    gc.collect()
    assert rss() - before < 3 * 1024 * 1024
