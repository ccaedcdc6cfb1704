"""The client core talking to the server core in memory (no sockets): every algorithm on its
own, every authentication method and its limits, sessions, forwarding requests, rekeying,
64 MiB each way; and the server core fed malformed and unexpected input."""

import hashlib
import os

import pytest

from M2Sec.SSH import channel as ch
from M2Sec.SSH import connection as core
from M2Sec.SSH import crypto, kex
from M2Sec.SSH import keys as sshkeys
from M2Sec.SSH import server as srv
from M2Sec.SSH.authorized_keys import AuthorizedKeys
from M2Sec.SSH.errors import (AuthenticationFailed, DisconnectError, KeyExchangeFailed, ProtocolError,
                              ServiceNotAvailable)
from M2Sec.SSH.moduli import Moduli
from M2Sec.SSH.packet import PacketReader, PacketWriter, boolean, byte, namelist, string, uint32
from M2Sec.SSH.server_auth import PasswordChangeRequired

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def host_keys():
    ca = sshkeys.generate_private_key("ssh-ed25519")
    out = {"ca": ca}
    for alg, bits in (("ssh-ed25519", None), ("ecdsa-sha2-nistp256", None), ("ecdsa-sha2-nistp384", None),
                      ("ecdsa-sha2-nistp521", None), ("ssh-rsa", 2048)):
        k = sshkeys.generate_private_key(alg, bits)
        cert = sshkeys.create_certificate(ca, k.public_key(), "host", ["h"], cert_type=sshkeys.CERT_HOST)
        out[alg] = (k, cert.with_private_key(k))
    return out


@pytest.fixture(scope="module")
def user_key():
    return sshkeys.generate_private_key("ssh-ed25519")


class App(srv.SSHServer):
    def __init__(self):
        self.completed = False

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        if username == "old":
            raise PasswordChangeRequired("change it")
        return password == "pw"

    def change_password(self, username, old, new):
        return (old, new) == ("pw", "new")

    def kbdint_auth_supported(self):
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        return ("n", "i", "", [("one? ", True), ("two? ", False)])

    def validate_kbdint_response(self, username, responses):
        if responses == ["1", "2"]:
            return ("again", "", "", [("three? ", False)])
        return responses == ["3"]

    def auth_completed(self):
        self.completed = True


def all_host_keys(host_keys):
    return [x for k, v in host_keys.items() if k != "ca" for x in v]


def make_pair(host_keys, user_key, server_kw=None, app=None, **client_kw):
    client_kw.setdefault("username", "u")
    client_kw.setdefault("host_key_check", lambda key: None)
    skw = dict(authorized_client_keys=[user_key.public_key()], kex_algs=kex.SUPPORTED_KEX,
               encryption_algs=core.SUPPORTED_CIPHERS, server_host_key_algs=core.SUPPORTED_HOST_KEY_ALGS,
               compression_algs=core.SUPPORTED_COMPRESSION)
    skw.update(server_kw or {})
    c = core.ClientConnection(core.ClientConfig(**client_kw), now=0.0)
    s = srv.ServerConnection(srv.ServerConfig(all_host_keys(host_keys), **skw), app or App(), addr="127.0.0.1",
                             now=0.0)
    return c, s


