"""The SSH protocol core: bytes in, events and bytes out, no I/O.  :class:`Connection` is
what the client and the server (server.py) share; :class:`ClientConnection` is the client.

Theory of operation
-------------------
A connection is a state machine fed with what the socket delivered
(:meth:`~Connection.receive`) and asked for what to write
(:meth:`~Connection.data_to_send`).  It never reads a clock: the front end passes the
time to :meth:`~Connection.tick` (for rekeying by time) and enforces timeouts itself.

States (``self.state``), in the order a connection goes through them::

    version  -> the version line is sent; waiting for the server's (lines before it are kept)
    kex      -> the first key exchange: KEXINIT both ways, the method's messages, NEWKEYS
    service  -> SERVICE_REQUEST "ssh-userauth" sent, waiting for SERVICE_ACCEPT
    auth     -> user authentication (auth.py) until USERAUTH_SUCCESS
    open     -> the connection protocol: channels, global requests
    closed   -> DISCONNECT sent or received, or a fault; nothing more is read or written

Which messages each state accepts is the ``_ACCEPTS`` table; which method handles a message
is the ``_HANDLERS`` table, keyed by message number.  A message a state does not accept ends
the connection with a ProtocolError saying the peer broke the rules (``local=False``);
faults this side detects in its own use raise with ``local=True``.

Key exchange runs inside any state from ``kex`` on: either side may start one (a KEXINIT
received, or :meth:`rekey`, or the byte and time limits).  While this side's KEXINIT is out
and its NEWKEYS is not, outgoing packets that are not transport or key-exchange messages are
held back in ``_held`` and sent after NEWKEYS, under the new keys.  Once the server's KEXINIT
has arrived, only key-exchange and transport messages may come from it until its NEWKEYS.

Strict key exchange (OpenSSH's ``kex-strict-*-v00``, the Terrapin fix) applies when both sides
list it in the first KEXINIT: the server's KEXINIT must then be its first packet, no other
message (not even IGNORE) may come during the first exchange, and both sequence numbers go
back to zero at each NEWKEYS.  ext-info-c is offered in the first KEXINIT; the server's
EXT_INFO (server-sig-algs) is taken after NEWKEYS and before authentication ends.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Deque, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple, Union

from M2Sec.SSH import auth as _auth
from M2Sec.SSH.auth import ClientAuth
from M2Sec.SSH import channel as ch
from M2Sec.SSH import crypto, kex
from M2Sec.SSH import messages as _msg
from M2Sec.SSH.errors import (BY_APPLICATION, PROTOCOL_ERROR, ConnectionLost, DisconnectError,
                              HostKeyNotVerifiable, KeyExchangeFailed, ProtocolError, SSHFormatError, SSHKeyError)
from M2Sec.SSH.packet import (PacketReader, PacketWriter, SSHReader, boolean, byte, namelist, string,
                              uint32)

from M2Sec.SSH.messages import TRANSITIONS, State  # noqa: F401 (State: the front ends' too)
from M2Sec.SSH.messages import (KEX_METHOD_MESSAGES, MSG_DEBUG, MSG_DISCONNECT, MSG_EXT_INFO,  # noqa: F401
                                MSG_IGNORE, MSG_KEXINIT, MSG_NEWKEYS, MSG_SERVICE_ACCEPT, MSG_SERVICE_REQUEST,
                                MSG_UNIMPLEMENTED, MSG_USERAUTH_BANNER, MSG_USERAUTH_FAILURE,
                                MSG_USERAUTH_INFO_REQUEST, MSG_USERAUTH_SUCCESS, CONNECTION_MESSAGES)

VERSION = b"SSH-2.0-M2Sec_1.0"

STRICT_C = b"kex-strict-c-v00@openssh.com"
STRICT_S = b"kex-strict-s-v00@openssh.com"
EXT_INFO_C = b"ext-info-c"

#: OpenSSH's preference orders, legacy algorithms left out (callers may list them).
DEFAULT_HOST_KEY_ALGS = [
    b"ssh-ed25519-cert-v01@openssh.com", b"ecdsa-sha2-nistp256-cert-v01@openssh.com",
    b"ecdsa-sha2-nistp384-cert-v01@openssh.com", b"ecdsa-sha2-nistp521-cert-v01@openssh.com",
    b"rsa-sha2-512-cert-v01@openssh.com", b"rsa-sha2-256-cert-v01@openssh.com",
    b"ssh-ed25519", b"ecdsa-sha2-nistp256", b"ecdsa-sha2-nistp384", b"ecdsa-sha2-nistp521",
    b"rsa-sha2-512", b"rsa-sha2-256",
]
SUPPORTED_HOST_KEY_ALGS = DEFAULT_HOST_KEY_ALGS + [b"ssh-rsa", b"ssh-rsa-cert-v01@openssh.com"]
DEFAULT_CIPHERS = [b"chacha20-poly1305@openssh.com", b"aes128-ctr", b"aes192-ctr", b"aes256-ctr",
                   b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com"]
SUPPORTED_CIPHERS = DEFAULT_CIPHERS + [b"aes128-cbc", b"aes192-cbc", b"aes256-cbc"]
DEFAULT_MACS = [b"hmac-sha2-256-etm@openssh.com", b"hmac-sha2-512-etm@openssh.com",
                b"hmac-sha1-etm@openssh.com", b"hmac-sha2-256", b"hmac-sha2-512", b"hmac-sha1"]
SUPPORTED_MACS = list(DEFAULT_MACS)
DEFAULT_COMPRESSION = [b"none", b"zlib@openssh.com"]
SUPPORTED_COMPRESSION = [b"none", b"zlib@openssh.com", b"zlib"]

_CERT = b"-cert-v01@openssh.com"

# ---- events --------------------------------------------------------------------------------


class _AwaitingVerdict(Exception):
    """Internal: the first key exchange waits for the application's host key verdict."""


@dataclass
class Event:
    """Something the core reports to its front end."""


@dataclass
class Authenticated(Event):
    method: bytes


@dataclass
class Banner(Event):
    text: str


@dataclass
class ChannelOpened(Event):
    channel: ch.Channel


