"""The ssh_config reader: Host and Match blocks, first value wins, Include (and its loops),
tokens and ~, algorithm list modifiers, sizes and times, jump specifications, bad files."""

import os

import pytest

from M2Sec.SSH.config import (MAX_INCLUDED, SSHConfig, SSHConfigError, algorithm_list, client_options, parse_jump,
                               parse_size, parse_time)

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
    assert algorithm_list("c,a", default, default) == [b"c", b"a"]
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


# ---- found by fuzzing (tests/fuzz/fuzz_ssh_config.py): each was a bare ValueError,
# OverflowError or a hang instead of SSHConfigError

@pytest.mark.parametrize("bad", ["9" * 5000, "9" * 400 + "w", "\u00b2", "1\u0663", "4294967296", "69w" * 500, "",
                                 "1 h", "-5"])
def test_bad_times(bad):
    # int() of 5000 digits raised ValueError, a huge number OverflowError in float(), a
    # superscript digit passed isdigit() then failed int(); OpenSSH's convtime stops at INT_MAX
    with pytest.raises(SSHConfigError, match="bad time"):
        parse_time(bad)


def test_times_up_to_int_max():
    assert parse_time("2147483647") == 2 ** 31 - 1 and parse_time("1w1d1h1m1s") == 694861
    assert parse_time("1h30") == 3630


@pytest.mark.parametrize("bad", ["h:", "[h]:x", "h:99999999", "h:0", "[::1", "[::1]x", "h:+22", "h:2_2", "@:1"])
def test_bad_jump_hosts(bad):
    with pytest.raises(SSHConfigError):
        parse_jump(bad)


@pytest.mark.parametrize("bad", ["-1", "+5", "1_0", " ", "1\u0663", "9" * 30, "1Q"])
def test_bad_sizes(bad):
    with pytest.raises(SSHConfigError):
        parse_size(bad)


def test_algorithm_lists_name_only_supported_algorithms():
    default = [b"a", b"b"]
    with pytest.raises(SSHConfigError, match="unsupported algorithm x"):  # was passed on: ValueError in connect
        algorithm_list("a,x", default, default)
    with pytest.raises(SSHConfigError, match="no algorithm"):
        algorithm_list("-*", default, default)
    assert algorithm_list("+x,b", default, default) == default  # + ignores what it cannot add, as before
    assert algorithm_list("^b,b", default, default) == [b"b", b"a"]


def test_nul_in_a_line():
    # os.path.expanduser and glob raised "ValueError: embedded null byte" for an Include
    with pytest.raises(SSHConfigError, match="NUL"):
        SSHConfig.from_text("Include=/\x00 **\n").lookup("h")


def test_include_fan_out_is_bounded(tmp_path, monkeypatch):
    # each file includes the next twice: 2**16 readings before the depth limit, now an error
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    for i in range(12):
        (ssh / ("f%d" % i)).write_text("Include f%d f%d\n" % (i + 1, i + 1))
    (ssh / "f12").write_text("Port 2\n")
    with pytest.raises(SSHConfigError, match="more than %d files" % MAX_INCLUDED):
        SSHConfig([ssh / "f0"]).lookup("h")
    (ssh / "f0").write_text("Include f11\nInclude f12\n")
    assert SSHConfig([ssh / "f0"]).lookup("h")["port"] == "2"  # one file read twice, in turn: no loop
    (ssh / "f12").write_text("Include f0\n")
    with pytest.raises(SSHConfigError, match="Include loop: .*f0 -> .*f11 -> .*f12 -> .*f0"):
        SSHConfig([ssh / "f0"]).lookup("h")


def test_client_options():
    opts = SSHConfig.from_text(
        "Host *\n Port 2200\n RekeyLimit 1M 10m\n ConnectTimeout 5\n ServerAliveInterval 1m\n"
        " ServerAliveCountMax 0\n PreferredAuthentications publickey,,password\n ProxyJump a, b:2\n"
        " ProxyCommand printf '%%s' %h\n").lookup("x")
    assert client_options(opts) == {
        "port": 2200, "rekey_bytes": 1 << 20, "rekey_seconds": 600.0, "connect_timeout": 5.0,
        "keepalive_interval": 60.0, "keepalive_count_max": 0, "preferred_auth": ["publickey", "password"],
        "tunnel": "a,b:2", "proxy_command": "printf '%s' x"}
    # the command as written (its quotes were dropped), expanded once (connect() expanded it again)
    assert client_options({"hostname": "x", "proxyjump": "none", "proxycommand": "none"}) == {}
    for key, value in (("port", "ssh"), ("port", "0"), ("port", "65536"), ("serveralivecountmax", "-1"),
                       ("proxyjump", "a,b:x"), ("connecttimeout", "soon"), ("rekeylimit", "1G x")):
        with pytest.raises(SSHConfigError):
            client_options({"hostname": "x", key: value})
