"""Call every public method of a closed or freed SSL object; run in a child interpreter by
test_ssl_misuse.py (a crash there fails the test instead of ending the suite).

``python -c "import misuse_sweep; misuse_sweep.main(kind, certdir)"`` prints one JSON line
per call: the method, the outcome (``ok`` or the exception's class names) and whether
OpenSSL's error queue was left non-empty.
"""

import inspect
import json
import os
import socket
from typing import Any, Dict, Tuple

from M2Sec import SSL, m2
from ssl_helpers import memory_handshake

CTX_PTR = object()  # stands for a live context's SSL_CTX in ARGS

#: arguments for the methods that need some (a method missing here fails the sweep)
ARGS: Dict[str, Tuple[Any, ...]] = {
    "read": (10,), "recv": (10,), "write": (b"x",), "send": (b"x",), "sendall": (b"x",),
    "recv_into": (bytearray(4),), "readinto": (bytearray(4),), "read_into": (bytearray(4),),
    "receive_into": (b"x", bytearray(4)),
    "receive_bytes": (b"\x16\x03\x01\x00\x01\x00",), "set_session": ("SESSION",), "shutdown": (0,),
    "set_shutdown": (0,), "set_cipher_list": ("ALL",), "set_ciphersuites": ("TLS_AES_128_GCM_SHA256",),
    "set_groups": ("P-256",), "set_alpn_protocols": (["h2"],), "set_session_id_ctx": (b"x",),
    "set_tlsext_host_name": ("x",), "set1_host": ("x",), "ssl_get_error": (1,),
    "export_keying_material": ("x", 10), "get_cipher_list": (0,), "setblocking": (0,), "settimeout": (1.0,),
    "setup_addr": (("127.0.0.1", 1),), "set_ssl_close_flag": (m2.bio_noclose,),
    "set_client_CA_list_from_file": ("{certdir}/root.pem",), "set_post_connection_check_callback": (None,),
    "connect": (("127.0.0.1", 1),), "bind": (("127.0.0.1", 0),), "getsockopt": (socket.SOL_SOCKET, socket.SO_TYPE),
    "setsockopt": (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1), "set_bio": ("BIO", "BIO"),
    "set_socket_read_timeout": (SSL.timeout(),), "set_socket_write_timeout": (SSL.timeout(),),
    "_setup_ssl": (("127.0.0.1", 1),), "m2_bio_free": None, "m2_ssl_free": None, "m2_ssl_ctx_free": None,
    "clientPostConnectionCheck": None, "serverPostConnectionCheck": None,
    # Context
    "load_cert": ("{certdir}/server.pem", "{certdir}/server.key"), "load_cert_chain": ("{certdir}/server.pem",),
    "load_client_CA": ("{certdir}/root.pem",), "load_client_ca": ("{certdir}/root.pem",),
    "set_client_CA_list_from_file_ctx": ("{certdir}/root.pem",), "load_verify_info": ("{certdir}/root.pem",),
    "load_verify_locations": ("{certdir}/root.pem",), "add_session": ("SESSION",), "remove_session": ("SESSION",),
    "clear_options": (0,), "set_options": (0,), "set_mode": (0,), "set_allow_unknown_ca": (1,),
    "set_keylog_callback": (None,), "set_keylog_filename": (None,), "set_min_proto_version": ("TLSv1.2",),
    "set_max_proto_version": ("TLSv1.3",), "set_servername_callback": (None,), "set_session_cache_mode": (0,),
    "set_session_cache_size": (10,), "set_session_timeout": (10,), "set_sigalgs": ("ECDSA+SHA256",),
    "set_tmp_dh": ("{certdir}/none.pem",), "set_tmp_ecdh": ("P-256",), "set_tmp_rsa": (None,),
    "set_verify": (SSL.verify_peer, 5), "set_verify_depth": (5,), "set_verify_flags": (0,),
    "use_certificate": ("CERT", "KEY"), "set_alpn_required": (True,), "set_info_callback": (None,),
    "set_session_tickets": (False,),
    "set_ocsp_staple": (None,),  # OCSP stapling
    "set_psk_client_callback": (None,), "set_psk_server_callback": (None,), "set_post_handshake_auth": (True,),
    # Session
    "write_bio": ("BIO",), "set_time": (1,), "set_timeout": (1,),
}

#: calls left out: those that block, listen or accept, and the private helpers
SKIP = {"listen", "accept", "makefile"}


def _args(name: str, certdir: str, live: Dict[str, Any]) -> Tuple[Any, ...]:
    out = []
    for a in ARGS.get(name, ()):
        if isinstance(a, str) and a in live:
            a = live[a]
        elif isinstance(a, str):
            a = a.format(certdir=certdir)
        out.append(a)
    return tuple(out)


def _objects(kind: str, certdir: str) -> Tuple[Any, Dict[str, Any]]:
    from M2Sec import BIO, EVP, X509

    ctx = SSL.Context()
    ctx.load_cert(os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key"))
    live = {"BIO": BIO.MemoryBuffer(), "CERT": X509.load_cert(os.path.join(certdir, "server.pem")),
            "KEY": EVP.load_key(os.path.join(certdir, "server.key"))}
    # a real session: a handshake between two sans-I/O objects
    cl, sv = SSL.SSLObject(SSL.Context()), SSL.SSLObject(ctx, server_side=True)
    memory_handshake(cl, sv)
    live["SESSION"] = cl.get_session()
    if kind == "closed-connection":
        obj = SSL.Connection(ctx)
        obj.close()
    elif kind == "freed-connection":
        obj = SSL.Connection(ctx)
        obj.free()
    elif kind == "closed-context":
        obj = SSL.Context()
        obj.close()
    elif kind == "freed-session":
        obj = cl.get_session()
        obj.free()
    elif kind == "closed-sslobject":
        obj = SSL.SSLObject(ctx, server_side=True)
        obj.close()
    else:
        raise ValueError(kind)
    return obj, live


def main(kind: str, certdir: str) -> None:
    obj, live = _objects(kind, certdir)
    for name in sorted(dir(type(obj))):
        if name.startswith("_") or name in SKIP:
            continue
        static = inspect.getattr_static(obj, name)
        if isinstance(static, property) or not callable(getattr(obj, name)):
            continue
        if name.startswith("m2_") and isinstance(static, staticmethod):
            continue  # M2Crypto's free functions (m2_ssl_session_free) take a pointer, not obj
        if name in ARGS and ARGS[name] is None:
            continue
        fn = getattr(obj, name)
        required = [p for p in inspect.signature(fn).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        args = _args(name, certdir, live)
        if len(required) > len(args):
            outcome = "NO-ARGS"
        else:
            try:
                fn(*args)
                outcome = "ok"
            except Exception as exc:
                outcome = " ".join(c.__name__ for c in type(exc).__mro__)
        queue = m2.err_peek_error()
        m2.err_clear_error()
        print(json.dumps({"call": name, "outcome": outcome, "queue": queue}), flush=True)
    for again in ("close", "free", "close"):  # twice and more: nothing happens
        if hasattr(obj, again):
            getattr(obj, again)()
    print(json.dumps({"call": "<end>", "outcome": "ok", "queue": m2.err_peek_error()}), flush=True)
