"""M2Sec.SSH.keys against ssh-keygen: every key type and file format, signatures both ways,
fingerprints, RFC 4716, certificates, bcrypt_pbkdf, and malformed input."""

import base64
import json
import os
import time
from pathlib import Path

import pytest

from M2Sec.SSH import keys
from M2Sec.SSH.errors import SSHFormatError, SSHKeyError
from M2Sec.SSH.keys import (CERT_HOST, CERT_USER, CertificateError, KeyPassphraseError, SSHCertificate,
                            create_certificate, decode_public_blob, generate_private_key, load_certificate,
                            load_private_key, load_public_key, verify_signature)
from M2Sec.SSH.packet import string, uint32

from .keygen_helpers import keygen, make_key, sshsig_parse, sshsig_sign

# (ssh-keygen -t, -b, algorithm, bits)
TYPES = [
    ("ed25519", None, b"ssh-ed25519", 256),
    ("ecdsa", 256, b"ecdsa-sha2-nistp256", 256),
    ("ecdsa", 384, b"ecdsa-sha2-nistp384", 384),
    ("ecdsa", 521, b"ecdsa-sha2-nistp521", 521),
    ("rsa", 2048, b"ssh-rsa", 2048),
]
IDS = [t[2].decode() for t in TYPES]
PASS = "correct horse"


@pytest.fixture(scope="module")
def kdir(tmp_path_factory):
    return tmp_path_factory.mktemp("sshkeys")


@pytest.fixture(scope="module", params=TYPES, ids=IDS)
def made(request, kdir):
    """A key made by ssh-keygen: (path, type tuple)."""
    kind, bits, alg, _ = request.param
    return make_key(kdir, "id_" + alg.decode(), kind, bits), request.param


# ---------------------------------------------------------------- keys made by ssh-keygen
def test_load_and_fingerprint(made):
    path, (_, _, alg, bits) = made
    priv = load_private_key(path)
    pub = load_public_key(path + ".pub")
    assert priv.has_private and not pub.has_private
    assert priv.algorithm == pub.algorithm == alg
    assert priv == pub and priv.public_blob() == pub.public_blob()
    assert priv.comment == pub.comment == "made by ssh-keygen"
    assert priv.public_line() == Path(path + ".pub").read_text().strip()
    for hash_name, flag in (("sha256", "sha256"), ("md5", "md5")):
        out = keygen(["-l", "-E", flag, "-f", path + ".pub"]).stdout.decode().split()
        assert out[0] == str(bits) == str(pub.bits)
        assert out[1] == pub.fingerprint(hash_name) == priv.fingerprint(hash_name)
        assert out[-1] == "(%s)" % pub.key_type


def test_sign_verify(made):
    path, (_, _, alg, _) = made
    priv = load_private_key(path)
    pub = priv.public_key()
    assert not pub.has_private and pub == priv
    for sig_alg in priv.sig_algorithms:
        sig = priv.sign(b"data to sign", sig_alg)
        assert sig.startswith(string(sig_alg))
        assert pub.verify(b"data to sign", sig)
        assert verify_signature(pub.public_blob(), sig, b"data to sign")
        assert not pub.verify(b"data to sigN", sig)
        bad = bytearray(sig)
        bad[-3] ^= 1
        assert not pub.verify(b"data to sign", bytes(bad))
    with pytest.raises(SSHKeyError):
        pub.sign(b"x")
    with pytest.raises(SSHKeyError):
        priv.sign(b"x", b"ssh-dss")


def test_rsa_signature_algorithms(kdir):
    key = load_private_key(make_key(kdir, "rsa_algs", "rsa", 2048))
    assert key.sig_algorithms == [b"rsa-sha2-512", b"rsa-sha2-256", b"ssh-rsa"]
    assert key.sign(b"x").startswith(string(b"rsa-sha2-512"))
    sig256 = key.sign(b"x", "rsa-sha2-256")
    # The same signature relabelled with another hash must not verify.
    relabelled = string(b"rsa-sha2-512") + sig256[len(string(b"rsa-sha2-256")):]
    assert key.verify(b"x", sig256) and not key.verify(b"x", relabelled)
    # RFC 4253 lets a signature lose its leading zero bytes; find one that has some.
    for i in range(2000):
        sig = key.sign(b"%d" % i, b"rsa-sha2-256")
        raw = sig[len(string(b"rsa-sha2-256")) + 4:]
        if raw[0] == 0:
            short = string(b"rsa-sha2-256") + string(raw.lstrip(b"\0"))
            assert key.verify(b"%d" % i, short)
            break
    else:  # pragma: no cover - chance 0.9961 ** 2000
        pytest.fail("no signature with a leading zero byte")


