"""The SSH server's protocol core: bytes in, events and bytes out, no I/O.

Theory of operation
-------------------
:class:`ServerConnection` is the server's role of the core it shares with the client
(connection.py's :class:`~M2Sec.SSH.connection.Connection`): the same states, tables of
accepted messages, key exchange (either side may start one, packets held back while ours
runs), strict key exchange and rekeying by bytes and time.  What differs:

- version and KEXINIT go out at once; the server lists ``kex-strict-s-v00@openssh.com`` and
  the host key algorithms of the keys (and certificates) it holds, and the algorithms are
  chosen from the *client's* lists (RFC 4253 section 7.1);
- the key exchange methods run their server halves (kex.py, :class:`~M2Sec.SSH.kex.KexServerSide`):
  the host key for the chosen algorithm signs H; group exchange picks from :mod:`moduli`;
- after its first NEWKEYS the server sends EXT_INFO (server-sig-algs) if the client offered
  ``ext-info-c``;
- ``service`` waits for SERVICE_REQUEST "ssh-userauth", ``auth`` runs
  :class:`~M2Sec.SSH.server_auth.ServerAuth` until USERAUTH_SUCCESS (or too many failures);
- in ``open`` the client's CHANNEL_OPEN (session, direct-tcpip), channel requests (exec,
  shell, subsystem, pty-req, env, window-change, signal) and global requests (tcpip-forward,
  cancel-tcpip-forward) become events the front end answers in order: ``accept_channel`` /
  ``reject_channel``, ``channel_reply``, ``global_reply``.

The application's decisions come from an :class:`SSHServer` (callbacks, one object per
connection).  Limits: channels per connection (``max_channels``), authentication attempts
(``max_auth_tries``); the front end enforces the login grace time, the number of
unauthenticated connections and delays after failed attempts (:class:`AuthFailure` events).
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from M2Sec.SSH import channel as ch
from M2Sec.SSH import kex
from M2Sec.SSH import keys as _keys
from M2Sec.SSH.authorized_keys import AuthorizedKeys, Permissions
from M2Sec.SSH.connection import (DEFAULT_CIPHERS, DEFAULT_COMPRESSION, DEFAULT_HOST_KEY_ALGS, DEFAULT_MACS,
                                  EXT_INFO_C, STRICT_C, STRICT_S,
                                  SUPPORTED_CIPHERS, SUPPORTED_COMPRESSION, SUPPORTED_HOST_KEY_ALGS,
                                  SUPPORTED_MACS, VERSION, Authenticated, ChannelRequest, Connection, Event,
                                  _choose, _KexState, _names)
from M2Sec.SSH.errors import DisconnectError, ProtocolError, ServiceNotAvailable, SSHFormatError
from M2Sec.SSH import messages as _msg
from M2Sec.SSH.messages import (CONNECTION_MESSAGES, MSG_EXT_INFO, MSG_SERVICE_ACCEPT, MSG_SERVICE_REQUEST,
                                MSG_USERAUTH_INFO_RESPONSE, MSG_USERAUTH_REQUEST, State)
from M2Sec.SSH.moduli import Moduli
from M2Sec.SSH.packet import SSHReader, byte, string, uint32
from M2Sec.SSH.server_auth import ServerAuth


#: user key algorithms accepted by default (OpenSSH's PubkeyAcceptedAlgorithms: no ssh-rsa)
DEFAULT_PUBLIC_KEY_ALGS = [b"ssh-ed25519", b"ecdsa-sha2-nistp256", b"ecdsa-sha2-nistp384", b"ecdsa-sha2-nistp521",
                           b"rsa-sha2-512", b"rsa-sha2-256"]
SUPPORTED_PUBLIC_KEY_ALGS = DEFAULT_PUBLIC_KEY_ALGS + [b"ssh-rsa"]


# ---- the application's side --------------------------------------------------------------------


class SSHServer:
    """The callbacks of one server connection; subclass and pass the class (or a factory) as
    ``server_factory``.  Every method has a refusing default; the ones returning bool are
    called synchronously from the protocol core.
    """

    def connection_made(self, conn: Any) -> None:
        """A client connected; conn is the front end's connection object."""

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        """The connection ended (exc None for a clean close)."""

    def begin_auth(self, username: str) -> bool:
        """Authentication begins for username; False lets the user in without any."""
        return True

    def password_auth_supported(self) -> bool:
        return False

    def validate_password(self, username: str, password: str) -> bool:
        """True to accept; raise :class:`~M2Sec.SSH.server_auth.PasswordChangeRequired` to ask
        for a new password."""
        return False

    def change_password(self, username: str, old_password: str, new_password: str) -> bool:
        """The client answered a change request: True if old is right and new is taken."""
        return False

    def public_key_auth_supported(self) -> bool:
        """Offer publickey even without authorized keys or CAs (validate_public_key decides)."""
        return False

    def validate_public_key(self, username: str, key: _keys.SSHKey) -> bool:
        """Accept a key that no authorized_keys line lists."""
        return False

    def validate_ca_key(self, username: str, key: _keys.SSHKey) -> bool:
        """Accept user certificates signed by this CA key (for username as a principal)."""
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def get_kbdint_challenge(self, username: str, lang: str, submethods: str) -> Any:
        """(name, instruction, lang, [(prompt, echo), ...]); True to accept at once, False to refuse."""
        return False

    def validate_kbdint_response(self, username: str, responses: List[str]) -> Any:
        """True, False, or another challenge."""
        return False

    def auth_completed(self) -> None:
        """Authentication succeeded."""

    def session_requested(self) -> bool:
        """Accept a session channel (its process is handled by ``process_factory``)."""
        return True

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        """Allow a direct-tcpip channel (local forwarding of the client) to dest_host:dest_port."""
        return False

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        """Allow remote forwarding: listen on listen_host:listen_port for the client."""
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        """Allow a direct-streamlocal channel (``ssh -L ...:/path``) to the UNIX socket dest_path."""
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        """Allow a streamlocal forward (``ssh -R /path:...``): listen on the UNIX socket listen_path."""
        return False