class Pump:
    """Moves bytes both ways until both cores are quiet; a tiny server front end accepts
    sessions (exec "echo": data comes back) and answers requests."""

    def __init__(self, c, s):
        self.c, self.s = c, s
        self.client_events, self.server_events = [], []
        self.received = {}

    def run(self, rounds=10000):
        for _ in range(rounds):
            a, b = self.c.data_to_send(), self.s.data_to_send()
            if not a and not b:
                return
            if a:
                pending = list(self.s.receive(a))
                while pending:
                    ev = pending.pop(0)
                    self.server_events.append(ev)
                    pending[:0] = self.server_event(ev) or []
            if b:
                pending = list(self.c.receive(b))
                while pending:
                    ev = pending.pop(0)
                    self.client_events.append(ev)
                    pending[:0] = self.client_event(ev) or []
        raise AssertionError("the cores never went quiet")

    def client_event(self, ev):
        """The client front end's part: channel data, and the decisions the core asks for
        (host key verdict, keyboard-interactive answers, a new password); the events that follow."""
        c = self.c
        if isinstance(ev, core.ChannelData):
            self.received.setdefault(ev.channel.local_id, []).append(ev.data)
            c.consumed(ev.channel, len(ev.data))
        elif isinstance(ev, core.HostKeyCheck):
            try:
                c.config.host_key_check(ev.key)
            except Exception as e:
                return c.host_key_checked(e)
            return c.host_key_checked()
        elif isinstance(ev, core.KbdIntPrompt):
            return c.decision_done(c.config.kbdint(ev.name, ev.instruction, ev.prompts))
        elif isinstance(ev, core.PasswordChangePrompt):
            return c.decision_done(c.config.password_change(ev.prompt))
        return None

    def server_event(self, ev):
        """Answer one server event; the events that answering gave (authentication's)."""
        s = self.s
        if isinstance(ev, srv.AuthRequest):
            # the front end's part: ask the SSHServer, hand the answer (or its exception) back
            from M2Sec.SSH.server_auth import AuthCall, PasswordChangeRequired, answer
            try:
                value = answer(s.server, s.config.authorized_keys, AuthCall(ev.name, ev.args))
            except PasswordChangeRequired as e:
                return s.auth_answer(None, e)
            return s.auth_answer(value)
        if isinstance(ev, core.Authenticated):
            s.server.auth_completed()
        elif isinstance(ev, core.ChannelOpenRequest):
            if ev.channel.kind == b"session":
                s.accept_channel(ev.channel)
            else:
                s.reject_channel(ev.channel, ch.OPEN_CONNECT_FAILED, "no")
        elif isinstance(ev, srv.SessionRequest):
            if ev.want_reply:
                s.channel_reply(ev.channel, ev.request in (b"exec", b"pty-req", b"shell"))
        elif isinstance(ev, core.ChannelData):
            s.consumed(ev.channel, len(ev.data))
            s.send_data(ev.channel, ev.data)   # echo
        elif isinstance(ev, core.ChannelEOF):
            s.send_eof(ev.channel)
            s.channel_request(ev.channel, b"exit-status", uint32(7), False)
            s.close_channel(ev.channel)
        elif isinstance(ev, srv.GlobalRequest):
            s.global_reply(ev.name == b"tcpip-forward", uint32(4242))


def connect(host_keys, user_key, **kw):
    c, s = make_pair(host_keys, user_key, **kw)
    p = Pump(c, s)
    p.run()
    return p


@pytest.mark.parametrize("alg", kex.SUPPORTED_KEX)
def test_kex(host_keys, user_key, alg):
    p = connect(host_keys, user_key, client_keys=[user_key], kex_algs=[alg])
    assert p.c.state == p.s.state == "open"
    assert p.c.negotiated["kex"] == p.s.negotiated["kex"] == alg
    assert p.c.session_id == p.s.session_id


@pytest.mark.parametrize("alg", core.SUPPORTED_CIPHERS)
def test_cipher(host_keys, user_key, alg):
    p = connect(host_keys, user_key, client_keys=[user_key], encryption_algs=[alg])
    assert p.s.negotiated["cipher_in"] == p.s.negotiated["cipher_out"] == alg
    echo_session(p, b"x" * 100000)


@pytest.mark.parametrize("alg", core.SUPPORTED_MACS)
def test_mac(host_keys, user_key, alg):
    p = connect(host_keys, user_key, client_keys=[user_key], encryption_algs=["aes256-ctr"], mac_algs=[alg])
    assert p.s.negotiated["mac_in"] == p.s.negotiated["mac_out"] == alg


@pytest.mark.parametrize("alg", core.SUPPORTED_HOST_KEY_ALGS)
def test_host_key(host_keys, user_key, alg):
    seen = []
    p = connect(host_keys, user_key, client_keys=[user_key], server_host_key_algs=[alg],
                host_key_check=seen.append)
    assert p.c.negotiated["host_key"] == alg
    assert seen[0].algorithm == p.s.host_key.algorithm
    if alg.endswith(b"-cert-v01@openssh.com"):
        seen[0].check("h", ca_keys=[host_keys["ca"]], cert_type=sshkeys.CERT_HOST, allow_sha1=True)


@pytest.mark.parametrize("alg", core.SUPPORTED_COMPRESSION)
def test_compression(host_keys, user_key, alg):
    p = connect(host_keys, user_key, client_keys=[user_key], compression_algs=[alg])
    assert p.s.negotiated["comp_in"] == alg
    echo_session(p, bytes(200000))


