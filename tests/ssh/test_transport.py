"""The SSH core without sockets: packet framing with each cipher and MAC, the AEADs against
an independent implementation, key exchange vectors, and faults fed to the client core."""

import hashlib
import os
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.poly1305 import Poly1305

from M2Sec.SSH import crypto, kex
from M2Sec.SSH import keys as sshkeys
from M2Sec.SSH.connection import ClientConfig, ClientConnection
from M2Sec.SSH.errors import (ConnectionLost, DisconnectError, KeyExchangeFailed, MACError, ProtocolError,
                              ProtocolVersionNotSupported)
from M2Sec.SSH.packet import (MAX_PACKET, PacketReader, PacketWriter, SSHReader, byte, mpint, namelist, string,
                              uint32)

CIPHER_MAC = [(c, m) for c in crypto.CIPHERS if crypto.CIPHERS[c].kind not in ("gcm", "chachapoly")
              for m in crypto.MACS] + [(c, b"none") for c in crypto.CIPHERS
                                       if crypto.CIPHERS[c].kind in ("gcm", "chachapoly")]


def _pair(cipher, mac):
    spec, mspec = crypto.CIPHERS[cipher], crypto.MACS[mac]

    def derive(letter, n):
        return hashlib.sha512(letter * 8).digest()[:n] * 2 if n > 64 else hashlib.sha512(letter * 8).digest()[:n]
    letters = (b"A", b"C", b"E")
    return (crypto.make_protection(True, cipher, mac, derive, letters),
            crypto.make_protection(False, cipher, mac, derive, letters))


@pytest.mark.parametrize("cipher,mac", CIPHER_MAC)
def test_framing_round_trip(cipher, mac):
    sealer, opener = _pair(cipher, mac)
    w = PacketWriter(sealer, os.urandom)
    r = PacketReader(opener)
    payloads = [b"\x05x", os.urandom(1000), os.urandom(40000), b"\x02" + bytes(15)]
    wire = b"".join(w.write(p) for p in payloads)
    # fed a byte at a time at first, then in odd chunks
    got = []
    for i in range(0, 50):
        r.feed(wire[i:i + 1])
        p = r.read_packet()
        if p is not None:
            got.append(p)
    r.feed(wire[50:])
    while True:
        p = r.read_packet()
        if p is None:
            break
        got.append(p)
    assert got == payloads
    assert r.seq == w.seq == 4
    if cipher != b"none":
        assert payloads[1] not in wire


@pytest.mark.parametrize("cipher,mac", [c for c in CIPHER_MAC if c[1] != b"none" or c[0].endswith(b"@openssh.com")])
def test_framing_tampered(cipher, mac):
    sealer, opener = _pair(cipher, mac)
    wire = bytearray(PacketWriter(sealer, os.urandom).write(b"\x5e" + bytes(100)))
    wire[-1] ^= 1
    r = PacketReader(opener)
    r.feed(bytes(wire))
    with pytest.raises(MACError) as e:
        r.read_packet()
    assert e.value.code == 5 and not e.value.local


def test_framing_limits():
    r = PacketReader(crypto.PlainOpener())
    r.feed(struct.pack(">I", MAX_PACKET + 1) + bytes(8))
    with pytest.raises(ProtocolError, match="length"):
        r.read_packet()
    r = PacketReader(crypto.PlainOpener())
    r.feed(struct.pack(">IB", 13, 4) + bytes(12))  # 4 + 13 is not a multiple of 8
    with pytest.raises(ProtocolError, match="multiple"):
        r.read_packet()
    r = PacketReader(crypto.PlainOpener())
    r.feed(struct.pack(">IB", 12, 11) + bytes(11))  # padding eats the payload
    with pytest.raises(ProtocolError, match="padding"):
        r.read_packet()


def test_compression_round_trip():
    from M2Sec.SSH.packet import Compressor, Decompressor
    w = PacketWriter(crypto.PlainSealer(), os.urandom)
    r = PacketReader(crypto.PlainOpener())
    w.compress, r.decompress = Compressor(), Decompressor()
    for p in (b"\x5e" + bytes(50000), b"\x5ehello" * 100):
        wire = w.write(p)
        assert len(wire) < len(p)
        r.feed(wire)
        assert r.read_packet() == p
    bomb = Compressor()(bytes(MAX_PACKET * 2))
    r2 = PacketReader(crypto.PlainOpener())
    r2.decompress = Decompressor()
    r2.feed(PacketWriter(crypto.PlainSealer(), os.urandom).write(bomb))
    with pytest.raises(DisconnectError, match="inflates"):
        r2.read_packet()


