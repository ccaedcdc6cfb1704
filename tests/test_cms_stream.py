"""CMS.decrypt_stream against `openssl cms -encrypt -stream`: every form (DER, PEM, S/MIME),
EnvelopedData and AuthEnvelopedData, key/KEK/password recipients; an AuthEnvelopedData whose
tag or ciphertext was tampered with releases nothing and leaves no temporary file; memory
stays bounded (measured in a child process); bad base64 text."""

import os
import subprocess
import sys

import pytest

from M2Sec import BIO, CMS, m2

from pki_helpers import openssl
from smime_helpers import DECRYPT_STREAM_CHILD, M2SecCA, same_file

pytestmark = pytest.mark.timeout(300)

KEK = bytes(range(32))
KEK_ID = b"kek-1"
FORMS = ("DER", "PEM", "SMIME")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("cms_stream_ca")))
    ca.person("rsa")
    ca.person("ec", alg="EC")
    ca.person("x25519", alg="X25519")
    return ca


def _content(path, size):
    with open(path, "wb") as f:
        for i in range(0, size, 1 << 20):
            f.write(os.urandom(min(1 << 20, size - i)))
    return str(path)


def _encrypt(src, dst, cipher, form, *recipient):
    """openssl cms -encrypt -stream (indefinite-length BER, the content in chunks)."""
    openssl("cms", "-encrypt", "-stream", "-binary", "-" + cipher, "-in", src, "-outform", form, "-out", dst,
            *recipient)
    return dst