def test_legacy_algorithms_off_by_default(host_keys, user_key):
    c, s = make_pair(host_keys, user_key, server_kw=dict(kex_algs=None), kex_algs=[b"diffie-hellman-group1-sha1"])
    with pytest.raises(KeyExchangeFailed):
        Pump(c, s).run()
    cfg = srv.ServerConfig(all_host_keys(host_keys))
    assert b"ssh-rsa" not in cfg.algorithms["host_key"] and b"ssh-rsa" not in cfg.algorithms["public_key"]
    assert cfg.algorithms["host_key"][0] == b"ssh-ed25519-cert-v01@openssh.com"


def test_strict_kex_and_ext_info(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key])
    assert p.c.strict and p.s.strict
    assert p.c.server_sig_algs == srv.DEFAULT_PUBLIC_KEY_ALGS


def echo_session(p, data):
    c = p.c.open_channel(b"session")
    p.run()
    p.c.channel_request(c, b"exec", string("echo"))
    p.run()
    sent = 0
    while sent < len(data):
        sent += p.c.send_data(c, memoryview(data)[sent:])
        p.run()
    p.c.send_eof(c)
    p.run()
    assert b"".join(p.received.get(c.local_id, [])) == data
    assert c.exit_status == 7
    return c


# ---- authentication ----

def test_auth_methods(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key])
    assert p.s.username == "u" and p.s.permissions.key == user_key.public_key()
    assert any(isinstance(e, core.Authenticated) and e.method == b"publickey" for e in p.client_events)
    p = connect(host_keys, user_key, password="pw")
    assert [e.method for e in p.server_events if isinstance(e, core.Authenticated)] == [b"password"]
    assert p.s.server.completed
    p = connect(host_keys, user_key, username="old", password="pw", password_change=lambda prompt: "new")
    assert p.s.state == "open"
    answers = iter([["1", "2"], ["3"]])
    p = connect(host_keys, user_key, kbdint=lambda name, instr, prompts: next(answers))
    assert [e.method for e in p.server_events if isinstance(e, core.Authenticated)] == [b"keyboard-interactive"]


def test_auth_failure_limit_and_events(host_keys, user_key):
    c, s = make_pair(host_keys, user_key, server_kw=dict(max_auth_tries=2),
                     kbdint=lambda *a: ["no", "no"], password="wrong")
    p = Pump(c, s)
    with pytest.raises(AuthenticationFailed, match="too many"):
        p.run()
    assert len([e for e in p.server_events if isinstance(e, srv.AuthFailure)]) == 1


def test_user_certificates(host_keys, user_key):
    ca = sshkeys.generate_private_key("ssh-ed25519")
    trusted = dict(authorized_client_keys=None, trusted_user_ca_keys=[ca.public_key()])

    def cert(principals=("u",), **kw):
        return sshkeys.create_certificate(ca, user_key.public_key(), "id", list(principals),
                                          **kw).with_private_key(user_key)

    def refused(server_kw, key):
        c, s = make_pair(host_keys, user_key, server_kw=server_kw, client_keys=[key])
        with pytest.raises(DisconnectError):
            Pump(c, s).run()

    assert connect(host_keys, user_key, server_kw=trusted, client_keys=[cert()]).s.state == "open"
    refused(dict(authorized_client_keys=None, trusted_user_ca_keys=[user_key]), cert())   # untrusted CA
    refused(trusted, cert(["v"]))                                                          # another principal
    p = connect(host_keys, user_key, server_kw=trusted, client_keys=[cert(critical_options={"force-command": "date"})])
    assert p.s.permissions.command == "date"
    refused(trusted, cert(critical_options={"source-address": "10.0.0.0/8"}))
    refused(trusted, cert(critical_options={"no-such-option": "x"}))


def test_begin_auth_false_lets_in(host_keys, user_key):
    class Open(App):
        def begin_auth(self, username):
            return False
    p = connect(host_keys, user_key, app=Open())
    assert p.s.state == "open"


# ---- sessions, forwarding, rekeying ----

