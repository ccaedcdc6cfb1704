"""TLS 1.3 key shares (HandshakeSettings.keyShares): OpenSSL 3.5 sends one for each group so
marked (m2.HAS_TLS_KEYSHARE_LIST, '*' in the groups list), older OpenSSL only for the first
group, so that two shares are then refused rather than silently reduced to one."""
import re
import socket

import pytest

from conftest import TIMEOUT, free_port
from M2Sec import m2
from M2Sec.TLS import HandshakeSettings, TLSConnection

pytestmark = pytest.mark.timeout(60)


def two_shares() -> HandshakeSettings:
    s = HandshakeSettings()
    s.keyShares = ["x25519", "secp256r1"]
    return s


def test_flag_follows_the_openssl_built_against():
    assert m2.HAS_TLS_KEYSHARE_LIST == int(m2.OPENSSL_VERSION_NUMBER >= 0x30500000)


def test_two_key_shares_are_configured_or_refused():
    if not m2.HAS_TLS_KEYSHARE_LIST:
        with pytest.raises(ValueError, match="one TLS 1.3 key share"):
            two_shares().validate()
        return
    groups = two_shares().validate()._config.groups.split(":")
    assert groups[:2] == ["*x25519", "*P-256"] and not any(g.startswith("*") for g in groups[2:])
    one = HandshakeSettings()
    one.keyShares = ["x25519"]
    groups = one.validate()._config.groups.split(":")
    assert groups[0] == "x25519" and not any(g.startswith("*") for g in groups)
    if m2.HAS_ML_KEM:  # the defaults: the post-quantum hybrid first, a share for it and for X25519
        defaults = HandshakeSettings().validate()._config.groups.split(":")
        assert defaults[:2] == ["*X25519MLKEM768", "*x25519"] and not any(g.startswith("*") for g in defaults[2:])


def test_s_server_receives_both_key_shares(creds, process):
    """openssl s_server -tlsextdebug shows the key_share extension's length: X25519's share
    (36 bytes with its header) and P-256's (69) in one list (2 bytes of length) make 107."""
    port = free_port()
    peer = process(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", creds.path("server.pem"),
                    "-key", creds.path("server.key"), "-cert_chain", creds.path("inter.pem"), "-tlsextdebug", "-www", "-naccept", "2"], port=port)
    conn = TLSConnection(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT))
    settings = two_shares() if m2.HAS_TLS_KEYSHARE_LIST else HandshakeSettings()
    conn.handshakeClientCert(serverName="localhost", cafile=creds.cafile, settings=settings)
    conn.write(b"GET / HTTP/1.0\r\n\r\n")
    assert conn.read(min=15).startswith(b"HTTP/1.0 200 ok")
    conn.close()
    out = peer.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
    lengths = [int(n) for n in re.findall(r'extension "key share" \(id=51\), len=(\d+)', out)]
    # the first ClientHello's (OpenSSL 3.5's s_server prefers X25519MLKEM768, which the client lists
    # without a share: a HelloRetryRequest then asks for a second one with that share alone)
    assert lengths[:1] == ([107] if m2.HAS_TLS_KEYSHARE_LIST else [38]), out[-3000:]
