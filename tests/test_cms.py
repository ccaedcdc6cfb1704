"""M2Sec.CMS against `openssl cms`, both ways, for every signer, recipient and cipher; streaming
with bounded memory; bad input."""

import gc
import mmap
import os
import threading

import pytest

from M2Sec import BIO, CMS, X509, m2
from M2Sec.Err import ClosedError

from pki_helpers import openssl
from smime_helpers import M2SecCA, run

pytestmark = pytest.mark.timeout(300)

DATA = b"CMS test content\r\n" + bytes(range(256)) * 4

SIGNERS = {  # name -> (alg, curve, padding, openssl -keyopt)
    "rsa": ("RSA", None, "pkcs1", None),
    "rsa_pss": ("RSA", None, "pss", "rsa_padding_mode:pss"),
    "ec256": ("EC", "P-256", "pkcs1", None),
    "ec384": ("EC", "P-384", "pkcs1", None),
}
RECIPIENTS = {  # name -> (alg, curve, rsa padding, openssl -keyopt)
    "rsa": ("RSA", None, "pkcs1", None),
    "rsa_oaep": ("RSA", None, "oaep", "rsa_padding_mode:oaep"),
    "ec256": ("EC", "P-256", None, None),
    "ec384": ("EC", "P-384", None, None),
    "ec521": ("EC", "P-521", None, None),
    "x25519": ("X25519", None, None, None),
    "x448": ("X448", None, None, None),
}
CIPHERS = {"aes-128-gcm": "authEnvelopedData", "aes-256-gcm": "authEnvelopedData", "aes-256-cbc": "envelopedData",
           "aes-128-cbc": "envelopedData"}
KEK = bytes(range(32))
KEK_ID = b"kek-1"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("cms_ca")))
    done = {}
    for table in (SIGNERS, RECIPIENTS):
        for name, (alg, curve, _, _) in table.items():
            key = (alg, curve)
            if name in ca.certs:
                continue
            if key in done:  # one key per algorithm: RSA keys are slow to make
                ca.keys[name], ca.certs[name] = ca.keys[done[key]], ca.certs[done[key]]
                for ext in ("key", "pem"):
                    with open(ca.path("%s.%s" % (done[key], ext)), "rb") as src, open(ca.path("%s.%s" % (name, ext)), "wb") as dst:
                        dst.write(src.read())
                continue
            ca.person(name, alg=alg, curve=curve or "P-256")
            done[key] = name
    ca.person("outsider")
    ca.chain_file()
    return ca


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


# ---- SignedData ----

@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_signed_m2sec_to_openssl(ca, tmp_path, name):
    alg, curve, padding, keyopt = SIGNERS[name]
    ci = CMS.sign(DATA, ca.keys[name], ca.certs[name], certs=[ca.certs["inter"]], padding=padding)
    assert ci.type_name == "signedData" and not ci.detached
    [info] = ci.signer_infos()
    assert info.digest == "SHA256" and info.signing_time is not None
    assert info.signature_algorithm == {"pss": "RSASSA-PSS"}.get(padding, info.signature_algorithm)
    f = write(tmp_path, "s.der", ci.to_der())
    out = openssl("cms", "-verify", "-inform", "DER", "-in", f, "-CAfile", ca.path("root.pem"), "-purpose", "smimesign")
    assert out == DATA
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", f).decode()
    assert "S/MIME Capabilities" in printed and ":aes-256-gcm" in printed
    # detached, as S/MIME multipart/signed, with two signers
    extra = "ec384" if name != "ec384" else "ec256"
    ci = CMS.sign(DATA, ca.keys[name], ca.certs[name], certs=[ca.certs["inter"]], padding=padding, detached=True,
                  signers=[CMS.Signer(ca.keys[extra], ca.certs[extra], "sha384")])
    assert ci.detached
    f = write(tmp_path, "s.eml", ci.to_smime(DATA))
    assert b"multipart/signed" in open(f, "rb").read()
    assert openssl("cms", "-verify", "-in", f, "-CAfile", ca.path("root.pem"), "-binary") == DATA


@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_signed_openssl_to_m2sec(ca, tmp_path, name):
    alg, curve, padding, keyopt = SIGNERS[name]
    src = write(tmp_path, "in.bin", DATA)
    args = ["cms", "-sign", "-binary", "-in", src, "-signer", ca.path(name + ".pem"), "-inkey", ca.path(name + ".key"),
            "-certfile", ca.path("inter.pem"), "-outform", "DER", "-md", "sha384", "-nodetach"]
    if keyopt:
        args += ["-keyopt", keyopt]
    ci = CMS.load_der(openssl(*args))
    result = CMS.verify(ci, trusted=[ca.certs["root"]])
    assert result.content == DATA
    [signer] = result.signers
    assert signer.trusted and signer.certificate.as_der() == ca.certs[name].as_der()
    assert [c.get_subject().CN for c in signer.chain] == [name if name in ("rsa", "ec256") else signer.certificate.get_subject().CN, "M2Sec Test Inter", "M2Sec Test Root"]
    assert result.infos[0].digest == "SHA384"
    # detached S/MIME from openssl, verified with its content
    smime = openssl("cms", "-sign", "-in", src, "-signer", ca.path(name + ".pem"), "-inkey", ca.path(name + ".key"),
                    "-certfile", ca.path("inter.pem"), "-binary", *(["-keyopt", keyopt] if keyopt else []))
    ci, content = CMS.load_smime(smime, binary=True)
    assert content is not None and ci.detached
    assert CMS.verify(ci, trusted=ca.path("chain.pem"), data=content).content == DATA


