"""``m2sec https serve package.module:app --cert ... --key ...``: serve a WSGI app over HTTPS."""

import argparse
import importlib
import logging
import sys
from typing import Any, List, Optional

from M2Sec.wsgi.environ import VERIFY_MODES


def load_app(spec: str, factory: bool = False) -> Any:
    """The object named by "package.module:attribute" (called with no arguments if factory).

    :raises ValueError: if spec has no ":" or the attribute is missing."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError("the application must be given as package.module:attribute, not %r" % spec)
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError("%s has no attribute %r" % (module, attr)) from None
    return obj() if factory else obj


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="m2sec https serve", description="Serve a WSGI application over HTTPS.")
    p.add_argument("app", help="package.module:app")
    p.add_argument("--factory", action="store_true", help="app is a factory: call it to get the application")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8443, help="0: any free port (printed on stderr)")
    p.add_argument("--cert", required=True, help="PEM certificate chain, leaf first")
    p.add_argument("--key", help="PEM private key (default: in --cert)")
    p.add_argument("--ca", help="PEM file of the CAs of client certificates")
    p.add_argument("--capath", help="hashed directory of the CAs of client certificates")
    p.add_argument("--crl", help="PEM file of CRLs for client certificates")
    p.add_argument("--ocsp-response", help="DER OCSP response file to staple (read again when it changes)")
    p.add_argument("--verify-client", choices=VERIFY_MODES, default="none")
    p.add_argument("--remote-user", choices=("cn", "email", "dn"), help="REMOTE_USER from the client certificate")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the socket (default 1)")
    p.add_argument("--threads", type=int, default=10, help="threads per process (default 10)")
    p.add_argument("--max-connections", type=int, default=1000)
    p.add_argument("--header-timeout", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=10.0, help="idle keep-alive and socket timeout")
    p.add_argument("--max-body-size", type=int, default=100 * 1024 * 1024)
    p.add_argument("--redirect-port", type=int, help="also answer plain HTTP there with a redirect")
    p.add_argument("--hsts", type=int, help="Strict-Transport-Security max-age in seconds")
    p.add_argument("--access-log", help="file for the common log format ('-': stderr)")
    return p


def serve_main(argv: List[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        from M2Sec.wsgi import serve
    except ImportError as exc:
        print("m2sec https serve: %s" % exc, file=sys.stderr)
        return 2

    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        app = load_app(args.app, args.factory)
    except (ValueError, ImportError) as exc:
        print("m2sec https serve: %s" % exc, file=sys.stderr)
        return 2
    opts = {k: v for k, v in vars(args).items() if k not in ("app", "factory") and v is not None}
    return serve(app, **opts)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "serve":
        print("usage: m2sec https serve package.module:app --cert CERT [--key KEY] ...", file=sys.stderr)
        return 2
    return serve_main(argv[1:])
