"""mail.unwrap (M2Sec.mail): a received message unwrapped layer by layer (S/MIME signed,
opaque-signed, enveloped).  Mode 0 unwraps the input as received; modes 1 and 2 first sign or
encrypt the input (as the body of a fixed message) with this run's keys, so that the layers inside a valid
signature or envelope are fuzzed too.  Malformed input is an SMIME_Error, a bad signature or an
undecryptable layer a PKCS7_Error."""
import atexit
import os
import shutil
import sys
import tempfile

from _harness import main

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from M2Sec import SMIME, mail  # noqa: E402
from smime_helpers import M2SecCA  # noqa: E402

EXPECTED = (SMIME.SMIME_Error, SMIME.PKCS7_Error)
_dir = tempfile.mkdtemp(prefix="fuzz_mail_")
atexit.register(shutil.rmtree, _dir, True)
CA = M2SecCA(_dir)
CA.person("bob")
KEY, CERT = CA.keys["bob"], CA.certs["bob"]
TRUST = [CA.certs["root"]]
HEAD = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: hi\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n")


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0] % 3, data[1:]
    if mode:
        # The input is the body of a fixed message (the application's own headers: CPython's
        # email package can loop for ever refolding some Content-Type parameters it parsed, on
        # the sending side, which is not what this target is for).
        data = HEAD + data
        data = (mail.sign(data, KEY, CERT, chain=[CA.certs["inter"]]) if mode == 1 else mail.encrypt(data, [CERT])).as_bytes()
    opened = mail.unwrap(data, key=KEY, cert=CERT, trusted=TRUST, untrusted=[CA.certs["inter"]])
    opened.sender_matches()


if __name__ == "__main__":
    main(one_input, EXPECTED)
