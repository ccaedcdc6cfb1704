"""WSGI applications the server tests run (imported by the server process)."""

import json
import os
import time


def env_app(environ, start_response):
    """The TLS and request keys of the environ as JSON (and the serving process)."""
    keys = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int))}
    keys["pid"] = os.getpid()
    keys["wsgi.file_wrapper"] = "wsgi.file_wrapper" in environ
    body = json.dumps(keys, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def echo_app(environ, start_response):
    """The request body back (read through wsgi.input, bounded by Content-Length or chunking)."""
    data = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(data)))])
    return [data]


def big_app(environ, start_response):
    """A response of ?n bytes (default 64 KiB), sent through wsgi.file_wrapper from a file."""
    n = int(environ.get("QUERY_STRING") or 65536)
    path = os.environ.get("WSGI_TEST_BIGFILE")
    if path:
        f = open(path, "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return environ["wsgi.file_wrapper"](f, 65536)
    body = b"x" * n
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
    return [body]


def slow_app(environ, start_response):
    """Answers after ?seconds (default 1.5): for the graceful stop."""
    time.sleep(float(environ.get("QUERY_STRING") or 1.5))
    body = b"finished\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def dn_page(environ, start_response):
    """An HTML page showing SSL_CLIENT_S_DN (for the browser)."""
    dn = environ.get("SSL_CLIENT_S_DN", "(none)")
    body = ("<!doctype html><html><head><title>M2Sec</title></head><body><h1>M2Sec HTTPS</h1>"
            "<p id='dn'>SSL_CLIENT_S_DN=%s</p><p id='verify'>SSL_CLIENT_VERIFY=%s</p>"
            "<p id='proto'>%s</p></body></html>" % (dn, environ.get("SSL_CLIENT_VERIFY"),
                                                   environ.get("SSL_PROTOCOL"))).encode()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def hello(environ, start_response):
    body = b"Hello, world!\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def echo_app_or_hello(environ, start_response):
    """echo_app on /echo, hello elsewhere."""
    if environ["PATH_INFO"] == "/echo":
        return echo_app(environ, start_response)
    return hello(environ, start_response)