@dataclass
class ChannelOpenRequest(Event):
    """The peer asks to open a channel of a kind this side accepts; answer with
    :meth:`~Connection.accept_channel` or :meth:`~Connection.reject_channel`."""
    channel: ch.Channel
    extra: bytes


@dataclass
class ChannelOpenFailed(Event):
    channel: ch.Channel
    code: int
    reason: str


@dataclass
class ChannelData(Event):
    channel: ch.Channel
    data: bytes
    ext: int = 0


@dataclass
class ChannelWindow(Event):
    """The peer opened its window: more may be sent."""
    channel: ch.Channel


@dataclass
class ChannelEOF(Event):
    channel: ch.Channel


@dataclass
class ChannelClosed(Event):
    channel: ch.Channel


@dataclass
class ChannelRequest(Event):
    """A request from the server on a channel (exit-status, exit-signal, ...)."""
    channel: ch.Channel
    request: bytes
    data: bytes


@dataclass
class ChannelReply(Event):
    """The answer to one of our want-reply requests, in order."""
    channel: ch.Channel
    request: bytes
    success: bool


@dataclass
class GlobalReply(Event):
    success: bool
    data: bytes


@dataclass
class SignatureRequest(Event):
    """User authentication needs a signature from a key outside the core (an agent's):
    answer with :meth:`ClientConnection.signature_done`."""

    key: Any
    data: bytes
    algorithm: bytes


@dataclass
class KbdIntPrompt(Event):
    """keyboard-interactive prompts for the application: answer with
    :meth:`ClientConnection.decision_done` (a list of answers, one per prompt)."""

    name: str
    instruction: str
    prompts: List[Tuple[str, bool]]


@dataclass
class PasswordChangePrompt(Event):
    """The server asks for a new password: answer with :meth:`ClientConnection.decision_done`
    (the new password, or None to try other methods)."""

    prompt: str


@dataclass
class HostKeyCheck(Event):
    """The server's host key (its signature already verified) waits for the application's
    verdict: answer with :meth:`ClientConnection.host_key_checked`; nothing more is read from
    the server until then."""

    key: Any


@dataclass
class HostKeysAnnounced(Event):
    """The server listed all its host keys (hostkeys-00@openssh.com, OpenSSH's PROTOCOL 2.5):
    a client may ask it to prove them (:meth:`ClientConnection.hostkeys_prove_request`) and
    learn the ones known_hosts lacks."""

    blobs: List[bytes]


HOSTKEYS = b"hostkeys-00@openssh.com"
HOSTKEYS_PROVE = b"hostkeys-prove-00@openssh.com"


@dataclass
class KexComplete(Event):
    kex: bytes
    cipher_out: bytes
    cipher_in: bytes


# ---- configuration -------------------------------------------------------------------------


def _names(value: Optional[Sequence[Union[str, bytes]]], default: List[bytes], supported: List[bytes],
           what: str) -> List[bytes]:
    if value is None:
        return list(default)
    if isinstance(value, (str, bytes)):
        value = [value]
    out = [v.encode("ascii") if isinstance(v, str) else bytes(v) for v in value]
    for v in out:
        if v not in supported:
            raise ValueError("unsupported %s algorithm: %s" % (what, v.decode(errors="replace")))
    if not out:
        raise ValueError("no %s algorithm given" % what)
    return out


#: a host key callback: raises HostKeyNotVerifiable to refuse the key, or gives an awaitable
#: that does (the asyncio front end awaits it)
HostKeyCallback = Callable[[Any], Optional[Awaitable[None]]]