def test_session_requests_and_exit(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key])
    c = p.c.open_channel(b"session")
    p.run()
    p.c.channel_request(c, b"pty-req", ch.pty_request("vt100", 100, 30))
    p.c.channel_request(c, b"env", string("LANG") + string("C"), want_reply=False)
    p.c.channel_request(c, b"x11-req", b"", want_reply=True)
    p.c.channel_request(c, b"exec", string("echo"))
    p.c.channel_request(c, b"window-change", ch.window_change(120, 40), want_reply=False)
    p.c.channel_request(c, b"signal", string("INT"), want_reply=False)
    p.run()
    replies = [(e.request, e.success) for e in p.client_events if isinstance(e, core.ChannelReply)]
    assert replies == [(b"pty-req", True), (b"x11-req", False), (b"exec", True)]
    reqs = [e for e in p.server_events if isinstance(e, srv.SessionRequest)]
    assert [r.request for r in reqs] == [b"pty-req", b"env", b"x11-req", b"exec", b"window-change", b"signal"]
    assert [r.want_reply for r in reqs] == [True, False, True, True, False, False]


def test_channel_kinds_and_limits(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key], server_kw=dict(max_channels=2))
    c1, c2, c3 = (p.c.open_channel(b"session") for _ in range(3))
    d = p.c.open_channel(b"direct-tcpip", ch.direct_tcpip("127.0.0.1", 1, "127.0.0.1", 2))
    x = p.c.open_channel(b"x11")
    p.run()
    failed = {e.channel.local_id: e.code for e in p.client_events if isinstance(e, core.ChannelOpenFailed)}
    assert c1.state == c2.state == "open"
    assert failed == {c3.local_id: ch.OPEN_RESOURCE_SHORTAGE, d.local_id: ch.OPEN_RESOURCE_SHORTAGE,
                      x.local_id: ch.OPEN_UNKNOWN_CHANNEL_TYPE}
    p.c.close_channel(c1)
    p.run()
    d = p.c.open_channel(b"direct-tcpip", ch.direct_tcpip("127.0.0.1", 1, "127.0.0.1", 2))
    x = p.c.open_channel(b"x11")
    p.run()
    failed = {e.channel.local_id: e.code for e in p.client_events if isinstance(e, core.ChannelOpenFailed)}
    assert failed[d.local_id] == ch.OPEN_CONNECT_FAILED and failed[x.local_id] == ch.OPEN_UNKNOWN_CHANNEL_TYPE


def test_global_requests(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key])
    p.c.global_request(b"tcpip-forward", string("") + uint32(0))
    p.c.global_request(b"keepalive@openssh.com")
    p.c.global_request(b"cancel-tcpip-forward", string("") + uint32(4242))
    p.run()
    replies = [(e.success, e.data) for e in p.client_events if isinstance(e, core.GlobalReply)]
    assert replies == [(True, uint32(4242)), (False, b""), (False, b"")]


def test_server_opens_forwarded_channel(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key])
    c = p.s.open_channel(b"forwarded-tcpip", string("") + uint32(1) + string("127.0.0.1") + uint32(2))
    p.run()
    assert c.state == "failed"  # the client accepts forwarded-tcpip only for its own forwards
    p.c.channel_open_kinds.add(b"forwarded-tcpip")
    c = p.s.open_channel(b"forwarded-tcpip", string("") + uint32(1) + string("127.0.0.1") + uint32(2))
    p.run()
    req = [e for e in p.client_events if isinstance(e, core.ChannelOpenRequest)]
    assert req and req[0].channel.kind == b"forwarded-tcpip"
    p.c.accept_channel(req[0].channel)
    p.run()
    assert c.state == "open"


def test_rekey_both_ways_during_data(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key], rekey_bytes=300000,
                server_kw=dict(rekey_bytes=500000))
    c = echo_session(p, os.urandom(2_000_000))
    kexes = [e for e in p.client_events if isinstance(e, core.KexComplete)]
    assert len(kexes) >= 3 and c.exit_status == 7
    p.s.rekey()
    p.run()
    assert p.c._kex_count == p.s._kex_count


def test_bulk_64mib_each_way_in_memory(host_keys, user_key):
    p = connect(host_keys, user_key, client_keys=[user_key], encryption_algs=["aes128-gcm@openssh.com"])
    data = os.urandom(1 << 20) * 64
    c = echo_session(p, data)
    assert hashlib.sha256(b"".join(p.received[c.local_id])).digest() == hashlib.sha256(data).digest()


# ---- bad input to the server core ----

def _server(host_keys):
    return srv.ServerConnection(srv.ServerConfig(all_host_keys(host_keys)), App())


