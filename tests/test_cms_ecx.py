"""X25519/X448 recipients of CMS EnvelopedData and AuthEnvelopedData (RFC 8418, M2Sec/_cms_ecx.py)
against Bouncy Castle 1.72 (Debian's libbcprov-java and libbcpkix-java, driven by
tests/bc_peer/BcCmsPeer.java) both ways, in DER and S/MIME, through CMS, mail and the m2sec
command line; mixed recipient lists read by `openssl cms`; the HKDF schemes (which BC 1.72
lacks) checked against a derivation written here from RFC 5869; bad input."""

import hashlib
import hmac
import os
import shutil
import struct
import subprocess
import sys
import threading
from email.message import EmailMessage
from email import policy
from pathlib import Path

import pytest

from M2Sec import BIO, CMS, EVP, _cms_ecx, mail
from M2Sec import _der as der

from pki_helpers import openssl
from smime_helpers import M2SecCA, same_file

pytestmark = pytest.mark.timeout(300)

DATA = b"RFC 8418 content\r\n" + bytes(range(256)) * 3
JARS = ["/usr/share/java/bcprov.jar", "/usr/share/java/bcpkix.jar", "/usr/share/java/bcutil.jar"]
PEER = Path(__file__).parent / "bc_peer" / "BcCmsPeer.java"
ALGS = ["X25519", "X448"]
CIPHERS = {"aes-128-cbc": ("aes128cbc", "envelopedData"), "aes-256-gcm": ("aes256gcm", "authEnvelopedData")}
X963_SHA256 = der.oid("1.3.132.1.11.1")


@pytest.fixture(scope="module")
def bc(tmp_path_factory):
    """BcCmsPeer compiled once; bc(*args) runs it (a timeout, its error output on failure)."""
    javac, java = shutil.which("javac"), shutil.which("java")
    missing = [j for j in JARS if not os.path.exists(j)]
    if missing or not javac or not java:
        pytest.fail("the Bouncy Castle peer needs javac and %s (apt-get install openjdk-17-jdk-headless "
                    "libbcprov-java libbcpkix-java)" % ", ".join(missing or JARS))
    out = tmp_path_factory.mktemp("bc_peer")
    p = subprocess.run([javac, "-nowarn", "-cp", ":".join(JARS), "-d", str(out), str(PEER)], capture_output=True,
                       timeout=240)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    cp = ":".join([str(out)] + JARS)

    def run(*args):
        p = subprocess.run([java, "-cp", cp, "BcCmsPeer", *args], capture_output=True, timeout=120)
        assert p.returncode == 0, "BcCmsPeer %s: %s" % (" ".join(args), p.stderr.decode(errors="replace")[-3000:])
    return run


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("ecx_ca")))
    for alg in ALGS:
        ca.person(alg.lower(), alg=alg)
    ca.person("rsa")
    ca.person("ec256", alg="EC")
    return ca


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def smime_to_der(tmp_path, smime):
    return openssl("cms", "-cmsout", "-inform", "SMIME", "-outform", "DER", "-in", write(tmp_path, "x.smime", smime))


def der_to_smime(tmp_path, data):
    return openssl("cms", "-cmsout", "-inform", "DER", "-outform", "SMIME", "-in", write(tmp_path, "x.der", data))


def bc_decrypt(bc, ca, tmp_path, name, data):
    out = tmp_path / "bc.out"
    bc("decrypt", ca.path(name + ".pem"), ca.path(name + ".key"), write(tmp_path, "to_bc.der", data), str(out))
    return out.read_bytes()


def bc_encrypt(bc, ca, tmp_path, name, data, cipher, ukm=None):
    out = tmp_path / "from_bc.der"
    bc("encrypt", ca.path(name + ".pem"), write(tmp_path, "bc.in", data), str(out), cipher, *([ukm.hex()] if ukm else []))
    return out.read_bytes()


# ---- both ways with Bouncy Castle ----

