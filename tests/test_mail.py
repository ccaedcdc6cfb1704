"""M2Sec.mail: S/MIME e-mail with the email package, smtplib on loopback, and `openssl smime`
/ `openssl cms` reading and writing the messages."""

import smtplib
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from M2Sec import CMS, SMIME, X509, m2, mail

from pki_helpers import openssl
from smime_helpers import M2SecCA, SMTPServer

pytestmark = pytest.mark.timeout(120)

BODY = "Hallo Bob,\nschöne Grüße aus Zürich.\nFrom the lake\n.\nAlice\n"
ATTACHMENT = bytes(range(256)) * 8


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("mail_ca")))
    for name in ("alice", "bob", "mallory"):
        ca.person(name)
    ca.person("carol", alg="EC")
    ca.revoke("mallory")
    ca.crl()
    return ca


@pytest.fixture
def smtp_server():
    server = SMTPServer()
    yield server
    server.stop()


def message(sender="Alice <alice@example.org>", subject="Grüße – " + "long subject " * 6):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Bob <bob@example.org>"
    msg["Subject"] = subject
    msg["Message-ID"] = "<1234@example.org>"
    msg.set_content(BODY)
    msg.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="data.bin")
    return msg


def wire(msg):
    return msg.as_bytes(policy=policy.SMTP)


def check_inner(opened, subject=None):
    inner = opened.message
    assert inner.get_body(("plain",)).get_content() == BODY
    [att] = list(inner.iter_attachments())
    assert att.get_filename() == "data.bin" and att.get_content() == ATTACHMENT
    assert inner["To"] == "Bob <bob@example.org>"
    if subject is not None:
        assert inner["Subject"] == subject


def make_all(ca):
    a_key, a_cert, inter = ca.keys["alice"], ca.certs["alice"], ca.certs["inter"]
    return {
        "signed": mail.sign(message(), a_key, a_cert, chain=[inter]),
        "opaque": mail.sign(message(), a_key, a_cert, chain=[inter], detached=False, digest="sha512"),
        "encrypted": mail.encrypt(message(), [ca.certs["bob"]]),
        "encrypted_cbc": mail.encrypt(message(), [ca.certs["bob"]], cipher="aes-256-cbc"),
        "both": mail.sign_and_encrypt(message(), a_key, a_cert, [ca.certs["bob"], a_cert], chain=[inter]),
    }


def test_round_trips(ca):
    root = ca.certs["root"]
    for kind, out in make_all(ca).items():
        raw = wire(out)
        assert raw.isascii(), kind  # 7-bit clean on the wire
        assert out["Subject"] == message()["Subject"] and out["From"] == "Alice <alice@example.org>"
        ctype = out.get_content_type()
        if kind == "signed":
            assert ctype == "multipart/signed" and out.get_param("micalg") == "sha-256"
            assert out.get_param("protocol") == "application/pkcs7-signature"
        else:
            assert ctype == "application/pkcs7-mime"
            assert out.get_param("smime-type") == {"opaque": "signed-data", "encrypted_cbc": "enveloped-data"}.get(
                kind, "authEnveloped-data")
        assert BODY.split()[0].encode() not in raw or kind == "signed"
        for source in (raw, out, BytesParser(policy=policy.default).parsebytes(raw)):
            opened = mail.unwrap(source, key=ca.keys["bob"], cert=ca.certs["bob"], trusted=[root])
            assert opened.signed == (not kind.startswith("encrypted"))
            assert opened.encrypted == (kind in ("encrypted", "encrypted_cbc", "both"))
            assert [c.get_subject().CN for c in opened.signers] == (["alice"] if opened.signed else [])
            assert opened.sender_matches() == opened.signed
            check_inner(opened, message()["Subject"])
    # alice, a second recipient of "both", reads it too; a CA file works as the trust anchor
    raw = wire(make_all(ca)["both"])
    opened = mail.unwrap(raw, key=ca.keys["alice"], cert=ca.certs["alice"], trusted=ca.path("root.pem"))
    assert opened.signed and opened.encrypted


