"""The TLS API's pieces without a network: settings, certificates, keys, caches, verifiers, errors."""

import threading

import pytest

from M2Sec import m2
from M2Sec.TLS import (AlertDescription, Checker, HandshakeSettings, SessionCache, TLSError, TLSFingerprintError,
                       TLSLocalAlert, TLSNoAuthenticationError, TLSRemoteAlert, VerifierDB, X509, X509CertChain,
                       generateRSAKey, parsePEMKey)
from M2Sec.Err import M2SecError



def in_threads(work, n=4):
    """Run work(0) ... work(n - 1) in n threads at once and wait for them."""
    threads = [threading.Thread(target=work, args=(t,)) for t in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

def test_star_import_names():
    ns = {}
    exec("from M2Sec.TLS import *", ns)
    for name in ("TLSConnection", "HandshakeSettings", "VerifierDB", "SessionCache", "Checker", "X509CertChain",
                 "parsePEMKey", "generateRSAKey", "TLSLocalAlert", "TLSRemoteAlert", "AlertDescription",
                 "TLSAbruptCloseError", "TLSClosedConnectionError", "HTTPTLSConnection", "POP3_TLS", "IMAP4_TLS",
                 "SMTP_TLS", "TLSSocketServerMixIn"):
        assert name in ns


def test_default_settings_map_to_openssl():
    s = HandshakeSettings().validate()
    c = s._config
    assert (c.min_version, c.max_version) == (0x0303, 0x0304)
    assert "TLS_AES_256_GCM_SHA384" in c.ciphersuites and "TLS_CHACHA20_POLY1305_SHA256" in c.ciphersuites
    assert c.groups.split(":")[0] == "x25519" and "P-256" in c.groups
    assert "kSRP" in c.srp_cipher_list and "kSRP" not in c.cipher_list.split(":")[0]
    assert "rsa_pss_rsae_sha256" in c.sigalgs


@pytest.mark.parametrize("name, value", [
    ("minVersion", (3, 0)), ("maxVersion", (3, 5)), ("minVersion", "TLS1.2"), ("cipherNames", ["rc4"]),
    ("cipherNames", []), ("macNames", ["md5"]), ("certificateTypes", ["openpgp"]),
    ("keyShares", ["x25519", "secp256r1"]), ("keyShares", ["ffdhe9999"]), ("requireExtendedMasterSecret", True),
    ("useExperimentalTackExtension", True), ("use_heartbeat_extension", True), ("record_size_limit", 2048),
    ("dhParams", "x"), ("max_early_data", 16384), ("pskConfigs", [("id", b"k", "sha512")]), ("ticketKeys", [b"k" * 32]),
    ("psk_modes", ["psk_ke"]), ("rsaSigHashes", ["sha1"]), ("minKeySize", 100), ("maxKeySize", 512),
    ("defaultCurve", "brainpoolP256r1"), ("cipherImplementations", ["python"]), ("alpnProtocols", [b""]),
])
def test_settings_openssl_cannot_honour_are_refused(name, value):
    s = HandshakeSettings()
    setattr(s, name, value)
    with pytest.raises((ValueError, TypeError)):
        s.validate()


def test_settings_min_above_max_and_tls13_only_without_suites():
    s = HandshakeSettings()
    s.minVersion, s.maxVersion = (3, 4), (3, 3)
    with pytest.raises(ValueError):
        s.validate()
    s = HandshakeSettings()
    s.minVersion, s.macNames = (3, 4), ["sha256"]
    with pytest.raises(ValueError, match="TLS 1.3"):
        s.validate()


def test_settings_options():
    s = HandshakeSettings()
    s.useEncryptThenMAC = s.useExtendedMasterSecret = False
    s.sendFallbackSCSV = True
    c = s.validate()._config
    assert c.options_set & m2.SSL_OP_NO_ENCRYPT_THEN_MAC and c.options_set & m2.SSL_OP_NO_EXTENDED_MASTER_SECRET
    assert c.modes & m2.SSL_MODE_SEND_FALLBACK_SCSV
    assert s.validate() is not s


def test_chain_parse_and_fingerprint(creds, openssl):
    chain = creds.chain("server")
    assert chain.getNumCerts() == 2
    out = openssl(["x509", "-in", creds.path("server.pem"), "-noout", "-fingerprint", "-sha1"]).stdout.decode()
    assert chain.getFingerprint() == out.strip().split("=")[1].replace(":", "").lower()
    assert chain.getEndEntityPublicKey().certAlg == "ecdsa"
    der = chain.x509List[0].writeBytes()
    assert X509().parseBinary(der) == chain.x509List[0]
    with pytest.raises(SyntaxError):
        X509CertChain().parsePemList("no certificate here")
    with pytest.raises(SyntaxError):
        X509().parse(creds.pki.read("server.pem")[:200].decode() + "\n-----END CERTIFICATE-----\n")
    with pytest.raises(SyntaxError):
        X509().parseBinary(b"\x30\x03\x02\x01")
    with pytest.raises(ValueError):
        X509CertChain().getFingerprint()


def test_keys():
    key = generateRSAKey(2048)
    assert len(key) == 2048 and key.hasPrivateKey()
    again = parsePEMKey(key.write(), private=True)
    assert again.hasPrivateKey() and again.bits() == 2048
    pub = parsePEMKey(key.write(), public=True)
    assert not pub.hasPrivateKey()
    enc = key.write(password="secret")
    assert "ENCRYPTED" in enc
    assert parsePEMKey(enc, private=True, passwordCallback=lambda: "secret").hasPrivateKey()
    with pytest.raises(SyntaxError):
        parsePEMKey(enc, private=True, passwordCallback=lambda: "wrong")
    with pytest.raises(SyntaxError):
        parsePEMKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", private=True)
    with pytest.raises(SyntaxError):
        parsePEMKey(pub.write(), private=True)
    sig = key.hashAndSign(b"data", "PSS", "sha256")
    assert key.hashAndVerify(sig, b"data", "PSS", "sha256")


def test_session_cache_limits():
    now = [0.0]
    cache = SessionCache(maxEntries=3, maxAge=10, clock=lambda: now[0])
    for i in range(5):
        cache[bytes([i])] = i
    assert len(cache) == 3 and bytes([0]) not in cache and cache[bytes([4])] == 4
    now[0] = 11
    with pytest.raises(KeyError):
        cache[bytes([4])]
    assert len(cache) == 0
    with pytest.raises(ValueError):
        SessionCache(maxEntries=0)


def test_session_cache_threads():
    cache = SessionCache(maxEntries=50)

    def work(t):
        for i in range(300):
            cache[b"%d-%d" % (t, i)] = i
            len(cache)

    in_threads(work)
    assert len(cache) == 50


def test_verifier_matches_rfc5054_and_tlslite():
    from tlslite.mathtls import makeX   # an independent SRP implementation
    N, g, salt, v = VerifierDB.makeVerifier("alice", "abra123cadabra", 1024)
    assert N.bit_length() == 1024 and g == 2
    assert pow(g, makeX(bytearray(salt), bytearray(b"alice"), bytearray(b"abra123cadabra")), N) == v
    with pytest.raises(ValueError):
        VerifierDB.makeVerifier("alice", "x", 1000)


@pytest.mark.parametrize("on_disk", [False, True])
def test_verifierdb(tmp_path, on_disk):
    db = VerifierDB(str(tmp_path / "db") if on_disk else None)
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "pw1", 1024)
    db.add("bob", VerifierDB.makeVerifier("bob", "pw2", 2048))
    assert db.keys() == ["alice", "bob"] and list(db) == ["alice", "bob"] and "alice" in db
    assert db.check("alice", "pw1") and not db.check("alice", "pw2")
    del db["bob"]
    assert "bob" not in db and len(db) == 1
    with pytest.raises(KeyError):
        db["bob"]
    with pytest.raises(ValueError):
        db["--Reserved--type"] = (1, 2, b"", 3)
    if on_disk:
        db.close()
        again = VerifierDB(str(tmp_path / "db"))
        again.open()
        assert again.check("alice", "pw1")
        again.close()