def test_signed_options(ca, tmp_path):
    crl = X509.load_crl(ca.crl())
    ci = CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], crls=[crl], attributes=False)
    [info] = ci.signer_infos()
    assert info.signing_time is None
    assert len(ci.crls()) == 1 and [c.get_subject().CN for c in ci.certificates()] == ["rsa"]
    # the signer's own certificate among certs is not added twice
    ci = CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], certs=[ca.certs["rsa"], ca.certs["inter"]])
    assert sorted(c.get_subject().CN for c in ci.certificates()) == ["M2Sec Test Inter", "rsa"]
    # no certificates inside: the verifier supplies the signer's
    ci = CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], include_signer_cert=False)
    assert ci.certificates() == []
    with pytest.raises(CMS.CMSError):
        CMS.verify(ci, trusted=[ca.certs["root"]])
    res = CMS.verify(CMS.load_der(ci.to_der()), trusted=[ca.certs["root"]], certs=[ca.certs["rsa"], ca.certs["inter"]])
    assert res.content == DATA and res.signers[0].trusted
    # PEM round trip, and openssl reads the PEM
    pem = CMS.sign(DATA, ca.keys["ec256"], ca.certs["ec256"]).to_pem()
    assert pem.startswith(b"-----BEGIN CMS-----")
    f = write(tmp_path, "s.pem", pem)
    assert openssl("cms", "-verify", "-inform", "PEM", "-in", f, "-noverify") == DATA
    assert CMS.verify(CMS.load_pem(pem), require_trust=False).signers[0].verify_code != 0
    with pytest.raises(ValueError):
        CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], padding="oaep")
    with pytest.raises(CMS.CMSError):
        CMS.sign(DATA, ca.keys["ec256"], ca.certs["ec256"], padding="pss")
    with pytest.raises(CMS.CMSError):  # key and certificate do not match
        CMS.sign(DATA, ca.keys["rsa"], ca.certs["ec256"])
    with pytest.raises(CMS.CMSUnsupportedAlgorithm):
        CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], digest="no-such-digest")


EDDSA = {"ED25519": ("SHA512", "sha512"), "ED448": ("SHAKE256", "shake256")}  # alg -> (digest seen, openssl -md)


@pytest.mark.parametrize("alg", sorted(EDDSA))
def test_eddsa_signers_both_ways(ca, tmp_path, alg):
    """RFC 8419 with `openssl cms` of the same OpenSSL: both ways where its CMS has EdDSA (3.2+),
    a clear refusal where it has not (3.0: the peer cannot sign either)."""
    name = alg.lower()
    if name not in ca.certs:
        ca.person(name, alg=alg)
    key, cert = ca.keys[name], ca.certs[name]
    src = write(tmp_path, "in.bin", DATA)
    sign_args = ["cms", "-sign", "-binary", "-in", src, "-signer", ca.path(name + ".pem"), "-inkey", ca.path(name + ".key"),
                 "-certfile", ca.path("inter.pem"), "-md", EDDSA[alg][1]]
    if not CMS.HAS_EDDSA:
        with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="RFC 8419"):
            CMS.sign(DATA, key, cert)
        assert run(*sign_args).returncode != 0
        return
    assert CMS.default_digest(key) == EDDSA[alg][1]
    # M2Sec signs (the key's natural digest), openssl verifies: attached DER and detached S/MIME
    ci = CMS.sign(DATA, key, cert, certs=[ca.certs["inter"]])
    [info] = ci.signer_infos()
    assert (info.digest, info.signature_algorithm) == (EDDSA[alg][0], alg)
    f = write(tmp_path, "s.der", ci.to_der())
    assert openssl("cms", "-verify", "-inform", "DER", "-in", f, "-CAfile", ca.path("root.pem"), "-purpose", "smimesign") == DATA
    f = write(tmp_path, "s.eml", CMS.sign(DATA, key, cert, certs=[ca.certs["inter"]], detached=True).to_smime(DATA))
    assert openssl("cms", "-verify", "-in", f, "-CAfile", ca.path("root.pem"), "-binary") == DATA
    # a tampered signature is caught by openssl
    der = bytearray(ci.to_der())
    der[-3] ^= 1
    assert run("cms", "-verify", "-inform", "DER", "-in", write(tmp_path, "bad.der", bytes(der)),
               "-CAfile", ca.path("root.pem")).returncode != 0
    # openssl signs, M2Sec verifies: attached, and detached S/MIME
    result = CMS.verify(CMS.load_der(openssl(*sign_args, "-nodetach", "-outform", "DER")), trusted=[ca.certs["root"]])
    assert result.content == DATA and result.signers[0].trusted
    assert result.infos[0].signature_algorithm == alg
    ci, content = CMS.load_smime(openssl(*sign_args), binary=True)
    assert CMS.verify(ci, trusted=[ca.certs["root"]], data=content).content == DATA
    with pytest.raises(CMS.CMSSignatureError):
        CMS.verify(ci, trusted=[ca.certs["root"]], data=DATA + b"x")
    # another digest, named
    ci = CMS.sign(DATA, key, cert, digest="sha384")
    assert ci.signer_infos()[0].digest == "SHA384"
    assert openssl("cms", "-verify", "-inform", "DER", "-in", write(tmp_path, "s3.der", ci.to_der()), "-noverify") == DATA


