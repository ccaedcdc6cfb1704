"""`m2sec smime sign|verify|encrypt|decrypt|unwrap` (python -m M2Sec) with `openssl cms` on the
other side."""

import subprocess
import sys

import pytest

from pki_helpers import openssl
from smime_helpers import M2SecCA

pytestmark = pytest.mark.timeout(120)

MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: cli\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from the command line\r\n")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("cli_ca")))
    ca.person("alice")
    ca.person("bob", alg="EC", curve="P-384")
    ca.chain_file()
    return ca


def m2sec(*args, input=None):
    return subprocess.run([sys.executable, "-m", "M2Sec", "smime", *args], input=input, capture_output=True, timeout=60)


def test_sign_verify_both_ways(ca, tmp_path):
    signed = m2sec("sign", "-k", ca.path("alice.key"), "-c", ca.path("alice.pem"), "--chain", ca.path("inter.pem"),
                   "--pss", input=MESSAGE)
    assert signed.returncode == 0, signed.stderr
    (tmp_path / "s.eml").write_bytes(signed.stdout)
    content = openssl("cms", "-verify", "-in", str(tmp_path / "s.eml"), "-CAfile", ca.path("root.pem"))
    assert b"Hello from the command line" in content
    v = m2sec("verify", "--CAfile", ca.path("root.pem"), "-i", str(tmp_path / "s.eml"))
    assert v.returncode == 0, v.stderr
    report = v.stderr.decode()
    assert "Signed by: alice <alice@example.org> (layer 1), RSASSA-PSS with SHA256" in report and ": trusted" in report
    assert "From matches a trusted signer: yes" in report and b"Hello from the command line" in v.stdout
    # untrusted: reported, exit 1 (0 with --allow-untrusted)
    v = m2sec("verify", "--CAfile", ca.path("bob.pem"), "-i", str(tmp_path / "s.eml"))
    assert v.returncode == 1 and b"NOT TRUSTED" in v.stderr
    assert m2sec("verify", "--CAfile", ca.path("bob.pem"), "--allow-untrusted", "-i", str(tmp_path / "s.eml")).returncode == 0
    # openssl signs, m2sec verifies; tampered: exit 1
    body = tmp_path / "body"
    body.write_bytes(b"Content-Type: text/plain\r\n\r\nfrom openssl\r\n")
    osig = openssl("cms", "-sign", "-in", str(body), "-signer", ca.path("bob.pem"), "-inkey", ca.path("bob.key"),
                   "-certfile", ca.path("inter.pem"), "-from", "bob@example.org")
    v = m2sec("verify", "--CAfile", ca.path("root.pem"), input=osig)
    assert v.returncode == 0 and b"ecdsa" in v.stderr.lower() and b"from openssl" in v.stdout
    v = m2sec("verify", "--CAfile", ca.path("root.pem"), input=osig.replace(b"from openssl", b"from 0penssl"))
    assert v.returncode == 1 and b"does not verify" in v.stderr


def test_encrypt_decrypt_unwrap(ca, tmp_path):
    enc = m2sec("encrypt", "-r", ca.path("bob.pem"), input=MESSAGE)
    assert enc.returncode == 0 and b"authEnveloped-data" in enc.stdout
    (tmp_path / "e.eml").write_bytes(enc.stdout)
    assert b"Hello from the command line" in openssl("cms", "-decrypt", "-in", str(tmp_path / "e.eml"),
                                                      "-recip", ca.path("bob.pem"), "-inkey", ca.path("bob.key"))
    d = m2sec("decrypt", "-k", ca.path("bob.key"), "-c", ca.path("bob.pem"), "-i", str(tmp_path / "e.eml"))
    assert d.returncode == 0 and b"Hello from the command line" in d.stdout and b"Encrypted: yes" in d.stderr
    assert m2sec("decrypt", "-k", ca.path("alice.key"), "-i", str(tmp_path / "e.eml")).returncode == 1
    # sign and encrypt in one go (RSA-OAEP to alice, ECDH to bob), then unwrap
    both = m2sec("sign", "-k", ca.path("alice.key"), "-c", ca.path("alice.pem"), "--chain", ca.path("inter.pem"),
                 "-r", ca.path("bob.pem"), "-r", ca.path("alice.pem"), "--oaep", "--cipher", "aes-128-gcm", input=MESSAGE)
    assert both.returncode == 0, both.stderr
    u = m2sec("unwrap", "-k", ca.path("alice.key"), "-c", ca.path("alice.pem"), "--CAfile", ca.path("root.pem"),
              input=both.stdout)
    assert u.returncode == 0, u.stderr
    assert b"Layers: authEnvelopedData > signedData" in u.stderr and b"Hello from the command line" in u.stdout
    # openssl encrypts to bob with AES-CBC, m2sec decrypts
    oenc = openssl("cms", "-encrypt", "-aes256", "-in", str(tmp_path / "e.eml"), ca.path("bob.pem"))
    u = m2sec("unwrap", "-k", ca.path("bob.key"), "--CAfile", ca.path("root.pem"), input=oenc)
    assert u.returncode == 0 and b"Layers: envelopedData > authEnvelopedData" in u.stderr


def test_usage_errors(ca):
    assert m2sec().returncode == 2
    assert m2sec("encrypt", input=MESSAGE).returncode == 2
    r = m2sec("sign", "-k", ca.path("nope.key"), "-c", ca.path("alice.pem"), input=MESSAGE)
    assert r.returncode == 1 and b"m2sec smime:" in r.stderr
    r = m2sec("verify", input=b"not a message")
    assert r.returncode == 1