def test_verifierdb_errors(tmp_path):
    with pytest.raises(ValueError):
        VerifierDB().open()
    with pytest.raises(ValueError):
        VerifierDB(str(tmp_path / "x"))["alice"]
    import dbm
    other = dbm.open(str(tmp_path / "other"), "n")
    other["k"] = "v"
    other.close()
    with pytest.raises(ValueError, match="not a verifier"):
        VerifierDB(str(tmp_path / "other")).open()


def test_verifierdb_threads():
    db = VerifierDB()
    db.create()
    entry = VerifierDB.makeVerifier("u", "p", 1024)

    def work(t):
        for i in range(200):
            db["u%d-%d" % (t, i)] = entry
            assert "u%d-%d" % (t, i) in db

    in_threads(work)
    assert len(db) == 800


def test_alerts_and_hierarchy():
    e = TLSLocalAlert(AlertDescription.bad_record_mac, "why")
    assert e.description == 20 and e.message == "why" and "bad_record_mac" in str(e)
    r = TLSRemoteAlert(AlertDescription.unknown_psk_identity)
    assert str(r) == "unknown_psk_identity" and r.message is None
    assert isinstance(r, TLSError) and isinstance(r, M2SecError)
    assert AlertDescription.toStr(254) == "254"


class _Fake:
    def __init__(self, chain, srp=None, resumed=False):
        self._client, self.resumed = True, resumed
        self.session = type("S", (), {"serverCertChain": chain, "srpUsername": srp, "clientCertChain": None})()