def test_untrusted_and_tampered(ca):
    ci = CMS.sign(DATA, ca.keys["outsider"], ca.certs["outsider"])
    with pytest.raises(CMS.CMSVerificationError) as e:  # the intermediate is missing
        CMS.verify(ci, trusted=[ca.certs["root"]])
    assert e.value.verify_code == m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert isinstance(e.value, X509.X509VerificationError) and e.value.certificate.get_subject().CN == "outsider"
    with pytest.raises(CMS.CMSVerificationError) as e:  # a store that trusts something else
        CMS.verify(ci, trusted=[ca.certs["rsa"]], certs=[ca.certs["inter"]])
    res = CMS.verify(ci, trusted=[ca.certs["root"]], require_trust=False)
    assert res.content == DATA and not res.signers[0].trusted and res.signers[0].verify_message
    # the wrong purpose
    with pytest.raises(CMS.CMSVerificationError) as e:
        CMS.verify(ci, trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], purpose="ssl_server")
    assert e.value.verify_code == m2.X509_V_ERR_INVALID_PURPOSE
    # the verification time: a week on, the certificates (valid for a day) have expired
    import datetime
    week = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    with pytest.raises(CMS.CMSVerificationError) as e:
        CMS.verify(ci, trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], at_time=week)
    assert e.value.verify_code == m2.X509_V_ERR_CERT_HAS_EXPIRED
    # tampered content
    der = ci.to_der()
    i = der.index(b"CMS test content")
    bad = der[:i] + b"CMS TEST" + der[i + 8:]
    with pytest.raises(CMS.CMSSignatureError):
        CMS.verify(CMS.load_der(bad), trusted=[ca.certs["root"]], certs=[ca.certs["inter"]])
    # tampered detached content
    det = CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"], detached=True)
    with pytest.raises(CMS.CMSSignatureError):
        CMS.verify(det, trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], data=DATA + b"x")
    assert CMS.verify(det, trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], data=DATA).content == DATA


# ---- EnvelopedData / AuthEnvelopedData ----