@pytest.mark.parametrize("form", ["der", "smime"])
@pytest.mark.parametrize("cipher", sorted(CIPHERS))
@pytest.mark.parametrize("alg", ALGS)
def test_bouncy_castle_both_ways(ca, bc, tmp_path, alg, cipher, form):
    name = alg.lower()
    key, cert = ca.keys[name], ca.certs[name]
    ci = CMS.encrypt(DATA, [cert], cipher=cipher)
    assert ci.type_name == CIPHERS[cipher][1] and ci.recipient_kinds() == ["key_agreement"]
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", write(tmp_path, "m.der", ci.to_der())).decode()
    scheme = {"X25519": "dhSinglePass-stdDH-sha256kdf-scheme", "X448": "dhSinglePass-stdDH-sha512kdf-scheme"}[alg]
    wrap = {"aes-128-cbc": "id-aes128-wrap", "aes-256-gcm": "id-aes256-wrap"}[cipher]
    assert scheme in printed and wrap in printed and ("algorithm: %s" % alg) in printed
    sent = ci.to_der() if form == "der" else smime_to_der(tmp_path, ci.to_smime())
    assert bc_decrypt(bc, ca, tmp_path, name, sent) == DATA
    # Bouncy Castle encrypts, M2Sec decrypts (with and without the certificate)
    got = bc_encrypt(bc, ca, tmp_path, name, DATA, CIPHERS[cipher][0])
    back = CMS.load_der(got) if form == "der" else CMS.load_smime(der_to_smime(tmp_path, got))[0]
    assert back.type_name == CIPHERS[cipher][1]
    assert CMS.decrypt(back, key, cert) == DATA
    assert CMS.decrypt(CMS.load_der(got), key) == DATA


@pytest.mark.parametrize("alg", ALGS)
def test_bouncy_castle_ukm(ca, bc, tmp_path, alg):
    """A ukm (entityUInfo of the KDF's SharedInfo) from Bouncy Castle."""
    name = alg.lower()
    got = bc_encrypt(bc, ca, tmp_path, name, DATA, "aes256gcm", ukm=bytes(range(20)))
    assert bytes(range(20)) in got
    assert CMS.decrypt(CMS.load_der(got), ca.keys[name], ca.certs[name]) == DATA


def _email(text):
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "x <x@example.org>"
    msg["Subject"] = "RFC 8418"
    msg.set_content(text)
    return msg


@pytest.mark.parametrize("alg", ALGS)
def test_mail_with_bouncy_castle(ca, bc, tmp_path, alg):
    name = alg.lower()
    wire = mail.encrypt(_email("Hello X"), [ca.certs[name]]).as_bytes(policy=policy.SMTP)
    assert b"authEnveloped-data" in wire
    assert b"Hello X" in bc_decrypt(bc, ca, tmp_path, name, smime_to_der(tmp_path, wire))
    opened = mail.unwrap(wire, key=ca.keys[name], cert=ca.certs[name])
    assert opened.encrypted and opened.message.get_content().strip() == "Hello X"
    # Bouncy Castle encrypts a MIME entity, mail.unwrap opens it
    entity = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nfrom Bouncy Castle\r\n"
    got = der_to_smime(tmp_path, bc_encrypt(bc, ca, tmp_path, name, entity, "aes128cbc"))
    opened = mail.unwrap(got, key=ca.keys[name], cert=ca.certs[name])
    assert opened.encrypted and opened.layers == ["envelopedData"]
    assert opened.message.get_content().strip() == "from Bouncy Castle"


