"""SSH2 on M2Sec's own OpenSSL bindings.

The client: ``async with M2Sec.SSH.connect(host, username=..., client_keys=[...]) as conn``
(asyncio) or ``with M2Sec.SSH.Client(host, ...) as c`` (blocking).  Underneath: wire encoding
and packet framing (packet), the transport's cryptography (crypto), key exchange (kex), keys
and known_hosts (keys, knownhosts), user authentication (auth), channels (channel) and the
protocol core without I/O (connection); errors in errors.
"""

from M2Sec.SSH._asyncio import (SSHClientConnection, SSHClientProcess, SSHCompletedProcess, SSHListener,  # noqa: F401
                                SSHReader as SSHStreamReader, SSHWriter as SSHStreamWriter, connect)
from M2Sec.SSH._blocking import Client, Process  # noqa: F401
from M2Sec.SSH.errors import *  # noqa: F401,F403
from M2Sec.SSH.keys import (SSHCertificate, SSHKey, generate_private_key, load_certificate,  # noqa: F401
                            load_private_key, load_public_key)
from M2Sec.SSH.knownhosts import KnownHosts  # noqa: F401
