"""A client for ssh-agent (draft-miller-ssh-agent, as OpenSSH's ssh-agent speaks it).

The messages are built and read by functions without I/O (:func:`encode_sign_request`,
:func:`parse_identities`, :func:`parse_signature`, ...); two shells carry them over the
agent's UNIX socket: :class:`SSHAgentClient` on asyncio (asyncssh's names: ``get_keys``,
``sign``, ``add_keys``, ``remove_keys``, ``remove_all``) and :class:`Agent` for blocking code
(paramiko's name, with ``get_keys``).  The keys an agent holds come back as
:class:`SSHAgentKeyPair` objects: public keys whose signatures the agent makes.  The client's
user authentication asks for those signatures through an event (the protocol core never talks
to the agent itself): see :class:`M2Sec.SSH.connection.SignatureRequest`.
"""

import asyncio
import os
import socket
from typing import Any, List, Optional, Sequence, Tuple, Union

from M2Sec.SSH import keys as _keys
from M2Sec.SSH.errors import SSHError
from M2Sec.SSH.packet import SSHReader, byte, string, uint32

# Message numbers (draft-miller-ssh-agent section 6.1).
SSH_AGENT_FAILURE = 5
SSH_AGENT_SUCCESS = 6
SSH_AGENTC_REQUEST_IDENTITIES = 11
SSH_AGENT_IDENTITIES_ANSWER = 12
SSH_AGENTC_SIGN_REQUEST = 13
SSH_AGENT_SIGN_RESPONSE = 14
SSH_AGENTC_ADD_IDENTITY = 17
SSH_AGENTC_REMOVE_IDENTITY = 18
SSH_AGENTC_REMOVE_ALL_IDENTITIES = 19
SSH_AGENTC_ADD_ID_CONSTRAINED = 25
SSH_AGENT_CONSTRAIN_LIFETIME = 1
SSH_AGENT_CONSTRAIN_CONFIRM = 2
# Signature flags (section 6.4): which RSA signature the agent makes.
SSH_AGENT_RSA_SHA2_256 = 2
SSH_AGENT_RSA_SHA2_512 = 4
_RSA_FLAGS = {b"rsa-sha2-256": SSH_AGENT_RSA_SHA2_256, b"rsa-sha2-512": SSH_AGENT_RSA_SHA2_512}

#: the longest reply read from an agent (OpenSSH's agent refuses messages over 256 KiB)
MAX_MESSAGE = 256 * 1024
#: the most identities taken from one answer
MAX_IDENTITIES = 1024


class AgentError(SSHError):
    """The agent refused a request, sent a malformed reply, or could not be reached."""


# ---- messages without I/O -------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    """A message as sent on the socket: uint32 length, then the payload."""
    return uint32(len(payload)) + payload


def encode_request_identities() -> bytes:
    return byte(SSH_AGENTC_REQUEST_IDENTITIES)