@dataclass
class ClientConfig:
    """What a client connection needs to know; algorithm lists default to OpenSSH's order."""

    username: str
    host: str = ""
    port: int = 22
    password: Optional[str] = None
    client_keys: Sequence[Any] = ()
    kbdint: Optional[_auth.KbdIntHandler] = None
    password_change: Optional[_auth.PasswordChangeHandler] = None
    #: callback(key) -> None, raising HostKeyNotVerifiable to refuse the server's host key.
    host_key_check: Optional[HostKeyCallback] = None
    kex_algs: Optional[Sequence[Union[str, bytes]]] = None
    encryption_algs: Optional[Sequence[Union[str, bytes]]] = None
    mac_algs: Optional[Sequence[Union[str, bytes]]] = None
    server_host_key_algs: Optional[Sequence[Union[str, bytes]]] = None
    compression_algs: Optional[Sequence[Union[str, bytes]]] = None
    rekey_bytes: int = 1 << 30
    rekey_seconds: float = 3600.0
    client_version: bytes = VERSION
    #: authentication methods in the order to try them (default: auth.METHODS)
    preferred_auth: Optional[Sequence[bytes]] = None
    algorithms: Dict[str, List[bytes]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.algorithms = {
            "kex": _names(self.kex_algs, kex.DEFAULT_KEX, kex.SUPPORTED_KEX, "key exchange"),
            "host_key": _names(self.server_host_key_algs, DEFAULT_HOST_KEY_ALGS, SUPPORTED_HOST_KEY_ALGS,
                               "host key"),
            "cipher": _names(self.encryption_algs, DEFAULT_CIPHERS, SUPPORTED_CIPHERS, "encryption"),
            "mac": _names(self.mac_algs, DEFAULT_MACS, SUPPORTED_MACS, "MAC"),
            "compression": _names(self.compression_algs, DEFAULT_COMPRESSION, SUPPORTED_COMPRESSION,
                                  "compression"),
        }


# ---- KEXINIT --------------------------------------------------------------------------------


def _choose(client: List[bytes], server: List[bytes], what: str) -> bytes:
    """RFC 4253 section 7.1: the first of the client's names that the server lists too."""
    for name in client:
        if name in server:
            return name
    raise KeyExchangeFailed("no common %s algorithm (the server offers %s)"
                            % (what, b",".join(server).decode(errors="replace")), local=True)


@dataclass
class _KexState:
    """One key exchange in progress."""

    ours: bytes                       # our KEXINIT payload
    theirs: bytes = b""               # the server's, once received
    method: Optional[kex.KexMethod] = None
    chosen: Dict[str, bytes] = field(default_factory=dict)
    newkeys_sent: bool = False
    newkeys_received: bool = False
    ignore_next: bool = False         # the server guessed wrong (first_kex_packet_follows)
    pending_in: Any = None            # the Opener waiting for the server's NEWKEYS
    pending_decompress: Any = None


class Connection:
    """What the client and server protocol cores share (see the module's docstring): the byte
    interface, the transport, key exchange and the connection protocol.

    A role is a subclass (:class:`ClientConnection` below, ``ServerConnection`` in server.py)
    that supplies the role hooks, the peer's name and strict-kex marker, the key letters, and
    the message tables: ``_HANDLERS`` extending this class's, and ``_ACCEPTS``.
    """

    _PEER: str
    _PEER_STRICT: bytes
    _LETTERS_OUT: Tuple[bytes, bytes, bytes]
    _LETTERS_IN: Tuple[bytes, bytes, bytes]
    _ACCEPTS: Dict[str, FrozenSet[int]]

    def __init__(self, config: Any, *, now: float = 0.0) -> None:
        self.config = config
        self.state = State.VERSION
        self.session_id = b""
        self.host_key: Any = None
        self.strict = False
        self.negotiated: Dict[str, bytes] = {}
        self._out: List[bytes] = []
        self._held: Deque[bytes] = deque()
        self._events: List[Event] = []
        self._writer = PacketWriter(crypto.PlainSealer(), crypto.random_bytes)
        self._reader = PacketReader(crypto.PlainOpener())
        self._kex: Optional[_KexState] = None
        self._held_kex: Optional[_KexState] = None  # a key exchange waiting for a host key verdict
        self._kex_count = 0
        self._last_kex = now  # the front end's monotonic clock, also given to tick()
        #: the front end's wall clock (time.time()), set before receive(): certificate and
        #: authorized_keys expiry are checked against it
        self.wall_time = 0.0
        self._now = self._last_kex
        self._channels: Dict[int, ch.Channel] = {}
        self._next_channel = 0
        self._global_replies: Deque[Any] = deque()
        self._delayed_compression: Optional[Tuple[bool, bool]] = None
        self.error: Optional[DisconnectError] = None
        #: channel kinds the peer may open (the front end adds forwarded-tcpip when it forwards)
        self.channel_open_kinds: Set[bytes] = set()
        self._out.append(self._local_version() + b"\r\n")
        self._send_kexinit()

    def _set_state(self, new: State) -> None:
        """Move to state new along :data:`~M2Sec.SSH.messages.TRANSITIONS` (a bug otherwise)."""
        if new not in TRANSITIONS[self.state]:
            raise ProtocolError("internal error: state %s cannot follow %s" % (new, self.state), local=True)
        self.state = new

    # ---- role hooks -------------------------------------------------------------------------

    def _local_version(self) -> bytes:
        """Our version line."""
        raise NotImplementedError

    def _peer_version(self, line: bytes) -> None:
        """The peer's version line arrived."""
        raise NotImplementedError

    def _kexinit_names(self) -> Tuple[List[bytes], List[bytes]]:
        """The key exchange and host key names of our KEXINIT."""
        raise NotImplementedError

    def _negotiate(self, lists: List[List[bytes]]) -> Dict[str, bytes]:
        """The algorithms chosen from the peer's KEXINIT name-lists (RFC 4253 section 7.1)."""
        raise NotImplementedError

    def _make_kex(self, k: _KexState) -> kex.KexMethod:
        """This side of the chosen key exchange method."""
        raise NotImplementedError

    def _check_host_key(self, m: kex.KexMethod, alg: bytes) -> None:
        """The exchange is complete: check (client) or name (server) the host key, as host_key."""
        raise NotImplementedError

    def _first_kex_done(self) -> None:
        """The first key exchange is over: on to the service request."""
        raise NotImplementedError

    def _refuse_channel(self, kind: bytes) -> Optional[Tuple[int, str]]:
        """(reason code, text) to refuse a CHANNEL_OPEN of kind at once, or None to ask the
        front end (a ChannelOpenRequest event)."""
        raise NotImplementedError

    # ---- the byte interface -------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, in order (empty when nothing is)."""
        if not self._out:
            return b""
        out = b"".join(self._out) if len(self._out) > 1 else self._out[0]
        self._out = []
        return out

    def receive(self, data: bytes) -> List[Event]:
        """Feed bytes from the peer; the events they produced.

        An empty ``data`` means the peer closed the connection.

        :raises DisconnectError: (a subclass) when the connection ends: the peer sent
            DISCONNECT, broke the protocol, or closed mid-exchange.  A DISCONNECT for the peer
            is then queued in :meth:`data_to_send` where the protocol asks for one.
        """
        if self.state == "closed":
            if self.error is not None:
                raise self.error
            return []
        if not data:
            self._fail(ConnectionLost("the " + self._PEER + " closed the connection%s"
                                      % ("" if self.state == "open" else " during " + self.state),
                                      local=False), send=False)
        reader = self._reader
        reader.feed(data)
        try:
            if self.state == "version":
                line = reader.read_version()
                if line is None:
                    return self._take_events()
                self._peer_version(line)
                self._set_state(State.KEX)
            self._read_packets()
        except _AwaitingVerdict:
            pass  # host_key_checked() goes on
        except (DisconnectError, SSHFormatError) as e:
            self._fail_with(e)
        self._maybe_rekey()
        return self._take_events()

    def _fail_with(self, e: Union[DisconnectError, SSHFormatError]) -> None:
        """End the connection for a DisconnectError, or a malformed message (ProtocolError)."""
        self._fail(ProtocolError("malformed message: %s" % e, local=False) if isinstance(e, SSHFormatError) else e)

    def _read_packets(self) -> None:
        """Dispatch the packets buffered so far (none while a host key verdict is awaited)."""
        reader = self._reader
        while self.state != "closed" and self._held_kex is None:
            payload = reader.read_packet()
            if payload is None:
                break
            self._dispatch(payload)

    def tick(self, now: float) -> None:
        """Tell the core the time (seconds, monotonic): starts a rekey when rekey_seconds passed."""
        self._now = now
        self._maybe_rekey()

    def _take_events(self) -> List[Event]:
        ev, self._events = self._events, []
        return ev

    def _fail(self, err: DisconnectError, send: bool = True) -> None:
        if self.state != "closed":
            if send:
                self._send_disconnect(err.code, err.reason)
            self._set_state(State.CLOSED)
            self.error = err
        raise err

    def _send_disconnect(self, code: int, reason: str) -> None:
        try:
            self._out.append(self._writer.write(byte(MSG_DISCONNECT) + uint32(code) + string(reason)
                                                + string(b"")))
        except Exception:  # the keys may be what failed; the socket closes anyway
            pass

    def disconnect(self, code: int = BY_APPLICATION, reason: str = "closed by the application") -> None:
        """Queue DISCONNECT and close; later receive() calls return nothing."""
        if self.state != "closed":
            self._send_disconnect(code, reason)
            self._set_state(State.CLOSED)
            self.error = DisconnectError(code, reason, local=True)

    # ---- sending ------------------------------------------------------------------------

    def _send(self, payload: bytes) -> None:
        """Frame and queue one payload, or hold it during a key exchange (see the docstring)."""
        if self.state == "closed":
            raise self.error or ConnectionLost("the connection is closed")
        k = self._kex
        if k is not None and not k.newkeys_sent and payload[0] not in _ALLOWED_IN_KEX:
            self._held.append(payload)
            return
        self._out.append(self._writer.write(payload))

    def _send_parts(self, header: bytes, data: memoryview) -> None:
        """Queue a channel data message from its header and data (one copy less)."""
        k = self._kex
        if k is not None and not k.newkeys_sent:
            self._held.append(header + data)
            return
        self._out.append(self._writer.write(header, data))

    def _flush_held(self) -> None:
        held, self._held = self._held, deque()
        for p in held:
            self._out.append(self._writer.write(p))

    # ---- dispatch -------------------------------------------------------------------------

    def _dispatch(self, payload: bytes) -> None:
        msg = payload[0]
        k = self._kex
        if k is not None:
            if k.ignore_next and msg in KEX_METHOD_MESSAGES:
                k.ignore_next = False
                return
            if self.strict and self._kex_count == 0 and msg not in (MSG_KEXINIT, MSG_NEWKEYS, MSG_DISCONNECT) \
                    and not msg in KEX_METHOD_MESSAGES:
                raise ProtocolError("message %d during a strict key exchange" % msg, local=False)
            if k.theirs and not k.newkeys_received and not (msg in _TRANSPORT or msg == MSG_NEWKEYS
                                                             or msg in KEX_METHOD_MESSAGES):
                raise ProtocolError("message %d inside the %s's key exchange" % (msg, self._PEER), local=False)
        if msg not in _TRANSPORT and msg not in self._ACCEPTS[self.state]:
            if msg not in self._HANDLERS:
                # RFC 4253 section 11.4: an unknown message gets UNIMPLEMENTED, not a disconnect
                self._send(byte(MSG_UNIMPLEMENTED) + uint32((self._reader.seq - 1) & 0xFFFFFFFF))
                return
            raise ProtocolError("message %d in state %s" % (msg, self.state), local=False)
        handler = self._HANDLERS.get(msg)
        if handler is None:
            self._send(byte(MSG_UNIMPLEMENTED) + uint32((self._reader.seq - 1) & 0xFFFFFFFF))
            return
        handler(self, payload)

    # ---- transport messages ---------------------------------------------------------------

    def _on_disconnect(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        code = r.get_uint32()
        reason = r.get_text() if r.remaining() else ""
        err = DisconnectError(code, reason or "disconnected by the " + self._PEER, local=False)
        self._set_state(State.CLOSED)
        self.error = err
        raise err

    def _on_ignore(self, payload: bytes) -> None:
        pass

    def _on_unimplemented(self, payload: bytes) -> None:
        pass

    def _on_debug(self, payload: bytes) -> None:
        pass

    # ---- key exchange -----------------------------------------------------------------------

    def _send_kexinit(self) -> None:
        a = self.config.algorithms
        kex_names, host_keys = self._kexinit_names()
        payload = (byte(MSG_KEXINIT) + crypto.random_bytes(16) + namelist(kex_names) + namelist(host_keys)
                   + namelist(a["cipher"]) * 2 + namelist(a["mac"]) * 2 + namelist(a["compression"]) * 2
                   + namelist([]) * 2 + boolean(False) + uint32(0))
        self._kex = _KexState(payload)
        self._out.append(self._writer.write(payload))

    def rekey(self) -> None:
        """Start a key exchange now (if none is running)."""
        if self._kex is None and self.state not in ("closed", "version"):
            self._send_kexinit()

    def _maybe_rekey(self) -> None:
        if self._kex is not None or self.state not in ("service", "auth", "open"):
            return
        c = self.config
        if (self._writer.bytes_out + self._reader.bytes_in >= c.rekey_bytes
                or self._now - self._last_kex >= c.rekey_seconds):
            self._send_kexinit()

    def _on_kexinit(self, payload: bytes) -> None:
        if self._kex is None:
            self._send_kexinit()
        k = self._kex
        assert k is not None
        if k.theirs:
            raise ProtocolError("a second KEXINIT during key exchange", local=False)
        k.theirs = payload
        r = SSHReader(payload[1:])
        r.get_bytes(16)
        lists = [r.get_namelist() for _ in range(10)]
        follows = r.get_boolean()
        r.get_uint32()
        first = self._kex_count == 0
        if first:
            self.strict = self._PEER_STRICT in lists[0]
            if self.strict and self._reader.seq != 1:
                raise ProtocolError("strict key exchange: KEXINIT was not the peer's first packet", local=False)
        chosen = self._negotiate(lists)
        for d in ("out", "in"):
            if crypto.CIPHERS[chosen["cipher_" + d]].kind in ("gcm", "chachapoly"):
                chosen["mac_" + d] = b"none"
        if follows and (lists[0][:1] != [chosen["kex"]] or lists[1][:1] != [chosen["host_key"]]):
            k.ignore_next = True
        k.chosen = chosen
        k.method = self._make_kex(k)
        for p in k.method.start():
            self._out.append(self._writer.write(p))

    def _on_kex_message(self, payload: bytes) -> None:
        k = self._kex
        if k is None or k.method is None or k.method.done:
            raise ProtocolError("key exchange message %d outside a key exchange" % payload[0], local=False)
        for p in k.method.handle(payload[0], payload):
            self._out.append(self._writer.write(p))
        if k.method.done:
            self._kex_done(k)

    def _kex_done(self, k: _KexState) -> None:
        assert k.method is not None
        self._check_host_key(k.method, k.chosen["host_key"])  # a client may wait for a verdict here
        self._kex_continue(k)

    def _kex_continue(self, k: _KexState) -> None:
        m = k.method
        assert m is not None
        if not self.session_id:
            self.session_id = m.h
        k_mpint = m.k_encoded  # K as the method encodes it (mpint, or string for the KEM hybrids)
        h, sid, hname = m.h, self.session_id, m.hash_name

        def derive(letter: bytes, n: int) -> bytes:
            return crypto.derive_key(hname, k_mpint, h, letter, sid, n)

        c = k.chosen
        sealer = crypto.make_protection(True, c["cipher_out"], c["mac_out"], derive, self._LETTERS_OUT)
        k.pending_in = crypto.make_protection(False, c["cipher_in"], c["mac_in"], derive, self._LETTERS_IN)
        self._out.append(self._writer.write(byte(MSG_NEWKEYS)))
        self._writer.set_keys(sealer)
        if self.strict:
            self._writer.seq = 0
        self._set_compression(True, c["comp_out"])
        k.newkeys_sent = True
        self._newkeys_sent(k)
        self._flush_held()
        self._kex_maybe_finished()

    def _on_newkeys(self, payload: bytes) -> None:
        k = self._kex
        if k is None or k.pending_in is None:
            raise ProtocolError("NEWKEYS before the key exchange finished", local=False)
        self._reader.set_keys(k.pending_in)
        if self.strict:
            self._reader.seq = 0
        self._set_compression(False, k.chosen["comp_in"])
        k.newkeys_received = True
        self._kex_maybe_finished()

    def _kex_maybe_finished(self) -> None:
        k = self._kex
        if k is None or not (k.newkeys_sent and k.newkeys_received):
            return
        self._kex = None
        self._kex_count += 1
        self._last_kex = self._now
        self.negotiated = dict(k.chosen)
        self._events.append(KexComplete(k.chosen["kex"], k.chosen["cipher_out"], k.chosen["cipher_in"]))
        if self.state == "kex":
            self._first_kex_done()

    def _newkeys_sent(self, k: _KexState) -> None:
        """Our NEWKEYS is out and the new keys are on: the server sends EXT_INFO here."""

    def _set_compression(self, outgoing: bool, name: bytes) -> None:
        from M2Sec.SSH.packet import Compressor, Decompressor
        if name == b"none":
            return
        if name == b"zlib@openssh.com" and self.state != "open":
            d = self._delayed_compression or (False, False)
            self._delayed_compression = (d[0] or outgoing, d[1] or not outgoing)
            return
        if outgoing:
            self._writer.compress = Compressor()
        else:
            self._reader.decompress = Decompressor()

    # ---- authentication ---------------------------------------------------------------------

    def _start_delayed_compression(self) -> None:
        """zlib@openssh.com starts once authentication succeeded."""
        if self._delayed_compression:
            from M2Sec.SSH.packet import Compressor, Decompressor
            out, inc = self._delayed_compression
            if out:
                self._writer.compress = Compressor()
            if inc:
                self._reader.decompress = Decompressor()

    # ---- the connection protocol --------------------------------------------------------------

    def open_channel(self, kind: bytes, extra: bytes = b"", *, window: int = ch.WINDOW,
                     max_packet: int = ch.MAX_PACKET) -> ch.Channel:
        """Open a channel of kind (``session``, ``direct-tcpip`` with its extra data); a
        ChannelOpened or ChannelOpenFailed event follows."""
        if self.state != "open":
            raise ConnectionLost("the connection is not open (%s)" % self.state, local=True)
        c = ch.Channel(self._next_channel, kind, window, max_packet)
        self._next_channel += 1
        self._channels[c.local_id] = c
        self._send(c.open_message(extra))
        return c

    def send_data(self, c: ch.Channel, data: Union[bytes, memoryview], ext: int = 0) -> int:
        """Send as much of data as the peer's window allows; how many bytes went."""
        if not c.can_send():
            raise ProtocolError("channel %d cannot send (closed or EOF sent)" % c.local_id, local=True)
        n = c.take_window(len(data))
        if n:
            for header, chunk in c.data_messages(memoryview(data)[:n], ext):
                self._send_parts(header, chunk)
            self._maybe_rekey()  # an upload alone reaches rekey_bytes too
        return n

    def send_eof(self, c: ch.Channel) -> None:
        if c.state == "open" and not c.eof_sent and not c.close_sent:
            self._send(c.eof_message())

    def close_channel(self, c: ch.Channel) -> None:
        if c.state == "open" and not c.close_sent:
            self._send(c.close_message())
            self._maybe_forget(c)

    def channel_request(self, c: ch.Channel, request: bytes, data: bytes = b"", want_reply: bool = True) -> None:
        """Send a channel request; with want_reply a ChannelReply event answers it."""
        if c.state != "open" or c.close_sent:
            raise ProtocolError("channel %d is not open" % c.local_id, local=True)
        if want_reply:
            c.pending_replies.append(request)
        self._send(c.request_message(request, want_reply, data))

    def consumed(self, c: ch.Channel, n: int) -> None:
        """The application used n bytes of c's data: the window opens again as it does."""
        msg = c.consumed(n)
        if msg is not None:
            self._send(msg)

    def global_request(self, name: bytes, data: bytes = b"", want_reply: bool = True) -> None:
        if want_reply:
            self._global_replies.append(name)
        self._send(byte(_msg.MSG_GLOBAL_REQUEST) + string(name) + boolean(want_reply) + data)

    def _channel(self, r: SSHReader) -> ch.Channel:
        cid = r.get_uint32()
        c = self._channels.get(cid)
        if c is None:
            raise ProtocolError("message for unknown channel %d" % cid, local=False)
        return c

    def _read_channel_request(self, payload: bytes) -> Tuple[ch.Channel, bytes, bool, bytes]:
        """A CHANNEL_REQUEST's channel, request type, want-reply and data (RFC 4254 section 5.4)."""
        r = SSHReader(payload[1:])
        return self._channel(r), r.get_string(), r.get_boolean(), r.get_rest()

    def _on_global_reply(self, payload: bytes) -> None:
        if not self._global_replies:
            raise ProtocolError("a global request reply nobody asked for", local=False)
        self._global_replies.popleft()
        self._events.append(GlobalReply(payload[0] == _msg.MSG_REQUEST_SUCCESS, payload[1:]))

    def _on_channel_open(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        kind = r.get_string()
        sender, window, max_packet = r.get_uint32(), r.get_uint32(), r.get_uint32()
        extra = r.get_rest()
        refusal = self._refuse_channel(kind)
        if refusal is not None:
            self._send(byte(_msg.MSG_CHANNEL_OPEN_FAILURE) + uint32(sender) + uint32(refusal[0])
                       + string(refusal[1]) + string(b""))
            return
        c = ch.Channel(self._next_channel, kind)
        self._next_channel += 1
        c.remote_id = sender
        c.pending_open = (sender, window, max_packet)
        self._channels[c.local_id] = c
        self._events.append(ChannelOpenRequest(c, extra))

    def accept_channel(self, c: ch.Channel) -> None:
        """Confirm a channel the peer asked to open (a ChannelOpenRequest)."""
        c.confirmed(*c.pending_open)
        self._send(byte(_msg.MSG_CHANNEL_OPEN_CONFIRMATION) + uint32(c.remote_id) + uint32(c.local_id)
                   + uint32(c.local_window) + uint32(c.local_max_packet))

    def reject_channel(self, c: ch.Channel, code: int = ch.OPEN_ADMINISTRATIVELY_PROHIBITED,
                       reason: str = "refused") -> None:
        """Refuse a channel the peer asked to open."""
        c.state = "failed"
        self._channels.pop(c.local_id, None)
        self._send(byte(_msg.MSG_CHANNEL_OPEN_FAILURE) + uint32(c.remote_id) + uint32(code) + string(reason)
                   + string(b""))

    def _on_open_confirmation(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        c = self._channel(r)
        if c.state != "opening":
            raise ProtocolError("channel %d confirmed twice" % c.local_id, local=False)
        c.confirmed(r.get_uint32(), r.get_uint32(), r.get_uint32())
        self._events.append(ChannelOpened(c))

    def _on_open_failure(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        c = self._channel(r)
        if c.state != "opening":
            raise ProtocolError("channel %d refused after it opened" % c.local_id, local=False)
        code = r.get_uint32()
        reason = r.get_text()
        c.state = "failed"
        del self._channels[c.local_id]
        self._events.append(ChannelOpenFailed(c, code, reason))

    def _on_window_adjust(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        c = self._channel(r)
        c.remote_window = min(c.remote_window + r.get_uint32(), 0xFFFFFFFF)
        self._events.append(ChannelWindow(c))

    def _on_data(self, payload: bytes) -> None:
        # The hot path: parsed by hand rather than through SSHReader.
        if len(payload) < 9:
            raise ProtocolError("truncated channel data", local=False)
        c = self._channels.get(int.from_bytes(payload[1:5], "big"))
        if c is None or c.state != "open":
            raise ProtocolError("data for a channel that is not open", local=False)
        n = int.from_bytes(payload[5:9], "big")
        if n != len(payload) - 9:
            raise ProtocolError("channel data length mismatch", local=False)
        self._data_in(c, payload[9:], 0)

    def _data_in(self, c: ch.Channel, data: bytes, ext: int) -> None:
        if c.eof_received or c.close_received:
            raise ProtocolError("channel data after EOF", local=False)
        if not c.received(len(data)) or len(data) > c.local_max_packet:
            raise ProtocolError("the %s overran channel %d's window or packet size" % (self._PEER, c.local_id),
                                local=False)
        self._events.append(ChannelData(c, data, ext))

    def _on_extended_data(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        c = self._channel(r)
        ext = r.get_uint32()
        data = r.get_string()
        r.done()
        self._data_in(c, data, ext)

    def _on_eof(self, payload: bytes) -> None:
        c = self._channel(SSHReader(payload[1:]))
        c.eof_received = True
        self._events.append(ChannelEOF(c))

    def _on_close(self, payload: bytes) -> None:
        c = self._channel(SSHReader(payload[1:]))
        if c.close_received:
            raise ProtocolError("channel %d closed twice" % c.local_id, local=False)
        c.close_received = True
        if not c.close_sent:
            self._send(c.close_message())
        self._maybe_forget(c)
        self._events.append(ChannelClosed(c))

    def _maybe_forget(self, c: ch.Channel) -> None:
        if c.close_sent and c.close_received:
            c.state = "closed"
            self._channels.pop(c.local_id, None)

    def _on_channel_reply(self, payload: bytes) -> None:
        c = self._channel(SSHReader(payload[1:]))
        if not c.pending_replies:
            raise ProtocolError("a channel request reply nobody asked for", local=False)
        request = c.pending_replies.popleft()
        self._events.append(ChannelReply(c, request, payload[0] == _msg.MSG_CHANNEL_SUCCESS))

    # ---- the tables -----------------------------------------------------------------------------

    # The messages both roles handle; each role's _HANDLERS adds its own.
    # (a handler is a plain function of the class that defines it: its self is that class,
    # which a Callable type cannot name for every subclass at once)
    _HANDLERS: Dict[int, Callable[[Any, bytes], None]] = {
        MSG_DISCONNECT: _on_disconnect,
        MSG_IGNORE: _on_ignore,
        MSG_UNIMPLEMENTED: _on_unimplemented,
        MSG_DEBUG: _on_debug,
        MSG_KEXINIT: _on_kexinit,
        MSG_NEWKEYS: _on_newkeys,
        **dict.fromkeys(range(30, 50), _on_kex_message),
        _msg.MSG_REQUEST_SUCCESS: _on_global_reply,
        _msg.MSG_REQUEST_FAILURE: _on_global_reply,
        _msg.MSG_CHANNEL_OPEN: _on_channel_open,
        _msg.MSG_CHANNEL_OPEN_CONFIRMATION: _on_open_confirmation,
        _msg.MSG_CHANNEL_OPEN_FAILURE: _on_open_failure,
        _msg.MSG_CHANNEL_WINDOW_ADJUST: _on_window_adjust,
        _msg.MSG_CHANNEL_DATA: _on_data,
        _msg.MSG_CHANNEL_EXTENDED_DATA: _on_extended_data,
        _msg.MSG_CHANNEL_EOF: _on_eof,
        _msg.MSG_CHANNEL_CLOSE: _on_close,
        _msg.MSG_CHANNEL_SUCCESS: _on_channel_reply,
        _msg.MSG_CHANNEL_FAILURE: _on_channel_reply,
    }

    _KEX_MSGS = frozenset([MSG_KEXINIT, MSG_NEWKEYS, *KEX_METHOD_MESSAGES])


class ClientConnection(Connection):
    """The client protocol core (see the module's docstring)."""

    _PEER = "server"
    _PEER_STRICT = STRICT_S
    _LETTERS_OUT = (b"A", b"C", b"E")
    _LETTERS_IN = (b"B", b"D", b"F")
    config: ClientConfig
    _auth: Optional[ClientAuth] = None  # during authentication

    def __init__(self, config: ClientConfig, *, now: float = 0.0) -> None:
        self.server_version = b""
        self.server_sig_algs: Optional[List[bytes]] = None
        self._sig_announced: Any = None
        super().__init__(config, now=now)

    def _local_version(self) -> bytes:
        return self.config.client_version

    def _peer_version(self, line: bytes) -> None:
        self.server_version = line

    # ---- transport and key exchange -----------------------------------------------------------

    def _on_ext_info(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        for _ in range(min(r.get_uint32(), 64)):
            name, value = r.get_string(), r.get_string()
            if name == b"server-sig-algs":
                self.server_sig_algs = [v for v in value.split(b",") if v]

    def _on_service_accept(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        if r.get_string() != b"ssh-userauth":
            raise ProtocolError("the server accepted another service", local=False)
        self._set_state(State.AUTH)
        c = self.config
        self._auth = _auth.ClientAuth(c.username, self.session_id, password=c.password, keys=c.client_keys,
                                      kbdint=c.kbdint, password_change=c.password_change,
                                      server_sig_algs=lambda: self.server_sig_algs,
                                      methods=c.preferred_auth or _auth.METHODS)
        for p in self._auth.start():
            self._send(p)

    def _kexinit_names(self) -> Tuple[List[bytes], List[bytes]]:
        a = self.config.algorithms
        kex_names = list(a["kex"])
        if self._kex_count == 0 and self.state in ("version", "kex"):
            kex_names += [EXT_INFO_C, STRICT_C]
        return kex_names, a["host_key"]

    def _negotiate(self, lists: List[List[bytes]]) -> Dict[str, bytes]:
        a = self.config.algorithms
        return {
            "kex": _choose(a["kex"], lists[0], "key exchange"),
            "host_key": _choose(a["host_key"], lists[1], "host key"),
            "cipher_out": _choose(a["cipher"], lists[2], "client-to-server cipher"),
            "cipher_in": _choose(a["cipher"], lists[3], "server-to-client cipher"),
            "mac_out": _choose(a["mac"], lists[4], "client-to-server MAC"),
            "mac_in": _choose(a["mac"], lists[5], "server-to-client MAC"),
            "comp_out": _choose(a["compression"], lists[6], "client-to-server compression"),
            "comp_in": _choose(a["compression"], lists[7], "server-to-client compression"),
        }

    def _make_kex(self, k: _KexState) -> kex.KexMethod:
        prefix = (string(self.config.client_version) + string(self.server_version) + string(k.ours)
                  + string(k.theirs))
        return kex.make_kex(k.chosen["kex"], prefix)

    def _first_kex_done(self) -> None:
        self._set_state(State.SERVICE)
        self._send(byte(MSG_SERVICE_REQUEST) + string(b"ssh-userauth"))

    def _check_host_key(self, m: kex.KexMethod, alg: bytes) -> None:
        from M2Sec.SSH import keys
        try:
            key = keys.decode_public_blob(m.host_key)
        except (ValueError, SSHKeyError) as e:
            raise KeyExchangeFailed("the server's host key cannot be read: %s" % e, local=False) from None
        base = alg[:-len(_CERT)] if alg.endswith(_CERT) else alg
        key_alg = key.algorithm
        if alg.endswith(_CERT) != key_alg.endswith(_CERT) or base not in _host_key_sig_algs(key):
            raise KeyExchangeFailed("the server sent a %s key for %s" % (key_alg.decode(), alg.decode()), local=False)
        sig_name = SSHReader(m.signature).get_string()
        if sig_name != base:
            raise KeyExchangeFailed("the server signed with %s, not %s" % (sig_name.decode(errors="replace"),
                                                                         base.decode()), local=False)
        if not key.verify(m.h, m.signature):
            raise HostKeyNotVerifiable("the server's signature over the exchange hash does not verify",
                                       local=False)
        if self.host_key is not None and self.host_key.public_blob() != key.public_blob():
            raise HostKeyNotVerifiable("the server's host key changed during a rekey", local=False)
        if self.host_key is None and self.config.host_key_check is not None:
            self._held_kex = self._kex
            self._verdict_key = key
            self._events.append(HostKeyCheck(key))
            raise _AwaitingVerdict()
        self.host_key = key

    def host_key_checked(self, error: Optional[BaseException] = None) -> List[Event]:
        """The application's verdict on :class:`HostKeyCheck`'s key: accepted (error None)
        or refused with error (a DisconnectError, HostKeyNotVerifiable as a rule); the key
        exchange then goes on (or the connection ends) and the events that follow.

        :raises DisconnectError: when refused (the connection is then closed).
        """
        k, self._held_kex = self._held_kex, None
        if k is None or self.state == State.CLOSED:
            raise ValueError("no host key check is pending")
        try:
            if error is not None:
                raise error if isinstance(error, DisconnectError) else \
                    HostKeyNotVerifiable(str(error) or type(error).__name__, local=True)
            self.host_key = self._verdict_key
            self._kex_continue(k)
            self._read_packets()
        except (DisconnectError, SSHFormatError) as e:
            self._fail_with(e)
        self._maybe_rekey()
        return self._take_events()

    # ---- authentication ---------------------------------------------------------------------

    def _on_userauth(self, payload: bytes) -> None:
        a = self._auth
        assert a is not None
        for p in a.handle(payload[0], payload):
            self._send(p)
        self._auth_progress(a)

    def decision_done(self, value: Any) -> List[Event]:
        """Answer the pending :class:`SignatureRequest` (the signature blob, or None when the
        key could not sign), :class:`KbdIntPrompt` (the answers) or :class:`PasswordChangePrompt`
        (the new password, or None); the events that follow.

        :raises DisconnectError: when no method is left (the connection is then closed).
        """
        a = self._auth
        if a is None or a.pending is None or self.state == State.CLOSED:
            raise ValueError("no decision was asked for")
        try:
            for p in a.decision_done(value):
                self._send(p)
        except DisconnectError as e:
            self._fail(e)
        self._auth_progress(a)
        return self._take_events()

    #: the name asyncssh-style front ends and the first M2Sec releases used for signatures
    signature_done = decision_done

    def _auth_progress(self, a: ClientAuth) -> None:
        if a.pending is not None and a.pending is not self._sig_announced:
            self._sig_announced = a.pending
            kind, args = a.pending
            self._events.append({"sign": SignatureRequest, "kbdint": KbdIntPrompt,
                                 "password_change": PasswordChangePrompt}[kind](*args))
        if a.banners:
            for text in a.banners:
                self._events.append(Banner(text))
            a.banners = []
        if a.success:
            self._set_state(State.OPEN)
            self._auth = None
            self._start_delayed_compression()
            self._events.append(Authenticated(a.method))

    # ---- the connection protocol --------------------------------------------------------------

    def _on_global_request(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        name = r.get_string()
        want_reply = r.get_boolean()
        if name == HOSTKEYS and not want_reply:
            blobs: List[bytes] = []
            while r.remaining() and len(blobs) < 64:
                blobs.append(r.get_string())
            self._events.append(HostKeysAnnounced(blobs))
        elif want_reply:
            self._send(byte(_msg.MSG_REQUEST_FAILURE))

    def hostkeys_prove_request(self, blobs: Sequence[bytes]) -> None:
        """Ask the server to prove it holds the keys of blobs (hostkeys-prove-00@openssh.com);
        check its GlobalReply with :meth:`hostkeys_proven`."""
        self.global_request(HOSTKEYS_PROVE, b"".join(string(b) for b in blobs), True)

    def hostkeys_proven(self, blobs: Sequence[bytes], reply: bytes) -> List[Any]:
        """The keys of blobs whose signatures in reply (the server's answer) verify, in order;
        :raises HostKeyNotVerifiable: a signature that does not (OpenSSH's rule: all or none)."""
        from M2Sec.SSH import keys
        r = SSHReader(reply)
        out = []
        for blob in blobs:
            key = keys.decode_public_blob(blob)
            sig = r.get_string()
            signed = string(HOSTKEYS_PROVE) + string(self.session_id) + string(blob)
            if not key.verify(signed, sig):
                raise HostKeyNotVerifiable("the server's proof for its %s host key does not verify"
                                           % key.algorithm.decode(), local=False)
            out.append(key)
        return out

    def _refuse_channel(self, kind: bytes) -> Optional[Tuple[int, str]]:
        if kind not in self.channel_open_kinds:
            return ch.OPEN_ADMINISTRATIVELY_PROHIBITED, "%s channels are not accepted" % kind.decode(errors="replace")
        return None

    def _on_channel_request(self, payload: bytes) -> None:
        c, request, want_reply, data = self._read_channel_request(payload)
        if request == b"exit-status":
            c.exit_status = SSHReader(data).get_uint32()
        elif request == b"exit-signal":
            d = SSHReader(data)
            c.exit_signal = (d.get_text(), d.get_boolean(), d.get_text(), d.get_text())
        if want_reply and not c.close_sent:
            self._send(byte(_msg.MSG_CHANNEL_FAILURE) + uint32(c.remote_id))
        self._events.append(ChannelRequest(c, request, data))

    # ---- the tables -----------------------------------------------------------------------------

    _HANDLERS = {
        **Connection._HANDLERS,
        MSG_SERVICE_ACCEPT: _on_service_accept,
        MSG_EXT_INFO: _on_ext_info,
        **dict.fromkeys((_msg.MSG_USERAUTH_FAILURE, _msg.MSG_USERAUTH_SUCCESS, _msg.MSG_USERAUTH_BANNER,
                         _msg.MSG_USERAUTH_INFO_REQUEST), _on_userauth),
        _msg.MSG_GLOBAL_REQUEST: _on_global_request,
        _msg.MSG_CHANNEL_REQUEST: _on_channel_request,
    }
    # What each state accepts besides the transport messages (_TRANSPORT).
    _ACCEPTS = {
        State.VERSION: frozenset(),
        State.KEX: Connection._KEX_MSGS,
        State.SERVICE: Connection._KEX_MSGS | {MSG_SERVICE_ACCEPT, MSG_EXT_INFO},
        State.AUTH: Connection._KEX_MSGS | {MSG_EXT_INFO, MSG_USERAUTH_FAILURE, MSG_USERAUTH_SUCCESS,
                                         MSG_USERAUTH_BANNER, MSG_USERAUTH_INFO_REQUEST},
        State.OPEN: Connection._KEX_MSGS | frozenset(CONNECTION_MESSAGES),
        State.CLOSED: frozenset(),
    }

_TRANSPORT = frozenset([MSG_DISCONNECT, MSG_IGNORE, MSG_UNIMPLEMENTED, MSG_DEBUG])
_ALLOWED_IN_KEX = _TRANSPORT | Connection._KEX_MSGS


def _host_key_sig_algs(key: Any) -> List[bytes]:
    algs = list(key.sig_algorithms)
    return [a[:-len(_CERT)] if a.endswith(_CERT) else a for a in algs]
