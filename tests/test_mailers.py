"""M2Sec.mailers with the real frameworks (zope.sendmail, Django's django.core.mail with a
settings module made here, smtplib) sending to an aiosmtpd server on 127.0.0.1; what arrives
is checked with `openssl cms` and gpgsm."""

import os
import socket
import subprocess
import sys
import textwrap
import time
from email.message import EmailMessage

import pytest

from M2Sec import mail
from M2Sec.mailers import MissingCertificateError, SMIMEMailer, SMIMEPolicy, SMIMESMTP

from gpgsm_helpers import GpgSM
from pki_helpers import openssl
from smime_helpers import M2SecCA

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = M2SecCA(str(tmp_path_factory.mktemp("mailers_ca")))
    ca.person("app")          # the application's signing identity (RSA)
    ca.person("bob", alg="EC", curve="P-384")
    ca.person("carol")        # RSA: also read with gpgsm
    return ca


class Collector:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtpd():
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        pytest.fail("aiosmtpd is needed (pip install -r tests/requirements.txt)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    handler.port = port
    yield handler
    controller.stop()


def policy_for(ca, **kw):
    return SMIMEPolicy(key=ca.keys["app"], cert=ca.certs["app"], chain=[ca.certs["inter"]],
                       certificates={"Bob@Example.org": ca.certs["bob"], "carol@example.org": ca.certs["carol"]}, **kw)


def message(to="bob@example.org"):
    msg = EmailMessage()
    msg["From"] = "app@example.org"
    msg["To"] = to
    msg["Subject"] = "Your report"
    msg["Message-ID"] = "<r1@example.org>"
    msg.set_content("Here is your report.\n")
    return msg


def check_with_openssl(ca, tmp_path, raw, name):
    (tmp_path / "in.eml").write_bytes(raw)
    inner = openssl("cms", "-decrypt", "-in", str(tmp_path / "in.eml"), "-recip", ca.path(name + ".pem"),
                    "-inkey", ca.path(name + ".key"))
    content = openssl("cms", "-verify", "-CAfile", ca.path("root.pem"), "-purpose", "smimesign", input=inner)
    assert b"Here is your report." in content
    opened = mail.unwrap(raw, key=ca.keys[name], cert=ca.certs[name], trusted=[ca.certs["root"]])
    assert opened.signed and opened.encrypted and opened.sender_matches()
    assert opened.message["Subject"] == "Your report"


def test_smtplib_sender(ca, smtpd, tmp_path):
    with SMIMESMTP("127.0.0.1", smtpd.port, timeout=10, policy=policy_for(ca)) as smtp:
        smtp.send_message(message())
        smtp.sendmail("app@example.org", ["carol@example.org"], message("carol@example.org").as_bytes())
        with pytest.raises(MissingCertificateError) as e:
            smtp.send_message(message("dave@example.org"))
        assert e.value.addresses == ["dave@example.org"]
    assert len(smtpd.envelopes) == 2
    (frm, rcpts, raw), (_, _, raw2) = smtpd.envelopes
    assert frm == "app@example.org" and rcpts == ["bob@example.org"]
    assert b"authEnveloped-data" in raw and b"Here is your report" not in raw
    check_with_openssl(ca, tmp_path, raw, "bob")
    check_with_openssl(ca, tmp_path, raw2, "carol")
    # missing="sign": a recipient without certificate gets the message signed only
    with SMIMESMTP("127.0.0.1", smtpd.port, timeout=10, policy=policy_for(ca, missing="sign")) as smtp:
        smtp.send_message(message("dave@example.org"))
    raw = smtpd.envelopes[-1][2]
    (tmp_path / "s.eml").write_bytes(raw)
    assert b"multipart/signed" in raw
    openssl("cms", "-verify", "-in", str(tmp_path / "s.eml"), "-CAfile", ca.path("root.pem"))


def test_zope_sendmail(ca, smtpd, tmp_path):
    import transaction  # zope.sendmail's dependency: an ImportError fails the test (tests/requirements.txt)
    from zope.interface.verify import verifyObject
    from zope.sendmail.delivery import DirectMailDelivery
    from zope.sendmail.interfaces import IMailer
    from zope.sendmail.mailer import SMTPMailer

    mailer = SMIMEMailer(SMTPMailer("127.0.0.1", smtpd.port, no_tls=True), policy_for(ca))
    assert verifyObject(IMailer, mailer)
    delivery = DirectMailDelivery(mailer)
    delivery.send("app@example.org", ["bob@example.org"], message().as_bytes())
    transaction.commit()
    [(frm, rcpts, raw)] = smtpd.envelopes
    assert rcpts == ["bob@example.org"]
    check_with_openssl(ca, tmp_path, raw, "bob")
    # a recipient without a certificate: the vote fails, the transaction aborts, nothing is sent
    delivery.send("app@example.org", ["dave@example.org"], message("dave@example.org").as_bytes())
    with pytest.raises(MissingCertificateError):
        transaction.commit()
    transaction.abort()
    assert len(smtpd.envelopes) == 1


def test_django_backend(ca, smtpd, tmp_path):
    import django  # noqa: F401  an ImportError fails the test (tests/requirements.txt)
    (tmp_path / "m2sec_test_settings.py").write_text(textwrap.dedent("""
        SECRET_KEY = "test"
        EMAIL_BACKEND = "M2Sec.mailers.DjangoSMIMEBackend"
        EMAIL_HOST = "127.0.0.1"
        EMAIL_PORT = %d
        EMAIL_TIMEOUT = 10
        DEFAULT_FROM_EMAIL = "app@example.org"
        M2SEC_SMIME = {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "key": %r, "cert": %r, "chain": %r,
            "certificates": {"bob@example.org": %r, "carol@example.org": %r},
        }
    """ % (smtpd.port, ca.path("app.key"), ca.path("app.pem"), ca.path("inter.pem"), ca.path("bob.pem"),
           ca.path("carol.pem"))))
    script = textwrap.dedent("""
        import django
        django.setup()
        from django.core.mail import EmailMessage, send_mail
        from M2Sec.mailers import MissingCertificateError
        send_mail("Your report", "Here is your report.", None, ["bob@example.org"])
        m = EmailMessage("Your report", "Here is your report.", to=["carol@example.org"], bcc=["bob@example.org"])
        m.attach("r.csv", "a,b\\n1,2\\n", "text/csv")
        m.send()
        try:
            send_mail("Your report", "Here is your report.", None, ["dave@example.org"])
        except MissingCertificateError:
            print("refused")
    """)
    env = {"DJANGO_SETTINGS_MODULE": "m2sec_test_settings", "PYTHONPATH": str(tmp_path) + ":" + ":".join(sys.path),
           "PATH": "/usr/bin:/bin"}
    for name in ("LD_LIBRARY_PATH", "OPENSSL_MODULES"):  # the OpenSSL this run uses (make test-openssl35)
        if name in os.environ:
            env[name] = os.environ[name]
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.strip() == b"refused"
    deadline = time.monotonic() + 10
    while len(smtpd.envelopes) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    (_, rcpts, raw), (_, rcpts2, raw2) = smtpd.envelopes
    assert rcpts == ["bob@example.org"] and sorted(rcpts2) == ["bob@example.org", "carol@example.org"]
    check_with_openssl(ca, tmp_path, raw, "bob")
    check_with_openssl(ca, tmp_path, raw2, "bob")
    check_with_openssl(ca, tmp_path, raw2, "carol")
    assert "Bcc" not in mail._parse(raw2)  # the header, not three letters of base64
    opened = mail.unwrap(raw2, key=ca.keys["carol"], cert=ca.certs["carol"], trusted=[ca.certs["root"]])
    [att] = list(opened.message.iter_attachments())
    assert att.get_filename() == "r.csv"


def test_gpgsm_reads_what_the_mailer_sends(ca, smtpd, tmp_path):
    g = GpgSM(str(tmp_path / "gnupg"), ca)
    try:
        g.import_key("carol")
        # gpgsm 2.2 decrypts AES-CBC only: the policy knows carol's capabilities
        policy = policy_for(ca, capabilities={"carol@example.org": ["aes-256-cbc", "aes-128-cbc"]})
        with SMIMESMTP("127.0.0.1", smtpd.port, timeout=10, policy=policy) as smtp:
            smtp.send_message(message("carol@example.org"))
        raw = smtpd.envelopes[-1][2]
        part = mail._parse(raw)
        (tmp_path / "m.p7m").write_bytes(part.get_payload(decode=True))
        inner = g.with_pass("--decrypt", str(tmp_path / "m.p7m")).stdout
        signed = mail._parse(inner)
        body, sig = signed.get_payload()
        (tmp_path / "body").write_bytes(inner.split(b"\r\n\r\n--", 1)[1].split(b"\r\n", 1)[1].rsplit(b"\r\n--", 2)[0])
        (tmp_path / "sig").write_bytes(sig.get_payload(decode=True))
        g.run("--verify", str(tmp_path / "sig"), str(tmp_path / "body"))
        assert b"Here is your report." in inner
    finally:
        g.stop()