def test_ecdsa_signature_of_other_curve_fails(kdir):
    k256 = load_private_key(make_key(kdir, "p256", "ecdsa", 256))
    k384 = generate_private_key("ecdsa-sha2-nistp384")
    assert not k384.verify(b"x", k256.sign(b"x"))


def test_sshsig_interop(made, kdir):
    """Signatures checked by ssh-keygen -Y, and ssh-keygen's checked by M2Sec."""
    path, _ = made
    priv = load_private_key(path)
    data = b"message for ssh-keygen -Y\n"
    msg = kdir / ("msg_" + Path(path).name)
    msg.write_bytes(data)
    sig = kdir / (Path(path).name + ".m2sig")
    sig.write_bytes(sshsig_sign(priv, data))
    out = keygen(["-Y", "check-novalidate", "-n", "file", "-s", sig], input=data)
    assert b"Good" in out.stdout
    assert keygen(["-Y", "check-novalidate", "-n", "file", "-s", sig], input=data + b"x", check=False).returncode
    keygen(["-Y", "sign", "-n", "file", "-f", path, msg])
    blob, sig_blob, signed = sshsig_parse(Path(str(msg) + ".sig").read_bytes(), data)
    assert blob == priv.public_blob()
    assert priv.verify(signed, sig_blob) and verify_signature(blob, sig_blob, signed)
    assert not priv.verify(signed + b"x", sig_blob)


# ---------------------------------------------------------------- encrypted and PEM files
@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("ecdsa", 384), ("rsa", 2048)])
def test_encrypted_openssh(kdir, kind, bits):
    path = make_key(kdir, "enc_%s" % kind, kind, bits, PASS, "-a", "16")
    pub = load_public_key(path + ".pub")
    key = load_private_key(path, PASS)
    assert key == pub and key.has_private
    assert load_private_key(Path(path).read_bytes(), PASS.encode()) == pub
    with pytest.raises(KeyPassphraseError, match="passphrase is needed"):
        load_private_key(path)
    with pytest.raises(KeyPassphraseError, match="wrong passphrase"):
        load_private_key(path, "wrong horse")


@pytest.mark.parametrize("cipher", ["aes128-ctr", "aes192-ctr", "aes256-cbc", "aes128-cbc", "aes256-gcm@openssh.com",
                                    "aes128-gcm@openssh.com"])
def test_openssh_file_ciphers(kdir, cipher):
    path = make_key(kdir, "cipher_" + cipher, "ed25519", None, PASS, "-a", "2", "-Z", cipher)
    assert load_private_key(path, PASS) == load_public_key(path + ".pub")
    with pytest.raises(KeyPassphraseError):
        load_private_key(path, "nope")


def test_unsupported_file_cipher(kdir):
    path = make_key(kdir, "chacha", "ed25519", None, PASS, "-a", "2", "-Z", "chacha20-poly1305@openssh.com")
    with pytest.raises(SSHKeyError, match="unsupported private key cipher"):
        load_private_key(path, PASS)


@pytest.mark.parametrize("fmt", ["PEM", "PKCS8"])
@pytest.mark.parametrize("kind,bits", [("ecdsa", 256), ("ecdsa", 521), ("rsa", 2048)])
@pytest.mark.parametrize("passphrase", ["", PASS])
def test_pem_files(kdir, fmt, kind, bits, passphrase):
    path = make_key(kdir, "pem_%s_%s%s_%d" % (fmt, kind, bits, bool(passphrase)), kind, bits, passphrase, "-m", fmt)
    head = Path(path).read_text().splitlines()[0]
    assert "OPENSSH" not in head
    key = load_private_key(path, passphrase or None)
    pub = load_public_key(path + ".pub")
    assert key == pub and key.has_private
    assert pub.verify(b"m", key.sign(b"m"))
    if passphrase:
        with pytest.raises(KeyPassphraseError):
            load_private_key(path)
        with pytest.raises(KeyPassphraseError):
            load_private_key(path, "wrong")


