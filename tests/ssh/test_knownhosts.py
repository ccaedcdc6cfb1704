"""M2Sec.SSH.knownhosts against files written and hashed by ssh-keygen."""

import time

import pytest

from M2Sec.SSH.keys import CERT_HOST, CERT_USER, create_certificate, generate_private_key, load_public_key
from M2Sec.SSH.knownhosts import KnownHosts, hash_host, host_name, known_hosts_line

from .keygen_helpers import keygen


@pytest.fixture(scope="module")
def ks():
    """Keys: three host keys, an unrelated one, a CA and a revoked key."""
    names = ["ed", "ec", "rsa", "other", "ca", "revoked"]
    algs = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", "ssh-ed25519", "ssh-ed25519", "ecdsa-sha2-nistp384"]
    return {n: generate_private_key(a, 1024 if a == "ssh-rsa" else None) for n, a in zip(names, algs)}


def _text(ks):
    return "\n".join([
        "# a comment, then a blank line",
        "",
        "host.example.com,10.0.0.1 " + ks["ed"].public_line("c"),
        "[host.example.com]:2222 " + ks["rsa"].public_line(),
        "*.wild.org,!bad.wild.org " + ks["ec"].public_line(),
        "@cert-authority *.example.com,!evil.example.com " + ks["ca"].public_line(),
        "@revoked * " + ks["revoked"].public_line(),
        "not-enough-fields",
        "@unknown-marker host " + ks["ed"].public_line(),
        "bad.base64 ssh-ed25519 AAAA!!!!",
    ]) + "\n"


CASES = [
    # (host, port, key name, status, line of the deciding entry)
    ("host.example.com", 22, "ed", "ok", 3),
    ("HOST.Example.COM", 22, "ed", "ok", 3),
    ("10.0.0.1", 22, "ed", "ok", 3),
    ("host.example.com", 22, "rsa", "changed", None),
    ("host.example.com", 2222, "rsa", "ok", 4),
    ("host.example.com", 2222, "ed", "changed", None),
    ("host.example.com", 2200, "ed", "unknown", None),
    ("a.wild.org", 22, "ec", "ok", 5),
    ("deep.a.wild.org", 22, "ec", "ok", 5),
    ("bad.wild.org", 22, "ec", "unknown", None),
    ("wild.org", 22, "ec", "unknown", None),
    ("elsewhere", 22, "other", "unknown", None),
    ("elsewhere", 22, "revoked", "revoked", 7),
    ("host.example.com", 22, "revoked", "revoked", 7),
]


def _hashed_copy(tmp_path, text):
    """The file hashed by ssh-keygen -H (which leaves wildcard lines and markers as they are)."""
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(l for l in text.splitlines() if not l.startswith(("not-", "@unknown", "bad."))) + "\n")
    keygen(["-H", "-f", path])
    return path


@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_match(ks, tmp_path, hashed):
    text = _text(ks)
    if hashed:
        path = _hashed_copy(tmp_path, text)
        assert "|1|" in path.read_text() and "host.example.com,10" not in path.read_text()
        kh = KnownHosts(path)
        assert kh.errors == []
    else:
        kh = KnownHosts(text)
        assert kh.errors == [8, 9, 10]
    for host, port, name, status, line in CASES:
        result = kh.match(host, port, ks[name].public_key())
        assert result.status == status, (host, port, name)
        assert result.ok == (status == "ok")
        if line is not None and not hashed:
            assert result.entry.line == line
        elif line is None:
            assert result.entry is None


