"""mail.sign/encrypt given a message the email package parses leniently but cannot write back:
a clear SMIME_Error, not the email package's ValueError/UnicodeEncodeError (found by
tests/fuzz/fuzz_mail_unwrap.py; the inputs are in tests/fuzz/crashes/mail_unwrap/)."""
import os

import pytest

from M2Sec import SMIME, mail
from smime_helpers import M2SecCA

HEAD = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: hi\r\n"
BODY = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("mail_input")))
    ca.person("bob")
    return ca


def wrappers(ca):
    key, cert = ca.keys["bob"], ca.certs["bob"]
    return [lambda m: mail.sign(m, key, cert), lambda m: mail.encrypt(m, [cert]),
            lambda m: mail.sign_and_encrypt(m, key, cert, [cert])]


@pytest.mark.parametrize("message, text", [
    (HEAD + b"To: Carol <carol@example.org>\r\n" + BODY, "malformed message headers"),
    (HEAD.replace(b"hi", b"h\xe9\xff") + BODY, "8-bit bytes in the message's headers"),
    (HEAD + BODY.replace(b"plain;", b"plain\xff;"), "8-bit bytes in the message's headers"),
])
def test_malformed_message_is_smime_error(ca, message, text):
    for wrap in wrappers(ca):
        with pytest.raises(SMIME.SMIME_Error, match=text):
            wrap(message)


def test_well_formed_message_still_round_trips(ca):
    for wrap in wrappers(ca):
        out = wrap(HEAD + BODY).as_bytes()
        opened = mail.unwrap(out, key=ca.keys["bob"], cert=ca.certs["bob"], trusted=[ca.certs["root"]],
                             untrusted=[ca.certs["inter"]])
        assert opened.message.get_content().replace("\r\n", "\n") == "hello\n"


def test_the_fuzzer_findings_are_kept():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "crashes", "mail_unwrap")
    assert len(os.listdir(d)) >= 3