def test_openssl_reads_what_mail_writes(ca, tmp_path):
    for kind, out in make_all(ca).items():
        f = tmp_path / (kind + ".eml")
        f.write_bytes(wire(out))
        for tool in ("smime", "cms"):
            if tool == "smime" and kind in ("encrypted", "both"):
                continue  # AES-GCM is AuthEnvelopedData, which PKCS#7 (openssl smime) lacks
            if kind in ("signed", "opaque"):
                inner = openssl(tool, "-verify", "-in", str(f), "-CAfile", ca.path("root.pem"), "-purpose", "smimesign")
            else:
                inner = openssl(tool, "-decrypt", "-in", str(f), "-recip", ca.path("bob.pem"), "-inkey", ca.path("bob.key"))
                if kind == "both":
                    inner = openssl(tool, "-verify", "-CAfile", ca.path("root.pem"), input=inner)
            part = BytesParser(policy=policy.default).parsebytes(inner)
            assert part.get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY, (kind, tool)


@pytest.mark.parametrize("tool", ["smime", "cms"])
def test_mail_reads_what_openssl_writes(ca, tmp_path, tool):
    entity = tmp_path / "entity"
    entity.write_bytes(b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from openssl\r\n")
    headers = ["-from", "alice@example.org", "-to", "bob@example.org", "-subject", "From openssl"]
    signed = tmp_path / "signed.eml"
    signed.write_bytes(openssl(tool, "-sign", *headers, "-in", str(entity), "-signer", ca.path("alice.pem"),
                               "-inkey", ca.path("alice.key"), "-certfile", ca.path("inter.pem")))
    opened = mail.unwrap(signed.read_bytes(), trusted=[ca.certs["root"]])
    assert opened.signed and not opened.encrypted and opened.sender_matches()
    assert opened.message.get_content().strip() == "Hello from openssl"
    assert opened.message["Subject"] == "From openssl"
    # signed, then encrypted by openssl
    both = openssl(tool, "-encrypt", "-aes256", *headers, "-in", str(signed), ca.path("bob.pem"))
    opened = mail.unwrap(both, key=ca.keys["bob"], cert=ca.certs["bob"], trusted=[ca.certs["root"]])
    assert opened.signed and opened.encrypted and opened.message.get_content().strip() == "Hello from openssl"
    assert [c.get_subject().CN for c in opened.signers] == ["alice"]


def test_smtp_round_trip_on_loopback(ca, smtp_server, tmp_path):
    out = mail.sign_and_encrypt(message(), ca.keys["alice"], ca.certs["alice"], [ca.certs["bob"]],
                                chain=[ca.certs["inter"]])
    signed = mail.sign(message(), ca.keys["alice"], ca.certs["alice"], chain=[ca.certs["inter"]])
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=10) as smtp:
        smtp.send_message(out)
        smtp.send_message(signed)
    received, received_signed = smtp_server.messages
    opened = mail.unwrap(received, key=ca.keys["bob"], cert=ca.certs["bob"], trusted=[ca.certs["root"]])
    assert opened.signed and opened.encrypted and opened.sender_matches()
    check_inner(opened, message()["Subject"])
    opened = mail.unwrap(received_signed, trusted=[ca.certs["root"]])
    assert opened.signed and not opened.encrypted
    check_inner(opened)
    (tmp_path / "r.eml").write_bytes(received_signed)
    openssl("smime", "-verify", "-in", str(tmp_path / "r.eml"), "-CAfile", ca.path("root.pem"))


def test_untrusted_revoked_and_tampered(ca):
    signed = wire(mail.sign(message(), ca.keys["alice"], ca.certs["alice"]))
    # the intermediate is neither in the message nor given: OpenSSL's verify code says so
    with pytest.raises(CMS.CMSVerificationError) as e:
        mail.unwrap(signed, trusted=[ca.certs["root"]])
    assert e.value.verify_code == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert mail.unwrap(signed, trusted=[ca.certs["root"]], untrusted=[ca.certs["inter"]]).signed
    with pytest.raises(X509.X509VerificationError):
        mail.unwrap(signed, trusted=[ca.certs["bob"]], untrusted=[ca.certs["inter"]])
    # a revoked signer, with the CRL in the store
    store = X509.X509_Store()
    store.add_x509(ca.certs["root"])
    store.add_crl(X509.load_crl(ca.path("inter.crl")))
    store.set_flags(X509.verify_crl_check)
    bad = wire(mail.sign(message(), ca.keys["mallory"], ca.certs["mallory"], chain=[ca.certs["inter"]]))
    with pytest.raises(CMS.CMSVerificationError) as e:
        mail.unwrap(bad, trusted=store)
    assert e.value.verify_code == m2.X509_V_ERR_CERT_REVOKED
    # tampered content: the signature fails, not the chain
    text = b"sch=C3=B6ne Gr=C3=BC=C3=9Fe"
    assert text in signed
    with pytest.raises(CMS.CMSSignatureError) as e:
        mail.unwrap(signed.replace(text, b"sch=C3=B6ne Gr=C3=BC=C3=9Fa"), trusted=[ca.certs["root"]],
                    untrusted=[ca.certs["inter"]])
    assert not isinstance(e.value, CMS.CMSVerificationError)
    # the unsigned From header is not the signer's
    forged = mail.sign(message(sender="ceo@example.org"), ca.keys["alice"], ca.certs["alice"],
                       chain=[ca.certs["inter"]])
    opened = mail.unwrap(forged, trusted=[ca.certs["root"]])
    assert opened.signed and not opened.sender_matches()