def _plain(payload):
    return PacketWriter(crypto.PlainSealer(), os.urandom).write(payload)


def _client_kexinit(strict=True):
    names = [b"curve25519-sha256"] + ([b"kex-strict-c-v00@openssh.com"] if strict else [])
    return (byte(20) + bytes(16) + namelist(names) + namelist([b"ssh-ed25519"]) + namelist([b"aes128-ctr"]) * 2
            + namelist([b"hmac-sha2-256"]) * 2 + namelist([b"none"]) * 2 + namelist([]) * 2 + b"\x00" + uint32(0))


def test_server_core_is_a_connection_not_a_client(host_keys):
    s = _server(host_keys)
    assert isinstance(s, core.Connection) and not isinstance(s, core.ClientConnection)
    assert s.server_version == core.VERSION and s.client_version == b""


def test_server_sends_version_and_kexinit_first(host_keys):
    s = _server(host_keys)
    r = PacketReader(crypto.PlainOpener())
    r.feed(s.data_to_send())
    assert r.read_version() == core.VERSION
    init = r.read_packet()
    assert init[0] == 20 and b"kex-strict-s-v00@openssh.com" in init and b"ext-info-c" not in init


@pytest.mark.parametrize("data,exc", [
    (b"SSH-1.5-old\r\n", DisconnectError),
    (b"GET / HTTP/1.0\r\n\r\n" * 600, DisconnectError),
    (b"SSH-2.0-x\r\n" + b"\xff" * 64, ProtocolError),                                    # oversized length
    (b"SSH-2.0-x\r\n" + _plain(b"\x02" + string(b"")) + _plain(_client_kexinit()), ProtocolError),  # strict
    (b"SSH-2.0-x\r\n" + _plain(b"\x05" + string("ssh-userauth")), ProtocolError),       # before kex
    (b"SSH-2.0-x\r\n" + _plain(b"\x14" + bytes(5)), ProtocolError),                      # truncated KEXINIT
    (b"SSH-2.0-x\r\n" + _plain(_client_kexinit()) + _plain(b"\x1e" + string(bytes(31))), KeyExchangeFailed),
    (b"SSH-2.0-x\r\n" + _plain(_client_kexinit()) + _plain(b"\x1e" + uint32(100)), ProtocolError),
])
def test_server_core_bad_input(host_keys, data, exc):
    s = _server(host_keys)
    s.data_to_send()
    with pytest.raises(exc):
        s.receive(data)
    assert s.state == "closed"
    with pytest.raises(DisconnectError):
        s.receive(b"more")


@pytest.mark.parametrize("payload,exc,match", [
    (byte(50) + string("u") + string("ssh-telnet") + string("none"), ServiceNotAvailable, "ssh-telnet"),
    (byte(50) + string("u") + string("ssh-connection") + string("publickey") + boolean(True), ProtocolError,
     "malformed"),
    (byte(50) + string("v") + string("ssh-connection") + string("none"), ProtocolError, "user name changed"),
    (byte(61) + uint32(0), ProtocolError, "without a challenge"),
    (byte(90) + string("session") + uint32(0) + uint32(0) + uint32(0), ProtocolError, "message 90 in state auth"),
    (byte(94) + uint32(0) + string("x"), ProtocolError, "message 94 in state auth"),
    (byte(7) + uint32(0), ProtocolError, "message 7 in state auth"),  # EXT_INFO: no ext-info-s was offered
])
def test_server_core_bad_requests_during_auth(host_keys, user_key, payload, exc, match):
    c, s = make_pair(host_keys, user_key)   # a client without credentials stops after "none"
    with pytest.raises(AuthenticationFailed):
        Pump(c, s).run()
    assert s.state == "auth"
    c._writer.seq -= 1  # the client's DISCONNECT was never delivered
    pump = Pump(c, s)
    with pytest.raises(exc, match=match):
        pending = list(s.receive(c._writer.write(payload)))
        while pending:  # the front end answers what authentication asks the application
            pending[:0] = pump.server_event(pending.pop(0)) or []
    assert s.state == "closed"


def test_server_core_unknown_service(host_keys, user_key):
    c, s = make_pair(host_keys, user_key, password="pw")
    c._first_kex_done = lambda: setattr(c, "state", "service") or c._send(byte(5) + string("ssh-telnet"))
    with pytest.raises(ServiceNotAvailable):
        Pump(c, s).run()