# ---- configuration -------------------------------------------------------------------------------


def _host_key_table(host_keys: Sequence[Any], algs: Optional[Sequence[Union[str, bytes]]]) -> Dict[bytes, Any]:
    """algorithm -> key (or certificate) for the host keys, in OpenSSH's order."""
    wanted = _names(algs, DEFAULT_HOST_KEY_ALGS, SUPPORTED_HOST_KEY_ALGS, "host key")
    table: Dict[bytes, Any] = {}
    for alg in wanted:
        for key in host_keys:
            if alg in key.sig_algorithms and alg not in table:
                table[alg] = key
    if not table:
        raise ValueError("no host key can be used with the host key algorithms")
    return table


def _check_host_keys(host_keys: Sequence[Any]) -> List[Any]:
    out = list(host_keys)
    for k in out:
        if not isinstance(k, _keys.SSHKey) or not k.has_private:
            raise ValueError("host keys must be SSHKey objects with their private halves (got %r)" % (k,))
    if not out:
        raise ValueError("no host key")
    return out


AuthorizedArg = Union[None, str, AuthorizedKeys, Callable[[str], Optional[AuthorizedKeys]], Sequence[Any]]


def authorized_keys_lookup(arg: AuthorizedArg) -> Callable[[str], Optional[AuthorizedKeys]]:
    """The per-user lookup for ``authorized_client_keys``: an AuthorizedKeys (every user), a
    list of keys, or a callable(username) -> AuthorizedKeys or None.  (A path is read by the
    front end, :func:`M2Sec.SSH._asyncio_server.make_acceptor`, not here.)"""
    if arg is None:
        return lambda user: None
    if isinstance(arg, AuthorizedKeys):
        return lambda user: arg
    if callable(arg):
        return arg
    if isinstance(arg, (str, bytes)) or hasattr(arg, "__fspath__"):
        raise TypeError("authorized_client_keys: the core takes AuthorizedKeys, not a path (listen() reads files)")
    keys = AuthorizedKeys(arg)
    return lambda user: keys


