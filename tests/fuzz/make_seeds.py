"""Writes the seed corpora of tests/fuzz/corpus/ (committed; run again only to refresh them).

Seeds are valid inputs of each parser, made with M2Sec, the openssl command line and
ssh-keygen (and OpenSSH's sftp, sftp-server and scp for the SFTP and SCP targets), plus a few
malformed ones; the fuzzer mutates from there.  Each target's inputs start with the mode byte
its one_input reads.
    python tests/fuzz/make_seeds.py             # every corpus, from scratch
    python tests/fuzz/make_seeds.py sftp scp    # these targets' seeds added to their corpora
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from M2Sec import X509, mail  # noqa: E402
from M2Sec.SSH import keys  # noqa: E402
from M2Sec.SSH.connection import ClientConfig, ClientConnection  # noqa: E402
from M2Sec.SSH.knownhosts import hash_host, known_hosts_line  # noqa: E402
from M2Sec.SSH.packet import string, uint32  # noqa: E402
from M2Sec.SSH.server import ServerConfig, ServerConnection  # noqa: E402
from smime_helpers import M2SecCA  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def write(target: str, *seeds: bytes) -> None:
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for s in seeds:
        with open(os.path.join(d, hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
            f.write(s)


def run(*args: str, cwd: str, input: bytes = b"") -> bytes:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, input=input, timeout=60).stdout


SEP = b"\xff\x00"


def _packets(stream: bytes) -> list:
    """An SFTP byte stream cut into its packets."""
    out = []
    while len(stream) >= 4:
        n = 4 + int.from_bytes(stream[:4], "big")
        out.append(stream[:n])
        stream = stream[n:]
    return out


def _cuts(mode: int, packets: list) -> list:
    """Seeds of one stream: whole, a packet per piece, and cut inside packets."""
    whole = b"".join(packets)
    return [bytes([mode]) + whole, bytes([mode]) + SEP.join(packets),
            bytes([mode]) + SEP.join(whole[i:i + 7] for i in range(0, min(len(whole), 700), 7))]


def seeds_ssh_config(tmp: str) -> None:
    with open("/etc/ssh/ssh_config", "rb") as f:  # OpenSSH's own file, as Debian ships it
        system = f.read()
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ssh"))
    from test_config import CONFIG  # noqa: E402
    main_text = (b"Include a b\nHost web *.example.com !bad.example.com\n  HostName %h.internal\n  Port 2222\n"
                 b"  User alice\n  IdentityFile ~/.ssh/id_%r@%h\n  ProxyJump bob@jump:2200,[::1]:22\n"
                 b"  RekeyLimit 1G 1h30m\n  ServerAliveInterval 15\n  ServerAliveCountMax 3\n"
                 b"Match originalhost db* user alice\n  Ciphers ^aes128-ctr,aes256-gcm@openssh.com\n"
                 b"  ProxyCommand ssh -W %%h:%p gw\nMatch exec \"touch /tmp/x\" host h\n  Port 1\n"
                 b"Host *\n  KexAlgorithms -diffie-hellman*\n  MACs +hmac-sha2-512\n  ConnectTimeout 30\n"
                 b"  PreferredAuthentications publickey,password\n  HostKeyAlgorithms ssh-ed25519\n")
    inc_a = b"Host 10.0.0.*\n  User=root\n  Port=22\n  Include c\n"
    inc_b = b"Match all\n  SendEnv LANG LC_*\n  SetEnv A=b\n  LocalForward 8080 localhost:80\n"
    write("ssh_config", *[bytes([m]) + t for m in range(8) for t in (system, CONFIG.encode())],
          *[bytes([m]) + SEP.join([main_text, inc_a, inc_b, b"Host *\n  Include a\n"]) for m in range(8)],
          b"\x00Host h\n  Port 99999\n", b"\x01Host *\n  RekeyLimit 10x 5y\n",
          b"\x00Include ~/.ssh/*\n" + SEP + b"Include b\n" + SEP + b"Include a\n")


def _sftp_server(data: bytes, count: int, cwd: str) -> list:
    """OpenSSH's sftp-server's first count packets in answer to data (it stops at EOF on its
    input without writing what it has: stdin stays open until they are read)."""
    proc = subprocess.Popen(["/usr/lib/openssh/sftp-server"], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
        out = []
        while len(out) < count:
            n = int.from_bytes(proc.stdout.read(4), "big")
            out.append(n.to_bytes(4, "big") + proc.stdout.read(n))
        return out
    finally:
        proc.stdin.close()
        proc.wait(10)


def seeds_sftp(tmp: str) -> None:
    from M2Sec.SSH import sftp as fx
    from fuzz_sftp import requests
    d = os.path.join(tmp, "sftp")
    os.makedirs(os.path.join(d, "dir"))
    with open(os.path.join(d, "dir", "f"), "wb") as f:
        f.write(b"content of f\n")
    # the client side: OpenSSH's sftp-server answering the target's requests, with real paths
    c = fx.SFTPClientCore()
    c.init()
    init = c.data_to_send()
    c.receive(fx.packet(fx.FXP_VERSION, uint32(3)))
    for ptype, name, body in requests(os.path.join(d, "dir").encode(), os.path.join(d, "dir", "f").encode()):
        c.request(ptype, (string(name) if name else b"") + body)
    reqs = c.data_to_send()
    replies = _sftp_server(init + reqs, c.outstanding() + 1, d)
    seeds = _cuts(3, [replies[0], b"".join(replies[1:])]) + _cuts(3, replies) + _cuts(1, replies[1:])
    # the server side: OpenSSH's sftp client's requests (sftp -D: no ssh between them), and ours
    wrap = os.path.join(d, "wrap.sh")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\ntee %s/req.bin | /usr/lib/openssh/sftp-server\n" % d)
    os.chmod(wrap, 0o755)
    dd = os.path.join(d, "dir")
    batch = os.path.join(d, "batch")
    with open(batch, "w") as f:
        f.write("ls -l {0}\nget {0}/f {1}/got\nput {0}/f {0}/g\nmkdir {0}/m\nrename {0}/g {0}/h\n"
                "ln -s {0}/h {0}/l\nchmod 600 {0}/h\ndf {0}\nrm {0}/h\nrmdir {0}/m\n".format(dd, d))
    run("sftp", "-D", wrap, "-b", batch, cwd=d)
    with open(os.path.join(d, "req.bin"), "rb") as f:
        theirs = _packets(f.read())
    ours = _packets(init + reqs)
    seeds += _cuts(2, theirs) + _cuts(2, ours) + _cuts(0, ours[1:]) + _cuts(0, theirs[1:])
    # the same, served by M2Sec's SFTPServer (mode bit 2), inside its chroot ("/d", "/d/f")
    ours = _packets(init + b"".join(fx.packet(t, uint32(i), (string(n) if n else b"") + b)
                                    for i, (t, n, b) in enumerate(requests())))
    seeds += _cuts(6, theirs) + _cuts(6, ours) + _cuts(4, ours[1:])
    write("sftp", *seeds)


def seeds_scp(tmp: str) -> None:
    d = os.path.join(tmp, "scp")
    os.makedirs(os.path.join(d, "dir", "sub"))
    for name, body in (("a", b"hello\n"), ("sub/b", b"x" * 100), ("sub/empty", b"")):
        with open(os.path.join(d, "dir", name), "wb") as f:
            f.write(body)
    # OpenSSH's scp as the source (scp -f, what the remote end of "scp host:dir ." runs)
    source = run("scp", "-r", "-p", "-f", "dir", cwd=d, input=b"\0" * 64)
    plain = run("scp", "-f", "dir/a", cwd=d, input=b"\0" * 8)
    # and as the sink (scp -t): its acknowledgements and error lines
    acks = subprocess.run(["scp", "-t", "-d", "nonexistent"], cwd=d, input=b"C0644 3 a\nabc\0",
                          capture_output=True).stdout
    refused = subprocess.run(["scp", "-t", "dir"], cwd=d, input=b"C0644 3 n\nabc\0D0755 0 dd\nE\n",
                             capture_output=True).stdout
    write("scp", b"\x00" + source, b"\x00" + plain, b"\x01" + plain, b"\x01" + source,
          b"\x00" + source.replace(b"\nE\n", b"\n\x01scp: warning\nE\n", 1), b"\x00\x02scp: failed\n",
          b"\x02" + b"\0" * 16, b"\x02\0\0" + refused, b"\x02" + acks, b"\x02\x00" * 12,
          b"\x03scp -v -r -p -t -- /srv/x", b"\x03scp -f -- 'a b'", b"\x03scp -t -d -- dir", b"\x03/usr/bin/scp -f x")


def seeds_openssl_loaders(tmp: str) -> None:
    """PKCS#12 (mode 9), CMS in DER, PEM and S/MIME (10-12), OCSP responses and requests (13,
    14): made by the openssl command line and by M2Sec."""
    from M2Sec import CMS, OCSP, PKCS12
    d = os.path.join(tmp, "loaders")
    os.mkdir(d)
    ca = M2SecCA(d)
    key, cert = ca.person("carol")
    inter, inter_key = ca.certs["inter"], ca.keys["inter"]

    def rd(name: str) -> bytes:
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    run("openssl", "pkcs12", "-export", "-in", "carol.pem", "-inkey", "carol.key", "-certfile", "inter.pem",
        "-name", "carol", "-passout", "pass:pw", "-out", "pw.p12", cwd=d)
    run("openssl", "pkcs12", "-export", "-in", "carol.pem", "-inkey", "carol.key", "-passout", "pass:",
        "-out", "nopw.p12", cwd=d)
    seeds = [b"\x09p" + rd("pw.p12"), b"\x09-" + rd("nopw.p12"),
             b"\x09p" + PKCS12.serialize_key_and_certificates(b"c", key, cert, [inter], b"pw"),
             b"\x09-" + PKCS12.serialize_key_and_certificates(None, None, None, [inter, cert], None)]
    for args in (["-sign", "-signer", "carol.pem", "-inkey", "carol.key", "-certfile", "inter.pem"],
                 ["-encrypt", "-aes-256-gcm", "carol.pem"], ["-encrypt", "-aes-128-cbc", "carol.pem"],
                 ["-digest_create"], ["-EncryptedData_encrypt", "-aes128", "-secretkey", "00" * 16]):
        for form, mode in (("DER", 10), ("PEM", 11), ("SMIME", 12)):
            seeds.append(bytes([mode]) + run("openssl", "cms", "-in", "ca.cnf", "-outform", form, *args, cwd=d))
    seeds += [b"\x0a" + CMS.sign(b"hello", key, cert, certs=[inter]).to_der(),
              b"\x0b" + CMS.encrypt(b"hello", [cert]).to_pem(), b"\x0c" + CMS.sign(b"hi", key, cert).to_smime()]
    req = OCSP.build_request(cert, inter)
    run("openssl", "ocsp", "-issuer", "inter.pem", "-cert", "carol.pem", "-reqout", "req.der", cwd=d)
    run("openssl", "ocsp", "-index", "index.txt", "-rsigner", "inter.pem", "-rkey", "inter.key", "-CA", "inter.pem",
        "-reqin", "req.der", "-respout", "resp.der", "-ndays", "1", cwd=d)
    builder = OCSP.ResponseBuilder()
    builder.add_response(cert, inter)
    builder.copy_nonce(req)
    seeds += [b"\x0d" + rd("resp.der"), b"\x0d" + builder.sign(inter, inter_key).to_der(),
              b"\x0d" + OCSP.error_response(OCSP.ResponseStatus.TRY_LATER).to_der(),
              b"\x0e" + rd("req.der"), b"\x0e" + req.to_der()]
    write("openssl_loaders", *seeds)


def seeds_cms_ecx(tmp: str) -> None:
    """Messages to fuzz_cms_ecx's X25519 key (with RSA and X448 recipients beside it), for both modes."""
    from M2Sec import CMS, EVP
    from fuzz_cms_ecx import KEY
    from pki_helpers import build_cert
    signer = EVP.generate_key("EC", curve="P-256")
    cert = build_cert("fuzz", KEY, None, signer, 1, [("subjectKeyIdentifier", "hash")])
    other = build_cert("x448", EVP.generate_key("X448"), None, signer, 2, [])
    seeds = []
    for cipher in ("aes-128-cbc", "aes-256-gcm"):
        for kdf in ("x963", "hkdf"):
            seeds.append(CMS.encrypt(b"seed", [CMS.CertRecipient(cert, kdf=kdf), other], cipher=cipher).to_der())
    seeds.append(CMS.encrypt(b"seed", [cert], cipher="aes-128-gcm", use_key_id=True).to_der())
    write("cms_ecx", *[bytes([mode]) + s for s in seeds for mode in (0, 1)], b"\x00\x30\x80", b"\x01")