def test_checker(creds):
    chain = creds.chain("server")
    fp = chain.getFingerprint()
    Checker(x509Fingerprint=fp.upper())(_Fake(chain))
    with pytest.raises(TLSFingerprintError):
        Checker(x509Fingerprint="00" * 20)(_Fake(chain))
    with pytest.raises(TLSNoAuthenticationError):
        Checker(x509Fingerprint=fp)(_Fake(None))
    Checker(x509Fingerprint="00" * 20)(_Fake(chain, resumed=True))     # resumed: checked when made
    with pytest.raises(TLSFingerprintError):
        Checker(x509Fingerprint="00" * 20, checkResumedSession=True)(_Fake(chain, resumed=True))


def test_checker_fingerprint_forms(creds, monkeypatch):
    chain = creds.chain("server")
    fp = chain.getFingerprint()
    colons = ":".join(fp[i:i + 2] for i in range(0, 40, 2)).upper()
    for form in (fp, fp.upper(), colons, colons.encode(), " %s \n" % colons.lower()):
        checker = Checker(x509Fingerprint=form)
        assert checker.x509Fingerprint == fp
        checker(_Fake(chain))
    wrong = Checker(x509Fingerprint=colons[:-1] + ("0" if colons[-1] != "0" else "1"))
    with pytest.raises(TLSFingerprintError):
        wrong(_Fake(chain))
    wrong.x509Fingerprint = colons                  # assigned later: normalised as well
    wrong(_Fake(chain))
    assert Checker().x509Fingerprint is None and Checker(x509Fingerprint="").x509Fingerprint is None
    Checker(x509Fingerprint="")(_Fake(None))       # no pin: nothing to check
    for bad in ("00" * 19, "00" * 21, "zz" * 20, fp + "00", "ab" * 32, "é" * 40, b"\xff" * 40):
        with pytest.raises(ValueError):
            Checker(x509Fingerprint=bad)
    with pytest.raises(TypeError):
        Checker(x509Fingerprint=1234)
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return a == b
    monkeypatch.setattr("M2Sec.TLS.checker.hmac.compare_digest", spy)
    Checker(x509Fingerprint=colons)(_Fake(chain))
    assert compared == [(fp, fp)]                  # constant-time comparison of the normalised forms


@pytest.mark.parametrize("field,value", [(3, b"\xff" * 300), (0, b"\x00"), (0, b"\x02"), (1, b"\x00"), (2, b""),
                                         (0, b"\xff" * 2000)])
def test_damaged_verifier_entry_is_a_value_error(field, value):
    """Found by fuzzing (issue 18): a verifier larger than N raised OverflowError in check()."""
    import base64
    from M2Sec.TLS.verifierdb import VerifierDB
    db = VerifierDB()
    db.create()
    db["alice"] = VerifierDB.makeVerifier("alice", "secret", 1024)
    assert db.check("alice", "secret")
    parts = db.db["alice"].split(b" ")
    parts[field] = base64.b64encode(value)
    db.db["alice"] = b" ".join(parts)
    with pytest.raises(ValueError, match="damaged"):
        db.check("alice", "secret")
    with pytest.raises(ValueError, match="damaged"):
        db["alice"]
    assert db._lookup(b"alice") is None  # a server treats it as an unknown user