def test_decryption_errors(ca):
    enc = wire(mail.encrypt(message(), [ca.certs["bob"]], cipher="camellia_256_cbc"))
    assert mail.unwrap(enc, key=ca.keys["bob"], cert=ca.certs["bob"]).encrypted
    with pytest.raises(SMIME.SMIME_Error, match="encrypted"):
        mail.unwrap(enc)
    with pytest.raises(CMS.CMSDecryptError):
        mail.unwrap(enc, key=ca.keys["alice"], cert=ca.certs["alice"])
    with pytest.raises(CMS.CMSDecryptError):
        mail.unwrap(enc, key=ca.keys["alice"], cert=ca.certs["bob"])
    cut = enc[: len(enc) // 2]
    with pytest.raises((SMIME.SMIME_Error, SMIME.PKCS7_Error)):
        mail.unwrap(cut, key=ca.keys["bob"], cert=ca.certs["bob"])
    with pytest.raises(SMIME.SMIME_Error):
        mail.encrypt(message(), [])
    with pytest.raises(ValueError):
        mail.encrypt(message(), [ca.certs["bob"]], cipher="no-such-cipher")


def test_plain_and_malformed_messages(ca):
    plain = message()
    opened = mail.unwrap(plain)
    assert not opened.signed and not opened.encrypted and not opened.sender_matches()
    check_inner(opened)
    broken = b"From: a@example.org\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n" \
             b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    with pytest.raises(SMIME.SMIME_Error):
        mail.unwrap(broken)
    signed = wire(mail.sign(message(), ca.keys["alice"], ca.certs["alice"]))
    boundary = signed.split(b'boundary="')[1].split(b'"')[0]
    with pytest.raises(SMIME.SMIME_Error):
        mail.unwrap(signed.replace(b"--" + boundary + b"--", b""), trusted=[ca.certs["root"]])
    # an ECDSA signer, a plain text message without attachments, and digests
    msg = EmailMessage()
    msg["From"] = "carol@example.org"
    msg.set_content("short\n")
    for digest in ("sha256", "sha384", "sha512"):
        out = mail.sign(msg, ca.keys["carol"], ca.certs["carol"], chain=[ca.certs["inter"]], digest=digest)
        opened = mail.unwrap(wire(out), trusted=[ca.certs["root"]])
        assert opened.sender_matches() and opened.message.get_content() == "short\n"
    with pytest.raises(SMIME.SMIME_Error):
        mail.sign(msg, ca.keys["carol"], ca.certs["carol"], digest="nope")


# ---- S/MIME 4.0 on CMS: RSA-PSS, EC recipients, AES-GCM, capabilities, triple wrapping ----

@pytest.fixture(scope="module")
def ca4(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("mail4_ca")))
    ca.person("alice")
    for curve in ("P-256", "P-384", "P-521"):
        ca.person("ec" + curve[2:], alg="EC", curve=curve)
    ca.person("xavier", alg="X25519")
    return ca


def test_smime4_pss_ec_recipients_and_gcm(ca4, tmp_path):
    ec = [ca4.certs[n] for n in ("ec256", "ec384", "ec521")]
    out = mail.sign_and_encrypt(message(), ca4.keys["alice"], ca4.certs["alice"], ec, chain=[ca4.certs["inter"]],
                                padding="pss")
    assert out.get_content_type() == "application/pkcs7-mime" and out.get_param("smime-type") == "authEnveloped-data"
    f = tmp_path / "m.eml"
    f.write_bytes(wire(out))
    for name in ("ec256", "ec384", "ec521"):
        inner = openssl("cms", "-decrypt", "-in", str(f), "-recip", ca4.path(name + ".pem"), "-inkey", ca4.path(name + ".key"))
        content = openssl("cms", "-verify", "-CAfile", ca4.path("root.pem"), "-purpose", "smimesign", input=inner)
        assert BytesParser(policy=policy.default).parsebytes(content).get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY
        opened = mail.unwrap(wire(out), key=ca4.keys[name], cert=ca4.certs[name], trusted=[ca4.certs["root"]])
        assert opened.signed and opened.encrypted and opened.trusted and opened.sender_matches()
        assert opened.layers == ["authEnvelopedData", "signedData"]
        [report] = opened.reports
        assert report.signature_algorithm == "RSASSA-PSS" and report.digest == "SHA256" and report.signing_time
        assert report.capabilities[:2] == ["aes-256-gcm", "aes-128-gcm"] == opened.capabilities[:2]
        check_inner(opened, message()["Subject"])


