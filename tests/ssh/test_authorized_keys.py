"""authorized_keys files: options parsed as sshd parses them, what each grants or refuses,
cert-authority lines, lines skipped for bad options."""

import time

import pytest

from M2Sec.SSH import keys as sshkeys
from M2Sec.SSH.authorized_keys import (AuthorizedKeys, AuthorizedKeysError, Permissions, match_address,
                                       parse_expiry, parse_options)


@pytest.fixture(scope="module")
def key():
    return sshkeys.generate_private_key("ssh-ed25519").public_key()


def test_parse_options_quoting():
    opts, rest = parse_options('command="echo \\"hi, there\\"",no-pty,from="1.2.3.4,!5.6.7.8" ssh-ed25519 AAAA c')
    assert opts == [("command", 'echo "hi, there"'), ("no-pty", None), ("from", "1.2.3.4,!5.6.7.8")]
    assert rest == "ssh-ed25519 AAAA c"
    with pytest.raises(AuthorizedKeysError):
        parse_options('command="unterminated ssh-ed25519 AAAA')
    with pytest.raises(AuthorizedKeysError):
        parse_options("command=unquoted ssh-ed25519 AAAA")


def test_expiry_formats():
    assert parse_expiry("20300102Z") == parse_expiry("203001020000Z") == 1893542400
    assert parse_expiry("20300102030405Z") == 1893542400 + 3 * 3600 + 4 * 60 + 5
    # (month 00 and 13, February 30 and hour 24 were normalised or leaked datetime's ValueError:
    # found by tests/fuzz/fuzz_authorized_keys.py; '²' is a digit to str.isdigit)
    for bad in ("2030", "2030010203", "tomorrow", "00150001Z", "20301301", "20300230", "203001022400",
                "2030010\u00b2"):
        with pytest.raises(AuthorizedKeysError):
            parse_expiry(bad)


@pytest.mark.parametrize("patterns,addr,ok", [
    ("127.0.0.1", "127.0.0.1", True),
    ("10.0.0.0/8,192.168.*", "192.168.1.9", True),
    ("10.0.0.0/8", "11.0.0.1", False),
    ("*,!10.1.2.3", "10.1.2.3", False),
    ("::1", "::1", True),
    ("2001:db8::/32", "2001:db8::5", True),
])
def test_match_address(patterns, addr, ok):
    assert match_address(patterns, addr) is ok


def test_permissions_of_options(key):
    line = key.public_line()
    ak = AuthorizedKeys("\n".join([
        "# a comment",
        "",
        'restrict,pty,command="backup",environment="A=b",permitopen="db:5432" ' + line,
    ]) + "\n")
    p = ak.match(key, "127.0.0.1")
    assert isinstance(p, Permissions) and p.line == 3
    assert (p.pty, p.port_forwarding, p.agent_forwarding, p.command, p.environment) == \
        (True, False, False, "backup", {"A": "b"})
    assert not p.allows_open("db", 5432)      # restrict took port forwarding away
    ak = AuthorizedKeys('permitopen="db:5432",permitlisten="8080" ' + line + "\n")
    p = ak.match(key)
    assert p.allows_open("db", 5432) and not p.allows_open("db", 5433) and not p.allows_open("other", 5432)
    assert p.allows_listen("localhost", 8080) and not p.allows_listen("", 8081)


def test_refusals_and_skipped_lines(key):
    line = key.public_line()
    ak = AuthorizedKeys('from="10.0.0.0/8" %s\nexpiry-time="20000101" %s\n' % (line, line))
    assert ak.match(key, "127.0.0.1") is None and ak.match(key, "10.9.9.9") is not None
    ak = AuthorizedKeys('expiry-time="20000101" %s\n' % line)
    assert ak.match(key, now=time.time()) is None
    ak = AuthorizedKeys("frobnicate %s\nno-pty=\"x\" %s\nnonsense\n%s\n" % (line, line, line))
    assert [n for n, _ in ak.skipped] == [1, 2, 3] and len(ak) == 1
    assert AuthorizedKeys([key]).match(key) is not None
    other = sshkeys.generate_private_key("ecdsa-sha2-nistp256").public_key()
    assert AuthorizedKeys([key]).match(other) is None


def test_cert_authority_lines(key):
    ca = sshkeys.generate_private_key("ssh-ed25519")
    user = sshkeys.generate_private_key("ssh-ed25519")
    cert = sshkeys.create_certificate(ca, user.public_key(), "id", ["alice", "ops"],
                                      extensions={"permit-pty": ""})
    ak = AuthorizedKeys("cert-authority %s\n" % ca.public_key().public_line())
    p = ak.match_certificate(cert, "alice")
    assert p is not None and p.pty and not p.port_forwarding     # only the extensions it carries
    assert ak.match_certificate(cert, "bob") is None
    assert ak.match(cert.key) is None                             # the CA line is not the user's key
    ak = AuthorizedKeys('cert-authority,principals="ops,admin" %s\n' % ca.public_key().public_line())
    assert ak.match_certificate(cert, "bob") is not None
    ak = AuthorizedKeys('cert-authority,principals="admin" %s\n' % ca.public_key().public_line())
    assert ak.match_certificate(cert, "alice") is None
    expired = sshkeys.create_certificate(ca, user.public_key(), "id", ["alice"], valid_before=1000)
    ak = AuthorizedKeys("cert-authority %s\n" % ca.public_key().public_line())
    assert ak.match_certificate(expired, "alice") is None
