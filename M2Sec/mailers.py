"""S/MIME for applications that send mail: sign and/or encrypt every outgoing message by policy.

The successor of M2Crypto's ZSmime.  :class:`SMIMEPolicy` says what to do (the signing key
and certificate, where recipients' certificates come from, what to do for a recipient
without one); three front ends apply it where applications hand their mail over:

- :class:`SMIMEMailer`: a zope.sendmail ``IMailer`` wrapping another mailer (e.g.
  ``SMTPMailer``), for ``DirectMailDelivery``;
- :class:`DjangoSMIMEBackend`: a Django e-mail backend wrapping another backend, configured by
  the ``M2SEC_SMIME`` setting;
- :class:`SMIMESMTP` / :class:`SMIMESMTP_SSL`: ``smtplib.SMTP`` whose ``sendmail`` and
  ``send_message`` protect the message first.

::

    policy = SMIMEPolicy(key=key, cert=cert, chain=[inter],
                         certificates={"bob@example.org": bob_cert})
    with SMIMESMTP("mail.example.org", policy=policy) as smtp:
        smtp.send_message(msg)
"""

import email.message
import smtplib
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union, cast

from M2Sec import EVP, SMIME, X509, mail

__all__ = ["SMIMEPolicy", "MissingCertificateError", "SMIMEMailer", "SMIMESMTP", "SMIMESMTP_SSL",
           "DjangoSMIMEBackend", "load_certificates"]

Directory = Union[Mapping[str, Union[X509.X509, Sequence[X509.X509]]], Callable[[str], Any], None]


class MissingCertificateError(SMIME.SMIME_Error):
    """Some recipients have no certificate and the policy says not to send them plaintext;
    ``addresses`` lists them."""

    def __init__(self, addresses: Sequence[str]) -> None:
        super().__init__("no S/MIME certificate for: %s" % ", ".join(addresses))
        self.addresses = list(addresses)


load_certificates = mail.load_certificates


def _address(addr: str) -> str:
    parsed = getaddresses([addr])
    return (parsed[0][1] if parsed and parsed[0][1] else addr).strip().lower()