def test_command_line_with_bouncy_castle(ca, bc, tmp_path):
    message = (b"From: Alice <alice@example.org>\r\nTo: x@example.org\r\nSubject: cli\r\n"
               b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello X25519 from the command line\r\n")
    enc = subprocess.run([sys.executable, "-m", "M2Sec", "smime", "encrypt", "-r", ca.path("x25519.pem")],
                         input=message, capture_output=True, timeout=60)
    assert enc.returncode == 0, enc.stderr
    assert b"Hello X25519" in bc_decrypt(bc, ca, tmp_path, "x25519", smime_to_der(tmp_path, enc.stdout))
    got = der_to_smime(tmp_path, bc_encrypt(bc, ca, tmp_path, "x448", message, "aes256gcm"))
    dec = subprocess.run([sys.executable, "-m", "M2Sec", "smime", "decrypt", "-k", ca.path("x448.key"), "-c",
                          ca.path("x448.pem")], input=got, capture_output=True, timeout=60)
    assert dec.returncode == 0, dec.stderr
    assert b"Hello X25519 from the command line" in dec.stdout


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_mixed_recipients(ca, bc, tmp_path, cipher):
    """RSA, EC and X25519/X448 in one message: openssl cms opens the RSA and EC copies,
    Bouncy Castle the X25519/X448 ones, M2Sec every one."""
    names = ["rsa", "ec256", "x25519", "x448"]
    ci = CMS.encrypt(DATA, [ca.certs[n] for n in names], cipher=cipher)
    assert sorted(ci.recipient_kinds()) == ["key_agreement"] * 3 + ["key_transport"]
    f = write(tmp_path, "mixed.der", ci.to_der())
    for n in ("rsa", "ec256"):
        assert openssl("cms", "-decrypt", "-inform", "DER", "-in", f, "-recip", ca.path(n + ".pem"),
                       "-inkey", ca.path(n + ".key")) == DATA
    for n in ("x25519", "x448"):
        assert bc_decrypt(bc, ca, tmp_path, n, ci.to_der()) == DATA
    for n in names:
        assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys[n], ca.certs[n]) == DATA
        assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys[n]) == DATA
    # the same through mail, openssl cms reading the S/MIME message as it is
    wire = mail.encrypt(_email("mixed"), [ca.certs["rsa"], ca.certs["x25519"]], cipher=cipher).as_bytes(policy=policy.SMTP)
    out = openssl("cms", "-decrypt", "-in", write(tmp_path, "mixed.eml", wire), "-recip", ca.path("rsa.pem"),
                  "-inkey", ca.path("rsa.key"))
    assert b"mixed" in out
    assert mail.unwrap(wire, key=ca.keys["x25519"], cert=ca.certs["x25519"]).message.get_content().strip() == "mixed"


def test_key_identifier_and_several_of_one_kind(ca, bc, tmp_path):
    """rKeyId (use_key_id) names the recipient by its subjectKeyIdentifier; two X25519
    recipients, each opening its own copy (Bouncy Castle too)."""
    other_key, other_cert = ca.person("x25519b", alg="X25519")
    ci = CMS.encrypt(DATA, [ca.certs["x25519"], other_cert], cipher="aes-128-gcm", use_key_id=True)
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", write(tmp_path, "k.der", ci.to_der())).decode()
    assert "rKeyId" in printed and "issuerAndSerialNumber" not in printed
    assert CMS.decrypt(CMS.load_der(ci.to_der()), other_key, other_cert) == DATA
    assert CMS.decrypt(CMS.load_der(ci.to_der()), ca.keys["x25519"], ca.certs["x25519"]) == DATA
    assert CMS.decrypt(CMS.load_der(ci.to_der()), other_key) == DATA
    assert bc_decrypt(bc, ca, tmp_path, "x25519b", ci.to_der()) == DATA


# ---- the HKDF schemes (BC 1.72 has none): against RFC 5869 written out here ----

def _hkdf(digest, ikm, info, length, salt=b""):
    size = hashlib.new(digest).digest_size
    prk = hmac.new(salt or b"\0" * size, ikm, digest).digest()
    okm, block, i = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([i]), digest).digest()
        okm += block
        i += 1
    return okm[:length]


def _x963(digest, z, info, length):
    out, counter = b"", 1
    while len(out) < length:
        out += hashlib.new(digest, z + struct.pack(">I", counter) + info).digest()
        counter += 1
    return out[:length]


