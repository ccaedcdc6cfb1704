"""SSH user authentication, server side (RFC 4252, RFC 4256, RFC 8332, OpenSSH certificates).

:class:`ServerAuth` reads USERAUTH_REQUEST and INFO_RESPONSE messages and builds the replies.
What is accepted is the application's business: ServerAuth never calls it, it yields an
:class:`AuthCall` naming the SSHServer method (:class:`M2Sec.SSH.server.SSHServer`) to ask, and
the front end answers, at once or when a coroutine finishes (a PAM, LDAP or database check does
not stall other connections).  The decisions: passwords (with change requests), public keys (the
authorized_keys file given for the user first), certificates (authorized_keys
``cert-authority`` lines and trusted CA keys), keyboard-interactive challenges.  Every failed
attempt other than ``none`` counts; at ``max_auth_tries`` the connection ends, as sshd's
MaxAuthTries does.  The front end delays failure replies (:attr:`ServerAuth.failed`).
"""

from dataclasses import dataclass
from typing import Any, Callable, Generator, List, Optional, Sequence, Tuple

from M2Sec.SSH import keys as _keys
from M2Sec.SSH.auth import SERVICE
from M2Sec.SSH.messages import (MSG_USERAUTH_BANNER, MSG_USERAUTH_FAILURE, MSG_USERAUTH_INFO_REQUEST,
                                MSG_USERAUTH_INFO_RESPONSE, MSG_USERAUTH_REQUEST, MSG_USERAUTH_SUCCESS)
from M2Sec.SSH.authorized_keys import AuthorizedKeys, Permissions, certificate_permissions
from M2Sec.SSH.errors import (AuthenticationFailed, ProtocolError, ServiceNotAvailable, SSHFormatError,
                              SSHKeyError)
from M2Sec.SSH.packet import SSHReader, boolean, byte, namelist, string, uint32

from M2Sec.SSH.messages import MSG_USERAUTH_PASSWD_CHANGEREQ, MSG_USERAUTH_PK_OK  # noqa: E402,F401

_CERT = b"-cert-v01@openssh.com"


class PasswordChangeRequired(Exception):
    """Raised by ``validate_password`` to ask the client for a new password (RFC 4252 section 8)."""

    def __init__(self, prompt: str = "Password change required", lang: str = "") -> None:
        super().__init__(prompt)
        self.prompt = prompt
        self.lang = lang


#: a keyboard-interactive challenge: (name, instruction, language, [(prompt, echo), ...])
Challenge = Tuple[str, str, str, Sequence[Tuple[str, bool]]]


@dataclass
class AuthCall:
    """A decision authentication needs from the application: the SSHServer method ``name``
    called with ``args`` (or, for ``"authorized_keys"``, the configuration's lookup of the
    user's authorized_keys).  The front end answers it, at once or later (a coroutine)."""

    name: str
    args: Tuple[Any, ...]


#: ServerAuth's steps: generators yielding AuthCalls and returning the replies to send
Steps = Generator[AuthCall, Any, Any]


def answer(server: Any, lookup: Callable[[str], Any], call: AuthCall) -> Any:
    """The plain answer to call: ``server.<name>(*args)``, or lookup(username) for the user's
    authorized_keys.  A front end uses it (awaiting the result when it is awaitable)."""
    if call.name == "authorized_keys":
        return lookup(*call.args)
    return getattr(server, call.name)(*call.args)


