"""Ready-made SSL callbacks (M2Crypto's ``SSL.cb``)."""

import sys
from typing import Any, List

from M2Sec import m2
from M2Sec.SSL import _state

__all__ = ["unknown_issuer", "ssl_verify_callback_stub", "ssl_verify_callback",
           "ssl_verify_callback_allow_unknown_ca", "ssl_info_callback"]

unknown_issuer: List[int] = [
    m2.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    m2.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    m2.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    m2.X509_V_ERR_CERT_UNTRUSTED,
]


def ssl_verify_callback_stub(ssl_ctx_ptr: Any, x509_ptr: Any, errnum: int, errdepth: int, ok: int) -> int:
    return ok


def ssl_verify_callback(ssl_ctx_ptr: Any, x509_ptr: Any, errnum: int, errdepth: int, ok: int) -> int:
    """The old-style callback: accepts an unknown issuer when the Context allows it
    (set_allow_unknown_ca) and enforces the Context's depth."""
    ssl_ctx = _state.contexts[int(ssl_ctx_ptr)]
    if errnum in unknown_issuer and ssl_ctx.get_allow_unknown_ca():
        sys.stderr.write("policy: %s: permitted...\n" % m2.x509_get_verify_error(errnum))
        sys.stderr.flush()
        ok = 1
    if ok:
        ok = 1 if ssl_ctx.get_verify_depth() >= errdepth else 0
    return ok


def ssl_verify_callback_allow_unknown_ca(ok: int, store: Any) -> int:
    """Accept a chain whose only fault is an unknown or untrusted issuer (unsafe)."""
    if store.get_error() in unknown_issuer:
        ok = 1
    return ok


def ssl_info_callback(where: int, ret: int, ssl_ptr: Any) -> None:
    """Print the handshake's progress and alerts on stderr (after OpenSSL's apps/s_cb.c)."""
    w = where & ~m2.SSL_ST_MASK
    state = "SSL connect" if w & m2.SSL_ST_CONNECT else "SSL accept" if w & m2.SSL_ST_ACCEPT else "SSL state unknown"
    if where & m2.SSL_CB_LOOP:
        sys.stderr.write("LOOP: %s: %s\n" % (state, m2.ssl_get_state_v(ssl_ptr)))
    elif where & m2.SSL_CB_EXIT:
        sys.stderr.write("%s: %s: %s\n" % ("INFO" if ret else "FAILED", state, m2.ssl_get_state_v(ssl_ptr)))
    elif where & m2.SSL_CB_ALERT:
        sys.stderr.write("ALERT: %s: %s: %s\n" % ("read" if where & m2.SSL_CB_READ else "write",
                                                  m2.ssl_get_alert_type_v(ret), m2.ssl_get_alert_desc_v(ret)))
    else:
        return
    sys.stderr.flush()