def test_chacha20_poly1305_openssh_against_reference():
    key = bytes(range(64))
    seq = 7
    body = b"\x04" + b"payload!" + bytes(3)
    sealer, opener = crypto.Sealer(b"chacha20-poly1305@openssh.com", b"", key, b"", b""), \
        crypto.Opener(b"chacha20-poly1305@openssh.com", b"", key, b"", b"")
    wire = sealer.seal(seq, body)

    # PROTOCOL.chacha20poly1305 with another implementation of ChaCha20 and Poly1305
    def chacha(k, counter, data):
        nonce = struct.pack("<Q", counter) + struct.pack(">Q", seq)
        return Cipher(algorithms.ChaCha20(k, nonce), None).encryptor().update(data)
    k_main, k_header = key[:32], key[32:]
    enc_len = chacha(k_header, 0, struct.pack(">I", len(body)))
    enc_body = chacha(k_main, 1, body)
    poly_key = chacha(k_main, 0, bytes(32))
    tag = Poly1305.generate_tag(poly_key, enc_len + enc_body)
    assert wire == enc_len + enc_body + tag
    assert opener.length(seq, memoryview(wire[:4])) == len(body)
    assert opener.open(seq, memoryview(wire)) == body


def test_aes_gcm_openssh_against_reference():
    key, iv = bytes(range(16)), bytes(range(12))
    body = b"\x04" + b"x" * 11
    sealer = crypto.Sealer(b"aes128-gcm@openssh.com", b"", key, iv, b"")
    w1, w2 = sealer.seal(0, body), sealer.seal(1, body)
    aad = struct.pack(">I", len(body))
    assert w1 == aad + AESGCM(key).encrypt(iv, body, aad)
    iv2 = iv[:4] + (int.from_bytes(iv[4:], "big") + 1).to_bytes(8, "big")  # RFC 5647 7.1
    assert w2 == aad + AESGCM(key).encrypt(iv2, body, aad)


# ---- key exchange ----

def test_x25519_rfc7748_vector():
    # RFC 7748 section 6.1
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    bob_pub = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    a = crypto.X25519(alice)
    assert a.public.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    # RFC 8731 3.1: K is the 32 bytes read as a big-endian integer, encoded as an mpint
    assert a.shared(bob_pub) == int.from_bytes(shared, "big")
    with pytest.raises(KeyExchangeFailed):
        a.shared(bytes(32))  # a low-order point gives the all-zero secret
    with pytest.raises(KeyExchangeFailed):
        a.shared(b"short")


@pytest.mark.filterwarnings("ignore:Diffie-Hellman")
@pytest.mark.parametrize("bits,name", [(2048, "modp_2048"), (4096, "modp_4096"), (8192, "modp_8192")])
def test_modp_groups_match_openssl(bits, name):
    pem = subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:" + name],
                         check=True, capture_output=True, timeout=30).stdout
    params = serialization.load_pem_parameters(pem).parameter_numbers()
    assert kex.modp_group(bits) == (params.p, params.g)


def test_modp_1024_rfc2409():
    p, g = kex.modp_group(1024)
    assert hex(p).startswith("0xffffffffffffffffc90fdaa22168c234") and hex(p).endswith("ffffffffffffffff")


def _server_reply(method_name, client_msgs, host_key, prefix):
    """The server side of one exchange, written from the RFCs in the test."""
    r = SSHReader(client_msgs[0][1:])
    name = method_name
    if name.startswith(b"curve25519") or name.startswith(b"ecdh"):
        q_c = r.get_string()
        pair = crypto.X25519() if name.startswith(b"curve25519") else crypto.ECDH(name.split(b"-")[-1].decode())
        k = pair.shared(q_c)
        middle = string(q_c) + string(pair.public)
        h = hashlib.new(kex.kex_hash(name), prefix + string(host_key.public_blob()) + middle + mpint(k)).digest()
        return (byte(31) + string(host_key.public_blob()) + string(pair.public) + string(host_key.sign(h)), k, h)
    e = r.get_mpint()
    p, g = kex.modp_group({b"diffie-hellman-group14-sha256": 2048, b"diffie-hellman-group1-sha1": 1024}[name])
    y = int.from_bytes(os.urandom(32), "big")
    f = pow(g, y, p)
    k = pow(e, y, p)
    h = hashlib.new(kex.kex_hash(name), prefix + string(host_key.public_blob()) + mpint(e) + mpint(f)
                    + mpint(k)).digest()
    return byte(31) + string(host_key.public_blob()) + mpint(f) + string(host_key.sign(h)), k, h


@pytest.mark.parametrize("name", [b"curve25519-sha256", b"ecdh-sha2-nistp256", b"ecdh-sha2-nistp384",
                                  b"ecdh-sha2-nistp521", b"diffie-hellman-group14-sha256",
                                  b"diffie-hellman-group1-sha1"])
def test_kex_methods_against_rfc_servers(name):
    host_key = sshkeys.generate_private_key("ssh-ed25519")
    prefix = string(b"SSH-2.0-c") + string(b"SSH-2.0-s") + string(b"\x14ic") + string(b"\x14is")
    m = kex.make_kex(name, prefix)
    msgs = m.start()
    reply, k, h = _server_reply(name, msgs, host_key, prefix)
    assert m.handle(31, reply) == []
    assert m.done and m.k == k and m.h == h
    assert host_key.verify(m.h, m.signature)


