"""User-side code that `mypy --strict` must accept (make typecheck; tests/typing/test_typing.py).

It is type-checked, not run: each function uses one area the way an application would.
"""

from typing import Optional

from M2Sec import BIO, CMS, EC, EVP, RSA, SMIME, SSH, SSL, TLS, X509, m2


def evp() -> bytes:
    md = EVP.MessageDigest("sha256")
    md.update(b"data")
    digest: bytes = md.final()
    mac: bytes = EVP.hmac(b"key", b"data", "sha256")
    cipher = EVP.Cipher("aes_128_cbc", b"k" * 16, b"i" * 16, m2.encrypt)
    data: bytes = cipher.update(b"x" * 16) + cipher.final()  # EVP.Cipher's C base is untyped
    return digest + mac + data


def rsa() -> bool:
    key = RSA.gen_key(2048, 65537)
    sig = key.sign(b"\x00" * 32, "sha256")
    return bool(key.verify(b"\x00" * 32, sig, "sha256"))


def ec() -> bytes:
    key = EC.gen_params(EC.NID_X9_62_prime256v1)
    key.gen_key()
    sig: bytes = key.sign_dsa_asn1(b"\x00" * 32)
    return sig


def x509(pem: bytes) -> Optional[str]:
    cert = X509.load_cert_string(pem)
    name = cert.get_subject()
    cn: Optional[str] = name.CN
    return cn


def ssl_client(host: str, port: int) -> bytes:
    ctx = SSL.Context()
    ctx.set_verify(SSL.verify_peer, 9)
    conn = SSL.Connection(ctx)
    conn.connect((host, port))
    conn.write(b"ping")
    data = conn.read(4)
    conn.close()
    return data or b""


def smime_cms(key: EVP.PKey, cert: X509.X509) -> bytes:
    s = SMIME.SMIME()
    s.load_key_bio(BIO.MemoryBuffer(b""), BIO.MemoryBuffer(b""))
    signed = CMS.sign(b"hello", key, cert)
    return signed.to_der()


def ssh(host: str) -> str:
    with SSH.Client(host, username="user") as client:
        result = client.run("echo hi")
        return str(result.stdout)


def tls(sock_host: str) -> None:
    import socket

    sock = socket.create_connection((sock_host, 443))
    conn = TLS.TLSConnection(sock)
    conn.handshakeClientCert(settings=TLS.HandshakeSettings())
    conn.write(b"GET / HTTP/1.0\r\n\r\n")
    conn.close()


def low_level() -> Optional[bytes]:
    bio = m2.bio_new(m2.bio_s_mem())  # never None: a NULL BIO raises BIOError
    m2.bio_write(bio, b"data")
    data = m2.bio_read(bio, 16)  # Optional[bytes]: None when there is nothing to read
    m2.bio_free(bio)
    return data
