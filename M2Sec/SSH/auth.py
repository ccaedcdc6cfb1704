"""SSH user authentication, client side (RFC 4252, RFC 4256, RFC 8332, OpenSSH certificates).

:class:`ClientAuth` tries methods in turn: ``none`` (which tells the server's list), then
``publickey`` with each key (certificates too), ``password`` (answering a change request
through a callback), then ``keyboard-interactive`` (prompts answered by a callback, or by
the password for a single hidden prompt).  It builds requests and reads replies; the
connection core sends and receives them.  RSA keys sign with the best of rsa-sha2-512,
rsa-sha2-256 and ssh-rsa that the server lists in server-sig-algs (RFC 8308, RFC 8332).
"""

from typing import Any, Callable, List, Optional, Protocol, Sequence, Tuple

from M2Sec.SSH.errors import AuthenticationFailed, ProtocolError
from M2Sec.SSH.packet import SSHReader, boolean, byte, string, uint32

from M2Sec.SSH.messages import (MSG_USERAUTH_BANNER, MSG_USERAUTH_FAILURE, MSG_USERAUTH_INFO_REQUEST,  # noqa: F401
                                MSG_USERAUTH_INFO_RESPONSE, MSG_USERAUTH_REQUEST, MSG_USERAUTH_SUCCESS)

SERVICE = b"ssh-connection"
#: the methods tried, in OpenSSH's default order
METHODS = (b"publickey", b"password", b"keyboard-interactive")

#: keyboard-interactive: callback(name, instruction, [(prompt, echo), ...]) -> answers.
KbdIntHandler = Callable[[str, str, List[Tuple[str, bool]]], Sequence[str]]
#: password change: callback(prompt) -> the new password, or None to give up.
PasswordChangeHandler = Callable[[str], Optional[str]]


class UserKey(Protocol):
    """What authentication needs of a key: an SSHKey, a certificate, or an agent's key pair
    (which marks itself ``external_signer``: the front end asks the agent for its signature)."""

    sig_algorithms: List[bytes]

    def public_blob(self) -> bytes: ...

    def sign(self, data: bytes, algorithm: Optional[bytes] = None) -> bytes: ...


