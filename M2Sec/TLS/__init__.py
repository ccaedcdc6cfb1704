"""A TLS Lite-style TLS API over OpenSSL: ``from M2Sec.TLS import *``.

The names and shapes of TLS Lite and tlslite-ng (TLSConnection and its handshake functions,
HandshakeSettings, Checker, SessionCache, VerifierDB, X509CertChain, parsePEMKey, the
TLSLocalAlert/TLSRemoteAlert family and the standard-library integrations), with OpenSSL doing
the TLS.  Unlike TLS Lite, clients verify the server's certificate chain and host name by default.
"""

from M2Sec.TLS.checker import Checker
from M2Sec.TLS.constants import AlertDescription, AlertLevel, KeyUpdateMessageType
from M2Sec.TLS.errors import (BaseTLSException, TLSAbruptCloseError, TLSAlert, TLSAuthenticationError,
                              TLSAuthenticationTypeError, TLSAuthorizationError, TLSClosedConnectionError,
                              TLSError, TLSFaultError, TLSFingerprintError, TLSIllegalParameterException,
                              TLSLocalAlert, TLSNoAuthenticationError, TLSProtocolException, TLSRemoteAlert,
                              TLSUnsupportedError, TLSValidationError)
from M2Sec.TLS.integration import (HTTPTLSConnection, IMAP4_TLS, POP3_TLS, SMTP_TLS, ClientHelper,
                                   TLSSocketServerMixIn)
from M2Sec.TLS.keys import Key, generateRSAKey, parsePEMKey
from M2Sec.TLS.session import Session
from M2Sec.TLS.sessioncache import SessionCache
from M2Sec.TLS.settings import HandshakeSettings
from M2Sec.TLS.tlsconnection import TLSConnection
from M2Sec.TLS.verifierdb import VerifierDB
from M2Sec.TLS.x509 import X509, X509CertChain
from M2Sec.TLS import aio

__all__ = [
    "AlertDescription", "AlertLevel", "BaseTLSException", "Checker", "ClientHelper", "HTTPTLSConnection",
    "HandshakeSettings", "IMAP4_TLS", "Key", "KeyUpdateMessageType", "TLSIllegalParameterException",
    "TLSProtocolException", "POP3_TLS", "SMTP_TLS", "Session", "SessionCache",
    "TLSAbruptCloseError", "TLSAlert", "TLSAuthenticationError", "TLSAuthenticationTypeError",
    "TLSAuthorizationError", "TLSClosedConnectionError", "TLSConnection", "TLSError", "TLSFaultError",
    "TLSFingerprintError", "TLSLocalAlert", "TLSNoAuthenticationError", "TLSRemoteAlert",
    "TLSSocketServerMixIn", "TLSUnsupportedError", "TLSValidationError", "VerifierDB", "X509",
    "X509CertChain", "generateRSAKey", "parsePEMKey",
]
