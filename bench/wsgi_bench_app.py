"""The WSGI application every HTTPS server of bench/wsgi.py serves: hello, or 64 KiB on /big."""

HELLO = b"Hello, world!\n"
BIG = b"x" * 65536


def app(environ, start_response):
    body = BIG if environ.get("PATH_INFO") == "/big" else HELLO
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
