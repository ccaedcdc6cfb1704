"""An HTTPS server for WSGI applications (and Zope) on M2Sec's TLS.

cheroot (CherryPy's HTTP/1.1 server) parses HTTP; M2Sec does TLS through an adapter of
cheroot's SSL interface, hands the application mod_ssl's environ keys (HTTPS, SSL_PROTOCOL,
SSL_CLIENT_S_DN ...), and runs prefork workers that share the listening socket and the TLS
session-ticket keys.  Three ways in:

- ``M2Sec.wsgi.serve(app, host, port, cert=..., key=...)`` from Python;
- ``m2sec https serve package.module:app --cert ... --key ...`` on the command line;
- ``[server:main] use = egg:M2Sec#https`` in a PasteDeploy ini file (:func:`paste_server`).

Needs the ``https`` extra (``pip install 'M2Sec[https]'``: cheroot).
"""

from typing import TYPE_CHECKING, Any, Dict, Optional

if TYPE_CHECKING:  # what __getattr__ below loads on first use
    from M2Sec.wsgi._server import WSGIServer, listen_socket, redirect_app, serve  # noqa: F401
    from M2Sec.wsgi._tls import M2SecAdapter, server_context  # noqa: F401
    from M2Sec.wsgi.environ import remote_user, ssl_environ  # noqa: F401

import importlib

# the names below load on first use, so that M2Sec.wsgi.cli and .environ work without cheroot
_LAZY = {"serve": "_server", "WSGIServer": "_server", "listen_socket": "_server", "redirect_app": "_server",
         "M2SecAdapter": "_tls", "server_context": "_tls", "ssl_environ": "environ", "remote_user": "environ"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'M2Sec.wsgi' has no attribute %r" % name)
    try:
        value = getattr(importlib.import_module("M2Sec.wsgi." + module), name)
    except ImportError as exc:
        if exc.name != "cheroot" and not str(exc.name).startswith("cheroot."):
            raise
        raise ImportError("M2Sec.wsgi needs cheroot: pip install 'M2Sec[https]' (or pip install cheroot)") from exc
    globals()[name] = value
    return value


__all__ = ["serve", "paste_server", "server_context", "M2SecAdapter", "WSGIServer", "ssl_environ",
           "remote_user", "listen_socket", "redirect_app", "options_from_strings"]

# option name -> converter, for the ini file and the command line (all values arrive as text)
_INT = ("port", "workers", "threads", "max_connections", "backlog", "max_body_size", "max_header_size",
        "redirect_port", "hsts")
_FLOAT = ("timeout", "header_timeout", "handshake_timeout", "shutdown_timeout")
_STR = ("host", "cert", "key", "ca", "capath", "crl", "ocsp_response", "verify_client", "ciphers", "password",
        "redirect_host", "access_log", "remote_user")


def options_from_strings(conf: Dict[str, Any]) -> Dict[str, Any]:
    """serve()'s keyword arguments from text values (a PasteDeploy section, say).

    ``listen = host:port`` (waitress's spelling) is accepted for host and port; ``certfile``
    and ``keyfile`` for cert and key.  Empty values are left out.

    :raises ValueError: for an unknown option or a value of the wrong type.
    """
    conf = {k.replace("-", "_"): v for k, v in conf.items() if v is not None and str(v).strip() != ""}
    for alias, name in (("certfile", "cert"), ("keyfile", "key"), ("cafile", "ca")):
        if alias in conf:
            conf.setdefault(name, conf.pop(alias))
    listen = conf.pop("listen", None)
    if listen:
        host, _, port = str(listen).strip().rpartition(":")
        conf.setdefault("host", host.strip("[]") or "0.0.0.0")
        conf.setdefault("port", port)
    out: Dict[str, Any] = {}
    for key, value in conf.items():
        value = value.strip() if isinstance(value, str) else value
        if key in _INT:
            out[key] = int(value)
        elif key in _FLOAT:
            out[key] = float(value)
        elif key in _STR:
            out[key] = value
        else:
            raise ValueError("unknown option for M2Sec's HTTPS server: %r" % key)
    return out


def paste_server(app: Any, global_conf: Optional[Dict[str, Any]] = None, **local_conf: Any) -> int:
    """PasteDeploy's server runner (``use = egg:M2Sec#https``): serve app with the section's options.

    Options: host, port (or listen = host:port), cert, key, ca, capath, crl, verify_client,
    workers, threads, max_connections, timeout, header_timeout, max_body_size, redirect_port,
    hsts, access_log, remote_user ... (see :func:`serve`).
    """
    from M2Sec.wsgi._server import serve

    return serve(app, **options_from_strings(local_conf))