def _temporaries(d):
    """The descriptors of this process open on files in d (an O_TMPFILE file has no name
    there, but its descriptor still says where it lives)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(str(d) + "/"):
            found.append(int(fd))
    return found


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("cipher", ["aes-256-cbc", "aes-128-gcm", "aes-256-gcm"])
def test_openssl_messages_every_form(ca, tmp_path, cipher, form):
    src = _content(tmp_path / "in.bin", (1 << 20) + 4321)
    content = open(src, "rb").read()
    spool = tmp_path / "spool"
    spool.mkdir()
    for name in ("rsa", "ec"):
        msg = _encrypt(src, str(tmp_path / ("m." + name)), cipher, form, ca.path(name + ".pem"))
        with open(msg, "rb") as f, BIO.openfile(str(tmp_path / "out.bin"), "wb") as out:
            assert CMS.decrypt_stream(f, ca.keys[name], ca.certs[name], out=out, form=form, tmpdir=str(spool)) is None
        assert (tmp_path / "out.bin").read_bytes() == content
        with BIO.openfile(msg) as f:  # from a BIO, into bytes, every recipient tried (no certificate)
            assert CMS.decrypt_stream(f, ca.keys[name], form=form) == content
        assert os.listdir(spool) == []
    # KEK and password recipients
    msg = _encrypt(src, str(tmp_path / "m.kek"), cipher, form, "-secretkey", KEK.hex(), "-secretkeyid", KEK_ID.hex())
    assert CMS.decrypt_stream(open(msg, "rb").read(), kek=(KEK, KEK_ID), form=form) == content
    if cipher.endswith("cbc"):  # openssl 3 makes no password recipient for a GCM message (its KEK cipher)
        msg = _encrypt(src, str(tmp_path / "m.pw"), cipher, form, "-pwri_password", "stream pw")
        assert CMS.decrypt_stream(open(msg, "rb").read(), password="stream pw", form=form) == content
    # and back: what M2Sec streams, openssl reads
    with BIO.openfile(src) as data, BIO.openfile(str(tmp_path / "m2.msg"), "wb") as out:
        ci = CMS.encrypt(data, [ca.certs["rsa"]], cipher=cipher, stream=True)
        {"DER": ci.write_der, "PEM": ci.write_pem, "SMIME": ci.write_smime}[form](out)
    openssl("cms", "-decrypt", "-binary", "-inform", form, "-in", str(tmp_path / "m2.msg"), "-recip",
            ca.path("rsa.pem"), "-inkey", ca.path("rsa.key"), "-out", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == content


@pytest.mark.parametrize("form", ["DER", "SMIME"])
def test_tampered_auth_enveloped_releases_nothing(ca, tmp_path, monkeypatch, form):
    src = _content(tmp_path / "in.bin", (2 << 20) + 17)
    der = open(_encrypt(src, str(tmp_path / "m.der"), "aes-256-gcm", "DER", ca.path("rsa.pem")), "rb").read()
    # openssl's streamed BER ends with the mac (OCTET STRING of 16) and three end-of-contents
    assert der[-24:-22] == b"\x04\x10" and der[-6:] == bytes(6)
    spool = tmp_path / "spool"
    spool.mkdir()
    seen = []
    real = m2.cms_decrypt_spooled

    def watched(*args):  # the two temporary files (ciphertext, plaintext) while OpenSSL decrypts
        seen.append([(os.fstat(fd).st_mode & 0o777, os.fstat(fd).st_nlink) for fd in _temporaries(spool)])
        seen.append(os.listdir(spool))
        return real(*args)

    monkeypatch.setattr(m2, "cms_decrypt_spooled", watched)
    for what, at in (("tag", len(der) - 7), ("ciphertext", len(der) // 2)):
        bad = bytearray(der)
        bad[at] ^= 1
        if form == "SMIME":
            msg = tmp_path / "bad.eml"
            (tmp_path / "bad.der").write_bytes(bytes(bad))
            # openssl re-encodes the tampered DER as S/MIME without decrypting it
            openssl("cms", "-cmsout", "-inform", "DER", "-in", str(tmp_path / "bad.der"), "-outform", "SMIME",
                    "-out", str(msg))
            wire = msg.read_bytes()
        else:
            wire = bytes(bad)
        seen.clear()
        with BIO.openfile(str(tmp_path / "out.bin"), "wb") as out:
            with pytest.raises(CMS.CMSDecryptError, match="cannot decrypt"):
                CMS.decrypt_stream(wire, ca.keys["rsa"], ca.certs["rsa"], out=out, form=form, tmpdir=str(spool))
        assert os.path.getsize(tmp_path / "out.bin") == 0, what  # not a byte of the plaintext
        with pytest.raises(CMS.CMSDecryptError):  # into bytes: none returned either
            CMS.decrypt_stream(wire, ca.keys["rsa"], ca.certs["rsa"], form=form, tmpdir=str(spool))
        assert seen[0] == [(0o600, 0), (0o600, 0)], what  # owner-only, and never named in spool
        assert seen[1] == []
        assert os.listdir(spool) == [] and _temporaries(spool) == []  # closed: gone
        assert m2.err_peek_error() == 0
    # the message untouched decrypts, through the same spool
    with BIO.openfile(str(tmp_path / "out.bin"), "wb") as out:
        CMS.decrypt_stream(der, ca.keys["rsa"], ca.certs["rsa"], out=out, tmpdir=str(spool))
    assert (tmp_path / "out.bin").read_bytes() == open(src, "rb").read()
    assert os.listdir(spool) == [] and _temporaries(spool) == []


def test_large_messages_bounded_memory(ca, tmp_path):
    size = 64 << 20
    src = _content(tmp_path / "big.bin", size)
    cases = [("rsa", "aes-256-gcm", "DER"), ("rsa", "aes-256-gcm", "SMIME"), ("rsa", "aes-128-cbc", "PEM"),
             ("x25519", "aes-256-gcm", "SMIME")]
    for name, cipher, form in cases:
        msg = str(tmp_path / "big.msg")
        if name == "x25519":  # openssl has no RFC 8418: M2Sec streams it
            with BIO.openfile(src) as data, BIO.openfile(msg, "wb") as out:
                CMS.encrypt(data, [ca.certs[name]], cipher=cipher, stream=True).write_smime(out)
        else:
            _encrypt(src, msg, cipher, form, ca.path(name + ".pem"))
        out = str(tmp_path / "big.out")
        p = subprocess.run([sys.executable, "-c", DECRYPT_STREAM_CHILD, msg, ca.path(name + ".key"), ca.path(name + ".pem"), form,
                            out, str(tmp_path)], capture_output=True, text=True, timeout=240)
        assert p.returncode == 0, p.stderr
        grown = int(p.stdout.split()[0])
        # before: the whole message parsed (S/MIME: decoded too), an AuthEnvelopedData's plaintext held
        assert grown < 16 << 20, "%s %s %s: peak RSS grew by %d MiB" % (name, cipher, form, grown >> 20)
        assert os.path.getsize(out) == size and same_file(src, out)
        os.unlink(msg)
        os.unlink(out)


class _Dribble:
    """A binary file that reads 7 bytes at a time."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n):
        self.pos += 7
        return self.data[self.pos - 7:self.pos]


