"""A throw-away PKI made with the openssl command line, for the X.509 tests, and
:func:`build_cert`, which makes certificates with M2Sec's own X509 API.

Keys, certificates, requests and CRLs are minted in a temporary directory at test time (no
committed PEMs, which expire): a root CA, an intermediate CA run with ``openssl ca`` (for
expired certificates, revocation and CRLs), and leaves signed by the intermediate.
"""

import datetime
import os
import subprocess
from typing import Any, List, Optional, Sequence

from M2Sec import ASN1, EVP, X509

CA_CNF = """\
[ca]
default_ca = inter
[inter]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial
crlnumber = {d}/crlnumber
certificate = {d}/inter.pem
private_key = {d}/inter.key
default_md = sha256
default_crl_days = 30
policy = policy_any
copy_extensions = copy
unique_subject = no
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
[dn]
"""


def openssl(*args: str, cwd: Optional[str] = None, input: Optional[bytes] = None) -> bytes:
    """Run the openssl command; its stdout, or AssertionError with its stderr."""
    p = subprocess.run(["openssl", *args], cwd=cwd, input=input, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout


class PKI:
    """root -> inter -> leaves, all EC P-256 with SHA-256."""

    def __init__(self, d: str) -> None:
        self.d = d
        os.makedirs(os.path.join(d, "newcerts"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("01\n")
        with open(self.path("ca.cnf"), "w") as f:
            f.write(CA_CNF.format(d=d))
        self.key("root")
        openssl("req", "-x509", "-new", "-key", self.path("root.key"), "-subj", "/CN=Test Root CA/O=M2Sec",
                "-days", "30", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
                "-out", self.path("root.pem"))
        self.issue("inter", "/CN=Test Intermediate CA/O=M2Sec", issuer="root",
                   ext=["basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign",
                        "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"])

    def path(self, name: str) -> str:
        return os.path.join(self.d, name)

    def read(self, name: str) -> bytes:
        with open(self.path(name), "rb") as f:
            return f.read()

    def key(self, name: str, alg: str = "EC") -> str:
        out = self.path(name + ".key")
        if alg == "EC":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out)
        else:
            openssl("genpkey", "-algorithm", alg, "-out", out)
        return out

    def csr(self, name: str, subj: str, ext: List[str] = (), alg: str = "EC") -> str:
        self.key(name, alg)
        args = ["req", "-new", "-key", self.path(name + ".key"), "-subj", subj, "-out", self.path(name + ".csr")]
        if alg == "EC":
            args += ["-sha256"]
        for e in ext:
            args += ["-addext", e]
        openssl(*args)
        return self.path(name + ".csr")

    def _extfile(self, name: str, ext: List[str]) -> str:
        p = self.path(name + ".ext")
        with open(p, "w") as f:
            f.write("[v3]\n" + "".join(e.replace("=", " = ", 1) + "\n" for e in ext))
        return p

    def issue(self, name: str, subj: str, issuer: str = "inter", ext: List[str] = (), days: int = 30,
              serial: Optional[int] = None, alg: str = "EC") -> str:
        """Sign name's new key with openssl x509 -req; returns the PEM path."""
        self.csr(name, subj, alg=alg)
        args = ["x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(issuer + ".pem"),
                "-CAkey", self.path(issuer + ".key"), "-days", str(days), "-sha256",
                "-out", self.path(name + ".pem")]
        args += ["-set_serial", str(serial)] if serial is not None else ["-CAcreateserial"]
        if ext:
            args += ["-extfile", self._extfile(name, list(ext)), "-extensions", "v3"]
        openssl(*args)
        return self.path(name + ".pem")

    def issue_dated(self, name: str, subj: str, start: str, end: str, ext: List[str] = ()) -> str:
        """A certificate from the intermediate with explicit validity (YYYYMMDDHHMMSSZ)."""
        self.csr(name, subj)
        args = ["ca", "-batch", "-config", self.path("ca.cnf"), "-in", self.path(name + ".csr"),
                "-startdate", start, "-enddate", end, "-notext", "-out", self.path(name + ".pem")]
        if ext:
            args += ["-extfile", self._extfile(name, list(ext)), "-extensions", "v3"]
        openssl(*args)
        return self.path(name + ".pem")

    def revoke(self, name: str, reason: str = "keyCompromise") -> None:
        openssl("ca", "-batch", "-config", self.path("ca.cnf"), "-revoke", self.path(name + ".pem"),
                "-crl_reason", reason)

    def gencrl(self, name: str = "inter.crl") -> str:
        openssl("ca", "-batch", "-config", self.path("ca.cnf"), "-gencrl", "-out", self.path(name))
        return self.path(name)

    def root_crl(self, name: str = "root.crl") -> str:
        """An empty CRL from the root (for CRL checks over the whole chain)."""
        d = os.path.join(self.d, "rootca")
        os.makedirs(os.path.join(d, "newcerts"), exist_ok=True)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("01\n")
        cnf = CA_CNF.format(d=d).replace(d + "/inter.pem", self.path("root.pem")).replace(d + "/inter.key", self.path("root.key"))
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(cnf)
        openssl("ca", "-batch", "-config", os.path.join(d, "ca.cnf"), "-gencrl", "-out", self.path(name))
        return self.path(name)

    def verify(self, leaf: str, *extra: str, untrusted: bool = True) -> subprocess.CompletedProcess:
        """openssl verify leaf with root trusted and inter untrusted."""
        args = ["openssl", "verify", "-CAfile", self.path("root.pem")]
        if untrusted:
            args += ["-untrusted", self.path("inter.pem")]
        return subprocess.run(args + list(extra) + [leaf], capture_output=True, timeout=60)


# Extensions of a CA certificate made by build_cert (the root takes the first three).
CA_EXTS = [("basicConstraints", "critical,CA:TRUE"), ("keyUsage", "critical,keyCertSign,cRLSign"),
           ("subjectKeyIdentifier", "hash"), ("authorityKeyIdentifier", "keyid:always")]


def asn1_time(offset: int) -> ASN1.ASN1_TIME:
    """Now plus offset seconds."""
    t = ASN1.ASN1_TIME()
    t.set_datetime(datetime.datetime.now(ASN1.UTC) + datetime.timedelta(seconds=offset))
    return t


def build_cert(subject_cn: str, pubkey: Any, issuer_cert: Optional[X509.X509], issuer_key: Any, serial: int,
               exts: Sequence[Any], md: Optional[str] = "sha256", days: int = 1) -> X509.X509:
    """A certificate for pubkey made with M2Sec's X509 API, signed by issuer_key (self-signed
    when issuer_cert is None), valid from a minute ago for days."""
    cert = X509.X509()
    cert.set_version(2)
    cert.set_serial_number(serial)
    name = X509.X509_Name()
    name.CN = subject_cn
    name.O = "M2Sec"
    cert.set_subject(name)
    cert.set_issuer(issuer_cert.get_subject() if issuer_cert is not None else name)
    cert.set_not_before(asn1_time(-60))
    cert.set_not_after(asn1_time(86400 * days))
    cert.set_pubkey(pubkey)
    for e in exts:  # (name, value) pairs, or X509_Extension objects (X509's typed helpers)
        cert.add_ext(e if isinstance(e, X509.X509_Extension) else X509.new_extension(*e, issuer=issuer_cert, subject=cert))
    cert.sign(issuer_key, None if issuer_key.key_type in ("ED25519", "ED448") else md)
    return cert


def new_key(alg: str = "EC") -> Any:
    """A fresh private key (EVP.PKey): "EC" (P-256), "RSA" (2048 bits), "ED25519"..."""
    return EVP.generate_key(alg, curve="P-256" if alg == "EC" else None)


class Chain:
    """root -> inter -> leaf, minted with M2Sec's typed extension helpers (keys of alg)."""

    def __init__(self, alg: str = "EC", leaf_exts: Sequence[Any] = (), serial: int = 100) -> None:
        self.root_key, self.inter_key, self.leaf_key = new_key(alg), new_key(alg), new_key(alg)
        ca_usage = X509.key_usage(key_cert_sign=True, crl_sign=True)
        self.root = build_cert("Chain Root", self.root_key, None, self.root_key, serial,
                               [X509.basic_constraints(True), ca_usage, X509.subject_key_identifier(self.root_key)])
        self.inter = build_cert("Chain Inter", self.inter_key, self.root, self.root_key, serial + 1,
                                [X509.basic_constraints(True, 0), ca_usage, X509.subject_key_identifier(self.inter_key),
                                 X509.authority_key_identifier(self.root)])
        self.leaf = self.issue("leaf.example", self.leaf_key, serial + 2, leaf_exts)

    def issue(self, cn: str, key: Any, serial: int, exts: Sequence[Any] = ()) -> X509.X509:
        """A leaf for key from the intermediate (with SAN dNSName cn unless exts say otherwise)."""
        exts = list(exts) or [X509.subject_alt_name(dns=[cn]), X509.extended_key_usage("serverAuth", "clientAuth")]
        return build_cert(cn, key, self.inter, self.inter_key, serial,
                          [X509.basic_constraints(False), X509.key_usage(digital_signature=True),
                           X509.authority_key_identifier(self.inter)] + exts)
