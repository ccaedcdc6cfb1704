"""The ``m2sec smime`` command: S/MIME 4.0 messages with safe defaults, like ``openssl cms``
but saying who signed what.

    m2sec smime sign    -k KEY -c CERT [--chain PEM] [--pss] [--opaque] [--digest D] [-r CERT ...] [-i IN] [-o OUT]
    m2sec smime verify  [--CAfile PEM] [--certfile PEM] [--allow-untrusted] [-i IN] [-o OUT]
    m2sec smime encrypt -r CERT [-r CERT ...] [--cipher C] [--oaep] [-i IN] [-o OUT]
    m2sec smime decrypt -k KEY [-c CERT] [-i IN] [-o OUT]
    m2sec smime unwrap  [-k KEY [-c CERT]] [--CAfile PEM] [--certfile PEM] [--allow-untrusted] [-i IN] [-o OUT]

IN is an RFC 5322 message (``-`` or absent: standard input); OUT receives the resulting
message (standard output by default).  ``sign -r`` signs and then encrypts.  ``verify``,
``decrypt`` and ``unwrap`` report on standard error; the exit status is 0 when every layer
opened and every signer is trusted, 1 when the message does not verify or decrypt, 2 for a
usage error.
"""

import argparse
import sys
from typing import Any, BinaryIO, List, Optional

from M2Sec import CMS, EVP, SMIME, X509, mail
from M2Sec.Err import M2SecError

def load_certs(path: str) -> List[X509.X509]:
    """Every certificate of a PEM file.  :raises SystemExit: if there is none."""
    certs = mail.load_certificates(path)
    if not certs:
        raise SystemExit("m2sec smime: no certificate in %s" % path)
    return certs


def _read(path: Optional[str]) -> bytes:
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _output(path: Optional[str]) -> BinaryIO:
    return sys.stdout.buffer if path in (None, "-") else open(path, "wb")


def _write(path: Optional[str], data: bytes) -> None:
    out = _output(path)
    try:
        out.write(data)
        out.flush()
    finally:
        if out is not sys.stdout.buffer:
            out.close()


def _name(cert: X509.X509) -> str:
    emails = ", ".join(cert.get_email())
    cn = cert.get_subject().CN or cert.get_subject().as_text()
    return "%s <%s>" % (cn, emails) if emails else cn


def describe(opened: mail.Opened) -> str:
    """The report printed for an opened message: its layers, each signer and its result."""
    lines = ["Layers: %s" % (" > ".join(opened.layers) or "none (not an S/MIME message)")]
    for r in opened.reports:
        when = r.signing_time.strftime("%Y-%m-%d %H:%M:%SZ") if r.signing_time else "no signing time"
        status = "trusted" if r.trusted else "NOT TRUSTED: %s (verify code %d)" % (r.verify_message, r.verify_code)
        lines.append("Signed by: %s (layer %d), %s with %s, %s: %s" % (
            _name(r.certificate), r.layer, r.signature_algorithm, r.digest, when, status))
    if opened.signed:
        lines.append("From matches a trusted signer: %s" % ("yes" if opened.sender_matches() else "NO"))
    lines.append("Encrypted: %s" % ("yes" if opened.encrypted else "no"))
    return "\n".join(lines)


def _key(path: str) -> EVP.PKey:
    return EVP.load_key(path)


def _trust(args: argparse.Namespace) -> mail.Trust:
    return args.CAfile if args.CAfile else None


def _untrusted(args: argparse.Namespace) -> List[X509.X509]:
    return load_certs(args.certfile) if args.certfile else []


def _recipients(args: argparse.Namespace) -> List[Any]:
    out: List[Any] = []
    for path in args.recip or ():
        for c in load_certs(path):
            out.append(CMS.CertRecipient(c, rsa_padding="oaep") if args.oaep else c)
    return out


def cmd_sign(args: argparse.Namespace) -> int:
    key, cert = _key(args.key), load_certs(args.cert)[0]
    chain = load_certs(args.chain) if args.chain else []
    padding = "pss" if args.pss else "pkcs1"
    data = _read(args.infile)
    if args.recip:
        out = mail.sign_and_encrypt(data, key, cert, _recipients(args), chain=chain, digest=args.digest,
                                    padding=padding, cipher=args.cipher)
    else:
        out = mail.sign(data, key, cert, chain=chain, digest=args.digest, padding=padding, detached=not args.opaque)
    _write(args.outfile, bytes(out.as_bytes(policy=mail._WIRE)))
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    if not args.recip:
        raise SystemExit("m2sec smime encrypt: give at least one -r CERT")
    out = mail.encrypt(_read(args.infile), _recipients(args), cipher=args.cipher)
    _write(args.outfile, bytes(out.as_bytes(policy=mail._WIRE)))
    return 0