def _recipient(ca, name):
    alg, curve, padding, keyopt = RECIPIENTS[name]
    if padding == "oaep":
        return CMS.CertRecipient(ca.certs[name], rsa_padding="oaep")
    return ca.certs[name]


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
@pytest.mark.parametrize("name", sorted(RECIPIENTS))
def test_enveloped_both_ways(ca, tmp_path, name, cipher):
    alg, curve, padding, keyopt = RECIPIENTS[name]
    src = write(tmp_path, "in.bin", DATA)
    if alg in ("X25519", "X448"):
        # M2Sec does RFC 8418 itself; openssl cms has it neither way (the peer is Bouncy Castle:
        # tests/test_cms_ecx.py)
        ci = CMS.encrypt(DATA, [_recipient(ca, name)], cipher=cipher)
        assert ci.type_name == CIPHERS[cipher] and ci.recipient_kinds() == ["key_agreement"]
        assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys[name], ca.certs[name]) == DATA
        assert run("cms", "-encrypt", "-binary", "-in", src, "-" + cipher, ca.path(name + ".pem")).returncode != 0
        return
    ci = CMS.encrypt(DATA, [_recipient(ca, name)], cipher=cipher)
    assert ci.type_name == CIPHERS[cipher]
    assert ci.recipient_kinds() == ["key_transport" if alg == "RSA" else "key_agreement"]
    f = write(tmp_path, "e.der", ci.to_der())
    assert openssl("cms", "-decrypt", "-inform", "DER", "-in", f, "-recip", ca.path(name + ".pem"),
                   "-inkey", ca.path(name + ".key")) == DATA
    if padding == "oaep":
        assert "rsaesOaep" in openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", f).decode()
    # openssl encrypts, M2Sec decrypts (with and without naming the recipient's certificate)
    args = ["cms", "-encrypt", "-binary", "-in", src, "-outform", "DER", "-" + cipher, "-recip", ca.path(name + ".pem")]
    if keyopt:
        args += ["-keyopt", keyopt]
    der = openssl(*args)
    assert CMS.decrypt(CMS.load_der(der), ca.keys[name], ca.certs[name]) == DATA
    assert CMS.decrypt(CMS.load_der(der), ca.keys[name]) == DATA


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-128-cbc"])
def test_kek_and_password_both_ways(tmp_path, cipher):
    ci = CMS.encrypt(DATA, [CMS.KEKRecipient(KEK, KEK_ID), CMS.PasswordRecipient(b"correct horse", 2048)], cipher=cipher)
    assert ci.recipient_kinds() == ["kek", "password"]
    f = write(tmp_path, "k.der", ci.to_der())
    assert openssl("cms", "-decrypt", "-inform", "DER", "-in", f, "-secretkey", KEK.hex(),
                   "-secretkeyid", KEK_ID.hex()) == DATA
    assert openssl("cms", "-decrypt", "-inform", "DER", "-in", f, "-pwri_password", "correct horse") == DATA
    src = write(tmp_path, "in.bin", DATA)
    der = openssl("cms", "-encrypt", "-binary", "-in", src, "-outform", "DER", "-" + cipher,
                  "-secretkey", KEK.hex(), "-secretkeyid", KEK_ID.hex())
    assert CMS.decrypt(CMS.load_der(der), kek=(KEK, KEK_ID)) == DATA
    if "gcm" in cipher:  # openssl cms wraps the password's key with the content cipher: AES-GCM fails there
        assert run("cms", "-encrypt", "-binary", "-in", src, "-" + cipher, "-pwri_password", "pw").returncode != 0
        der = CMS.encrypt(DATA, [CMS.PasswordRecipient(b"pw")], cipher=cipher).to_der()
    else:
        der = openssl("cms", "-encrypt", "-binary", "-in", src, "-outform", "DER", "-" + cipher, "-pwri_password", "pw")
    assert CMS.decrypt(CMS.load_der(der), password="pw") == DATA
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(der), password="wrong")
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(ci.to_der()), kek=(bytes(32), KEK_ID))
    with pytest.raises(ValueError):
        CMS.KEKRecipient(b"short", b"id") and CMS.encrypt(DATA, [CMS.KEKRecipient(b"short", b"id")])


def test_several_recipients_and_smime(ca, tmp_path):
    ci = CMS.encrypt(DATA, [ca.certs["rsa"], ca.certs["ec256"], ca.certs["ec521"]], cipher="aes-256-gcm")
    smime = ci.to_smime()
    assert b"smime-type=authEnveloped-data" in smime
    f = write(tmp_path, "e.eml", smime)
    for name in ("rsa", "ec256", "ec521"):
        assert openssl("cms", "-decrypt", "-in", f, "-recip", ca.path(name + ".pem"), "-inkey", ca.path(name + ".key")) == DATA
        ci2, content = CMS.load_smime(smime)
        assert content is None and CMS.decrypt(ci2, ca.keys[name], ca.certs[name]) == DATA
    assert b"smime-type=enveloped-data" in CMS.encrypt(DATA, [ca.certs["rsa"]], cipher="aes-128-cbc").to_smime()


def test_decrypt_errors(ca):
    ci = CMS.encrypt(DATA, [ca.certs["rsa"]], cipher="aes-256-gcm")
    der = ci.to_der()
    for cut in (20, len(der) // 2, len(der) - 3):  # truncated enveloped data
        with pytest.raises(CMS.CMSFormatError):
            CMS.load_der(der[:cut])
    with pytest.raises(CMS.CMSDecryptError):  # a key that is no recipient's
        CMS.decrypt(CMS.load_der(der), ca.keys["ec256"], ca.certs["ec256"])
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(der), ca.keys["outsider"])
    with pytest.raises(ValueError):
        CMS.decrypt(CMS.load_der(der))
    with pytest.raises(CMS.CMSUnsupportedAlgorithm):
        CMS.encrypt(DATA, [ca.certs["rsa"]], cipher="no-such-cipher")
    with pytest.raises(ValueError):
        CMS.encrypt(DATA, [])


def test_auth_enveloped_bad_tag_releases_nothing(ca):
    der = CMS.encrypt(DATA, [ca.certs["rsa"]], cipher="aes-256-gcm").to_der()
    # the tag is the last OCTET STRING (16 bytes) of the structure
    bad = der[:-1] + bytes([der[-1] ^ 1])
    out = BIO.MemoryBuffer()
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(bad), ca.keys["rsa"], ca.certs["rsa"], out=out)
    assert len(out) == 0
    # a flipped ciphertext byte: the same
    i = der.index(b"\x80\x82") if b"\x80\x82" in der else len(der) - 40
    bad = der[:len(der) - 40] + bytes([der[len(der) - 40] ^ 0x55]) + der[len(der) - 39:]
    out = BIO.MemoryBuffer()
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(bad), ca.keys["rsa"], ca.certs["rsa"], out=out)
    assert len(out) == 0 and i >= 0