def test_pkcs8_ed25519(kdir, openssl):
    pem = openssl(["genpkey", "-algorithm", "ED25519"]).stdout
    key = load_private_key(pem)
    assert key.algorithm == b"ssh-ed25519"
    der = openssl(["pkey", "-pubout", "-outform", "DER"], input=pem).stdout
    assert der.endswith(key.pkey.raw_public_bytes())  # SubjectPublicKeyInfo ends with the raw key
    assert key.public_key().verify(b"m", key.sign(b"m"))


# ---------------------------------------------------------------- keys saved by M2Sec
@pytest.mark.parametrize("alg", IDS)
@pytest.mark.parametrize("passphrase", [None, PASS])
def test_saved_keys_load_in_ssh_keygen(tmp_path, alg, passphrase):
    key = generate_private_key(alg, comment="m2sec key")
    assert key.algorithm.decode() == alg and key.has_private
    path = tmp_path / "key"
    key.save_private(path, passphrase, rounds=4)
    assert os.stat(path).st_mode & 0o777 == 0o600
    out = keygen(["-y", "-P", passphrase or "", "-f", path]).stdout.decode().strip()
    assert out.split()[:2] == key.public_line().split()[:2]
    again = load_private_key(path, passphrase)
    assert again == key and again.comment == "m2sec key"
    key.save_public(tmp_path / "key.pub")
    fp = keygen(["-l", "-f", tmp_path / "key.pub"]).stdout.decode().split()
    assert fp[1] == key.fingerprint() and " ".join(fp[2:-1]) == "m2sec key"
    # ssh-keygen can re-encrypt what M2Sec wrote (it parses and decrypts every field).
    keygen(["-p", "-P", passphrase or "", "-N", "other pass", "-f", path])
    assert load_private_key(path, "other pass") == key


@pytest.mark.parametrize("cipher", ["aes256-ctr", "aes128-cbc", "aes256-gcm@openssh.com"])
def test_saved_ciphers(tmp_path, cipher):
    key = generate_private_key("ssh-ed25519")
    path = tmp_path / "k"
    path.write_bytes(key.private_bytes(PASS, cipher=cipher, rounds=2))
    os.chmod(path, 0o600)
    assert keygen(["-y", "-P", PASS, "-f", path]).stdout.decode().split()[1] == key.public_line().split()[1]
    assert load_private_key(path, PASS) == key


def test_saved_pkcs8(tmp_path):
    key = generate_private_key("ecdsa", 384)
    for passphrase in (None, PASS):
        path = tmp_path / ("p8_%s" % bool(passphrase))
        path.write_bytes(key.private_bytes(passphrase, format="pkcs8"))
        os.chmod(path, 0o600)
        out = keygen(["-y", "-P", passphrase or "", "-f", path]).stdout.decode()
        assert out.split()[1] == key.public_line().split()[1]
        assert load_private_key(path, passphrase) == key


def test_generate_options():
    assert generate_private_key("ecdsa", 521).algorithm == b"ecdsa-sha2-nistp521"
    assert generate_private_key("ecdsa").algorithm == b"ecdsa-sha2-nistp256"
    assert generate_private_key("rsa", 1024).bits == 1024
    for alg, bits in (("dsa", None), ("ecdsa", 255), ("rsa", 512), ("ed25519", 255), ("ecdsa-sha2-nistp256", 384),
                      ("ecdsa-sha2-nistpx", None)):
        with pytest.raises(ValueError):
            generate_private_key(alg, bits)


# ---------------------------------------------------------------- public key formats
def test_rfc4716_from_ssh_keygen(made, kdir):
    path, _ = made
    text = keygen(["-e", "-f", path + ".pub"]).stdout
    key = load_public_key(text)
    assert key == load_public_key(path + ".pub")


def test_rfc4716_to_ssh_keygen(tmp_path):
    key = generate_private_key("ssh-ed25519", comment='a "quoted" comment that is long enough to need '
                                                      'a continuation line in RFC 4716 headers')
    text = key.public_rfc4716()
    assert all(len(line) <= 72 for line in text.splitlines())
    (tmp_path / "k.rfc").write_text(text)
    out = keygen(["-i", "-f", tmp_path / "k.rfc"]).stdout.decode().split()
    assert out[:2] == key.public_line().split()[:2]
    back = load_public_key(text.encode())
    assert back == key and back.comment == key.comment


