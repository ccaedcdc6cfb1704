"""mod_ssl's environment variables for a TLS connection, as a WSGI application sees them.

The names and formats follow Apache httpd's mod_ssl (``SSLOptions +StdEnvVars +ExportCertData``):
distinguished names in RFC 2253 form, serial numbers in upper-case hexadecimal, validity
dates as ``ASN1_TIME_print`` writes them, the client certificate in PEM.
"""

from typing import Any, Callable, Dict, Optional, Union

from M2Sec import X509, m2

__all__ = ["ssl_environ", "server_environ", "remote_user", "RemoteUser", "VERIFY_MODES"]

#: verify_client's values: no certificate asked; asked, and reported whatever it is; required
VERIFY_MODES = ("none", "optional", "required")

# X509_NAME_print_ex flags mod_ssl uses: RFC 2253 without escaping UTF-8 bytes
_DN_FLAGS = m2.XN_FLAG_RFC2253 & ~m2.ASN1_STRFLGS_ESC_MSB

# the DN components mod_ssl exports as SSL_CLIENT_S_DN_<short name>
_DN_PARTS = {"CN": "CN", "O": "O", "OU": "OU", "C": "C", "L": "L", "ST": "ST", "emailAddress": "Email",
             "UID": "UID"}

#: ``remote_user``: "cn" (the subject's common name), "email" (the first e-mail SAN, else the
#: subject's emailAddress), "dn" (the subject DN), or a callable(environ) -> str or None
RemoteUser = Union[None, str, Callable[[Dict[str, str]], Optional[str]]]


def _dn(name: X509.X509_Name) -> str:
    return name.as_text(flags=_DN_FLAGS)


def _cert_vars(prefix: str, cert: X509.X509, env: Dict[str, str]) -> None:
    subject, issuer = cert.get_subject(), cert.get_issuer()
    env[prefix + "_S_DN"] = _dn(subject)
    env[prefix + "_I_DN"] = _dn(issuer)
    env[prefix + "_M_VERSION"] = str(cert.get_version() + 1)
    env[prefix + "_M_SERIAL"] = "%X" % cert.get_serial_number()
    env[prefix + "_V_START"] = str(cert.get_not_before())
    env[prefix + "_V_END"] = str(cert.get_not_after())
    for attr, short in _DN_PARTS.items():
        for which, name in (("_S_DN_", subject), ("_I_DN_", issuer)):
            value = getattr(name, attr, None)
            if value:
                env[prefix + which + short] = value
    counts = {m2.GEN_EMAIL: 0, m2.GEN_DNS: 0}
    label = {m2.GEN_EMAIL: "Email", m2.GEN_DNS: "DNS"}
    for kind, value in cert.get_subject_alt_names():
        if kind in counts:
            env["%s_SAN_%s_%d" % (prefix, label[kind], counts[kind])] = value.decode("utf-8", "replace")
            counts[kind] += 1


def ssl_environ(conn: Any, server_vars: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """mod_ssl's variables for a connection whose handshake is done.

    :param conn: an :class:`M2Sec.SSL.Connection` (or anything with its ``get_*`` methods).
    :param server_vars: the SSL_SERVER_* variables, computed once per certificate.
    :returns: HTTPS, SSL_PROTOCOL, SSL_CIPHER (with its key sizes), SSL_TLS_SNI,
        SSL_SESSION_RESUMED, SSL_CLIENT_VERIFY (NONE, SUCCESS or FAILED:reason) and, when the
        client sent a certificate, SSL_CLIENT_S_DN, _I_DN, _M_SERIAL, _V_START, _V_END,
        _CERT (PEM), _SAN_Email_n, _SAN_DNS_n and the DN components (_S_DN_CN ...).
    """
    env = {"HTTPS": "on", "SSL_PROTOCOL": conn.get_version(),
           "SSL_SESSION_RESUMED": "Resumed" if conn.session_reused() else "Initial",
           "SSL_VERSION_LIBRARY": m2.OPENSSL_VERSION_TEXT}
    cipher = conn.get_cipher()
    if cipher is not None:
        env["SSL_CIPHER"] = cipher.name()
        bits = str(len(cipher))
        env["SSL_CIPHER_USEKEYSIZE"] = env["SSL_CIPHER_ALGKEYSIZE"] = bits
    sni = conn.get_servername()
    if sni:
        env["SSL_TLS_SNI"] = sni
    if server_vars:
        env.update(server_vars)
    cert = conn.get_peer_cert()
    if cert is None:
        env["SSL_CLIENT_VERIFY"] = "NONE"
        return env
    result = conn.get_verify_result()
    env["SSL_CLIENT_VERIFY"] = ("SUCCESS" if result == m2.X509_V_OK
                                else "FAILED:" + m2.x509_get_verify_error(result))
    _cert_vars("SSL_CLIENT", cert, env)
    env["SSL_CLIENT_CERT"] = cert.as_pem().decode("ascii")
    return env


def server_environ(cert: X509.X509) -> Dict[str, str]:
    """The SSL_SERVER_* variables of the server's certificate."""
    env: Dict[str, str] = {}
    _cert_vars("SSL_SERVER", cert, env)
    return env


def remote_user(env: Dict[str, str], how: RemoteUser) -> Optional[str]:
    """REMOTE_USER from a verified client certificate's variables, or None.

    :param how: "cn", "email", "dn" or a callable(environ) -> str or None.
    :raises ValueError: for another string.
    """
    if how is None or env.get("SSL_CLIENT_VERIFY") != "SUCCESS":
        return None
    if callable(how):
        return how(env)
    if how == "cn":
        return env.get("SSL_CLIENT_S_DN_CN")
    if how == "email":
        return env.get("SSL_CLIENT_SAN_Email_0") or env.get("SSL_CLIENT_S_DN_Email")
    if how == "dn":
        return env.get("SSL_CLIENT_S_DN")
    raise ValueError("remote_user must be 'cn', 'email', 'dn' or a callable, not %r" % (how,))