def _padded_early(pem):
    lines = pem.split(b"\n")
    lines[2] = lines[2][:-4] + b"AA=="  # a padded group, then more base64
    return b"\n".join(lines)


def test_base64_text_bad_input(ca, tmp_path):
    key, cert = ca.keys["rsa"], ca.certs["rsa"]
    data = b"bounded base64\n" * 100
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    pem = open(_encrypt(str(src), str(tmp_path / "m.pem"), "aes-256-gcm", "PEM", ca.path("rsa.pem")), "rb").read()
    smime = open(_encrypt(str(src), str(tmp_path / "m.eml"), "aes-256-gcm", "SMIME", ca.path("rsa.pem")), "rb").read()
    assert CMS.decrypt_stream(pem, key, cert, form="PEM") == data
    assert CMS.decrypt_stream(b"junk before\n\n" + pem + b"junk after\n", key, cert, form="PEM") == data
    assert CMS.decrypt_stream(pem.replace(b"CMS-----", b"PKCS7-----"), key, cert, form="PEM") == data
    crlf = smime.replace(b"\n", b"\r\n")
    assert CMS.decrypt_stream(crlf, key, cert, form="SMIME") == data
    one_line = smime.split(b"\n\n", 1)
    one_line = one_line[0] + b"\n\n" + b"".join(one_line[1].split()) + b"\n"  # the body on one line
    assert CMS.decrypt_stream(one_line, key, cert, form="SMIME") == data
    # fed in pieces of 7 bytes: lines, groups and the end split anywhere
    assert CMS.decrypt_stream(_Dribble(pem), key, cert, form="PEM") == data
    assert CMS.decrypt_stream(_Dribble(crlf), key, cert, form="SMIME") == data
    bad = [
        (pem.replace(b"BEGIN CMS", b"BEGIN CERTIFICATE"), "PEM", "no CMS in the PEM"),
        (pem[:40], "PEM", "ends inside|no base64 body"),
        (b"no PEM here\n" * 3, "PEM", "no base64 body"),
        (smime.replace(b"application/pkcs7-mime", b"text/plain"), "SMIME", "not an application/pkcs7-mime"),
        (smime.replace(b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 7bit"), "SMIME",
         "not in base64"),
        (smime.replace(b"\n\n", b"\n\nM!IA", 1), "SMIME", "outside its alphabet"),
        (_padded_early(pem), "PEM", "misplaced padding"),
        (one_line.replace(b"\n\n", b"\n\n" + b"A" * (1 << 17), 1), "SMIME", "a line of over"),
        (b"Subject: x\n" * (1 << 17), "SMIME", "before the base64 body"),
    ]
    for wire, form, message in bad:
        with pytest.raises(CMS.CMSFormatError, match=message):
            CMS.decrypt_stream(wire, key, cert, form=form)
    with pytest.raises(ValueError, match="exactly one"):
        CMS.decrypt_stream(pem, key, password=b"x", form="PEM")