@dataclass
class ServerConfig:
    """What a server connection needs; algorithm lists default to OpenSSH's order."""

    server_host_keys: Sequence[Any]
    authorized_client_keys: AuthorizedArg = None
    trusted_user_ca_keys: Sequence[Any] = ()
    kex_algs: Optional[Sequence[Union[str, bytes]]] = None
    encryption_algs: Optional[Sequence[Union[str, bytes]]] = None
    mac_algs: Optional[Sequence[Union[str, bytes]]] = None
    server_host_key_algs: Optional[Sequence[Union[str, bytes]]] = None
    compression_algs: Optional[Sequence[Union[str, bytes]]] = None
    public_key_algs: Optional[Sequence[Union[str, bytes]]] = None
    #: the groups for group exchange, read by the front end (None: the RFC 3526 groups)
    moduli: Optional[Moduli] = None
    rekey_bytes: int = 1 << 30
    rekey_seconds: float = 3600.0
    server_version: bytes = VERSION
    max_auth_tries: int = 6
    max_channels: int = 64
    banner: Optional[str] = None
    algorithms: Dict[str, List[bytes]] = field(default_factory=dict, init=False)
    host_key_table: Dict[bytes, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.server_host_keys = _check_host_keys(self.server_host_keys)
        self.host_key_table = _host_key_table(self.server_host_keys, self.server_host_key_algs)
        self.algorithms = {
            "kex": _names(self.kex_algs, kex.DEFAULT_KEX, kex.SUPPORTED_KEX, "key exchange"),
            "host_key": list(self.host_key_table),
            "cipher": _names(self.encryption_algs, DEFAULT_CIPHERS, SUPPORTED_CIPHERS, "encryption"),
            "mac": _names(self.mac_algs, DEFAULT_MACS, SUPPORTED_MACS, "MAC"),
            "compression": _names(self.compression_algs, DEFAULT_COMPRESSION, SUPPORTED_COMPRESSION,
                                  "compression"),
            "public_key": _names(self.public_key_algs, DEFAULT_PUBLIC_KEY_ALGS, SUPPORTED_PUBLIC_KEY_ALGS,
                                 "public key"),
        }
        if self.moduli is None:
            self.moduli = Moduli()
        elif not isinstance(self.moduli, Moduli):
            raise TypeError("moduli: the core takes a Moduli object, not a path (listen() reads files)")
        self.authorized_keys = authorized_keys_lookup(self.authorized_client_keys)
        for k in self.trusted_user_ca_keys:
            if not isinstance(k, _keys.SSHKey):
                raise TypeError("trusted_user_ca_keys: the core takes SSHKey objects, not paths (listen() reads files)")


# ---- events ----------------------------------------------------------------------------------------


@dataclass
class AuthFailure(Event):
    """An authentication attempt failed (the front end delays the reply)."""
    username: str
    method: bytes


@dataclass
class SessionRequest(ChannelRequest):
    """A channel request from the client; answer with :meth:`ServerConnection.channel_reply`
    when want_reply (in order)."""
    want_reply: bool = False


@dataclass
class AuthRequest(Event):
    """Authentication needs the application's decision: the SSHServer method ``name`` with
    ``args`` (``"authorized_keys"``: the user's authorized_keys lookup).  Answer with
    :meth:`ServerConnection.auth_answer`; :func:`M2Sec.SSH.server_auth.answer` calls it."""
    name: str
    args: Tuple[Any, ...]


@dataclass
class GlobalRequest(Event):
    """tcpip-forward / cancel-tcpip-forward; answer with :meth:`ServerConnection.global_reply`."""
    name: bytes
    want_reply: bool
    data: bytes


# ---- the core ----------------------------------------------------------------------------------------


class ServerConnection(Connection):
    """The server protocol core (see the module's docstring).

    :param config: the server's configuration.
    :param server: the connection's SSHServer (callbacks).
    :param addr: the client's address, for from= and source-address.
    """

    _PEER = "client"
    _PEER_STRICT = STRICT_C
    _LETTERS_OUT = (b"B", b"D", b"F")
    _LETTERS_IN = (b"A", b"C", b"E")
    config: ServerConfig
    _auth: Optional["ServerAuth"] = None  # during authentication
    GLOBAL_REQUESTS = frozenset([b"tcpip-forward", b"cancel-tcpip-forward", b"streamlocal-forward@openssh.com",
                                 b"cancel-streamlocal-forward@openssh.com"])

    def __init__(self, config: ServerConfig, server: Optional[SSHServer] = None, *, addr: str = "",
                 now: float = 0.0) -> None:
        self.server = server if server is not None else SSHServer()
        self.client_version = b""
        self.server_version = config.server_version
        self.addr = addr
        self.username: Optional[str] = None
        self.permissions = Permissions()
        self._ext_info_c = False
        self._global_answers: Deque[Optional[bytes]] = deque()
        self._auth_steps: Any = None            # ServerAuth's steps waiting for an answer
        self._auth_queue: Deque[bytes] = deque()
        self._auth_payload = b""
        super().__init__(config, now=now)
        self.channel_open_kinds = {b"session", b"direct-tcpip", b"direct-streamlocal@openssh.com"}

    # ---- role hooks of the transport ----
    def _local_version(self) -> bytes:
        return self.config.server_version

    def _peer_version(self, line: bytes) -> None:
        self.client_version = line

    def _kexinit_names(self) -> Tuple[List[bytes], List[bytes]]:
        a = self.config.algorithms
        names = list(a["kex"])
        if self._kex_count == 0:
            names.append(STRICT_S)
        return names, a["host_key"]

    def _negotiate(self, lists: List[List[bytes]]) -> Dict[str, bytes]:
        a = self.config.algorithms
        if self._kex_count == 0:
            self._ext_info_c = EXT_INFO_C in lists[0]
        return {
            "kex": _choose(lists[0], a["kex"], "key exchange"),
            "host_key": _choose(lists[1], a["host_key"], "host key"),
            "cipher_out": _choose(lists[3], a["cipher"], "server-to-client cipher"),
            "cipher_in": _choose(lists[2], a["cipher"], "client-to-server cipher"),
            "mac_out": _choose(lists[5], a["mac"], "server-to-client MAC"),
            "mac_in": _choose(lists[4], a["mac"], "client-to-server MAC"),
            "comp_out": _choose(lists[7], a["compression"], "server-to-client compression"),
            "comp_in": _choose(lists[6], a["compression"], "client-to-server compression"),
        }

    def _make_kex(self, k: _KexState) -> kex.KexMethod:
        prefix = (string(self.client_version) + string(self._local_version()) + string(k.theirs)
                  + string(k.ours))
        alg = k.chosen["host_key"]
        key = self.config.host_key_table[alg]
        moduli = self.config.moduli
        if moduli is None:  # ServerConfig fills it in
            raise ValueError("the server configuration has no moduli")
        side = kex.KexServerSide(key.public_blob(), lambda h: key.sign(h, alg), moduli.choose)
        return kex.make_kex(k.chosen["kex"], prefix, side)

    def _check_host_key(self, m: kex.KexMethod, alg: bytes) -> None:
        self.host_key = self.config.host_key_table[alg]

    def _newkeys_sent(self, k: _KexState) -> None:
        if self._kex_count == 0 and self._ext_info_c:
            algs = b",".join(self.config.algorithms["public_key"])
            self._send(byte(MSG_EXT_INFO) + uint32(1) + string(b"server-sig-algs") + string(algs))

    def _first_kex_done(self) -> None:
        self._set_state(State.SERVICE)

    # ---- service and authentication ----
    def _on_service_request(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        name = r.get_string()
        if name != b"ssh-userauth":
            raise ServiceNotAvailable("service %s is not offered" % name.decode(errors="replace"))
        self._send(byte(MSG_SERVICE_ACCEPT) + string(name))
        self._set_state(State.AUTH)
        c = self.config
        self._auth = ServerAuth(self.session_id,
                                trusted_ca_keys=c.trusted_user_ca_keys,
                                addr=self.addr, max_auth_tries=c.max_auth_tries,
                                sig_algs=c.algorithms["public_key"], banner=c.banner,
                                now=lambda: self.wall_time or None)

    def _on_userauth_request(self, payload: bytes) -> None:
        if self._auth_steps is not None:  # a decision is pending: take this one after it
            if len(self._auth_queue) >= 16:
                raise ProtocolError("authentication requests sent without waiting for replies", local=False)
            self._auth_queue.append(payload)
            return
        a = self._auth
        if a is None:  # (the state table admits the message only during authentication)
            raise ProtocolError("an authentication request outside authentication", local=False)
        self._auth_payload = payload
        self._auth_step(a.handle(payload[0], payload), None, None)

    def _auth_step(self, steps: Any, value: Any, error: Optional[BaseException]) -> None:
        """Run ServerAuth's steps to the next decision (an AuthRequest event) or to its replies."""
        try:
            call = steps.throw(error) if error is not None else steps.send(value)
        except StopIteration as done:
            self._auth_steps = None
            self._auth_replies(done.value)
            return
        self._auth_steps = steps
        self._events.append(AuthRequest(call.name, call.args))

    def auth_answer(self, value: Any = None, error: Optional[BaseException] = None) -> List[Event]:
        """Answer the pending :class:`AuthRequest` with the application's value (or the
        exception it raised, such as PasswordChangeRequired); the events that follow.

        :raises DisconnectError: when authentication ends the connection (it is then closed).
        """
        steps = self._auth_steps
        if steps is None or self.state == State.CLOSED:
            raise ValueError("no authentication decision is pending")
        self._auth_steps = None
        try:
            self._auth_step(steps, value, error)
            while self._auth_steps is None and self._auth_queue and self.state == State.AUTH:
                self._on_userauth_request(self._auth_queue.popleft())
        except (DisconnectError, SSHFormatError) as e:
            self._fail_with(e)
        return self._take_events()

    def _auth_replies(self, replies: List[bytes]) -> None:
        a = self._auth
        if a is None:
            raise ProtocolError("authentication replies outside authentication")
        for p in replies:
            self._send(p)
        if a.failed:
            self._events.append(AuthFailure(a.username or "", self._auth_payload[0:1]))
        if a.success:
            self._set_state(State.OPEN)
            self.username = a.username
            self.permissions = a.permissions
            self._auth = None
            self._auth_queue.clear()
            self._start_delayed_compression()
            self._events.append(Authenticated(a.method))

    # ---- the connection protocol ----
    def _refuse_channel(self, kind: bytes) -> Optional[Tuple[int, str]]:
        if kind not in self.channel_open_kinds:
            return ch.OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel type %s" % kind.decode(errors="replace")
        if len(self._channels) >= self.config.max_channels:
            return ch.OPEN_RESOURCE_SHORTAGE, "too many channels"
        return None

    def _on_channel_request(self, payload: bytes) -> None:
        c, request, want_reply, data = self._read_channel_request(payload)
        if c.state != "open":
            raise ProtocolError("request on channel %d before it opened" % c.local_id, local=False)
        self._events.append(SessionRequest(c, request, data, want_reply))

    def channel_reply(self, c: ch.Channel, ok: bool) -> None:
        """Answer the oldest want-reply request on c."""
        if c.state == "open" and not c.close_sent:
            self._send(byte(_msg.MSG_CHANNEL_SUCCESS if ok else _msg.MSG_CHANNEL_FAILURE) + uint32(c.remote_id))

    def _on_global_request(self, payload: bytes) -> None:
        r = SSHReader(payload[1:])
        name = r.get_string()
        want_reply = r.get_boolean()
        if name in self.GLOBAL_REQUESTS:
            if want_reply:
                self._global_answers.append(None)
            self._events.append(GlobalRequest(name, want_reply, r.get_rest()))
        elif want_reply:
            self._global_answers.append(byte(_msg.MSG_REQUEST_FAILURE))
            self._send_global_answers()

    def global_reply(self, ok: bool, data: bytes = b"") -> None:
        """Answer the oldest want-reply global request the front end was asked (replies go
        out in the order of the requests)."""
        answers = self._global_answers
        for i, a in enumerate(answers):
            if a is None:
                answers[i] = byte(_msg.MSG_REQUEST_SUCCESS) + data if ok else byte(_msg.MSG_REQUEST_FAILURE)
                break
        self._send_global_answers()

    def _send_global_answers(self) -> None:
        answers = self._global_answers
        while answers and answers[0] is not None:
            reply = answers.popleft()
            if reply is not None and self.state == "open":
                self._send(reply)

    # ---- the tables ----
    # EXT_INFO is known but never accepted from a client (no ext-info-s is offered): a protocol
    # error, not UNIMPLEMENTED.
    _HANDLERS = {**Connection._HANDLERS, MSG_SERVICE_REQUEST: _on_service_request,
                 MSG_USERAUTH_REQUEST: _on_userauth_request, MSG_USERAUTH_INFO_RESPONSE: _on_userauth_request,
                 _msg.MSG_CHANNEL_REQUEST: _on_channel_request,
                 _msg.MSG_GLOBAL_REQUEST: _on_global_request, MSG_EXT_INFO: Connection._on_ignore}
    _ACCEPTS = {
        State.VERSION: frozenset(),
        State.KEX: Connection._KEX_MSGS,
        State.SERVICE: Connection._KEX_MSGS | {MSG_SERVICE_REQUEST},
        State.AUTH: Connection._KEX_MSGS | {MSG_USERAUTH_REQUEST, MSG_USERAUTH_INFO_RESPONSE},
        State.OPEN: Connection._KEX_MSGS | frozenset(CONNECTION_MESSAGES),
        State.CLOSED: frozenset(),
    }