def _originator_key(data):
    """The ephemeral public key of the first KeyAgreeRecipientInfo."""
    chain, ris = _cms_ecx._recipient_infos(data)
    kari = next(ri for ri in ris if ri.tag == 0xA1)
    f = der.children(data, kari)
    opk = der.children(data, der.children(data, f[1])[0])
    return der.decode_bit_string(data, opk[1])


@pytest.mark.parametrize("kdf", ["hkdf", "x963"])
@pytest.mark.parametrize("alg", ALGS)
def test_kdf_independent_derivation(ca, tmp_path, alg, kdf):
    """The KEK M2Sec derived is the one RFC 8418 section 2 gives, computed here with hashlib and
    hmac over a SharedInfo written out byte by byte: openssl cms unwraps the content key with it."""
    name = alg.lower()
    key, cert = ca.keys[name], ca.certs[name]
    ci = CMS.encrypt(DATA, [CMS.CertRecipient(cert, kdf=kdf)], cipher="aes-256-gcm")
    data = ci.to_der()
    digest = {"X25519": "sha256", "X448": "sha512"}[alg]
    scheme = {("hkdf", "sha256"): "1.2.840.113549.1.9.16.3.19", ("hkdf", "sha512"): "1.2.840.113549.1.9.16.3.21",
              ("x963", "sha256"): "1.3.132.1.11.1", ("x963", "sha512"): "1.3.132.1.11.3"}[(kdf, digest)]
    assert der.oid(scheme) + bytes.fromhex("300b060960864801650304012d") in data  # {scheme, {aes256-wrap}}
    z = key.derive(EVP.load_raw_public_key(alg, _originator_key(data)))
    # ECC-CMS-SharedInfo {keyInfo {id-aes256-wrap}, suppPubInfo [2] {OCTET STRING 00000100}} (RFC 5753 7.2)
    info = bytes.fromhex("3015" "300b060960864801650304012d" "a206" "0404" "00000100")
    kek = _hkdf(digest, z, info, 32) if kdf == "hkdf" else _x963(digest, z, info, 32)
    rewritten, [candidate] = _cms_ecx.to_kek(data, key, cert)
    assert candidate.kek == kek
    out = openssl("cms", "-decrypt", "-inform", "DER", "-in", write(tmp_path, "kek.der", rewritten),
                  "-secretkey", kek.hex(), "-secretkeyid", candidate.key_id.hex())
    assert out == DATA
    assert CMS.decrypt(CMS.load_der(data), key, cert) == DATA


def test_hkdf_with_ukm_is_salt_and_entity_info(ca):
    """With a ukm, HKDF takes it as the salt and SharedInfo carries it as entityUInfo."""
    ukm = b"user keying material"
    z = b"\x11" * 32
    info = bytes.fromhex("302d" "300b060960864801650304012d" "a016" "0414") + ukm + bytes.fromhex("a206040400000100")
    assert _cms_ecx.shared_info("2.16.840.1.101.3.4.1.45", ukm, 32) == info
    assert _cms_ecx.derive_kek("hkdf", "sha256", z, "2.16.840.1.101.3.4.1.45", ukm, 32) == _hkdf("sha256", z, info, 32, ukm)


# ---- bad input: a CMSError subclass each, and an empty error queue (conftest) ----

def _message(ca, alg="X25519", cipher="aes-256-gcm"):
    return CMS.encrypt(DATA, [ca.certs[alg.lower()]], cipher=cipher).to_der()


def test_wrong_private_key(ca):
    data = _message(ca)
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(data), EVP.generate_key("X25519"))
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(data), EVP.generate_key("X25519"), ca.certs["x25519"])
    with pytest.raises(CMS.CMSDecryptError, match="no X448 recipient"):
        CMS.decrypt(CMS.load_der(data), ca.keys["x448"], ca.certs["x448"])
    with pytest.raises(CMS.CMSDecryptError, match="no X25519 recipient"):  # another X25519 certificate
        CMS.decrypt(CMS.load_der(data), ca.keys["x25519"], ca.certs["rsa"])