def test_unknown_cipher_in_message(ca):
    der = CMS.encrypt(DATA, [ca.certs["rsa"]], cipher="aes-128-cbc").to_der()
    aes128cbc = bytes.fromhex("0609608648016503040102")  # OID 2.16.840.1.101.3.4.1.2
    assert der.count(aes128cbc) == 1
    unknown = bytes.fromhex("060960864801650304017f")  # 2.16.840.1.101.3.4.1.127: no such cipher
    with pytest.raises(CMS.CMSUnsupportedAlgorithm):
        CMS.decrypt(CMS.load_der(der.replace(aes128cbc, unknown)), ca.keys["rsa"], ca.certs["rsa"])


# ---- CompressedData, DigestedData ----

def test_digested_both_ways(tmp_path):
    ci = CMS.digest(DATA, "sha256")
    assert ci.type_name == "digestedData"
    f = write(tmp_path, "d.der", ci.to_der())
    assert openssl("cms", "-digest_verify", "-inform", "DER", "-in", f) == DATA
    src = write(tmp_path, "in.bin", DATA)
    der = openssl("cms", "-digest_create", "-binary", "-in", src, "-outform", "DER", "-md", "sha512")
    assert CMS.verify_digest(CMS.load_der(der)) == DATA
    bad = der.replace(b"CMS test", b"CMS TEST")
    with pytest.raises(CMS.CMSSignatureError):
        CMS.verify_digest(CMS.load_der(bad))


# CompressedData (RFC 3274) needs an OpenSSL built with zlib: OpenSSL 3.5 as `make openssl35` and
# `make wheel` build it has it, Debian's system OpenSSL 3.0 has not (then the openssl command has not
# either, and M2Sec says so).
FORMS = {  # form -> (M2Sec writer, M2Sec reader, openssl -inform/-outform)
    "der": (lambda ci: ci.to_der(), CMS.load_der, "DER"),
    "pem": (lambda ci: ci.to_pem(), CMS.load_pem, "PEM"),
    "smime": (lambda ci: ci.to_smime(), lambda b: CMS.load_smime(b)[0], "SMIME"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_compressed_both_ways(tmp_path, form):
    write_ci, load, oform = FORMS[form]
    src = write(tmp_path, "in.bin", DATA)
    peer = run("cms", "-compress", "-binary", "-in", src, "-outform", oform)
    if not CMS.HAS_ZLIB:  # this OpenSSL was built without zlib: so is the openssl command
        assert peer.returncode != 0
        with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="zlib"):
            CMS.compress(DATA)
        return
    assert peer.returncode == 0, peer.stderr
    if form == "smime":
        assert b"smime-type=compressed-data" in peer.stdout
    ci = load(peer.stdout)
    assert ci.type == m2.CMS_COMPRESSED and ci.type_name == "compressedData"
    assert CMS.uncompress(ci) == DATA
    ours = CMS.compress(DATA)
    assert ours.type == m2.CMS_COMPRESSED
    f = write(tmp_path, "c." + form, write_ci(ours))
    assert openssl("cms", "-uncompress", "-binary", "-inform", oform, "-in", f) == DATA


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + size + body


def compressed_data(zdata: bytes) -> bytes:
    """A CompressedData ContentInfo (RFC 3274 section 1.1) around a zlib stream, made by hand."""
    oid_compressed = bytes.fromhex("060b2a864886f70d010910010" "9")  # id-ct-compressedData
    oid_zlib = bytes.fromhex("060b2a864886f70d0109100308")  # id-alg-zlibCompress
    oid_data = bytes.fromhex("06092a864886f70d010701")  # id-data
    encap = _der(0x30, oid_data + _der(0xA0, _der(0x04, zdata)))
    body = _der(0x30, _der(0x02, b"\x00") + _der(0x30, oid_zlib) + encap)
    return _der(0x30, oid_compressed + _der(0xA0, body))


def zlib_bomb(size: int) -> bytes:
    """A zlib stream of size zero bytes (about 1/1000 of it), made without holding size bytes."""
    import zlib
    z = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    return b"".join(z.compress(chunk) for _ in range(size >> 20)) + z.flush()


def test_compressed_by_hand_and_limits(tmp_path):
    import zlib
    ci = CMS.load_der(compressed_data(zlib.compress(DATA)))
    assert ci.type == m2.CMS_COMPRESSED
    if not CMS.HAS_ZLIB:
        with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="zlib"):
            CMS.uncompress(ci)
        return
    # The hand-made encoding is what OpenSSL reads too, so the bomb below is a real CompressedData.
    f = write(tmp_path, "hand.der", ci.to_der())
    assert openssl("cms", "-uncompress", "-binary", "-inform", "DER", "-in", f) == DATA
    assert CMS.uncompress(ci, max_size=len(DATA)) == DATA
    with pytest.raises(CMS.CMSFormatError, match="max_size"):
        CMS.uncompress(ci, max_size=len(DATA) - 1)
    for bad in (-1, 1.5, "10"):
        with pytest.raises(ValueError):
            CMS.uncompress(ci, max_size=bad)
    with pytest.raises(TypeError):
        CMS.uncompress(ci.to_der())
    with BIO.MemoryBuffer() as out:  # no limit: into the caller's BIO
        assert CMS.uncompress(ci, out, max_size=None) is None
        assert out.read() == DATA
    # Corrupt zlib data (a bad header checksum, then a bad block type) is an error, not short content.
    for zdata in (b"\x78\x9d" + zlib.compress(DATA)[2:], zlib.compress(DATA)[:2] + b"\xff" * 40):
        with pytest.raises(CMS.CMSFormatError):
            CMS.uncompress(CMS.load_der(compressed_data(zdata)))
    # Not a compressedData at all.
    with pytest.raises(CMS.CMSFormatError, match="not a compressedData"):
        CMS.uncompress(CMS.digest(DATA))