def test_smime4_cipher_follows_capabilities(ca4):
    bob = ca4.certs["ec256"]
    assert mail.choose_cipher([bob]) == "aes-256-gcm"
    assert mail.choose_cipher([bob], {"ec256@example.org": ["aes-128-gcm", "aes-128-cbc"]}) == "aes-128-gcm"
    assert mail.choose_cipher([bob], lambda cert: ["AES-256-CBC"]) == "aes-256-cbc"
    old = mail.encrypt(message(), [bob], capabilities={"ec256@example.org": ["aes-128-cbc", "des-ede3-cbc"]})
    assert old.get_param("smime-type") == "enveloped-data"
    with pytest.raises(SMIME.SMIME_Error):
        mail.choose_cipher([bob], {"ec256@example.org": ["rc2-cbc"]})
    # what a signed mail announces is what a reply is encrypted with
    opened = mail.unwrap(wire(mail.sign(message(), ca4.keys["alice"], ca4.certs["alice"], chain=[ca4.certs["inter"]])),
                         trusted=[ca4.certs["root"]])
    assert mail.choose_cipher([ca4.certs["alice"]], lambda cert: opened.capabilities) == "aes-256-gcm"


def test_smime4_triple_wrap(ca4, tmp_path):
    out = mail.triple_wrap(message(), ca4.keys["ec256"], ca4.certs["ec256"], [ca4.certs["alice"]],
                           chain=[ca4.certs["inter"]])
    assert out.get_content_type() == "multipart/signed"
    opened = mail.unwrap(wire(out), key=ca4.keys["alice"], cert=ca4.certs["alice"], trusted=[ca4.certs["root"]])
    assert opened.layers == ["signedData", "authEnvelopedData", "signedData"]
    assert [r.layer for r in opened.reports] == [1, 3] and opened.encrypted
    check_inner(opened, message()["Subject"])
    f = tmp_path / "t.eml"
    f.write_bytes(wire(out))
    middle = openssl("cms", "-verify", "-in", str(f), "-CAfile", ca4.path("root.pem"))
    inner = openssl("cms", "-decrypt", "-recip", ca4.path("alice.pem"), "-inkey", ca4.path("alice.key"), input=middle)
    openssl("cms", "-verify", "-CAfile", ca4.path("root.pem"), input=inner)