@pytest.mark.parametrize("fmt", ["PKCS8", "PEM"])
def test_pem_public_keys_from_ssh_keygen(kdir, fmt):
    path = make_key(kdir, "pubpem_rsa", "rsa", 2048) if not os.path.exists(kdir / "pubpem_rsa") else str(kdir / "pubpem_rsa")
    pem = keygen(["-e", "-m", fmt, "-f", path + ".pub"]).stdout
    assert load_public_key(pem) == load_public_key(path + ".pub")
    lines = pem.splitlines()
    broken = b"\n".join(lines[:1] + lines[3:])  # DER cut short
    with pytest.raises(SSHFormatError, match="PEM public key"):
        load_public_key(broken)


def test_public_line_parsing():
    key = generate_private_key("ssh-ed25519").public_key()
    line = key.public_line("c")
    assert load_public_key(line.encode()).comment == "c"
    assert load_public_key((line + "  with  spaces\n").encode()).comment == "c  with  spaces"
    assert load_public_key(key.public_line("").encode()).comment == ""
    blob64 = line.split()[1]
    with pytest.raises(SSHFormatError, match="names"):
        load_public_key(("ssh-rsa " + blob64).encode())
    with pytest.raises(SSHFormatError, match="base64"):
        load_public_key(b"ssh-ed25519 AAAA!!!")
    with pytest.raises(SSHFormatError):
        load_public_key(b"just-one-word")
    with pytest.raises(SSHFormatError):
        load_public_key(b"")
    with pytest.raises(SSHFormatError):
        load_public_key(b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n")


# ---------------------------------------------------------------- certificates
@pytest.fixture(scope="module")
def ca(kdir):
    return make_key(kdir, "ca", "ed25519")


@pytest.mark.parametrize("kind,bits", [("ed25519", None), ("ecdsa", 256), ("rsa", 2048)])
def test_user_certificate(kdir, ca, kind, bits):
    path = make_key(kdir, "user_%s" % kind, kind, bits)
    keygen(["-s", ca, "-I", "user id", "-n", "alice,bob", "-V", "-5m:+1h", "-z", "42",
            "-O", "force-command=/bin/true", "-O", "no-pty", path + ".pub"])
    cert = load_public_key(path + "-cert.pub")
    assert isinstance(cert, SSHCertificate) and not cert.has_private
    plain = load_public_key(path + ".pub")
    assert cert.algorithm == plain.algorithm + b"-cert-v01@openssh.com"
    assert cert.key == plain and cert.key_id == "user id" and cert.serial == 42
    assert cert.cert_type == CERT_USER and cert.type_name == "user"
    assert cert.principals == ["alice", "bob"]
    assert cert.critical_options == {"force-command": b"/bin/true"}
    assert "permit-pty" not in cert.extensions and "permit-port-forwarding" in cert.extensions
    assert cert.valid_before - cert.valid_after == 65 * 60
    assert cert.signature_key == load_public_key(ca + ".pub")
    ca_key = load_public_key(ca + ".pub")
    cert.check("alice", ca_keys=[ca_key], cert_type=CERT_USER, require_principal=True)
    cert.check("bob")
    with pytest.raises(CertificateError, match="not valid for"):
        cert.check("mallory")
    with pytest.raises(CertificateError, match="host certificate is needed"):
        cert.check("alice", cert_type=CERT_HOST)
    with pytest.raises(CertificateError, match="expired"):
        cert.check("alice", now=time.time() + 7200)
    with pytest.raises(CertificateError, match="not valid yet"):
        cert.check("alice", now=time.time() - 3600)
    with pytest.raises(CertificateError, match="untrusted CA"):
        cert.check("alice", ca_keys=[plain])
    fp = keygen(["-l", "-f", path + "-cert.pub"]).stdout.decode().split()
    assert fp[1] == cert.fingerprint() == plain.fingerprint()
    # With its private key the certificate signs, in the certificate algorithms' names.
    signer = load_certificate(path + "-cert.pub", load_private_key(path))
    assert signer.has_private
    for cert_alg in signer.sig_algorithms:
        assert cert_alg.endswith(b"-cert-v01@openssh.com")
        sig = signer.sign(b"auth data", cert_alg)
        assert sig.startswith(string(signer.signature_algorithm(cert_alg)))
        assert cert.verify(b"auth data", sig) and plain.verify(b"auth data", sig)
        assert verify_signature(cert.public_blob(), sig, b"auth data")
    with pytest.raises(SSHKeyError):
        cert.with_private_key(generate_private_key("ssh-ed25519"))


def test_host_certificate(kdir, ca):
    path = make_key(kdir, "host_key", "ecdsa", 384)
    keygen(["-s", ca, "-I", "host", "-h", "-n", "server.example.com,10.1.2.3", "-V", "+1d:+2d", path + ".pub"])
    cert = load_public_key(path + "-cert.pub")
    assert cert.cert_type == CERT_HOST and cert.extensions == {} and cert.critical_options == {}
    later = time.time() + 1.5 * 86400
    cert.check("server.example.com", now=later, cert_type=CERT_HOST)
    cert.check("10.1.2.3", now=later)
    with pytest.raises(CertificateError, match="not valid yet"):
        cert.check("server.example.com")
    with pytest.raises(CertificateError, match="not valid for"):
        cert.check("other.example.com", now=later)
    # A certificate whose signed part was altered fails the CA check.
    blob = bytearray(cert.public_blob())
    blob[60] ^= 1  # in the nonce
    with pytest.raises(CertificateError, match="does not verify"):
        decode_public_blob(bytes(blob)).check("server.example.com", now=later)


def test_certificate_without_principals(kdir, ca):
    path = make_key(kdir, "noprinc", "ed25519")
    keygen(["-s", ca, "-I", "any", path + ".pub"])
    cert = load_public_key(path + "-cert.pub")
    assert cert.principals == [] and cert.valid_before == keys.FOREVER
    cert.check("whoever")
    with pytest.raises(CertificateError, match="no principals"):
        cert.check("whoever", require_principal=True)


def test_sha1_signed_certificate_refused(kdir):
    ca_rsa = make_key(kdir, "ca_rsa", "rsa", 2048)
    path = make_key(kdir, "sha1cert", "ed25519")
    keygen(["-s", ca_rsa, "-t", "ssh-rsa", "-I", "old", path + ".pub"])
    cert = load_public_key(path + "-cert.pub")
    with pytest.raises(CertificateError, match="SHA-1"):
        cert.check()
    cert.check(allow_sha1=True)


@pytest.mark.parametrize("ca_alg", ["ssh-ed25519", "ecdsa-sha2-nistp521", "ssh-rsa"])
def test_created_certificates_read_by_ssh_keygen(tmp_path, ca_alg):
    ca_key = generate_private_key(ca_alg, 2048 if ca_alg == "ssh-rsa" else None)
    user = generate_private_key("ssh-ed25519")
    cert = create_certificate(ca_key, user, "made here", ["alice"], critical_options={"force-command": "ls"},
                              serial=7, valid_after=100, valid_before=2 ** 40)
    assert cert.has_private and cert.signature_key == ca_key
    cert.check("alice", ca_keys=[ca_key])
    (tmp_path / "u-cert.pub").write_text(cert.public_line("c") + "\n")
    out = keygen(["-L", "-f", tmp_path / "u-cert.pub"]).stdout.decode()
    assert 'Key ID: "made here"' in out and "Serial: 7" in out and "force-command ls" in out
    assert "permit-pty" in out
    host = create_certificate(ca_key, user.public_key(), "h", ["h.example"], cert_type=CERT_HOST)
    assert not host.has_private and host.extensions == {}
    with pytest.raises(SSHKeyError):
        create_certificate(user.public_key(), user, "x")
    with pytest.raises(SSHKeyError):
        create_certificate(ca_key, cert, "x")


# ---------------------------------------------------------------- bcrypt_pbkdf
def test_bcrypt_pbkdf_vectors():
    data = json.loads((Path(__file__).parent.parent / "vectors" / "bcrypt_pbkdf_openbsd.json").read_text())
    for v in data["vectors"]:
        got = keys.bcrypt_pbkdf(bytes.fromhex(v["password"]), bytes.fromhex(v["salt"]), v["rounds"],
                                len(v["key"]) // 2)
        assert got.hex() == v["key"]
    for args in ((b"", b"s", 1, 32), (b"p", b"", 1, 32), (b"p", b"s", 0, 32), (b"p", b"s", 1, 0),
                 (b"p", b"s", 1, 1025)):
        with pytest.raises(ValueError):
            keys.bcrypt_pbkdf(*args)


# ---------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def samples():
    ed = generate_private_key("ssh-ed25519")
    ec = generate_private_key("ecdsa-sha2-nistp256")
    rsa = generate_private_key("ssh-rsa", 1024)
    cert = create_certificate(ed, ec, "id", ["p"])
    return [ed, ec, rsa, cert]


def test_truncated_blobs(samples):
    for key in samples:
        blob = key.public_blob()
        for n in range(len(blob)):
            with pytest.raises((SSHFormatError, SSHKeyError)):
                decode_public_blob(blob[:n])
        with pytest.raises(SSHFormatError, match="trailing"):
            decode_public_blob(blob + b"\0")


def test_malformed_blobs(samples):
    ed, ec = samples[0], samples[1]
    with pytest.raises(SSHKeyError, match="unsupported key type"):
        decode_public_blob(string(b"ssh-dss") + string(b"x"))
    with pytest.raises(SSHKeyError, match="unsupported certificate"):
        decode_public_blob(string(b"ssh-dss-cert-v01@openssh.com") + string(b"x"))
    with pytest.raises(SSHFormatError, match="32 bytes"):
        decode_public_blob(string(b"ssh-ed25519") + string(b"short"))
    with pytest.raises(SSHFormatError, match="names curve"):
        decode_public_blob(string(b"ecdsa-sha2-nistp256") + string(b"nistp384") + string(b"\x04"))
    point = ec.public_blob()[len(string(b"ecdsa-sha2-nistp256") + string(b"nistp256")) + 4:]
    off_curve = bytearray(point)
    off_curve[-1] ^= 1
    with pytest.raises(SSHKeyError, match="invalid key"):
        decode_public_blob(string(b"ecdsa-sha2-nistp256") + string(b"nistp256") + string(bytes(off_curve)))
    small = string(b"ssh-rsa") + string(b"\x01\x00\x01") + string(b"\x00" + b"\xff" * 64)
    with pytest.raises(SSHKeyError, match="fewer than"):
        decode_public_blob(small)
    with pytest.raises(SSHFormatError):
        ed.verify(b"x", b"\x00\x00")
    with pytest.raises(SSHFormatError):
        ed.verify(b"x", ed.sign(b"x") + b"\0")
    assert not ed.verify(b"x", string(b"ssh-ed25519") + string(b"\0" * 63))
    assert not ed.verify(b"x", ec.sign(b"x"))
    assert not ec.verify(b"x", string(b"ecdsa-sha2-nistp256") + string(b"\0\0\0\0\0\0\0\0"))
    with pytest.raises(SSHFormatError):
        ec.verify(b"x", string(b"ecdsa-sha2-nistp256") + string(b"\0\0\0\5ab"))


def test_malformed_private_files(samples, tmp_path):
    key = samples[0]
    for passphrase in (None, PASS):
        data = key.private_bytes(passphrase, rounds=1)
        body = base64.b64decode(b"".join(data.splitlines()[1:-1]))
        for n in range(0, len(body), 7):
            with pytest.raises((SSHFormatError, SSHKeyError)):
                load_private_key(body[:n], passphrase)
    plain = base64.b64decode(b"".join(key.private_bytes().splitlines()[1:-1]))
    i = plain.index(string(b"ssh-ed25519"), plain.index(string(b"ssh-ed25519")) + 1) - 8  # the check bytes
    bad = bytearray(plain)
    bad[i] ^= 1
    with pytest.raises(SSHFormatError, match="check bytes"):
        load_private_key(bytes(bad))
    bad = bytearray(plain)
    bad[-1] ^= 0x40
    with pytest.raises(SSHFormatError, match="padding"):
        load_private_key(bytes(bad))
    with pytest.raises(SSHFormatError, match="not a private key"):
        load_private_key(b"hello")
    with pytest.raises(SSHFormatError, match="END"):
        load_private_key(b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(SSHFormatError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SSHFormatError, match="one key"):
        load_private_key(b"openssh-key-v1\0" + string(b"none") * 2 + string(b"") + uint32(2))
    with pytest.raises(FileNotFoundError):
        load_private_key(str(tmp_path / "missing"))
    with pytest.raises(SSHKeyError):
        samples[0].public_key().private_bytes()


# ---- issue 18 (fuzzing): key-derivation work is bounded; loading never prompts ------------------
def _set_bcrypt_rounds(pem: bytes, rounds: int) -> bytes:
    """The openssh-key-v1 file pem with its bcrypt round count replaced."""
    body = b"".join(pem.strip().splitlines()[1:-1])
    blob = bytearray(base64.b64decode(body))
    at = blob.index(b"bcrypt") + len(b"bcrypt")
    optlen = int.from_bytes(blob[at:at + 4], "big")
    saltlen = int.from_bytes(blob[at + 4:at + 8], "big")
    pos = at + 8 + saltlen
    assert optlen == 4 + saltlen + 4
    blob[pos:pos + 4] = rounds.to_bytes(4, "big")
    b64 = base64.b64encode(bytes(blob)).decode()
    lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"] + [b64[i:i + 70] for i in range(0, len(b64), 70)]
    return ("\n".join(lines + ["-----END OPENSSH PRIVATE KEY-----"]) + "\n").encode()


@pytest.mark.timeout(30)
def test_bcrypt_rounds_from_the_file_are_bounded(tmp_path):
    path = make_key(tmp_path, "id_ed25519", "ed25519", None, "pw", "-a", "20")
    pem = Path(path).read_bytes()
    assert keys.load_private_key(pem, "pw").algorithm == b"ssh-ed25519"
    with pytest.raises(keys.KeyDerivationCostError, match="20 bcrypt rounds"):
        keys.load_private_key(pem, "pw", max_rounds=10)
    assert keys.load_private_key(pem, "pw", max_rounds=20).algorithm == b"ssh-ed25519"
    huge = _set_bcrypt_rounds(pem, 2 ** 32 - 1)  # years of work before the fix
    with pytest.raises(keys.KeyDerivationCostError, match="max_rounds=%d" % keys.MAX_BCRYPT_ROUNDS):
        keys.load_private_key(huge, "pw")
    assert issubclass(keys.KeyDerivationCostError, SSHKeyError)


@pytest.mark.timeout(30)
def test_pbkdf2_iterations_of_a_pkcs8_key_are_bounded(tmp_path):
    from pki_helpers import openssl
    plain = tmp_path / "k.pem"
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(plain))
    enc = openssl("pkcs8", "-topk8", "-in", str(plain), "-v2", "aes-256-cbc", "-iter", "5000", "-passout", "pass:pw")
    assert keys.load_private_key(enc, "pw").algorithm == b"ssh-ed25519"
    with pytest.raises(keys.KeyDerivationCostError, match="5000 PBKDF2 iterations"):
        keys.load_private_key(enc, "pw", max_iterations=4999)
    assert keys.load_private_key(enc, "pw", max_iterations=5000).algorithm == b"ssh-ed25519"
    with pytest.raises(SSHFormatError):
        keys.load_private_key(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n", "pw")


NO_PROMPT = r"""
import sys
from M2Sec.SSH import keys
from M2Sec.TLS import parsePEMKey
data = open(sys.argv[1]).read()
for call in (lambda: keys.load_public_key(data.encode()), lambda: parsePEMKey(data + "-----BEGIN PUBLIC KEY-----\n"),
             lambda: parsePEMKey(data, public=True)):
    try:
        call()
        print("loaded")
    except Exception as e:
        print(type(e).__name__)
"""


def test_loading_an_encrypted_key_as_public_never_prompts(tmp_path):
    """keys.load_public_key and the TLS API's parsePEMKey fell through to a passphrase prompt
    (reading the terminal or stdin, leaking EOFError)."""
    import subprocess
    import sys
    from pki_helpers import openssl
    path = tmp_path / "enc.pem"
    openssl("genpkey", "-algorithm", "ed25519", "-aes256", "-pass", "pass:pw", "-out", str(path))
    proc = subprocess.run([sys.executable, "-c", NO_PROMPT, str(path)], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, start_new_session=True)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "passphrase" not in err.lower() and "EOFError" not in out, err
    assert out.split() == ["SSHFormatError", "SyntaxError", "SyntaxError"]