def test_compressed_bomb_bounded_memory():
    bomb = compressed_data(zlib_bomb(512 << 20))  # 512 MiB of zeros in about half a MiB
    assert len(bomb) < 1 << 20
    ci = CMS.load_der(bomb)
    if not CMS.HAS_ZLIB:
        with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="zlib"):
            CMS.uncompress(ci)
        return
    before = peak_rss_reset()
    with pytest.raises(CMS.CMSFormatError, match="more than 1048576 bytes"):
        CMS.uncompress(ci, max_size=1 << 20)
    assert _status("VmHWM") - before < 16 << 20  # the peak during the call, not what is left after
    # The default limit (64 MiB) stops it too, long before its 512 MiB.
    with pytest.raises(CMS.CMSFormatError, match="more than %d bytes" % CMS.MAX_UNCOMPRESSED):
        CMS.uncompress(ci)
    assert CMS.MAX_UNCOMPRESSED == 64 << 20


# ---- streaming, memory, the GIL ----

def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s in /proc/self/status" % field)


def peak_rss_reset() -> int:
    """Resets the process's peak resident size (VmHWM) to the current one, and returns that."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmHWM")


def anon_rss() -> int:
    """Anonymous resident memory (heap; not the file pages of an mmap)."""
    return _status("RssAnon")


def test_streaming_sign_and_encrypt_bounded_memory(ca, tmp_path):
    size = 48 << 20
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    signed, enc, dec = tmp_path / "big.p7s", tmp_path / "big.p7m", tmp_path / "big.out"
    before = anon_rss()
    with BIO.openfile(str(src)) as data, BIO.openfile(str(signed), "wb") as out:
        CMS.sign(data, ca.keys["rsa"], ca.certs["rsa"], detached=True, stream=True).write_der(out)
    with BIO.openfile(str(src)) as data, BIO.openfile(str(enc), "wb") as out:
        CMS.encrypt(data, [ca.certs["rsa"]], cipher="aes-256-cbc", stream=True).write_der(out)
    with BIO.openfile(str(src)) as data, BIO.openfile(str(tmp_path / "big.eml"), "wb") as out:
        CMS.encrypt(data, [ca.certs["rsa"]], cipher="aes-256-gcm", stream=True).write_smime(out)
    assert anon_rss() - before < 16 << 20  # streamed: the content never in memory
    # reading: the DER is parsed in place from an mmap, the plaintext streams to a file
    with open(enc, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        ci = CMS.load_der(mm)
    with BIO.openfile(str(dec), "wb") as out:
        CMS.decrypt(ci, ca.keys["rsa"], ca.certs["rsa"], out=out)
    ci.close()
    assert anon_rss() - before < size + (16 << 20)  # one parsed copy of the ciphertext, no second
    assert os.path.getsize(dec) == size
    openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", str(signed), "-content", str(src), "-noverify",
            "-out", "/dev/null")
    openssl("cms", "-decrypt", "-in", str(tmp_path / "big.eml"), "-recip", ca.path("rsa.pem"), "-inkey",
            ca.path("rsa.key"), "-out", str(tmp_path / "big.gcm.out"))
    assert os.path.getsize(tmp_path / "big.gcm.out") == size
    with BIO.openfile(str(src)) as data:
        ci = CMS.load_der(signed.read_bytes())
        res = CMS.verify(ci, trusted=[ca.certs["root"]], certs=[ca.certs["inter"]], data=data, out=BIO.MemoryBuffer())
        assert res.content is None and res.signers[0].trusted
    with open(src, "rb") as a, open(dec, "rb") as b:
        assert a.read(1 << 20) == b.read(1 << 20)


def test_gil_released_while_streaming(ca, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(bytes(32 << 20))
    done = threading.Event()
    ticks = 0

    def work():
        with BIO.openfile(str(src)) as data, BIO.openfile(str(tmp_path / "o"), "wb") as out:
            CMS.encrypt(data, [ca.certs["rsa"]], cipher="aes-256-gcm", stream=True).write_der(out)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        done.wait(0.001)
    t.join(60)
    assert ticks > 5


# ---- malformed input ----

def test_malformed_input(ca, rss):
    der = CMS.sign(DATA, ca.keys["rsa"], ca.certs["rsa"]).to_der()
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(CMS.CMSFormatError):
            CMS.load_der(der[:cut])
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_der(b"")
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_pem(b"-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n")
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_smime(b"Content-Type: text/plain\r\n\r\nhello\r\n")
    # a 2^31-byte length: refused without allocating it
    before = rss()
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_der(b"\x30\x84\x80\x00\x00\x00" + der[2:])
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_der(b"\x30\x84\x7f\xff\xff\xff\x06\x09" + der[8:200])
    assert rss() - before < 64 << 20
    # MIME nested 10,000 deep
    nested = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(10000))
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_smime(nested)
    # the wrong type for the call
    enc = CMS.encrypt(DATA, [ca.certs["rsa"]])
    with pytest.raises(CMS.CMSError):
        CMS.verify(enc, trusted=[ca.certs["root"]])
    with pytest.raises(CMS.CMSError):
        enc.signer_infos()
    with pytest.raises(TypeError):
        CMS.sign("text", ca.keys["rsa"], ca.certs["rsa"])
    enc.close()
    with pytest.raises(ValueError):
        enc.to_der()


# ---- the per-message output paths (bench/cms.py): sizes about their buffers, with openssl cms ----

SIZES = (0, 1, 15, 16, 17, 1023, 4096, 4097, 65537, (1 << 20) + 7)


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-128-cbc"])
def test_encrypt_decrypt_sizes(ca, tmp_path, cipher):
    """The ciphertext gathered in a buffer sized for it, the plaintext written straight into the
    bytes returned: every size round-trips, and openssl cms reads what M2Sec wrote."""
    for size in SIZES:
        data = os.urandom(size)
        der = CMS.encrypt(data, [ca.certs["rsa"]], cipher=cipher).to_der()
        got = CMS.decrypt(CMS.load_der(der), ca.keys["rsa"], ca.certs["rsa"])
        assert type(got) is bytes and got == data
        if size in (0, 17, (1 << 20) + 7):
            f = write(tmp_path, "e.der", der)
            assert openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", f, "-recip", ca.path("rsa.pem"),
                           "-inkey", ca.path("rsa.key")) == data
    # two recipients, and a recipient that is not a plain X509 (the path without the one-call helper)
    data = os.urandom(5000)
    ci = CMS.encrypt(data, [ca.certs["rsa"], CMS.CertRecipient(ca.certs["ec256"])], cipher=cipher)
    assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys["ec256"], ca.certs["ec256"]) == data
    ci = CMS.encrypt(bytearray(data), [ca.certs["rsa"], ca.certs["ec256"]], cipher=cipher)
    assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys["rsa"], ca.certs["rsa"]) == data
    with pytest.raises(TypeError):
        CMS.encrypt(data, [ca.certs["rsa"], "not a certificate"], cipher=cipher)


def test_auth_enveloped_bad_tag_returns_nothing(ca):
    der = CMS.encrypt(os.urandom(100000), [ca.certs["rsa"]], cipher="aes-256-gcm").to_der()
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(der[:-1] + bytes([der[-1] ^ 1])), ca.keys["rsa"], ca.certs["rsa"])


def test_signed_content_sizes(ca, tmp_path):
    """Attached content gathered in a buffer sized for it; detached content given as bytes is
    returned as the caller's object (immutable), other buffers as bytes equal to them."""
    store = CMS.store_from([ca.certs["root"]])
    for size in SIZES:
        data = os.urandom(size)
        der = CMS.sign(data, ca.keys["rsa"], ca.certs["rsa"], certs=[ca.certs["inter"]]).to_der()
        got = CMS.verify(CMS.load_der(der), store).content
        assert type(got) is bytes and got == data
        det = CMS.sign(data, ca.keys["rsa"], ca.certs["rsa"], certs=[ca.certs["inter"]], detached=True).to_der()
        assert CMS.verify(CMS.load_der(det), store, data=data).content is data
        for other in (bytearray(data), memoryview(data)):
            got = CMS.verify(CMS.load_der(det), store, data=other).content
            assert type(got) is bytes and got == data
        out = BIO.MemoryBuffer()
        assert CMS.verify(CMS.load_der(det), store, data=data, out=out).content is None
        assert out.read() == (data or None)
        if size in (0, (1 << 20) + 7):
            f = write(tmp_path, "s.der", der)
            assert openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", f, "-CAfile", ca.chain_file()) == data
        if size:  # changed detached content: refused, whatever buffer it comes in
            with pytest.raises(CMS.CMSSignatureError):
                CMS.verify(CMS.load_der(det), store, data=data[:-1] + bytes([data[-1] ^ 1]))
    # a chain that does not verify: its code, and no chain
    res = CMS.verify(CMS.load_der(det), [ca.certs["outsider"]], data=data, require_trust=False)
    assert res.signers[0].verify_code != 0 and res.signers[0].chain == []
    assert res.signers[0].certificate.get_subject().CN == "rsa"


