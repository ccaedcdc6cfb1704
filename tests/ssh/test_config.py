"""The ssh_config reader: Host and Match blocks, first value wins, Include (and its loops),
tokens and ~, algorithm list modifiers, sizes and times, jump specifications, bad files."""

import os

import pytest

from M2Sec.SSH.config import (SSHConfig, SSHConfigError, algorithm_list, parse_jump, parse_size, parse_time)

CONFIG = """
# a comment
Host web *.example.com !bad.example.com
    HostName %h.internal
    Port 2222
    User alice
    IdentityFile ~/.ssh/id_web
    IdentityFile %d/keys/%r@%h
    UnknownKeyword whatever

Host web
    Port 9999
    User bob

Match originalhost db user carol
    Port 5432

Host *
    User fallback
    ServerAliveInterval 15
    Ciphers=aes128-gcm@openssh.com,aes256-ctr
    ProxyCommand ssh -W %h:%p gateway
"""


def test_first_value_wins_and_patterns(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = SSHConfig.from_text(CONFIG)
    o = cfg.lookup("web")
    assert o["hostname"] == "web.internal"
    assert o["port"] == "2222" and o["user"] == "alice"  # the second Host web block comes too late
    assert o["identityfile"] == [str(tmp_path / ".ssh" / "id_web"), "%s/keys/alice@web.internal" % tmp_path]
    assert o["serveraliveinterval"] == "15" and o["ciphers"] == "aes128-gcm@openssh.com,aes256-ctr"
    assert o["proxycommand"] == "ssh -W web.internal:2222 gateway"
    assert "unknownkeyword" in o  # kept, and ignored by connect
    assert cfg.lookup("a.example.com")["hostname"] == "a.example.com.internal"
    bad = cfg.lookup("bad.example.com")  # negated: only Host * applies
    assert bad["hostname"] == "bad.example.com" and bad["user"] == "fallback"
    assert cfg.lookup("db", user="carol")["port"] == "5432"
    assert "port" not in cfg.lookup("db", user="dave")


def test_include_and_loops(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh = tmp_path / ".ssh"
    (ssh / "conf.d").mkdir(parents=True)
    (ssh / "conf.d" / "a.conf").write_text("Host inc\n  Port 7\n")
    (ssh / "conf.d" / "b.conf").write_text("Host *\n  User fromb\n")
    (ssh / "config").write_text("Include conf.d/*.conf\nHost inc\n  Port 8\n  User main\n")
    o = SSHConfig([ssh / "config"]).lookup("inc")
    assert o["port"] == "7" and o["user"] == "fromb"
    (ssh / "loop").write_text("Include ~/.ssh/loop\n")
    with pytest.raises(SSHConfigError, match="loop"):
        SSHConfig(["~/.ssh/loop"]).lookup("x")
    # a missing file is no configuration; a directory cannot be read
    assert SSHConfig([ssh / "missing"]).lookup("x") == {"hostname": "x"}
    with pytest.raises(SSHConfigError):
        SSHConfig([ssh]).lookup("x")


def test_match_exec_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    cfg = SSHConfig.from_text("Match exec \"touch %s\"\n  Port 1\nMatch all\n  Port 2\n" % marker)
    assert cfg.lookup("h")["port"] == "2"
    assert not marker.exists()


@pytest.mark.parametrize("text", ["Host x\n  Port\n", "Match foo bar\n", "Host x\n  User \"unterminated\n",
                                  "Host x\n  HostName %z\n"])
def test_bad_lines(text):
    with pytest.raises(SSHConfigError):
        SSHConfig.from_text(text).lookup("x")


def test_oversized_file(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(SSHConfigError, match="larger"):
        SSHConfig([big]).lookup("x")


def test_values():
    default = [b"a", b"b", b"c"]
    assert algorithm_list("x,y", default, default) == [b"x", b"y"]
    assert algorithm_list("+d,a", default, default + [b"d"]) == [b"a", b"b", b"c", b"d"]
    assert algorithm_list("-b*", default, default) == [b"a", b"c"]
    assert algorithm_list("^c", default, default) == [b"c", b"a", b"b"]
    assert parse_size("1G") == 1 << 30 and parse_size("500k") == 500 << 10 and parse_size("77") == 77
    assert parse_time("1h30m") == 5400 and parse_time("45") == 45
    for bad in ("1x", "h"):
        with pytest.raises(SSHConfigError):
            parse_time(bad)
    with pytest.raises(SSHConfigError):
        parse_size("lots")
    assert parse_jump("bob@jump:2200") == ("bob", "jump", 2200)
    assert parse_jump("[::1]:22") == (None, "::1", 22)
    assert parse_jump("ssh://h") == (None, "h", None)
    assert parse_jump("::1") == (None, "::1", None)
