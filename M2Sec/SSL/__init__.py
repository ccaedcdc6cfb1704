"""SSL/TLS over OpenSSL's SSL_CTX and SSL (M2Crypto's ``SSL`` package, and more).

- :class:`Context` (settings shared by connections) and :func:`create_default_context` (a
  verifying client context with safe defaults);
- :class:`Connection`, a TLS connection on a socket (blocking, with timeouts, or non-blocking);
- :class:`SSLObject`, the same TLS over memory: bytes in, bytes out, for event loops;
- :class:`Session`, :class:`Cipher`, :class:`~M2Sec.SSL.Checker.Checker`, the servers of
  :mod:`~M2Sec.SSL.SSLServer`, socket :class:`timeout`\\ s and callbacks (:mod:`~M2Sec.SSL.cb`).
"""

import os

from M2Sec import m2
from M2Sec.SSL.SSLError import (  # noqa: F401  (registers the exception classes first)
    CertificateExpiredError, CertificateNotYetValidError, CertificateRevokedError, HostnameMismatchError,
    SelfSignedCertificateError, SSLCertVerificationError, SSLClosedError, SSLEOFError, SSLError, SSLTimeoutError,
    SSLVerificationError, SSLWantReadError, SSLWantWriteError, UntrustedCertificateError,
)
from M2Sec.SSL import cb  # noqa: F401,E402
from M2Sec.SSL.Cipher import Cipher, Cipher_Stack  # noqa: F401,E402
from M2Sec.SSL import Session  # noqa: F401,E402  (the module, as in M2Crypto)
from M2Sec.SSL.Context import (  # noqa: F401,E402
    Context, Purpose, TLSv1, TLSv1_1, TLSv1_2, TLSv1_3, create_default_context,
)
from M2Sec.SSL.Connection import Connection  # noqa: F401,E402
from M2Sec.SSL import Checker  # noqa: F401,E402
from M2Sec.SSL.SSLObject import SSLObject, adrive, drive  # noqa: F401,E402
from M2Sec.SSL.SSLObject import run as retry_loop  # noqa: F401,E402
from M2Sec.SSL.SSLServer import SSLServer, ThreadingSSLServer  # noqa: F401,E402
from M2Sec.SSL.stapling import OCSPStapleError, RefreshingStaple, StapleRevokedError  # noqa: F401,E402

if os.name != "nt":
    from M2Sec.SSL.SSLServer import ForkingSSLServer  # noqa: F401
from M2Sec.SSL.timeout import struct_size, struct_to_timeout, timeout  # noqa: F401,E402

verify_none: int = m2.SSL_VERIFY_NONE
verify_peer: int = m2.SSL_VERIFY_PEER
verify_fail_if_no_peer_cert: int = m2.SSL_VERIFY_FAIL_IF_NO_PEER_CERT
verify_client_once: int = m2.SSL_VERIFY_CLIENT_ONCE
verify_post_handshake: int = m2.SSL_VERIFY_POST_HANDSHAKE
verify_crl_check_chain: int = m2.VERIFY_CRL_CHECK_CHAIN
verify_crl_check_leaf: int = m2.VERIFY_CRL_CHECK_LEAF

SSL_SENT_SHUTDOWN: int = m2.SSL_SENT_SHUTDOWN
SSL_RECEIVED_SHUTDOWN: int = m2.SSL_RECEIVED_SHUTDOWN

op_all: int = m2.SSL_OP_ALL
op_no_sslv2: int = m2.SSL_OP_NO_SSLv2

# The public names (`from M2Sec.SSL import *`, and what type checkers take as exported);
# ForkingSSLServer is not defined on Windows.
__all__ = [
    "m2", "SSLError", "CertificateExpiredError", "CertificateNotYetValidError",
    "CertificateRevokedError", "HostnameMismatchError", "SelfSignedCertificateError",
    "SSLCertVerificationError", "SSLClosedError", "SSLEOFError", "SSLTimeoutError",
    "SSLVerificationError", "SSLWantReadError", "SSLWantWriteError", "UntrustedCertificateError", "cb",
    "Cipher", "Cipher_Stack", "Session", "Context", "Purpose", "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3",
    "create_default_context", "Checker", "timeout", "Connection", "SSLObject", "adrive", "drive",
    "retry_loop", "SSLServer", "ThreadingSSLServer", "OCSPStapleError", "RefreshingStaple",
    "StapleRevokedError", "struct_size", "struct_to_timeout", "verify_none",
    "verify_peer", "verify_fail_if_no_peer_cert", "verify_client_once", "verify_post_handshake",
    "verify_crl_check_chain", "verify_crl_check_leaf", "SSL_SENT_SHUTDOWN", "SSL_RECEIVED_SHUTDOWN",
    "op_all", "op_no_sslv2",
]
if os.name != "nt":
    __all__ += ["ForkingSSLServer"]
