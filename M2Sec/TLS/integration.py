"""The standard library over TLSConnection: http.client, poplib, imaplib, smtplib, socketserver.

Each class subclasses the standard-library one and adds only the TLS part; the authentication
arguments are TLS Lite's (none, ``x509Fingerprint=``, ``checker=``, SRP ``username=``/``password=``,
``certChain=``/``privateKey=``, ``settings=``), plus ``cafile=``/``capath=``/``verify=``.  The
server's chain and host name are verified by default (against the system store unless a CA file
is given); a fingerprint pin takes the place of the chain check.  A host given as an IP address
is checked against the certificate's iPAddress subjectAltNames and is not sent as SNI.
"""

import http.client
import imaplib
import poplib
import smtplib
import socket
from typing import Any, Dict, Optional, cast

from M2Sec.TLS.checker import Checker
from M2Sec.TLS.session import Session
from M2Sec.TLS.settings import HandshakeSettings
from M2Sec.TLS.tlsconnection import TLSConnection
from M2Sec.TLS.x509 import X509CertChain


class ClientHelper:
    """Holds a client's TLS Lite-style authentication arguments and runs the matching handshake."""

    def __init__(self, username: Optional[str] = None, password: Optional[str] = None,
                 certChain: Optional[X509CertChain] = None, privateKey: Any = None,
                 checker: Optional[Checker] = None, settings: Optional[HandshakeSettings] = None,
                 anon: bool = False, host: Optional[str] = None, x509Fingerprint: Optional[str] = None, *,
                 cafile: Optional[str] = None, capath: Optional[str] = None, verify: bool = True,
                 alpn: Any = None) -> None:
        if anon:
            raise ValueError("anonymous key exchange is not offered")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if (certChain is None) != (privateKey is None):
            raise ValueError("certChain and privateKey go together")
        if username is not None and certChain is not None:
            raise ValueError("SRP and a client certificate cannot be combined")
        if x509Fingerprint is not None:
            if checker is not None:
                raise ValueError("give x509Fingerprint or checker, not both")
            checker = Checker(x509Fingerprint=x509Fingerprint)
        self.username, self.password = username, password
        self.certChain, self.privateKey = certChain, privateKey
        self.checker, self.settings = checker, settings
        self.cafile, self.capath, self.verify, self.alpn = cafile, capath, verify, alpn
        # An IP address literal too: it is matched against the certificate's iPAddress names
        # and, per RFC 6066 section 3, not sent as SNI (both done by M2Sec.SSL).
        self.serverName = host or None
        self.tlsSession: Optional[Session] = None

    def _handshake(self, tlsConnection: TLSConnection) -> None:
        """Handshake as configured, resuming the previous session of this helper when possible."""
        common: Dict[str, Any] = dict(session=self.tlsSession, settings=self.settings, checker=self.checker,
                      serverName=self.serverName, cafile=self.cafile, capath=self.capath, verify=self.verify)
        if self.username is not None:
            tlsConnection.handshakeClientSRP(self.username, cast(str, self.password), **common)  # both or neither
        else:
            tlsConnection.handshakeClientCert(self.certChain, self.privateKey, alpn=self.alpn, **common)
        self.tlsSession = tlsConnection.session


class HTTPTLSConnection(http.client.HTTPConnection, ClientHelper):
    """http.client.HTTPConnection over TLS (port 443 by default)."""

    default_port = 443

    def __init__(self, host: str, port: Optional[int] = None, strict: Any = None,
                 timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT, source_address: Any = None,  # type: ignore[attr-defined]
                 username: Optional[str] = None, password: Optional[str] = None,
                 certChain: Optional[X509CertChain] = None, privateKey: Any = None, checker: Optional[Checker] = None,
                 settings: Optional[HandshakeSettings] = None, ignoreAbruptClose: bool = False, anon: bool = False,
                 x509Fingerprint: Optional[str] = None, **tls: Any) -> None:
        http.client.HTTPConnection.__init__(self, host, port, timeout, source_address)
        self.ignoreAbruptClose = ignoreAbruptClose
        ClientHelper.__init__(self, username, password, certChain, privateKey, checker, settings, anon, host,
                              x509Fingerprint, **tls)

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        conn = TLSConnection(cast(socket.socket, self.sock))  # connected just above
        conn.ignoreAbruptClose = self.ignoreAbruptClose
        self._handshake(conn)
        self.sock = conn  # the TLSConnection stands in for the socket