ADDED = {"openssl_loaders": seeds_openssl_loaders, "ssh_config": seeds_ssh_config, "sftp": seeds_sftp, "scp": seeds_scp,
         "cms_ecx": seeds_cms_ecx}


def main(targets: list) -> None:
    if targets:
        tmp = tempfile.mkdtemp()
        try:
            for t in targets:
                ADDED[t](tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    shutil.rmtree(CORPUS, ignore_errors=True)
    tmp = tempfile.mkdtemp()
    try:
        for make in ADDED.values():
            make(tmp)
        ed = keys.generate_private_key("ssh-ed25519", comment="fuzz@seed")
        ec = keys.generate_private_key("ecdsa-sha2-nistp256")
        rsa = keys.generate_private_key("ssh-rsa", bits=2048)
        pubs = [k.public_line().encode() for k in (ed, ec, rsa)]

        # ---- SSH packets: the version line, then packets, cut where the input says
        sep = b"\xff\x00"
        from fuzz_ssh_messages import frame  # noqa: E402
        write("ssh_packet",
              b"\x00SSH-2.0-OpenSSH_9.2\r\n" + sep + frame(b"\x02ignored") + frame(b"\x14" + bytes(16)),
              b"\x00pre-line\r\nSSH-2.0-x\r\n" + sep + frame(b"\x05" + string(b"ssh-userauth"))[:7] + sep
              + frame(b"\x05" + string(b"ssh-userauth"))[7:],
              b"\x02SSH-2.0-x\n" + sep + frame(b"x\x9c\x62\x00\x00\x00\x00\xff\xff"),
              b"\x01" + string(b"abc") + uint32(7) + string(b"a,b") + bytes(9),
              b"\x03\x01" + bytes(8) + string(b"\x00\x80"))

        # ---- SSH messages: KEXINITs of both sides, service, auth and channel messages
        c = ClientConnection(ClientConfig(username="u", password="p", host_key_check=lambda k: None), now=0.0)
        s = ServerConnection(ServerConfig(server_host_keys=[ed]), now=0.0)
        c_kexinit = c.data_to_send().split(b"\r\n", 1)[1][5:]
        s_kexinit = s.data_to_send().split(b"\r\n", 1)[1][5:]
        c_kexinit = c_kexinit[:len(c_kexinit) - c.data_to_send().__len__()]  # padding stays: fine
        msgs = [
            b"\x05" + string(b"ssh-userauth"), b"\x06" + string(b"ssh-userauth"),
            b"\x32" + string(b"u") + string(b"ssh-connection") + string(b"password") + b"\x00" + string(b"p"),
            b"\x32" + string(b"u") + string(b"ssh-connection") + string(b"none"),
            b"\x33" + string(b"publickey,password") + b"\x00", b"\x34", b"\x35" + string(b"banner") + string(b""),
            b"\x5a" + string(b"session") + uint32(0) + uint32(1 << 20) + uint32(32768),
            b"\x5b" + uint32(0) + uint32(0) + uint32(1 << 20) + uint32(32768),
            b"\x5e" + uint32(0) + string(b"data"), b"\x5d" + uint32(0) + uint32(100),
            b"\x62" + uint32(0) + string(b"exit-status") + b"\x00" + uint32(0), b"\x60" + uint32(0), b"\x61" + uint32(0),
            b"\x50" + string(b"keepalive@openssh.com") + b"\x01", b"\x07" + uint32(1) + string(b"server-sig-algs")
            + string(b"ssh-ed25519"),
            b"\x01" + uint32(11) + string(b"bye") + string(b""), b"\x04\x01" + string(b"debug") + string(b""),
        ]
        for mode in range(16):
            body = s_kexinit if mode & 1 == 0 else c_kexinit
            first = [body] if mode & 2 else []
            write("ssh_messages", bytes([mode]) + sep.join(first + msgs[(mode >> 2) * 4:(mode >> 2) * 4 + 6]))

        # ---- SSH key files
        seeds = [b"\x00" + ed.private_bytes(), b"\x00" + ec.private_bytes(), b"\x00" + rsa.private_bytes(),
                 b"\x00" + ed.private_bytes(b"pw"), b"\x00" + rsa.private_bytes(format="pkcs8"),
                 b"\x00" + ec.private_bytes(b"pw", format="pkcs8")]
        seeds += [b"\x01" + p for p in pubs] + [b"\x01" + ed.public_rfc4716("c").encode()]
        seeds += [b"\x02" + k.public_blob() for k in (ed, ec, rsa)]
        seeds += [b"\x03" + rsa.public_rfc4716("comment").encode()]
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "sshca", cwd=tmp)
        with open(os.path.join(tmp, "u.pub"), "wb") as f:
            f.write(pubs[0])
        run("ssh-keygen", "-q", "-s", "sshca", "-I", "id", "-n", "u", "-V", "+52w", "u.pub", cwd=tmp)
        with open(os.path.join(tmp, "u-cert.pub"), "rb") as f:
            seeds.append(b"\x01" + f.read())
        run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", "pem", cwd=tmp)
        with open(os.path.join(tmp, "pem"), "rb") as f:
            seeds.append(b"\x00" + f.read())
        write("ssh_keys", *seeds)

        # ---- known_hosts and authorized_keys
        write("known_hosts",
              "\n".join([known_hosts_line("host.example,10.0.0.1", ed), known_hosts_line("[127.0.0.1]:2222", ec),
                         "@cert-authority *.example " + pubs[0].decode(), "@revoked * " + pubs[2].decode(),
                         known_hosts_line(hash_host("host.example"), rsa), "# comment", "",
                         "!bad.example,*.example,host?.ex " + pubs[1].decode()]).encode(),
              ("host.example " + pubs[0].decode()).encode())
        write("authorized_keys",
              b"\n".join([pubs[0], b'from="192.0.2.0/24,!10.*",no-pty,command="echo hi" ' + pubs[1],
                          b'cert-authority,principals="u,v",expiry-time="20991231" ' + pubs[2],
                          b'permitopen="host:80",permitlisten="localhost:8080",environment="A=b" ' + pubs[0],
                          b"# comment", b"restrict,pty " + pubs[1]]),
              b'!from="2001:db8::/32",expiry-time="202501011200Z",permitopen="[::1]:22" rest')

        # ---- TLS settings (FuzzedDataProvider bytes: any will do), VerifierDB entries, cookies
        write("tls_settings", bytes(range(64)), b"\x01" * 40, b"\x03\x10\x02\x00\x05aes128gcm" * 3)
        from M2Sec.TLS.verifierdb import VerifierDB, _encode
        write("verifierdb", b"alice\n" + _encode(VerifierDB.makeVerifier("alice", "password", 1024)),
              b"bob\n" + _encode(VerifierDB.makeVerifier("bob", "x", 2048)), b"eve\nAA== AA== AA== AA==")
        from M2Sec import AuthCookie
        jar = AuthCookie.AuthCookieJar(key=b"0123456789abcdef0123456789abcdef")
        cookie = jar.makeCookie(4102444800.0, "user=alice")
        write("authcookie", cookie.output().encode(), cookie.value().encode(), cookie.headerValue().encode(),
              b"_M2AUTH_=bad; other=1")

        # ---- mail.unwrap: messages of each kind (mode 0), bare messages to wrap (modes 1, 2)
        os.mkdir(os.path.join(tmp, "ca"))
        ca = M2SecCA(os.path.join(tmp, "ca"))
        ca.person("alice")
        plain = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: hi\r\n"
                 b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n")
        a_key, a_cert = ca.keys["alice"], ca.certs["alice"]
        write("mail_unwrap", b"\x00" + plain, b"\x01" + plain, b"\x02" + plain,
              b"\x00" + mail.sign(plain, a_key, a_cert, chain=[ca.certs["inter"]]).as_bytes(),
              b"\x00" + mail.sign(plain, a_key, a_cert, detached=False).as_bytes(),
              b"\x00" + mail.encrypt(plain, [a_cert]).as_bytes())

        # ---- OpenSSL loaders: PEM and DER of each kind
        d = os.path.join(tmp, "ca")
        run("openssl", "req", "-new", "-key", "alice.key", "-subj", "/CN=alice", "-out", "req.pem", cwd=d)
        run("openssl", "ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=d)
        run("openssl", "smime", "-sign", "-in", "/dev/null", "-signer", "alice.pem", "-inkey", "alice.key",
            "-outform", "PEM", "-out", "p7.pem", cwd=d)
        run("openssl", "smime", "-sign", "-in", "ca.cnf", "-signer", "alice.pem", "-inkey", "alice.key",
            "-out", "smime.txt", cwd=d)

        def rd(name: str) -> bytes:
            with open(os.path.join(d, name), "rb") as f:
                return f.read()
        cert = rd("alice.pem")
        der = X509.load_cert_string(cert).as_der()
        write("openssl_loaders", b"\x00" + cert, b"\x01" + der, b"\x02" + rd("crl.pem"),
              b"\x03" + run("openssl", "crl", "-in", "crl.pem", "-outform", "DER", cwd=d),
              b"\x04" + rd("req.pem"), b"\x05" + run("openssl", "req", "-in", "req.pem", "-outform", "DER", cwd=d),
              b"\x06" + rd("p7.pem"), b"\x07" + run("openssl", "pkcs7", "-in", "p7.pem", "-outform", "DER", cwd=d),
              b"\x08" + rd("smime.txt"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
