"""Many connections, good and failing, keep file descriptors, OpenSSL objects and memory flat."""

import gc
import os

import pytest

from M2Sec import SSL
from M2Sec.SSL.Context import ctxmap
from ssl_helpers import pki  # noqa: F401  (the fixture)
from ssl_helpers import m2server

pytestmark = pytest.mark.timeout(120)

ROUNDS = int(os.environ.get("M2SEC_SSL_LEAK_ROUNDS", "2000"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def live_connections() -> int:
    """Connections and SSLObjects the garbage collector still tracks."""
    return sum(isinstance(o, (SSL.Connection, SSL.SSLObject)) for o in gc.get_objects())


def echo_once(conn):
    data = conn.read()
    if data:
        conn.write(data)


def one(ctx, port, i):
    c = SSL.Connection(ctx)
    c.settimeout(10)
    if i % 10 == 9:  # a failing handshake now and then: the wrong host name
        c.set1_host("wrong.example")
        try:
            c.connect(("127.0.0.1", port))
        except SSL.HostnameMismatchError:
            pass
        else:
            raise AssertionError("the wrong host name was accepted")
        finally:
            c.close()
        return
    c.connect(("localhost", port))
    c.write(b"x")
    assert c.read() == b"x"
    c.close()


def test_connections_keep_fds_and_memory_flat(pki, rss):
    cctx = pki.client_ctx()
    sctx = pki.server_ctx()
    sctx.set_session_cache_mode(0)  # no server cache growing with every connection
    with m2server(sctx, echo_once) as srv:
        for i in range(ROUNDS // 10):  # warm up: allocator pools, caches, lazy imports
            one(cctx, srv.port, i)
        gc.collect()
        fd0, mem0, objs0 = fds(), rss(), live_connections()
        for i in range(ROUNDS):
            one(cctx, srv.port, i)
        gc.collect()
        fd1, mem1, objs1 = fds(), rss(), live_connections()
    assert not srv.errors or all(isinstance(e, SSL.SSLError) for e in srv.errors)
    assert fd1 <= fd0 + 2, (fd0, fd1)
    assert objs1 <= objs0, (objs0, objs1)
    assert mem1 - mem0 < 4 * 1024 * 1024, "resident memory grew by %d bytes" % (mem1 - mem0)
    assert len(ctxmap()) < 50


def test_sslobjects_and_contexts_are_freed(pki, rss):
    gc.collect()
    n0 = len(ctxmap())
    for _ in range(200):
        ctx = pki.client_ctx()
        ctx.set_alpn_protocols(["h2"])
        ctx.set_verify(SSL.verify_peer, 9, lambda ok, store: ok)
        obj = SSL.SSLObject(ctx, server_hostname="localhost")
        obj.close()
        del ctx, obj
    gc.collect()
    assert len(ctxmap()) <= n0 + 1