@pytest.mark.parametrize("alg", ALGS)
def test_low_order_ephemeral_key(ca, alg):
    """The originator key replaced by the point 0 (low order): the all-zero shared secret is
    refused, not used."""
    data = _message(ca, alg)
    eph = _originator_key(data)
    bad = data.replace(eph, bytes(len(eph)))
    with pytest.raises(CMS.CMSDecryptError, match="low-order"):
        CMS.decrypt(CMS.load_der(bad), ca.keys[alg.lower()], ca.certs[alg.lower()])


def test_low_order_recipient_key_refused(ca):
    zero = EVP.load_raw_public_key("X25519", bytes(32))
    with pytest.raises(_cms_ecx.ECXError, match="low-order"):
        _cms_ecx._agree(EVP.generate_key("X25519"), zero, "key")


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_tampered_wrapped_key(ca, cipher):
    data = _message(ca, cipher=cipher)
    chain, ris = _cms_ecx._recipient_infos(data)
    f = der.children(data, ris[0])
    rek = der.children(data, der.children(data, f[-1])[0])
    ek = rek[1]
    bad = bytearray(data)
    bad[ek.end - 1] ^= 1
    with pytest.raises(CMS.CMSDecryptError):
        CMS.decrypt(CMS.load_der(bytes(bad)), ca.keys["x25519"], ca.certs["x25519"])


def test_unknown_kdf(ca):
    data = _message(ca)
    bad = data.replace(X963_SHA256, der.oid("1.3.132.1.11.9"))
    assert bad != data
    with pytest.raises(CMS.CMSUnsupportedAlgorithm, match="1.3.132.1.11.9"):
        CMS.decrypt(CMS.load_der(bad), ca.keys["x25519"], ca.certs["x25519"])