class ClientAuth:
    """The client's side of user authentication for one connection.

    :param username: the user to log in as.
    :param session_id: the first key exchange's H (signed by publickey).
    :param keys: SSHKey objects (or certificates) with private halves, tried in order.
    :param server_sig_algs: a callable giving the server's server-sig-algs (ext-info) or None.
    """

    def __init__(self, username: str, session_id: bytes, *, password: Optional[str] = None,
                 keys: Sequence[UserKey] = (), kbdint: Optional[KbdIntHandler] = None,
                 password_change: Optional[PasswordChangeHandler] = None,
                 server_sig_algs: Callable[[], Optional[List[bytes]]] = lambda: None,
                 methods: Sequence[bytes] = METHODS) -> None:
        self.username = username
        self._session_id = session_id
        self._password = password
        self._keys = list(keys)
        self._kbdint = kbdint
        self._password_change = password_change
        self._server_sig_algs = server_sig_algs
        self._methods = [m for m in methods if m in METHODS]  # others (gssapi-*) are not spoken
        self._allowed: Optional[List[bytes]] = None
        self._tried: List[bytes] = []
        self._current = b"none"
        self._kbd_round = 0
        self.banners: List[str] = []
        self.success = False
        self.method = b""
        #: the decision the front end must take before authentication goes on: ("sign", (key,
        #: data, algorithm)) for a key outside the core (an agent's), ("kbdint", (name,
        #: instruction, [(prompt, echo)])) or ("password_change", (prompt,)); None otherwise
        self.pending: Optional[Tuple[str, Tuple[Any, ...]]] = None
        self._pending_body = b""

    def _request(self, method: bytes, rest: bytes = b"") -> bytes:
        self._current = method
        return (byte(MSG_USERAUTH_REQUEST) + string(self.username) + string(SERVICE) + string(method) + rest)

    def start(self) -> List[bytes]:
        """The first request: method ``none``."""
        return [self._request(b"none")]

    # ---- choosing the next method ----
    def _next(self) -> List[bytes]:
        allowed = self._allowed or []
        for method in self._methods:
            if method not in allowed:
                continue
            try_method: Callable[[], Optional[List[bytes]]] = getattr(self, "_try_" + method.decode().replace("-", "_"))
            step = try_method()
            if step is not None:
                return step
        raise AuthenticationFailed("no authentication method left (the server allows %s)"
                                   % ", ".join(a.decode() for a in allowed), local=False)

    def _try_publickey(self) -> Optional[List[bytes]]:
        while self._keys:
            key = self._keys.pop(0)
            alg = self._sig_algorithm(key)
            if alg is None:
                continue
            body, signed = self._publickey_body(key, alg)
            if getattr(key, "external_signer", False):
                # an agent's key: the front end asks for the signature (decision_done)
                self.pending = ("sign", (key, signed, alg))
                self._pending_body = body
                return []
            return [self._request(b"publickey", body + string(key.sign(signed, alg)))]
        return None

    def _try_password(self) -> Optional[List[bytes]]:
        if self._password is None or b"password" in self._tried:
            return None
        self._tried.append(b"password")
        return [self._request(b"password", boolean(False) + string(self._password))]

    def _try_keyboard_interactive(self) -> Optional[List[bytes]]:
        if not (self._kbdint or self._password is not None) or b"keyboard-interactive" in self._tried:
            return None
        self._tried.append(b"keyboard-interactive")
        self._kbd_round = 0
        return [self._request(b"keyboard-interactive", string(b"") + string(b""))]

    def _sig_algorithm(self, key: UserKey) -> Optional[bytes]:
        algs = list(key.sig_algorithms)
        server = self._server_sig_algs()
        if len(algs) > 1 and server is not None:
            suffix = b"-cert-v01@openssh.com"
            for a in algs:
                if (a[:-len(suffix)] if a.endswith(suffix) else a) in server:
                    return a
            return algs[-1]
        return algs[0] if algs else None

    def _publickey_body(self, key: UserKey, alg: bytes) -> Tuple[bytes, bytes]:
        """The publickey request's fields before the signature, and the data to sign."""
        blob = key.public_blob()
        body = boolean(True) + string(alg) + string(blob)
        signed = (string(self._session_id) + byte(MSG_USERAUTH_REQUEST) + string(self.username)
                  + string(SERVICE) + string(b"publickey") + body)
        return body, signed

    def decision_done(self, value: Any) -> List[bytes]:
        """The requests to send once the front end has answered :attr:`pending`: a signature
        (None: the signer failed, go on with the next key), the keyboard-interactive answers,
        or the new password (None: give up on password)."""
        if self.pending is None:
            raise ValueError("no decision was asked for")
        kind, args = self.pending
        self.pending = None
        if kind == "sign":
            if value is None:
                return self._next()
            self._current = b"publickey"
            return [self._request(b"publickey", self._pending_body + string(value))]
        if kind == "kbdint":
            return self._info_answers(len(args[2]), list(value))
        if value is None or self._password is None:  # password_change
            return self._next()
        old, self._password = self._password, value
        return [self._request(b"password", boolean(True) + string(old) + string(value))]

    # ---- replies ----
    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        """The requests to send after the server's reply payload (message msg)."""
        r = SSHReader(payload[1:])
        if msg == MSG_USERAUTH_SUCCESS:
            self.success = True
            self.method = self._current
            return []
        if msg == MSG_USERAUTH_BANNER:
            self.banners.append(r.get_text())
            return []
        if msg == MSG_USERAUTH_FAILURE:
            self._allowed = r.get_namelist()
            r.get_boolean()  # partial success: the list says what may follow
            return self._next()
        if msg == MSG_USERAUTH_INFO_REQUEST:
            if self._current == b"password":
                return self._change_password(r)
            if self._current == b"keyboard-interactive":
                return self._info_response(r)
            raise ProtocolError("unexpected message 60 during %s authentication" % self._current.decode(),
                                local=False)
        raise ProtocolError("unexpected message %d during authentication" % msg, local=False)

    def _change_password(self, r: SSHReader) -> List[bytes]:
        prompt = r.get_text()
        if not self._password_change or self._password is None:
            return self._next()
        self.pending = ("password_change", (prompt,))
        return []

    def _info_response(self, r: SSHReader) -> List[bytes]:
        name, instruction = r.get_text(), r.get_text()
        r.get_string()  # language tag
        n = r.get_uint32()
        if n > 64:
            raise ProtocolError("%d keyboard-interactive prompts" % n, local=False)
        prompts = [(r.get_text(), r.get_boolean()) for _ in range(n)]
        self._kbd_round += 1
        if n == 0:
            answers = []            # an informational round (PAM's messages): nothing to ask
        elif self._kbdint:
            self.pending = ("kbdint", (name, instruction, prompts))
            return []
        elif n == 1 and not prompts[0][1] and self._kbd_round == 1 and self._password is not None:
            answers = [self._password]
        else:
            answers = [""] * n
        return self._info_answers(n, answers)

    def _info_answers(self, n: int, answers: List[str]) -> List[bytes]:
        if len(answers) != n:
            raise ValueError("the keyboard-interactive handler gave %d answers to %d prompts" % (len(answers), n))
        return [byte(MSG_USERAUTH_INFO_RESPONSE) + uint32(n) + b"".join(string(a) for a in answers)]