def test_host_certificates(ks):
    kh = KnownHosts(_text(ks))
    now = time.time()
    good = create_certificate(ks["ca"], ks["other"].public_key(), "h", ["srv.example.com"], cert_type=CERT_HOST,
                              valid_after=int(now) - 60, valid_before=int(now) + 3600)
    r = kh.match("srv.example.com", 22, good)
    assert r.status == "ok" and r.entry.marker == "cert-authority"
    assert kh.match("srv.example.com", 2222, good).status == "unknown"  # *.example.com is for port 22
    # Not valid for the name, expired, a user certificate, a negated host, another CA:
    # the certificate is not accepted and its key is unknown.
    for host, cert, why in [
        ("other.example.com", good, "not valid for"),
        ("srv.example.com", create_certificate(ks["ca"], ks["other"].public_key(), "h", [], cert_type=CERT_HOST,
                                               valid_before=int(now) - 1), "expired"),
        ("srv.example.com", create_certificate(ks["ca"], ks["other"].public_key(), "h", [], cert_type=CERT_USER),
         "host certificate"),
        ("evil.example.com", create_certificate(ks["ca"], ks["other"].public_key(), "h", [], cert_type=CERT_HOST),
         "no @cert-authority"),
        ("srv.example.com", create_certificate(ks["other"], ks["ed"].public_key(), "h", [], cert_type=CERT_HOST),
         "no @cert-authority"),
    ]:
        r = kh.match(host, 22, cert)
        assert r.status == "unknown" and why in r.reason, (host, r)
    # A certificate for a key listed as such is ok through the plain entry.
    plain_ok = create_certificate(ks["other"], ks["ed"].public_key(), "h", [], cert_type=CERT_HOST)
    assert kh.match("host.example.com", 22, plain_ok).status == "ok"
    # A certificate by a revoked CA, or for a revoked key, is revoked.
    assert kh.match("srv.example.com", 22, create_certificate(ks["revoked"], ks["ed"].public_key(), "h", [],
                                                              cert_type=CERT_HOST)).status == "revoked"
    assert kh.match("srv.example.com", 22, create_certificate(ks["ca"], ks["revoked"].public_key(), "h", [],
                                                              cert_type=CERT_HOST)).status == "revoked"


def test_cert_authority_made_by_ssh_keygen(tmp_path):
    ca = tmp_path / "ca"
    host = tmp_path / "host"
    keygen(["-q", "-t", "ed25519", "-N", "", "-f", ca])
    keygen(["-q", "-t", "ecdsa", "-N", "", "-f", host])
    keygen(["-s", ca, "-I", "host", "-h", "-n", "box.lan", "-V", "-1m:+1h", str(host) + ".pub"])
    kh = KnownHosts("@cert-authority *.lan " + (tmp_path / "ca.pub").read_text())
    cert = load_public_key(str(host) + "-cert.pub")
    assert kh.match("box.lan", 22, cert).ok
    assert not kh.match("box2.lan", 22, cert).ok


def test_hash_host_matches_ssh_keygen(ks, tmp_path):
    kh = KnownHosts()
    lines = [kh.add("server.test", 22, ks["ed"], hashed=True), kh.add("server.test", 2022, ks["ec"], hashed=True),
             kh.add("plain.test", 22, ks["rsa"])]
    assert lines[2] == "plain.test " + ks["rsa"].public_line("")
    path = tmp_path / "kh"
    path.write_text("\n".join(lines) + "\n")
    for host, found in (("server.test", True), ("[server.test]:2022", True),
                        ("[server.test]:22", False), ("other.test", False)):
        out = keygen(["-F", host, "-f", path], check=False).stdout.decode()
        assert (host.lower().strip("[").split("]")[0] in out) == found, host
    assert kh.match("server.test", 22, ks["ed"]).ok and kh.match("server.test", 2022, ks["ec"]).ok
    assert KnownHosts(path).match("plain.test", 22, ks["rsa"]).ok
    salt = bytes(range(20))
    assert hash_host("h", salt) == hash_host("h", salt) != hash_host("h")
    assert hash_host("h", salt).startswith("|1|AAECAwQFBgcICQoLDA0ODxAREhM=|")


def test_host_key_algorithms(ks):
    kh = KnownHosts(_text(ks))
    assert kh.host_key_algorithms("host.example.com") == [b"ssh-ed25519", b"ssh-ed25519-cert-v01@openssh.com"]
    assert kh.host_key_algorithms("host.example.com", 2222) == [b"ssh-rsa"]
    assert kh.host_key_algorithms("nowhere") == []


def test_helpers_and_inputs(ks, tmp_path):
    assert host_name("Host", 22) == "host" and host_name("h", 2222) == "[h]:2222"
    assert known_hosts_line(["a", "b"], ks["ed"], marker="revoked").startswith("@revoked a,b ssh-ed25519 ")
    text = _text(ks)
    path = tmp_path / "a file with spaces"
    path.write_text(text)
    assert len(KnownHosts(str(path))) == len(KnownHosts(text)) == len(KnownHosts(text.encode())) == 5
    with pytest.raises(FileNotFoundError):
        KnownHosts(str(tmp_path / "missing"))
    # An entry of a key type M2Sec does not know still compares by its blob.
    kh = KnownHosts("h ssh-dss AAAAB3NzaC1kc3MAAAA=\n")
    assert kh.match("h", 22, ks["ed"]).status == "changed"
    assert kh.match("h", 22, ks["ed"]).keys[0].algorithm == "ssh-dss"
    assert kh.match("H", 22, ks["ed"]).status == "changed"  # names compare in lower case