def test_key_derivation_extends():
    k, h = mpint(12345), b"H" * 32
    one = crypto.derive_key("sha256", k, h, b"C", b"S" * 32, 32)
    assert one == hashlib.sha256(k + h + b"C" + b"S" * 32).digest()
    long = crypto.derive_key("sha256", k, h, b"C", b"S" * 32, 64)
    assert long == one + hashlib.sha256(k + h + one).digest()


# ---- the client core fed by hand ----

def _core():
    return ClientConnection(ClientConfig(username="u", host_key_check=lambda key: None), now=0.0)


def _plain(payload):
    return PacketWriter(crypto.PlainSealer(), os.urandom).write(payload)


def _kexinit(strict=True, kex_names=(b"curve25519-sha256",)):
    names = list(kex_names) + ([b"kex-strict-s-v00@openssh.com"] if strict else [])
    return (byte(20) + bytes(16) + namelist(names) + namelist([b"ssh-ed25519"])
            + namelist([b"aes128-ctr"]) * 2 + namelist([b"hmac-sha2-256"]) * 2 + namelist([b"none"]) * 2
            + namelist([]) * 2 + b"\x00" + uint32(0))


def test_core_starts_with_version_and_kexinit():
    c = _core()
    out = c.data_to_send()
    assert out.startswith(b"SSH-2.0-M2Sec")
    r = PacketReader(crypto.PlainOpener())
    r.feed(out)
    assert r.read_version().startswith(b"SSH-2.0-")
    init = r.read_packet()
    assert init[0] == 20 and b"kex-strict-c-v00@openssh.com" in init and b"ext-info-c" in init


def test_core_lines_before_version_and_garbage():
    c = _core()
    assert c.receive(b"hello there\r\nanother line\r\n") == []
    c.receive(b"SSH-2.0-Test\r\n")
    assert c.server_version == b"SSH-2.0-Test" and c.state == "kex"
    with pytest.raises(ProtocolVersionNotSupported):
        _core().receive(b"SSH-1.5-old\r\n")
    with pytest.raises(ProtocolVersionNotSupported):
        _core().receive(os.urandom(9000).replace(b"\n", b"x"))
    with pytest.raises(ProtocolVersionNotSupported):
        _core().receive(b"\x00garbage\n")


def test_core_peer_closes_mid_exchange():
    c = _core()
    c.receive(b"SSH-2.0-Test\r\n")
    with pytest.raises(ConnectionLost, match="during kex") as e:
        c.receive(b"")
    assert not e.value.local
    with pytest.raises(ConnectionLost):
        c.receive(b"more")  # closed stays closed


def test_core_strict_kex_refuses_a_packet_before_kexinit():
    c = _core()
    with pytest.raises(ProtocolError, match="first packet"):
        c.receive(b"SSH-2.0-Test\r\n" + _plain(b"\x02" + string(b"")) + _plain(_kexinit(strict=True)))
    out = c.data_to_send()
    assert out  # a DISCONNECT went out


def test_core_without_strict_kex_allows_ignore_first():
    c = _core()
    c.receive(b"SSH-2.0-Test\r\n" + _plain(b"\x02" + string(b"")) + _plain(_kexinit(strict=False)))
    assert not c.strict and c._kex.method is not None


def test_core_strict_kex_refuses_other_messages_during_it():
    c = _core()
    c.receive(b"SSH-2.0-Test\r\n" + _plain(_kexinit(strict=True)))
    assert c.strict
    with pytest.raises(ProtocolError, match="strict"):
        c.receive(_plain(b"\x02" + string(b"")))


def test_core_unexpected_and_unknown_messages():
    c = _core()
    with pytest.raises(ProtocolError, match="message 6"):
        c.receive(b"SSH-2.0-Test\r\n" + _plain(_kexinit(strict=False)) + _plain(b"\x06" + string(b"ssh-userauth")))
    c = _core()
    c.receive(b"SSH-2.0-Test\r\n")
    c.data_to_send()
    c.receive(_plain(b"\xc8hello"))  # 200: unknown, answered with UNIMPLEMENTED
    r = PacketReader(crypto.PlainOpener())
    r.feed(c.data_to_send())
    assert r.read_packet()[0] == 3


def test_core_no_common_algorithm():
    c = _core()
    with pytest.raises(KeyExchangeFailed, match="no common key exchange"):
        c.receive(b"SSH-2.0-Test\r\n" + _plain(_kexinit(kex_names=(b"sntrup-only",))))


def test_core_disconnect_from_peer():
    c = _core()
    with pytest.raises(DisconnectError) as e:
        c.receive(b"SSH-2.0-Test\r\n" + _plain(b"\x01" + uint32(11) + string(b"bye") + string(b"")))
    assert e.value.code == 11 and e.value.reason == "bye" and not e.value.local


def test_core_malformed_message():
    c = _core()
    with pytest.raises(ProtocolError, match="malformed"):
        c.receive(b"SSH-2.0-Test\r\n" + _plain(b"\x14" + bytes(10)))


def test_config_refuses_unknown_algorithms():
    with pytest.raises(ValueError):
        ClientConfig(username="u", encryption_algs=["rot13"])
    with pytest.raises(ValueError):
        ClientConfig(username="u", kex_algs=[])