def encode_sign_request(blob: bytes, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
    """A SIGN_REQUEST for the key with public blob ``blob``; ``algorithm`` chooses the RSA
    signature (rsa-sha2-256/512 flags; ``ssh-rsa`` or None: the agent's default)."""
    base = algorithm[:-len(_keys._CERT_SUFFIX)] if algorithm and algorithm.endswith(_keys._CERT_SUFFIX) \
        else algorithm
    return (byte(SSH_AGENTC_SIGN_REQUEST) + string(blob) + string(data)
            + uint32(_RSA_FLAGS.get(base or b"", 0)))


def encode_add_identity(key: _keys.SSHKey, comment: Optional[str] = None, *,
                        lifetime: Optional[int] = None, confirm: bool = False) -> bytes:
    """An ADD_IDENTITY (or ADD_ID_CONSTRAINED) message for a private key or certificate."""
    if not key.has_private:
        raise ValueError("the agent can only hold private keys")
    if isinstance(key, _keys.SSHCertificate):
        inner = key.key
        # a certificate: its blob, then the key's private fields without the public ones
        body = string(key.algorithm) + string(key.public_blob()) + _private_only(inner)
    else:
        body = string(key.algorithm) + key._private_fields()
    body += string(key.comment if comment is None else comment)
    constraints = b""
    if lifetime is not None:
        if not 0 < lifetime < 1 << 32:
            raise ValueError("lifetime is a number of seconds between 1 and 2**32 - 1")
        constraints += byte(SSH_AGENT_CONSTRAIN_LIFETIME) + uint32(lifetime)
    if confirm:
        constraints += byte(SSH_AGENT_CONSTRAIN_CONFIRM)
    kind = SSH_AGENTC_ADD_ID_CONSTRAINED if constraints else SSH_AGENTC_ADD_IDENTITY
    return byte(kind) + body + constraints


def _private_only(key: _keys.SSHKey) -> bytes:
    """The private fields of a key that follow a certificate blob in ADD_IDENTITY."""
    r = SSHReader(key._private_fields())
    if isinstance(key, _keys.Ed25519Key):
        return string(r.get_string()) + string(r.get_string())
    if isinstance(key, _keys.ECDSAKey):
        r.get_string(), r.get_string()
        return r.get_rest()
    # RSA: n and e are in the certificate; d, iqmp, p, q follow
    r.get_string(), r.get_string()
    return r.get_rest()


def encode_remove_identity(blob: bytes) -> bytes:
    return byte(SSH_AGENTC_REMOVE_IDENTITY) + string(blob)


def encode_remove_all() -> bytes:
    return byte(SSH_AGENTC_REMOVE_ALL_IDENTITIES)


def _reader(payload: bytes, expected: int, what: str) -> SSHReader:
    if not payload:
        raise AgentError("the agent sent an empty reply to %s" % what)
    if payload[0] == SSH_AGENT_FAILURE:
        raise AgentError("the agent refused to %s" % what)
    if payload[0] != expected:
        raise AgentError("the agent answered %s with message %d" % (what, payload[0]))
    return SSHReader(payload[1:])


def parse_identities(payload: bytes) -> List[Tuple[bytes, str]]:
    """The (public blob, comment) pairs of an IDENTITIES_ANSWER."""
    try:
        r = _reader(payload, SSH_AGENT_IDENTITIES_ANSWER, "list its keys")
        n = r.get_uint32()
        if n > MAX_IDENTITIES:
            raise AgentError("the agent claims %d keys (at most %d are read)" % (n, MAX_IDENTITIES))
        out = [(r.get_string(), r.get_string().decode("utf-8", "replace")) for _ in range(n)]
        r.done()
    except ValueError as e:
        raise AgentError("malformed key list from the agent: %s" % e) from None
    return out


def parse_signature(payload: bytes) -> bytes:
    """The signature blob of a SIGN_RESPONSE."""
    try:
        r = _reader(payload, SSH_AGENT_SIGN_RESPONSE, "sign")
        sig = r.get_string()
        r.done()
        inner = SSHReader(sig)
        inner.get_string(), inner.get_string()
        inner.done()
    except ValueError as e:
        raise AgentError("malformed signature from the agent: %s" % e) from None
    return sig


def parse_status(payload: bytes, what: str) -> None:
    """SUCCESS, or AgentError for FAILURE or anything else."""
    _reader(payload, SSH_AGENT_SUCCESS, what).done()


def _length(header: bytes) -> int:
    n = int.from_bytes(header, "big")
    if n == 0 or n > MAX_MESSAGE:
        raise AgentError("the agent sent a message of %d bytes" % n)
    return n


# ---- keys held by an agent ------------------------------------------------------------------


class SSHAgentKeyPair:
    """A key an agent holds: its public half, a comment, and signatures made by the agent.

    In authentication the client asks the agent through its front end; :meth:`sign` is the
    blocking call for code outside a connection.
    """

    #: marks a key whose signatures come from outside the protocol core
    external_signer = True

    def __init__(self, agent: Union["SSHAgentClient", "Agent"], blob: bytes, comment: str) -> None:
        self._agent = agent
        self._blob = blob
        self.public_key = _keys.decode_public_blob(blob)
        self.comment = comment
        self.algorithm = self.public_key.algorithm
        self.sig_algorithms = list(self.public_key.sig_algorithms)
        self.has_private = True

    def public_blob(self) -> bytes:
        return self._blob

    def fingerprint(self, hash: str = "sha256") -> str:
        return self.public_key.fingerprint(hash)

    def sign(self, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
        """A signature blob of data made by the agent (blocking).

        :raises AgentError: the key came from the asyncio :class:`SSHAgentClient`: use :meth:`sign_async`.
        """
        agent = self._agent
        if isinstance(agent, SSHAgentClient):
            raise AgentError("a key listed by the asyncio agent client signs with sign_async()")
        return agent.sign(self._blob, data, algorithm)

    async def sign_async(self, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
        """The same, without blocking an event loop."""
        agent = self._agent
        if isinstance(agent, SSHAgentClient):
            return await agent.sign(self._blob, data, algorithm)
        return await asyncio.get_running_loop().run_in_executor(None, agent.sign, self._blob, data, algorithm)

    def __repr__(self) -> str:
        return "<SSHAgentKeyPair %s %s %s>" % (self.algorithm.decode(), self.fingerprint(), self.comment)


def _keys_to_add(keys: Sequence[Any], passphrase: Any) -> List[_keys.SSHKey]:
    out = []
    for k in keys:
        if isinstance(k, (str, os.PathLike)):
            k = _keys.load_private_key(os.path.expanduser(os.fspath(k)), passphrase)
        out.append(k)
    return out


def _blob_of(key: Union[bytes, bytearray, _keys.SSHKey, SSHAgentKeyPair]) -> bytes:
    return bytes(key) if isinstance(key, (bytes, bytearray)) else key.public_blob()


def default_agent_path() -> Optional[str]:
    """``$SSH_AUTH_SOCK``, or None when it is not set."""
    return os.environ.get("SSH_AUTH_SOCK") or None


# ---- the asyncio client ---------------------------------------------------------------------


class SSHAgentClient:
    """An ssh-agent connection on asyncio (asyncssh's name); made by :func:`connect_agent`.

    Requests are served one at a time, in order, as the protocol requires.
    """

    def __init__(self, path: str, timeout: Optional[float] = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._lock: Optional[asyncio.Lock] = None

    async def _request(self, payload: bytes) -> bytes:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange(payload), self.timeout)
            except asyncio.TimeoutError:
                self.close()
                raise AgentError("the agent at %s did not answer within %s seconds" % (self.path, self.timeout)) \
                    from None
            except (OSError, asyncio.IncompleteReadError) as e:
                self.close()
                raise AgentError("the agent at %s went away: %s" % (self.path, e)) from None

    async def _exchange(self, payload: bytes) -> bytes:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_unix_connection(self.path)
        assert self._reader is not None
        self._writer.write(frame(payload))
        await self._writer.drain()
        n = _length(await self._reader.readexactly(4))
        return await self._reader.readexactly(n)

    async def get_keys(self) -> List[SSHAgentKeyPair]:
        """The keys the agent holds, as :class:`SSHAgentKeyPair` objects (keys of types
        M2Sec cannot read are left out)."""
        out = []
        for blob, comment in parse_identities(await self._request(encode_request_identities())):
            try:
                out.append(SSHAgentKeyPair(self, blob, comment))
            except (ValueError, SSHError):
                continue
        return out

    async def sign(self, blob: bytes, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
        """The agent's signature blob of data with the key whose public blob is given."""
        return parse_signature(await self._request(encode_sign_request(blob, data, algorithm)))

    async def add_keys(self, keys: Sequence[Any] = (), passphrase: Any = None, *,
                       lifetime: Optional[int] = None, confirm: bool = False) -> None:
        """Add private keys (SSHKey objects, certificates with their key, or paths)."""
        for key in _keys_to_add(keys, passphrase):
            parse_status(await self._request(encode_add_identity(key, lifetime=lifetime, confirm=confirm)),
                         "add a key")

    async def remove_keys(self, keys: Sequence[Any]) -> None:
        """Remove keys (key objects or public blobs)."""
        for key in keys:
            parse_status(await self._request(encode_remove_identity(_blob_of(key))), "remove a key")

    async def remove_all(self) -> None:
        parse_status(await self._request(encode_remove_all()), "remove all keys")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def wait_closed(self) -> None:
        pass

    async def __aenter__(self) -> "SSHAgentClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


async def connect_agent(agent_path: Optional[str] = None) -> Optional[SSHAgentClient]:
    """An agent client for agent_path (default ``$SSH_AUTH_SOCK``), or None when there is
    no agent to reach (as asyncssh's connect_agent)."""
    path = agent_path or default_agent_path()
    if not path:
        return None
    client = SSHAgentClient(path)
    try:
        await client._request(encode_request_identities())
    except AgentError:
        return None
    return client


# ---- the blocking client --------------------------------------------------------------------


class Agent:
    """A blocking ssh-agent client (paramiko's name): ``Agent().get_keys()``.

    :param path: the agent's socket (default ``$SSH_AUTH_SOCK``).
    :raises AgentError: from calls, when no agent can be reached.
    """

    def __init__(self, path: Optional[str] = None, timeout: Optional[float] = 30.0) -> None:
        self.path = path or default_agent_path()
        self.timeout = timeout
        self._sock: Optional[socket.socket] = None

    def _request(self, payload: bytes) -> bytes:
        if not self.path:
            raise AgentError("no agent: SSH_AUTH_SOCK is not set")
        try:
            if self._sock is None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(self.timeout)
                try:
                    s.connect(self.path)
                except OSError:
                    s.close()
                    raise
                self._sock = s
            self._sock.sendall(frame(payload))
            n = _length(self._recv(4))
            return self._recv(n)
        except OSError as e:
            self.close()
            raise AgentError("the agent at %s cannot be used: %s" % (self.path, e)) from None

    def _recv(self, n: int) -> bytes:
        assert self._sock is not None
        parts, got = [], 0
        while got < n:
            chunk = self._sock.recv(n - got)
            if not chunk:
                raise AgentError("the agent closed the connection in a reply")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def get_keys(self) -> List[SSHAgentKeyPair]:
        out = []
        for blob, comment in parse_identities(self._request(encode_request_identities())):
            try:
                out.append(SSHAgentKeyPair(self, blob, comment))
            except (ValueError, SSHError):
                continue
        return out

    def sign(self, blob: bytes, data: bytes, algorithm: Optional[bytes] = None) -> bytes:
        return parse_signature(self._request(encode_sign_request(blob, data, algorithm)))

    def add_keys(self, keys: Sequence[Any] = (), passphrase: Any = None, *,
                 lifetime: Optional[int] = None, confirm: bool = False) -> None:
        for key in _keys_to_add(keys, passphrase):
            parse_status(self._request(encode_add_identity(key, lifetime=lifetime, confirm=confirm)), "add a key")

    def remove_keys(self, keys: Sequence[Union[bytes, Any]]) -> None:
        for key in keys:
            parse_status(self._request(encode_remove_identity(_blob_of(key))), "remove a key")

    def remove_all(self) -> None:
        parse_status(self._request(encode_remove_all()), "remove all keys")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