def test_content_info_owns_its_pointer_once(ca):
    """ContentInfo holds its CMS_ContentInfo in C (m2.CMSBase): closed once, unusable after,
    taken by every m2.cms_* function, and m2.cms_free() given the object detaches it first."""
    ci = CMS.encrypt(DATA, [ca.certs["rsa"]])
    assert isinstance(ci, m2.CMSBase) and ci._p is ci and not ci.closed
    assert m2.cms_type_nid(ci) == m2.CMS_AUTH_ENVELOPED and m2.cms_to_der(ci._ptr()) == ci.to_der()
    ci.close()
    ci.close()
    assert ci.closed and ci._p is None
    for use in (ci.to_der, lambda: ci.type, lambda: CMS.decrypt(ci, ca.keys["rsa"], ca.certs["rsa"])):
        with pytest.raises(ValueError):
            use()
    with CMS.load_der(CMS.encrypt(DATA, [ca.certs["rsa"]]).to_der()) as ci:
        assert CMS.decrypt(ci, ca.keys["rsa"], ca.certs["rsa"]) == DATA
    assert ci.closed
    ci = CMS.load_der(CMS.encrypt(DATA, [ca.certs["rsa"]]).to_der())
    m2.cms_free(ci)  # the pointer taken from the object: freed here, not again when it dies
    assert ci.closed
    with pytest.raises(ValueError):
        ci._p = object()
    with pytest.raises(ValueError):
        CMS.ContentInfo(None)
    with pytest.raises(TypeError):
        CMS.ContentInfo(b"not a pointer")
    streamed = CMS.encrypt(BIO.MemoryBuffer(DATA), [ca.certs["rsa"]], cipher="aes-256-cbc", stream=True)
    assert streamed._stream is not None and streamed._flags & m2.CMS_STREAM
    assert CMS.decrypt(CMS.load_der(streamed.to_der()), ca.keys["rsa"], ca.certs["rsa"]) == DATA