def test_smime4_reads_openssl_cms(ca4, tmp_path):
    entity = tmp_path / "entity"
    entity.write_bytes(b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from openssl cms\r\n")
    signed = openssl("cms", "-sign", "-in", str(entity), "-signer", ca4.path("alice.pem"), "-inkey",
                     ca4.path("alice.key"), "-certfile", ca4.path("inter.pem"), "-keyopt", "rsa_padding_mode:pss",
                     "-from", "alice@example.org", "-subject", "pss")
    (tmp_path / "s.eml").write_bytes(signed)
    both = openssl("cms", "-encrypt", "-aes-128-gcm", "-in", str(tmp_path / "s.eml"), "-from", "alice@example.org",
                   "-subject", "pss", ca4.path("ec384.pem"))
    opened = mail.unwrap(both, key=ca4.keys["ec384"], cert=ca4.certs["ec384"], trusted=[ca4.certs["root"]])
    assert opened.layers == ["authEnvelopedData", "signedData"] and opened.sender_matches()
    assert opened.reports[0].signature_algorithm == "RSASSA-PSS"
    assert opened.message.get_content().strip() == "Hello from openssl cms"


def test_smime4_untrusted_report_and_refusals(ca4):
    signed = wire(mail.sign(message(), ca4.keys["alice"], ca4.certs["alice"], chain=[ca4.certs["inter"]]))
    opened = mail.unwrap(signed, trusted=[ca4.certs["ec256"]], require_trust=False)
    assert opened.signed and not opened.trusted and not opened.sender_matches()
    assert opened.reports[0].verify_code == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert "issuer" in opened.reports[0].verify_message
    # X25519 (RFC 8418, M2Sec's own key agreement; Bouncy Castle reads it: tests/test_cms_ecx.py)
    enc = wire(mail.encrypt(message(), [ca4.certs["xavier"]]))
    check_inner(mail.unwrap(enc, key=ca4.keys["xavier"], cert=ca4.certs["xavier"]))
    if not CMS.HAS_EDDSA:  # OpenSSL 3.0's CMS has no EdDSA (RFC 8419)
        from M2Sec import EVP
        with pytest.raises(CMS.CMSUnsupportedAlgorithm):
            mail.sign(message(), EVP.generate_key("ED25519"), ca4.certs["alice"])


@pytest.mark.parametrize("alg,micalg", [("ED25519", "sha-512"), ("ED448", "shake-256")])
def test_smime4_eddsa_with_openssl(ca4, tmp_path, alg, micalg):
    """mail.sign with an Ed25519/Ed448 key (RFC 8419) read by `openssl cms`, and openssl's
    EdDSA-signed mail unwrapped; refused where OpenSSL's CMS has no EdDSA (3.0)."""
    name = alg.lower()
    if name not in ca4.certs:
        ca4.person(name, alg=alg)
    key, cert = ca4.keys[name], ca4.certs[name]
    if not CMS.HAS_EDDSA:
        with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="RFC 8419"):
            mail.sign(message(), key, cert)
        return
    out = mail.sign(message(), key, cert, chain=[ca4.certs["inter"]])
    assert out.get_content_type() == "multipart/signed" and out.get_param("micalg") == micalg
    f = tmp_path / "m.eml"
    f.write_bytes(wire(out))
    content = openssl("cms", "-verify", "-in", str(f), "-CAfile", ca4.path("root.pem"), "-purpose", "smimesign")
    assert BytesParser(policy=policy.default).parsebytes(content).get_body(("plain",)).get_content().replace("\r\n", "\n") == BODY
    opened = mail.unwrap(wire(out), trusted=[ca4.certs["root"]])
    assert opened.trusted and opened.reports[0].signature_algorithm == alg
    # openssl signs (opaque, then encrypted to alice), M2Sec unwraps both layers
    entity = tmp_path / "entity"
    entity.write_bytes(b"Content-Type: text/plain; charset=us-ascii\r\n\r\nEdDSA from openssl cms\r\n")
    signed = openssl("cms", "-sign", "-nodetach", "-in", str(entity), "-signer", ca4.path(name + ".pem"), "-inkey",
                     ca4.path(name + ".key"), "-certfile", ca4.path("inter.pem"), "-md", micalg.replace("-", ""),
                     "-from", name + "@example.org", "-subject", "eddsa")
    (tmp_path / "s.eml").write_bytes(signed)
    both = openssl("cms", "-encrypt", "-aes-256-gcm", "-in", str(tmp_path / "s.eml"), ca4.path("alice.pem"))
    opened = mail.unwrap(both, key=ca4.keys["alice"], cert=ca4.certs["alice"], trusted=[ca4.certs["root"]])
    assert opened.layers == ["authEnvelopedData", "signedData"] and opened.trusted
    assert opened.reports[0].signature_algorithm == alg
    assert opened.message.get_content().strip() == "EdDSA from openssl cms"


def test_mime_nested_10000_deep(ca4):
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(10000))
    with pytest.raises(mail.MIMEStructureError):
        mail.unwrap(b"From: x@example.org\r\n" + nested)
    with pytest.raises(mail.MIMEStructureError):  # the sender side refuses it too
        mail.encrypt(nested, [ca4.certs["ec256"]])
    # the same inside an encrypted layer: refused once decrypted
    enc = CMS.encrypt(nested, [ca4.certs["ec256"]]).to_smime()
    with pytest.raises(mail.MIMEStructureError):
        mail.unwrap(enc, key=ca4.keys["ec256"], cert=ca4.certs["ec256"])
    assert issubclass(mail.MIMEStructureError, CMS.CMSFormatError)


@pytest.mark.parametrize("raw", [b"To::;x\r\n\r\nbody\r\n", b"Content-Type:;i*\r\n\r\nbody\r\n",
                                 b"From: a@example.org\r\nTo::;x\r\nContent-Type:;i*\r\n\r\nbody\r\n"])
def test_unwrap_malformed_headers_is_an_smime_error(raw):
    """Found by fuzzing (issue 18): the email package's AttributeError/IndexError got out."""
    with pytest.raises(SMIME.SMIME_Error, match="malformed message headers"):
        mail.unwrap(raw)