class POP3_TLS(poplib.POP3):
    """poplib.POP3 over TLS from the first byte (port 995)."""

    def __init__(self, host: str, port: int = poplib.POP3_SSL_PORT, timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                 username: Optional[str] = None, password: Optional[str] = None,
                 certChain: Optional[X509CertChain] = None, privateKey: Any = None, checker: Optional[Checker] = None,
                 settings: Optional[HandshakeSettings] = None, x509Fingerprint: Optional[str] = None, **tls: Any) -> None:
        self.host, self.port = host, port
        self._tls_established = True
        self._debugging = 0
        helper = ClientHelper(username, password, certChain, privateKey, checker, settings, False, host,
                              x509Fingerprint, **tls)
        sock = socket.create_connection((host, port), timeout)
        conn = TLSConnection(sock)
        self.sock = conn  # type: ignore[assignment]  # the TLSConnection stands in for the socket
        helper._handshake(conn)
        self.file = self.sock.makefile("rb")
        self.welcome = self._getresp()  # type: ignore[attr-defined]  # poplib.POP3's own


class IMAP4_TLS(imaplib.IMAP4):
    """imaplib.IMAP4 over TLS from the first byte (port 993)."""

    def __init__(self, host: str = "", port: int = imaplib.IMAP4_SSL_PORT, username: Optional[str] = None,  # type: ignore[attr-defined]
                 password: Optional[str] = None, certChain: Optional[X509CertChain] = None, privateKey: Any = None,
                 checker: Optional[Checker] = None, settings: Optional[HandshakeSettings] = None,
                 x509Fingerprint: Optional[str] = None, timeout: Optional[float] = None, **tls: Any) -> None:
        self._helper = ClientHelper(username, password, certChain, privateKey, checker, settings, False, host,
                                    x509Fingerprint, **tls)
        imaplib.IMAP4.__init__(self, host, port, timeout=timeout)

    def open(self, host: str = "", port: int = imaplib.IMAP4_SSL_PORT, timeout: Optional[float] = None) -> None:  # type: ignore[attr-defined]
        self.host, self.port = host, port
        sock = socket.create_connection((host, port), timeout)
        conn = TLSConnection(sock)
        self.sock = conn  # type: ignore[assignment]  # the TLSConnection stands in for the socket
        self._helper._handshake(conn)
        self.file = self.sock.makefile("rb")


class SMTP_TLS(smtplib.SMTP):
    """smtplib.SMTP whose starttls() takes TLS Lite's authentication arguments."""

    def starttls(self, username: Optional[str] = None, password: Optional[str] = None,  # type: ignore[override]
                 certChain: Optional[X509CertChain] = None, privateKey: Any = None,
                 checker: Optional[Checker] = None, settings: Optional[HandshakeSettings] = None,
                 x509Fingerprint: Optional[str] = None, **tls: Any) -> Any:
        """STARTTLS (RFC 3207), then the handshake; returns the server's reply to STARTTLS."""
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        helper = ClientHelper(username, password, certChain, privateKey, checker, settings, False,
                              self._host, x509Fingerprint, **tls)
        reply = self.docmd("STARTTLS")
        if reply[0] != 220:
            raise smtplib.SMTPResponseException(reply[0], reply[1])
        conn = TLSConnection(cast(socket.socket, self.sock))  # connected: docmd() answered
        helper._handshake(conn)
        self.sock = conn  # type: ignore[assignment]  # the TLSConnection stands in for the socket
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return reply

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> Any:
        self._host = host
        return smtplib.SMTP.connect(self, host, port, source_address)


class TLSSocketServerMixIn:
    """Mix into a socketserver TCP server (before it): handshake(connection) runs on each new
    TLSConnection, and the request handler runs only when it returns True."""

    def finish_request(self, sock: socket.socket, client_address: Any) -> None:
        conn = TLSConnection(sock)
        if self.handshake(conn) is True:
            self.RequestHandlerClass(conn, client_address, self)  # type: ignore[attr-defined]
            conn.close()

    def handshake(self, tlsConnection: TLSConnection) -> bool:
        """Do tlsConnection.handshakeServer(...) and return True to serve the request."""
        raise NotImplementedError("define handshake() in the subclass")
