"""XML-RPC over M2Sec's HTTPS (M2Crypto's m2xmlrpclib).

``ServerProxy("https://host:port/RPC2", transport=SSL_Transport(ctx))`` calls an XML-RPC
server through :class:`httpslib.HTTPSConnection`.  Without a context the transport verifies
(``SSL.create_default_context()``).  The module re-exports xmlrpc.client.
"""

import base64
import re
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union
from urllib.parse import unquote_to_bytes
from xmlrpc.client import *  # noqa: F401,F403
from xmlrpc.client import ProtocolError, Transport

from M2Sec import SSL, __version__, httpslib
from M2Sec import m2urllib2  # noqa: F401  (part of M2Crypto's m2xmlrpclib namespace)

if TYPE_CHECKING:
    from _typeshed import SizedBuffer

# M2Crypto's type aliases for the transport's arguments
HostType = Union[str, Tuple[str, Dict[str, str]]]
Marshallable = Any
SizedBufferType = Union[bytes, bytearray]


class SSL_Transport(Transport):
    """An xmlrpc.client transport over M2Sec's TLS; one connection per request.

    :param ssl_context: the :class:`SSL.Context`; ``SSL.create_default_context()`` if omitted
    :raises TypeError: (also an AssertionError, as M2Crypto raised) for anything but a Context
    """

    user_agent = "M2Sec_XMLRPC/%s - %s" % (__version__, Transport.user_agent)

    def __init__(self, ssl_context: Optional["SSL.Context"] = None, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ssl_ctx = httpslib.context_or_default(ssl_context)

    @staticmethod
    def splituser(host: str) -> Tuple[Optional[str], str]:
        """``'user[:passwd]@host[:port]'`` -> ``('user[:passwd]', 'host[:port]')``; None without user."""
        match = re.match(r"^(.*)@(.*)$", host)
        return (match.group(1), match.group(2)) if match else (None, host)

    @staticmethod
    def splitport(host: str) -> Tuple[str, Optional[str]]:
        """``'host:port'`` -> ``('host', 'port')``; port None if absent."""
        match = re.match(r"^(.*):([0-9]*)$", host)
        if match and match.group(2):
            return match.group(1), match.group(2)
        return (match.group(1) if match else host), None

    def request(self, host: HostType, handler: str, request_body: "SizedBuffer", verbose: int = 0) -> Any:
        """POST request_body to https://host/handler and return the parsed response.

        :raises ProtocolError: for an HTTP status other than 200
        :raises SSL.SSLError: the handshake or the certificate verification failed
        :raises xmlrpc.client.Fault: the server answered with a fault
        """
        if isinstance(host, tuple):  # xmlrpc.client's (host, x509) form
            host = host[0]
        user_passwd, host_port = self.splituser(host)
        hostname, port = self.splitport(host_port)
        h = httpslib.HTTPSConnection(hostname, int(port) if port else None, ssl_context=self.ssl_ctx)
        try:
            if verbose:
                h.set_debuglevel(1)
            h.putrequest("POST", handler)
            h.putheader("User-Agent", self.user_agent)
            h.putheader("Content-Type", "text/xml")
            h.putheader("Content-Length", str(len(request_body)))
            if user_passwd is not None:
                creds = user_passwd if isinstance(user_passwd, bytes) else unquote_to_bytes(user_passwd)
                h.putheader("Authorization", "Basic " + base64.b64encode(creds).decode("ascii"))
            for name, value in self._extra_headers:
                h.putheader(name, value)
            h.endheaders()
            if request_body:
                h.send(request_body)
            response = h.getresponse()
            if response.status != 200:
                raise ProtocolError(host_port + handler, response.status, response.reason,
                                    dict(response.getheaders()))
            self.verbose = verbose
            return self.parse_response(response)
        finally:
            h.close()
