"""gpgsm (GnuPG 2.2's S/MIME) and M2Sec, both ways, with a throw-away GNUPGHOME.

What gpgsm 2.2 lacks, each asserted below so that a newer gpgsm shows up: AuthEnvelopedData
(AES-GCM), RSA-OAEP key transport, encryption to EC certificates (ECDH), and importing EC
keys from PKCS#12 (2.2.40 crashes), so ECDH decryption and ECDSA signing cannot be tried.
It verifies RSA PKCS#1 v1.5, RSA-PSS and ECDSA signatures, and decrypts AES-CBC for RSA keys."""

import pytest

from M2Sec import CMS, mail

from gpgsm_helpers import GpgSM
from smime_helpers import M2SecCA

pytestmark = pytest.mark.timeout(180)
DATA = b"hello gpgsm\n"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("gpgsm_ca")))
    ca.person("alice")
    ca.person("bob", alg="EC")
    return ca


@pytest.fixture(scope="module")
def gpgsm(ca, tmp_path_factory):
    g = GpgSM(str(tmp_path_factory.mktemp("gnupg") / "home"), ca)
    g.import_key("alice")
    g.run("--import", ca.path("bob.pem"))
    yield g
    g.stop()


@pytest.mark.parametrize("signer,padding", [("alice", "pkcs1"), ("alice", "pss"), ("bob", "pkcs1")])
def test_gpgsm_verifies_m2sec(ca, gpgsm, tmp_path, signer, padding):
    sig = CMS.sign(DATA, ca.keys[signer], ca.certs[signer], certs=[ca.certs["inter"]], detached=True, padding=padding)
    (tmp_path / "d").write_bytes(DATA)
    (tmp_path / "s").write_bytes(sig.to_der())
    p = gpgsm.run("--verify", str(tmp_path / "s"), str(tmp_path / "d"))
    assert b"Good signature" in p.stderr
    (tmp_path / "s").write_bytes(CMS.sign(DATA + b"!", ca.keys[signer], ca.certs[signer], detached=True).to_der())
    assert gpgsm.run("--verify", str(tmp_path / "s"), str(tmp_path / "d"), check=False).returncode != 0


def test_gpgsm_decrypts_m2sec(ca, gpgsm, tmp_path):
    for cipher in ("aes-256-cbc", "aes-128-cbc"):
        (tmp_path / "e").write_bytes(CMS.encrypt(DATA, [ca.certs["alice"]], cipher=cipher).to_der())
        assert gpgsm.with_pass("--decrypt", str(tmp_path / "e")).stdout == DATA
    # what GnuPG 2.2 lacks: AuthEnvelopedData (AES-GCM) and RSA-OAEP
    (tmp_path / "e").write_bytes(CMS.encrypt(DATA, [ca.certs["alice"]], cipher="aes-256-gcm").to_der())
    assert gpgsm.with_pass("--decrypt", str(tmp_path / "e"), check=False).returncode != 0
    oaep = CMS.CertRecipient(ca.certs["alice"], rsa_padding="oaep")
    (tmp_path / "e").write_bytes(CMS.encrypt(DATA, [oaep], cipher="aes-256-cbc").to_der())
    assert gpgsm.with_pass("--decrypt", str(tmp_path / "e"), check=False).returncode != 0


def test_m2sec_reads_gpgsm(ca, gpgsm, tmp_path):
    (tmp_path / "d").write_bytes(DATA)
    opaque = gpgsm.with_pass("-u", "alice@example.org", "--sign", str(tmp_path / "d")).stdout
    res = CMS.verify(CMS.load_der(opaque), trusted=[ca.certs["root"]], certs=[ca.certs["inter"]])
    assert res.content == DATA and res.signers[0].trusted
    assert res.infos[0].capabilities  # gpgsm announces what it decrypts (AES-CBC, 3DES)
    assert mail.choose_cipher([ca.certs["alice"]], lambda c: res.infos[0].capabilities).endswith("-cbc")
    detached = gpgsm.with_pass("-u", "alice@example.org", "--sign", "--detach", str(tmp_path / "d")).stdout
    assert CMS.verify(CMS.load_der(detached), trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], data=DATA).content == DATA
    enc = gpgsm.run("-r", "alice@example.org", "--encrypt", str(tmp_path / "d")).stdout
    ci = CMS.load_der(enc)
    assert ci.type_name == "envelopedData" and CMS.decrypt(ci, ca.keys["alice"], ca.certs["alice"]) == DATA
    # gpgsm 2.2 cannot encrypt to an EC certificate
    assert gpgsm.run("-r", "bob@example.org", "--encrypt", str(tmp_path / "d"), check=False).returncode != 0


def test_mail_round_trip_with_gpgsm(ca, gpgsm, tmp_path):
    from test_mail import message, wire
    # S/MIME mail for an S/MIME 3.2 receiver: AES-CBC, chosen from the capabilities it announced
    out = mail.sign_and_encrypt(message(), ca.keys["alice"], ca.certs["alice"], [ca.certs["alice"]],
                                chain=[ca.certs["inter"]], capabilities=lambda c: ["aes-128-cbc", "des-ede3-cbc"])
    (tmp_path / "m.p7m").write_bytes(out.get_payload(decode=True))  # gpgsm reads the CMS, not the MIME around it
    inner = gpgsm.with_pass("--decrypt", str(tmp_path / "m.p7m")).stdout
    assert b"multipart/signed" in inner
    opened = mail.unwrap(wire(out), key=ca.keys["alice"], cert=ca.certs["alice"], trusted=[ca.certs["root"]])
    assert opened.layers == ["envelopedData", "signedData"] and opened.sender_matches()
