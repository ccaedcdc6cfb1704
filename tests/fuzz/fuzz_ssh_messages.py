"""SSH message decoders: the client and server protocol cores (M2Sec.SSH.connection, server)
fed a version line and plaintext packets built from the input, and the message table of each
state (kex, service and, from there, auth; open) given payloads directly.  The cores turn every fault into a
DisconnectError subclass (ProtocolError, KeyExchangeFailed, ...)."""
from _harness import main, split

from M2Sec.SSH import keys
from M2Sec.SSH.connection import ClientConfig, ClientConnection
from M2Sec.SSH.errors import DisconnectError, SSHFormatError
from M2Sec.SSH.packet import byte, uint32
from M2Sec.SSH.server import ServerConfig, ServerConnection

EXPECTED = (DisconnectError, SSHFormatError)
HOST_KEY = keys.generate_private_key("ssh-ed25519")
# The states a test may put a core in without the objects a real exchange makes first
# (auth state needs the authentication object SERVICE_ACCEPT creates: reached through service).
STATES = ("kex", "service", "open", "open")


def frame(payload: bytes) -> bytes:
    """One plaintext binary packet (RFC 4253 section 6) around payload."""
    pad = 8 - (5 + len(payload)) % 8
    if pad < 4:
        pad += 8
    return uint32(1 + len(payload) + pad) + byte(pad) + payload + bytes(pad)


def _connection(server: bool):
    if server:
        return ServerConnection(ServerConfig(server_host_keys=[HOST_KEY]), now=0.0)
    return ClientConnection(ClientConfig(username="fuzz", password="pw", host_key_check=lambda key: None), now=0.0)


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, data = data[0], data[1:]
    conn = _connection(bool(mode & 1))
    payloads = [p for p in split(data, 16) if p]
    if mode & 2:  # through receive(): the version line and framing included
        conn.receive(b"SSH-2.0-fuzz\r\n" + b"".join(frame(p) for p in payloads))
        return
    conn.state = STATES[(mode >> 2) & 3]
    for p in payloads:
        try:
            conn._dispatch(p)
        except SSHFormatError:
            break  # receive() turns this into ProtocolError and closes: nothing more is read
        if conn.state == "closed":
            break
        conn.data_to_send()


if __name__ == "__main__":
    main(one_input, EXPECTED)