def test_truncated_and_overlong(ca):
    data = _message(ca)
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_der(data[:len(data) // 2])
    chain, ris = _cms_ecx._recipient_infos(data)
    kari = ris[0]
    bad = bytearray(data)  # the KeyAgreeRecipientInfo claims more than its SET holds
    assert bad[kari.start + 1] & 0x80
    bad[kari.body - 1] += 40
    with pytest.raises(CMS.CMSFormatError):
        CMS.load_der(bytes(bad))
    # a structure OpenSSL accepts but RFC 8418 does not: a 31-byte X25519 key
    short = _with_originator(data, der.seq(der.oid("1.3.101.110")) + der.bit_string(_originator_key(data)[:31]))
    with pytest.raises(CMS.CMSFormatError, match="31 bytes"):
        CMS.decrypt(CMS.load_der(short), ca.keys["x25519"], ca.certs["x25519"])
    params = _with_originator(data, der.seq(der.oid("1.3.101.110"), der.tlv(der.NULL, b"")) + der.bit_string(bytes(32)))
    with pytest.raises(CMS.CMSFormatError, match="parameters"):
        CMS.decrypt(CMS.load_der(params), ca.keys["x25519"], ca.certs["x25519"])
    with pytest.raises(_cms_ecx.ECXError, match="truncated|runs past"):
        _cms_ecx.to_kek(data[:-3], ca.keys["x25519"])


def _with_originator(data, originator_public_key):
    """data (one KeyAgreeRecipientInfo) with another OriginatorPublicKey, lengths rebuilt."""
    chain, [kari] = _cms_ecx._recipient_infos(data)
    f = der.children(data, kari)
    orig = der.tlv(0xA0, der.tlv(0xA1, originator_public_key))
    new = der.tlv(0xA1, f[0].encoding(data) + orig + b"".join(x.encoding(data) for x in f[2:]))
    return _cms_ecx._replace(data, chain, der.tlv(der.SET, new))


# ---- streaming (stream=True out, decrypt_stream in): only the head is rewritten ----

def _big_file(path, size, chunk=1 << 20):
    """size bytes of random data written to path in chunks (never held whole)."""
    with open(path, "wb") as f:
        for i in range(0, size, chunk):
            f.write(os.urandom(min(chunk, size - i)))
    return str(path)


@pytest.mark.parametrize("form", ["der", "smime"])
@pytest.mark.parametrize("cipher", sorted(CIPHERS))
@pytest.mark.parametrize("alg", ALGS)
def test_stream_with_bouncy_castle(ca, bc, tmp_path, alg, cipher, form):
    name = alg.lower()
    key, cert = ca.keys[name], ca.certs[name]
    src = _big_file(tmp_path / "in.bin", (4 << 20) + 123)
    content = Path(src).read_bytes()
    msg = tmp_path / "m.out"
    with BIO.openfile(src) as data, BIO.openfile(str(msg), "wb") as out:
        ci = CMS.encrypt(data, [cert], cipher=cipher, stream=True)
        (ci.write_der if form == "der" else ci.write_smime)(out)
    wire = msg.read_bytes()
    if form == "der":
        assert wire[:2] == b"\x30\x80"  # OpenSSL's indefinite-length BER, the content in chunks
        sent = wire
    else:
        assert b"smime-type=%s" % CIPHERS[cipher][1].replace("Data", "-data").encode() in wire
        sent = smime_to_der(tmp_path, wire)
    printed = openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", write(tmp_path, "p.der", sent)).decode()
    assert ("algorithm: %s" % alg) in printed and "kekid" not in printed
    assert bc_decrypt(bc, ca, tmp_path, name, sent) == content
    # the streamed message read by the non-streamed path, and by decrypt_stream from a file
    loaded = CMS.load_der(wire) if form == "der" else CMS.load_smime(wire)[0]
    assert CMS.decrypt(loaded, key, cert) == content
    with open(msg, "rb") as f:
        assert CMS.decrypt_stream(f, key, cert, form=form.upper()) == content
    # Bouncy Castle's message (BER, indefinite outer lengths), and M2Sec's non-streamed one
    # (DER, definite lengths), read streaming
    got = bc_encrypt(bc, ca, tmp_path, name, content, CIPHERS[cipher][0])
    assert CMS.decrypt_stream(BIO.MemoryBuffer(got), key) == content
    whole = CMS.encrypt(content, [cert], cipher=cipher)
    assert whole.to_der()[1] in (0x83, 0x84)
    assert CMS.decrypt_stream(whole.to_der(), key, cert) == content
    assert CMS.decrypt_stream(whole.to_pem(), key, cert, form="PEM") == content


@pytest.mark.parametrize("alg,cipher", [("X25519", "aes-128-cbc"), ("X448", "aes-256-cbc"), ("X25519", "aes-256-gcm")])
def test_stream_large_bounded_memory(ca, tmp_path, alg, cipher):
    from test_cms import peak_rss_reset, _status
    name = alg.lower()
    size = 96 << 20
    src = _big_file(tmp_path / "big.bin", size)
    enc, dec = tmp_path / "big.p7m", tmp_path / "big.out"
    before = peak_rss_reset()
    with BIO.openfile(src) as data, BIO.openfile(str(enc), "wb") as out:
        CMS.encrypt(data, [ca.certs[name]], cipher=cipher, stream=True).write_der(out)
    assert _status("VmHWM") - before < 16 << 20  # the peak: through the head filter, the content never in memory
    assert os.path.getsize(enc) > size
    before = peak_rss_reset()
    with open(enc, "rb") as f, BIO.openfile(str(dec), "wb") as out:
        assert CMS.decrypt_stream(f, ca.keys[name], ca.certs[name], out=out, tmpdir=str(tmp_path)) is None
    grown = _status("VmHWM") - before
    # EnvelopedData: the content streams through OpenSSL as detached content; AuthEnvelopedData:
    # the encrypted content goes through a temporary file (OpenSSL needs the tag, which follows
    # it, first), the plaintext through a second one until the tag verifies: never in memory
    assert grown < 16 << 20
    assert same_file(src, dec)


def _streamed(ca, name="x25519", cipher="aes-256-gcm", data=DATA):
    return CMS.encrypt(BIO.MemoryBuffer(data), [ca.certs[name]], cipher=cipher, stream=True).to_der()


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_stream_bad_input(ca, cipher):
    key, cert = ca.keys["x25519"], ca.certs["x25519"]
    streamed = _streamed(ca, cipher=cipher)
    head = _cms_ecx.parse_head(streamed)
    assert [length for _, _, _, length in head.outer] == [None, None, None]
    # a head longer than the limit
    with pytest.raises(CMS.CMSFormatError, match="over 100 bytes"):
        CMS.decrypt_stream(streamed, key, cert, max_head=100)
    # a stream that ends inside the head, or at once
    for cut in (1, 10, head.ris.end - 1):
        with pytest.raises(CMS.CMSFormatError, match="ends inside"):
            CMS.decrypt_stream(streamed[:cut], key, cert)
    with pytest.raises(CMS.CMSFormatError, match="empty|ends inside"):
        CMS.decrypt_stream(b"", key, cert)
    # definite lengths that lie: the RecipientInfos SET claims more than its (Auth)EnvelopedData holds
    whole = _message(ca, cipher=cipher)
    chain, ris = _cms_ecx._recipient_infos(whole)
    bad = bytearray(whole)
    bad[chain[2].body - 1] = (chain[3].end - chain[2].body - 1) & 0xFF  # the SEQUENCE shorter than its SET
    assert bad[chain[2].start + 1] == 0x82
    with pytest.raises(CMS.CMSFormatError, match="runs past"):
        CMS.decrypt_stream(bytes(bad), key, cert)
    # ... and a message whose content after a true head is cut, or malformed
    for cut in (len(streamed) // 2, len(streamed) - 40):
        with pytest.raises(CMS.CMSFormatError, match="ends inside the encrypted content|cannot read"):
            CMS.decrypt_stream(streamed[:cut], key, cert)
    assert streamed[head.ris.end:head.ris.end + 2] == b"\x30\x80"  # EncryptedContentInfo, indefinite
    kind = der.read(streamed, head.ris.end + 2, len(streamed))
    alg = der.read(streamed, kind.end, len(streamed))
    assert streamed[alg.end:alg.end + 3] == b"\xa0\x80\x04"  # [0] in OCTET STRING chunks
    bad = bytearray(streamed)
    bad[alg.end + 2] = 0x05
    # M2Sec reads the chunks (OpenSSL's own BER reader would take any tag for them)
    with pytest.raises(CMS.CMSFormatError, match="tag 0x05 in its chunks"):
        CMS.decrypt_stream(bytes(bad), key, cert)
    # what follows the content: the end-of-contents, the lengths of a definite message
    for cut in (streamed[:-1], streamed[:-8], streamed + b"\0"):
        with pytest.raises(CMS.CMSFormatError, match="end-of-contents|after the end|after the encrypted content"):
            CMS.decrypt_stream(cut, key, cert)
    n = whole[1] - 0x80  # the ContentInfo claims one byte more, which follows its [0]
    assert 0 < n < 4
    longer = bytearray(whole + b"\0")
    longer[2:2 + n] = (int.from_bytes(whole[2:2 + n], "big") + 1).to_bytes(n, "big")
    with pytest.raises(CMS.CMSFormatError, match="lengths disagree"):
        CMS.decrypt_stream(bytes(longer), key, cert)
    with pytest.raises(CMS.CMSFormatError, match="after the end"):
        CMS.decrypt_stream(whole + b"\0", key, cert)
    if cipher.endswith("gcm"):  # a bad tag: nothing of the plaintext is released
        bad = bytearray(streamed)
        bad[-7] ^= 1  # the mac's last byte (then the end-of-contents of the SEQUENCE, [0], ContentInfo)
        with BIO.MemoryBuffer() as out:
            with pytest.raises(CMS.CMSDecryptError):
                CMS.decrypt_stream(bytes(bad), key, cert, out=out)
            assert out.read() in (b"", None)
    # an indefinite-length RecipientInfos SET, and something else than enveloped data
    p = head.ris.start
    ber = streamed[:p] + b"\x31\x80" + streamed[head.ris.body:head.ris.end] + b"\x00\x00" + streamed[head.ris.end:]
    with pytest.raises(CMS.CMSFormatError, match="indefinite"):
        CMS.decrypt_stream(ber, key, cert)
    with pytest.raises(CMS.CMSFormatError, match="not an envelopedData"):
        CMS.decrypt_stream(CMS.digest(DATA).to_der(), key, cert)
    # S/MIME with broken base64, and without a body
    smime = CMS.encrypt(BIO.MemoryBuffer(DATA), [cert], cipher=cipher, stream=True).to_smime()
    with pytest.raises(CMS.CMSFormatError, match="base64"):
        CMS.decrypt_stream(smime.replace(b"\n\n", b"\n\n*!", 1), key, cert, form="SMIME")
    with pytest.raises(CMS.CMSFormatError, match="no base64 body"):
        CMS.decrypt_stream(b"MIME-Version: 1.0\n", key, cert, form="SMIME")
    # a wrong key: the X448 key has no recipient here
    with pytest.raises(CMS.CMSDecryptError, match="no X448 recipient"):
        CMS.decrypt_stream(streamed, ca.keys["x448"])
    with pytest.raises(ValueError):
        CMS.decrypt_stream(streamed, key, form="BER")


def test_stream_encrypt_filter_failure(ca, monkeypatch):
    """The head filter failing while OpenSSL writes: a CMSFormatError, the writer thread ended
    (its pipe closed under it), nothing left in OpenSSL's error queue (conftest checks)."""
    real = _cms_ecx.key_agreement_filter
    monkeypatch.setattr(_cms_ecx, "key_agreement_filter", lambda pending: real(pending, limit=40))
    before = threading.active_count()
    src = BIO.MemoryBuffer(os.urandom(1 << 20))
    with pytest.raises(CMS.CMSFormatError, match="over 40 bytes"):
        CMS.encrypt(src, [ca.certs["x25519"]], stream=True).to_der()
    assert threading.active_count() == before
    monkeypatch.undo()
    assert CMS.decrypt(CMS.load_der(_streamed(ca, "x448")), ca.keys["x448"]) == DATA


def test_head_rewrite_lengths():
    """rewrite_head recomputes definite lengths inside out when a header changes size."""
    inner = der.tlv(der.SET, b"\x04\x01a")
    body = der.integer(0) + inner
    msg = der.seq(der.oid("1.2.840.113549.1.7.3"), der.tlv(0xA0, der.seq(body)))
    head = _cms_ecx.parse_head(msg)
    new_set = der.tlv(der.SET, der.octet_string(b"x" * 300))
    out = _cms_ecx.rewrite_head(msg, head, new_set)
    assert out == der.seq(der.oid("1.2.840.113549.1.7.3"), der.tlv(0xA0, der.seq(der.integer(0) + new_set)))
    for cut in range(len(msg)):
        with pytest.raises(_cms_ecx.NeedMore):
            _cms_ecx.parse_head(msg[:cut])


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_stream_mixed_recipients_with_openssl(ca, tmp_path, cipher):
    """A streamed S/MIME message to an X25519 and an RSA recipient: `openssl cms` opens it with the
    RSA key (the rewritten head is what OpenSSL reads), M2Sec with the X25519 key, streaming."""
    data = os.urandom(300000)
    smime = CMS.encrypt(BIO.MemoryBuffer(data), [ca.certs["x25519"], ca.certs["rsa"]], cipher=cipher,
                        stream=True).to_smime()
    got = openssl("cms", "-decrypt", "-in", write(tmp_path, "m.eml", smime), "-recip", ca.path("rsa.pem"),
                  "-inkey", ca.path("rsa.key"))
    assert got == data
    assert CMS.decrypt_stream(smime, ca.keys["x25519"], form="SMIME") == data
    assert CMS.decrypt_stream(CMS.load_smime(smime)[0].to_der(), ca.keys["x25519"]) == data