def _open(args: argparse.Namespace, key: Optional[EVP.PKey], cert: Optional[X509.X509]) -> int:
    try:
        opened = mail.unwrap(_read(args.infile), key=key, cert=cert, trusted=_trust(args),
                             untrusted=_untrusted(args), require_trust=False)
    except SMIME.SMIME_Error as e:
        print("m2sec smime: %s" % e, file=sys.stderr)
        return 1
    print(describe(opened), file=sys.stderr)
    _write(args.outfile, bytes(opened.message.as_bytes()))
    if args.command == "verify" and not opened.signed:
        print("m2sec smime: the message is not signed", file=sys.stderr)
        return 1
    if args.command == "decrypt" and not opened.encrypted:
        print("m2sec smime: the message is not encrypted", file=sys.stderr)
        return 1
    if opened.signed and not opened.trusted and not args.allow_untrusted:
        return 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    return _open(args, None, None)


def cmd_decrypt(args: argparse.Namespace) -> int:
    return _open(args, _key(args.key), load_certs(args.cert)[0] if args.cert else None)


def cmd_unwrap(args: argparse.Namespace) -> int:
    key = _key(args.key) if args.key else None
    return _open(args, key, load_certs(args.cert)[0] if args.cert else None)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="m2sec smime", description="S/MIME 4.0 messages (RFC 8551) on CMS.")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-i", "--in", dest="infile", help="the message (default: standard input)")
        sp.add_argument("-o", "--out", dest="outfile", help="the result (default: standard output)")

    def trust(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--CAfile", help="trust anchors (PEM); default: the system's CAs")
        sp.add_argument("--certfile", help="more certificates to find signers and intermediates in (PEM)")
        sp.add_argument("--allow-untrusted", action="store_true",
                        help="exit 0 even if a signer's chain does not verify (it is still reported)")

    def recipients(sp: argparse.ArgumentParser, required: bool) -> None:
        sp.add_argument("-r", "--recip", action="append", required=required, help="a recipient's certificate (PEM)")
        sp.add_argument("--cipher", default=None, help="content cipher (default: aes-256-gcm)")
        sp.add_argument("--oaep", action="store_true", help="RSA-OAEP key transport for RSA recipients")

    s = sub.add_parser("sign", help="sign (and with -r, then encrypt) a message")
    s.add_argument("-k", "--key", required=True)
    s.add_argument("-c", "--cert", required=True)
    s.add_argument("--chain", help="intermediate certificates to include (PEM)")
    s.add_argument("--digest", default=None, help="default: the key's natural one (SHA-256; SHA-512 for Ed25519)")
    s.add_argument("--pss", action="store_true", help="RSASSA-PSS for an RSA key (RFC 4056)")
    s.add_argument("--opaque", action="store_true", help="application/pkcs7-mime signed-data, not multipart/signed")
    recipients(s, False)
    common(s)
    s.set_defaults(func=cmd_sign)
    e = sub.add_parser("encrypt", help="encrypt a message")
    recipients(e, True)
    common(e)
    e.set_defaults(func=cmd_encrypt)
    v = sub.add_parser("verify", help="verify a signed message and say who signed it")
    trust(v)
    common(v)
    v.set_defaults(func=cmd_verify)
    d = sub.add_parser("decrypt", help="decrypt a message (and verify what is signed inside)")
    d.add_argument("-k", "--key", required=True)
    d.add_argument("-c", "--cert")
    trust(d)
    common(d)
    d.set_defaults(func=cmd_decrypt)
    u = sub.add_parser("unwrap", help="open every layer: decrypt, verify, report")
    u.add_argument("-k", "--key")
    u.add_argument("-c", "--cert")
    trust(u)
    common(u)
    u.set_defaults(func=cmd_unwrap)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (M2SecError, OSError, ValueError) as e:
        print("m2sec smime: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