def test_content_info_cycles_keep_memory_flat(ca, rss):
    """20,000 messages made, parsed, closed or dropped: resident memory stays flat."""
    import gc

    cert, key = ca.certs["rsa"], ca.keys["rsa"]
    der = CMS.encrypt(DATA, [cert]).to_der()
    signed = CMS.sign(DATA, key, cert, detached=True).to_der()
    store = CMS.store_from([ca.certs["root"]])

    def cycle(i):
        CMS.encrypt(DATA, [cert]).to_der()  # dropped: freed by the C base
        ci = CMS.load_der(der)
        if i % 2:
            ci.close()
        if i % 16 == 0:
            CMS.verify(CMS.load_der(signed), store, data=DATA, require_trust=False)

    for i in range(2000):
        cycle(i)
    gc.collect()
    before = rss()
    for i in range(20000):
        cycle(i)
    gc.collect()
    growth = rss() - before
    assert growth < 4 << 20, "RSS grew by %d KiB" % (growth // 1024)


def test_verify_results_made_when_asked_for(ca):
    """verify's signers and their chains are X509.X509 objects made by C; the SignerResults are
    made on first access (the same objects after); a closed recipient certificate raises."""
    cert, key, root = ca.certs["rsa"], ca.keys["rsa"], ca.certs["root"]
    signed = CMS.sign(DATA, key, cert, detached=True, certs=[ca.certs["inter"]]).to_der()
    res = CMS.verify(CMS.load_der(signed), [root], data=DATA)
    first = res.signers
    assert res.signers is first and len(first) == 1
    signer = first[0]
    assert type(signer.certificate) is X509.X509 and signer.certificate == cert and signer.trusted
    assert signer.chain[0] is signer.certificate and signer.chain[1:] == [ca.certs["inter"], root]
    assert signer.certificate._pyfree == 1
    del res, first
    gc.collect()
    assert signer.certificate.get_subject().CN == "rsa"  # outlives the result and the message
    closed = X509.load_cert_der_string(cert.as_der())
    closed.close()
    with pytest.raises(ClosedError):
        CMS.encrypt(DATA, [cert, closed])
    with pytest.raises(TypeError):
        CMS.encrypt(DATA, [cert, "not a certificate"])