# ---- moduli ----

def test_moduli_file_and_builtin(tmp_path):
    m = Moduli()
    assert m.choose(2048, 3072, 8192)[0].bit_length() == 4096
    assert m.choose(1024, 1024, 2048)[0].bit_length() == 2048
    with pytest.raises(KeyExchangeFailed):
        m.choose(1024, 1024, 1536)
    p2048 = kex.modp_group(2048)[0]
    f = tmp_path / "moduli"
    f.write_text("# comment\n"
                 "20220714110357 2 6 100 2047 2 %X\n"
                 "20220714110357 2 1 100 2047 2 %X\n"     # marked composite: skipped
                 "20220714110357 1 6 100 2047 2 %X\n"     # not a safe prime: skipped
                 "garbage line\n" % (p2048, p2048 + 2, p2048 + 4))
    m = Moduli(str(f))
    assert m.choose(1024, 3072, 8192) == (p2048, 2)
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(ValueError):
        Moduli(str(tmp_path / "empty"))


def test_group_exchange_with_system_moduli(host_keys, user_key):
    if not os.path.exists("/etc/ssh/moduli"):
        pytest.fail("/etc/ssh/moduli is needed (openssh-server)")
    p = connect(host_keys, user_key, client_keys=[user_key], kex_algs=[b"diffie-hellman-group-exchange-sha256"],
                server_kw=dict(moduli=Moduli("/etc/ssh/moduli")))  # read by the front end
    with pytest.raises(TypeError, match="not a path"):
        srv.ServerConfig(all_host_keys(host_keys), moduli="/etc/ssh/moduli")
    assert p.s.state == "open"


def test_authorized_keys_object_for_every_user(host_keys, user_key):
    ak = AuthorizedKeys(user_key.public_key().public_line() + "\n")
    p = connect(host_keys, user_key, client_keys=[user_key], server_kw=dict(authorized_client_keys=ak))
    assert p.s.state == "open"


@pytest.mark.parametrize("alg", [b"zlib@openssh.com", b"zlib"])
def test_packet_inflating_to_nothing_is_a_compression_error(host_keys, user_key, alg):
    """Found by fuzzing (issue 18): a compressed packet that inflates to no bytes made
    receive() raise IndexError (connection.py's _dispatch), on both sides."""
    from M2Sec.SSH.errors import CompressionError
    p = connect(host_keys, user_key, client_keys=[user_key], compression_algs=[alg])
    assert p.s.negotiated["comp_in"] == alg
    with pytest.raises(CompressionError, match="inflates to nothing") as e:
        p.c.receive(p.s._writer.write(b""))
    assert not e.value.local and e.value.code == 6  # SSH_DISCONNECT_COMPRESSION_ERROR
    p = connect(host_keys, user_key, client_keys=[user_key], compression_algs=[alg])
    with pytest.raises(CompressionError, match="inflates to nothing"):
        p.s.receive(p.c._writer.write(b""))


def test_disconnect_during_a_strict_key_exchange_keeps_its_reason(host_keys, user_key):
    """A DISCONNECT in the middle of the first (strict) key exchange ends the connection with
    the peer's own code and reason, not a strict-kex protocol error."""
    from M2Sec.SSH.errors import DisconnectError, ProtocolError
    c, s = make_pair(host_keys, user_key)
    s.receive(c.data_to_send())           # version and KEXINIT to the server
    c.receive(s.data_to_send())           # the server's version and KEXINIT: both strict now
    assert c.strict and c.state == "kex"
    s.disconnect(14, "no matching host key type found")
    with pytest.raises(DisconnectError) as e:
        c.receive(s.data_to_send())
    assert not isinstance(e.value, ProtocolError)
    assert e.value.code == 14 and "no matching host key type" in e.value.reason and c.state == "closed"


def test_states_move_only_along_the_table(host_keys, user_key):
    from M2Sec.SSH.errors import ProtocolError
    from M2Sec.SSH.messages import TRANSITIONS, State
    assert all(State.CLOSED in nxt for nxt in TRANSITIONS.values())
    c, s = make_pair(host_keys, user_key)
    assert c.state is State.VERSION and c.state == "version"
    with pytest.raises(ProtocolError):
        c._set_state(State.OPEN)          # a bug in the core, caught by the table