class SMIMEPolicy:
    """What to do to each outgoing message.

    :param key: the signing key, with its certificate cert (and chain, intermediates to
        include); None: do not sign.
    :param certificates: the recipients' certificates: a mapping from e-mail address (any
        case) to a certificate or a list of them, or a callable(address) returning one, a
        list, or None.
    :param encrypt: encrypt to the recipients (needs certificates).
    :param missing: for a recipient without certificate, "refuse" (raise
        MissingCertificateError, send nothing) or "sign" (send the message signed only).
    :param encrypt_to_self: also encrypt to cert, so that the sender can read its own mail.
    :param digest, padding, cipher, capabilities: as :func:`M2Sec.mail.sign_and_encrypt`.
    """

    def __init__(self, *, key: Optional[EVP.PKey] = None, cert: Optional[X509.X509] = None,
                 chain: Iterable[X509.X509] = (), certificates: Directory = None, encrypt: bool = True,
                 missing: str = "refuse", encrypt_to_self: bool = False, digest: Optional[str] = None,
                 padding: str = "pkcs1", cipher: Optional[str] = None, capabilities: mail.Capabilities = None) -> None:
        if (key is None) != (cert is None):
            raise ValueError("give key and cert together")
        if missing not in ("refuse", "sign"):
            raise ValueError("missing must be 'refuse' or 'sign'")
        if missing == "sign" and key is None:
            raise ValueError("missing='sign' needs a signing key")
        if not encrypt and key is None:
            raise ValueError("a policy that neither signs nor encrypts does nothing")
        self.key, self.cert, self.chain = key, cert, list(chain)
        self.encrypt, self.missing, self.encrypt_to_self = encrypt, missing, encrypt_to_self
        self.digest, self.padding, self.cipher, self.capabilities = digest, padding, cipher, capabilities
        if isinstance(certificates, Mapping):
            self._directory: Optional[Dict[str, Any]] = {k.lower(): v for k, v in certificates.items()}
            self._lookup: Optional[Callable[[str], Any]] = None
        else:
            self._directory, self._lookup = None, certificates

    def certificates_for(self, address: str) -> List[X509.X509]:
        """The certificates of one recipient address ([] if none is known)."""
        addr = _address(address)
        found = self._directory.get(addr) if self._directory is not None else (
            self._lookup(addr) if self._lookup is not None else None)
        if found is None:
            return []
        return [found] if isinstance(found, X509.X509) else list(found)

    def recipients(self, addresses: Iterable[str]) -> List[X509.X509]:
        """The certificates to encrypt to.  :raises MissingCertificateError: when one is
        missing and the policy refuses; [] when the policy then signs only."""
        certs: List[X509.X509] = []
        missing = []
        for a in addresses:
            found = self.certificates_for(a)
            if not found:
                missing.append(a)
            certs.extend(found)
        if missing:
            if self.missing == "refuse":
                raise MissingCertificateError(missing)
            return []
        if self.encrypt_to_self and self.cert is not None:
            certs.append(self.cert)
        return certs

    def check(self, addresses: Iterable[str]) -> None:
        """Raise now (MissingCertificateError) if protect() would refuse these recipients."""
        if self.encrypt:
            self.recipients(addresses)

    def protect(self, message: Union[bytes, bytearray, str, email.message.Message], addresses: Iterable[str]) -> bytes:
        """message signed and/or encrypted for addresses (the envelope recipients), as bytes
        with CRLF line ends ready for SMTP."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        addresses = list(addresses)
        certs = self.recipients(addresses) if self.encrypt else []
        if certs and self.key is not None:
            out = mail.sign_and_encrypt(message, self.key, cast(X509.X509, self.cert), certs, chain=self.chain, digest=self.digest,
                                        cipher=self.cipher, padding=self.padding, capabilities=self.capabilities)
        elif certs:
            out = mail.encrypt(message, certs, cipher=self.cipher, capabilities=self.capabilities)
        else:
            assert self.key is not None  # the constructor and recipients() guarantee it
            out = mail.sign(message, self.key, cast(X509.X509, self.cert), chain=self.chain, digest=self.digest, padding=self.padding)
        return out.as_bytes(policy=mail._WIRE)


# ---- zope.sendmail -----------------------------------------------------------------------

class SMIMEMailer:
    """A zope.sendmail ``IMailer`` that protects each message with policy and hands it to
    mailer (another IMailer, e.g. ``zope.sendmail.mailer.SMTPMailer``)::

        delivery = DirectMailDelivery(SMIMEMailer(SMTPMailer("localhost", 25), policy))
    """

    def __init__(self, mailer: Any, policy: SMIMEPolicy) -> None:
        self.mailer, self.policy = mailer, policy

    def send(self, fromaddr: str, toaddrs: Sequence[str], message: Union[bytes, str]) -> None:
        self.mailer.send(fromaddr, toaddrs, self.policy.protect(message, toaddrs))

    def vote(self, fromaddr: str, toaddrs: Sequence[str], message: Union[bytes, str]) -> None:
        """Refuse before the transaction commits if a recipient lacks a certificate."""
        self.policy.check(toaddrs)
        vote = getattr(self.mailer, "vote", None)
        if vote is not None:
            vote(fromaddr, toaddrs, message)

    def abort(self) -> None:
        abort = getattr(self.mailer, "abort", None)
        if abort is not None:
            abort()


try:  # declare the interface where zope.sendmail is installed
    from zope.interface import classImplements
    from zope.sendmail.interfaces import IMailer
    classImplements(SMIMEMailer, IMailer)
except ImportError:  # pragma: no cover - zope.sendmail is optional
    pass


# ---- smtplib -----------------------------------------------------------------------------

class _SMIMESenderMixin:
    """sendmail() (and through it send_message()) protects the message first."""

    smime_policy: SMIMEPolicy

    def sendmail(self, from_addr: str, to_addrs: Union[str, Sequence[str]], msg: Union[bytes, str],
                 mail_options: Sequence[str] = (), rcpt_options: Sequence[str] = ()) -> Dict[str, Any]:
        addrs = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        return super().sendmail(from_addr, addrs, self.smime_policy.protect(msg, addrs),  # type: ignore[misc, no-any-return]
                                mail_options, rcpt_options)


class SMIMESMTP(_SMIMESenderMixin, smtplib.SMTP):  # type: ignore[misc]  # sendmail: str/bytes messages only
    """smtplib.SMTP that signs and/or encrypts every message by policy (keyword-only)."""

    def __init__(self, *args: Any, policy: SMIMEPolicy, **kwargs: Any) -> None:
        self.smime_policy = policy
        super().__init__(*args, **kwargs)


class SMIMESMTP_SSL(_SMIMESenderMixin, smtplib.SMTP_SSL):  # type: ignore[misc]
    """smtplib.SMTP_SSL that signs and/or encrypts every message by policy (keyword-only)."""

    def __init__(self, *args: Any, policy: SMIMEPolicy, **kwargs: Any) -> None:
        self.smime_policy = policy
        super().__init__(*args, **kwargs)


# ---- Django ------------------------------------------------------------------------------

class _WireMessage(email.message.EmailMessage):
    """The protected message as a Django backend flattens it: exactly the signed bytes."""

    def __init__(self, data: bytes) -> None:
        super().__init__(policy=email_policy.SMTP)
        parsed = BytesParser(policy=email_policy.SMTP).parsebytes(data)
        for k, v in parsed.items():
            self[k] = v
        self._wire = data

    def as_bytes(self, unixfrom: bool = False, policy: Any = None, linesep: str = "\r\n") -> bytes:
        return self._wire if linesep == "\r\n" else self._wire.replace(b"\r\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy: Any = None,  # type: ignore[override]
                  linesep: str = "\n") -> str:
        return self.as_bytes(linesep=linesep).decode("ascii")

    __bytes__ = as_bytes


def _policy_from_settings(conf: Mapping[str, Any]) -> SMIMEPolicy:
    """An SMIMEPolicy from the M2SEC_SMIME setting: key, cert, chain (PEM file names);
    certificates (a mapping address -> PEM file, or a callable, or its dotted path); the other
    SMIMEPolicy keywords as they are."""
    from django.utils.module_loading import import_string
    opts = dict(conf)
    opts.pop("backend", None)
    key = EVP.load_key(opts.pop("key")) if opts.get("key") else opts.pop("key", None)
    cert = load_certificates(opts.pop("cert"))[0] if opts.get("cert") else opts.pop("cert", None)
    chain = load_certificates(opts.pop("chain")) if opts.get("chain") else list(opts.pop("chain", ()) or ())
    certs = opts.pop("certificates", None)
    if isinstance(certs, str):
        certs = import_string(certs)
    elif isinstance(certs, Mapping):
        certs = {a: (load_certificates(v) if isinstance(v, str) else v) for a, v in certs.items()}
    return SMIMEPolicy(key=key, cert=cert, chain=chain, certificates=certs, **opts)


def _django_backend_class() -> type:
    """DjangoSMIMEBackend, defined on first use: importing Django's mail machinery at import
    time would touch Django's settings in every process that imports this module."""
    global _DJANGO_BACKEND
    if _DJANGO_BACKEND is not None:
        return _DJANGO_BACKEND
    from django.core.mail.backends.base import BaseEmailBackend

    class DjangoSMIMEBackend(BaseEmailBackend):  # type: ignore[misc]  # Django has no type hints
        """A Django e-mail backend that signs and/or encrypts each message by policy and hands it
        to another backend.  settings.py::

            EMAIL_BACKEND = "M2Sec.mailers.DjangoSMIMEBackend"
            M2SEC_SMIME = {
                "backend": "django.core.mail.backends.smtp.EmailBackend",   # the real sender
                "key": "/etc/app/smime.key", "cert": "/etc/app/smime.pem", "chain": "/etc/app/inter.pem",
                "certificates": {"bob@example.org": "/etc/app/certs/bob.pem"},  # or "app.certs.lookup"
                "missing": "refuse",
            }

        ``policy=`` (an SMIMEPolicy) and ``backend=`` (a backend instance) given as keywords, e.g.
        to ``get_connection()``, take the place of the setting.
        """

        def __init__(self, fail_silently: bool = False, *, policy: Optional[SMIMEPolicy] = None,
                     backend: Any = None, **kwargs: Any) -> None:
            from django.conf import settings
            from django.core.mail import get_connection
            super().__init__(fail_silently=fail_silently)
            conf = getattr(settings, "M2SEC_SMIME", {})
            self.policy = policy if policy is not None else _policy_from_settings(conf)
            self.backend = backend if backend is not None else get_connection(
                conf.get("backend", "django.core.mail.backends.smtp.EmailBackend"), fail_silently=fail_silently, **kwargs)

        def open(self) -> Any:
            return self.backend.open()

        def close(self) -> None:
            self.backend.close()

        def send_messages(self, email_messages: Sequence[Any]) -> int:
            protected = []
            for m in email_messages:
                try:
                    protected.append(self._protect(m))
                except Exception:
                    if not self.fail_silently:
                        raise
            return self.backend.send_messages(protected) if protected else 0

        def _protect(self, message: Any) -> Any:
            from django.core.mail import EmailMessage
            wire = _WireMessage(self.policy.protect(message.message().as_bytes(linesep="\r\n"), message.recipients()))

            class Protected(EmailMessage):  # type: ignore[misc]
                def message(self, *args: Any, **kwargs: Any) -> email.message.EmailMessage:
                    return wire

            out = Protected(subject=message.subject, from_email=message.from_email, to=message.to, cc=message.cc,
                            bcc=message.bcc, connection=self.backend)
            return out

    DjangoSMIMEBackend.__module__ = __name__
    _DJANGO_BACKEND = DjangoSMIMEBackend
    return DjangoSMIMEBackend


_DJANGO_BACKEND: Optional[type] = None


def __getattr__(name: str) -> Any:
    # "M2Sec.mailers.DjangoSMIMEBackend" (the EMAIL_BACKEND setting) is made on first access
    if name == "DjangoSMIMEBackend":
        return _django_backend_class()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