class ServerAuth:
    """The server's side of user authentication for one connection.

    :param session_id: the first exchange hash (publickey signatures cover it).
    :param trusted_ca_keys: CA keys whose user certificates are accepted for their principals.
    :param addr: the client's address (from=, source-address).
    :param sig_algs: the public key algorithms accepted for user keys.
    """

    def __init__(self, session_id: bytes, *,
                 trusted_ca_keys: Sequence[_keys.SSHKey] = (), addr: str = "", max_auth_tries: int = 6,
                 sig_algs: Sequence[bytes] = (), banner: Optional[str] = None,
                 now: Callable[[], Optional[float]] = lambda: None) -> None:
        self._session_id = session_id
        self._trusted = list(trusted_ca_keys)
        self._addr = addr
        self._max = max_auth_tries
        self._now = now  # the connection's wall_time, which its front end keeps
        self._sig_algs = set(sig_algs)
        self._banner = banner
        self.username: Optional[str] = None
        self.failures = 0
        self.failed = False           # the last reply was a failure of a real attempt (delay it)
        self.success = False
        self.method = b""
        self.permissions = Permissions()
        self._kbd_pending = False
        self._keys: Optional[AuthorizedKeys] = None

    # ---- what is offered ----
    def _methods(self) -> Steps:
        offered = []
        if (yield AuthCall("public_key_auth_supported", ())) or self._keys is not None or self._trusted:
            offered.append(b"publickey")
        if (yield AuthCall("password_auth_supported", ())):
            offered.append(b"password")
        if (yield AuthCall("kbdint_auth_supported", ())):
            offered.append(b"keyboard-interactive")
        return offered

    def _failure(self, counts: bool = True) -> Steps:
        self._kbd_pending = False
        if counts:
            self.failures += 1
            self.failed = True
            if self.failures >= self._max:
                raise AuthenticationFailed("too many authentication failures for %s" % self.username, local=True)
        methods = yield from self._methods()
        return [byte(MSG_USERAUTH_FAILURE) + namelist(methods) + boolean(False)]

    def _success(self, method: bytes, perms: Optional[Permissions] = None) -> List[bytes]:
        self.success = True
        self.method = method
        if perms is not None:
            self.permissions = perms
        self._kbd_pending = False
        return [byte(MSG_USERAUTH_SUCCESS)]

    # ---- messages ----
    def handle(self, msg: int, payload: bytes) -> Steps:
        """A generator: the replies to one USERAUTH_REQUEST or INFO_RESPONSE payload are its
        return value; on the way it yields an :class:`AuthCall` for each decision the
        application makes, to be sent the answer (or thrown its exception)."""
        self.failed = False
        try:
            if msg == MSG_USERAUTH_INFO_RESPONSE:
                return (yield from self._info_response(SSHReader(payload[1:])))
            if msg != MSG_USERAUTH_REQUEST:
                raise ProtocolError("message %d during authentication" % msg, local=False)
            return (yield from self._request(payload))
        except (SSHFormatError, SSHKeyError) as e:
            raise ProtocolError("malformed authentication request: %s" % e, local=False) from None

    def _request(self, payload: bytes) -> Steps:
        r = SSHReader(payload[1:])
        username, service, method = r.get_text(), r.get_string(), r.get_string()
        if service != SERVICE:
            raise ServiceNotAvailable("service %s is not offered" % service.decode(errors="replace"))
        out: List[bytes] = []
        if self.username is None:
            self.username = username
            self._keys = yield AuthCall("authorized_keys", (username,))
            if self._banner:
                out.append(byte(MSG_USERAUTH_BANNER) + string(self._banner) + string(b""))
            if not (yield AuthCall("begin_auth", (username,))):
                return out + self._success(b"none")
        elif username != self.username:
            raise ProtocolError("the user name changed during authentication", local=False)
        self._kbd_pending = False
        handler = {b"none": self._none, b"password": self._password, b"publickey": self._publickey,
                   b"keyboard-interactive": self._kbdint}.get(method)
        if handler is None or (method != b"none" and method not in (yield from self._methods())):
            return out + (yield from self._failure(counts=method != b"none"))
        return out + (yield from handler(r))

    def _none(self, r: SSHReader) -> Steps:
        return (yield from self._failure(counts=False))

    def _password(self, r: SSHReader) -> Steps:
        change = r.get_boolean()
        password = r.get_text()
        user = self.username or ""
        if change:
            new = r.get_text()
            ok = yield AuthCall("change_password", (user, password, new))
            return self._success(b"password") if ok else (yield from self._failure())
        try:
            ok = yield AuthCall("validate_password", (user, password))
        except PasswordChangeRequired as req:
            return [byte(MSG_USERAUTH_PASSWD_CHANGEREQ) + string(req.prompt) + string(req.lang)]
        return self._success(b"password") if ok else (yield from self._failure())

    def _publickey(self, r: SSHReader) -> Steps:
        has_sig = r.get_boolean()
        alg, blob = r.get_string(), r.get_string()
        sig = r.get_string() if has_sig else None
        r.done()
        base = alg[:-len(_CERT)] if alg.endswith(_CERT) else alg
        try:
            key = _keys.decode_public_blob(blob)
        except (SSHKeyError, SSHFormatError, ValueError):
            return (yield from self._failure())
        if (base not in self._sig_algs or alg not in key.sig_algorithms
                or alg.endswith(_CERT) != isinstance(key, _keys.SSHCertificate)):
            return (yield from self._failure())
        perms = yield from self._key_permissions(key)
        if perms is None:
            return (yield from self._failure())
        if sig is None:
            return [byte(MSG_USERAUTH_PK_OK) + string(alg) + string(blob)]
        signed = (string(self._session_id) + byte(MSG_USERAUTH_REQUEST) + string(self.username or "")
                  + string(SERVICE) + string(b"publickey") + boolean(True) + string(alg) + string(blob))
        try:
            sig_alg = SSHReader(sig).get_string()
            good = sig_alg == base and key.verify(signed, sig)
        except SSHFormatError:
            good = False
        return self._success(b"publickey", perms) if good else (yield from self._failure())

    def _key_permissions(self, key: _keys.SSHKey) -> Steps:
        user = self.username or ""
        if isinstance(key, _keys.SSHCertificate):
            perms = None
            if self._keys is not None:
                perms = self._keys.match_certificate(key, user, self._addr, self._now())
            if perms is None and self._trusted:
                perms = certificate_permissions(key, user, self._trusted, self._addr, self._now())
            if perms is None and (yield AuthCall("validate_ca_key", (user, key.signature_key))):
                perms = certificate_permissions(key, user, [key.signature_key], self._addr, self._now())
            return perms
        if self._keys is not None:
            perms = self._keys.match(key, self._addr, self._now())
            if perms is not None:
                return perms
        return Permissions(key=key) if (yield AuthCall("validate_public_key", (user, key))) else None

    def _kbdint(self, r: SSHReader) -> Steps:
        lang = r.get_text()
        submethods = r.get_text()
        challenge = yield AuthCall("get_kbdint_challenge", (self.username or "", lang, submethods))
        return (yield from self._challenge(challenge))

    def _challenge(self, challenge: Any) -> Steps:
        if challenge is True:
            return self._success(b"keyboard-interactive")
        if not challenge:
            return (yield from self._failure())
        name, instruction, lang, prompts = challenge
        self._kbd_pending = True
        return [byte(MSG_USERAUTH_INFO_REQUEST) + string(name) + string(instruction) + string(lang)
                + uint32(len(prompts)) + b"".join(string(p) + boolean(e) for p, e in prompts)]

    def _info_response(self, r: SSHReader) -> Steps:
        if not self._kbd_pending:
            raise ProtocolError("INFO_RESPONSE without a challenge", local=False)
        n = r.get_uint32()
        if n > 64:
            raise ProtocolError("%d keyboard-interactive answers" % n, local=False)
        answers = [r.get_text() for _ in range(n)]
        r.done()
        self._kbd_pending = False
        verdict = yield AuthCall("validate_kbdint_response", (self.username or "", answers))
        return (yield from self._challenge(verdict))
