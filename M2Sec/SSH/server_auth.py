"""SSH user authentication, server side (RFC 4252, RFC 4256, RFC 8332, OpenSSH certificates).

:class:`ServerAuth` reads USERAUTH_REQUEST and INFO_RESPONSE messages and builds the replies.
What is accepted is the application's business, asked through the SSHServer-style object
(:class:`M2Sec.SSH.server.SSHServer`): passwords (with change requests), public keys (the
authorized_keys file given for the user first), certificates (authorized_keys
``cert-authority`` lines and trusted CA keys), keyboard-interactive challenges.  Every failed
attempt other than ``none`` counts; at ``max_auth_tries`` the connection ends, as sshd's
MaxAuthTries does.  The front end delays failure replies (:attr:`ServerAuth.failed`).
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple

from M2Sec.SSH import keys as _keys
from M2Sec.SSH.auth import (MSG_USERAUTH_BANNER, MSG_USERAUTH_FAILURE, MSG_USERAUTH_INFO_REQUEST,
                            MSG_USERAUTH_INFO_RESPONSE, MSG_USERAUTH_REQUEST, MSG_USERAUTH_SUCCESS, SERVICE)
from M2Sec.SSH.authorized_keys import AuthorizedKeys, Permissions, certificate_permissions
from M2Sec.SSH.errors import (AuthenticationFailed, ProtocolError, ServiceNotAvailable, SSHFormatError,
                              SSHKeyError)
from M2Sec.SSH.packet import SSHReader, boolean, byte, namelist, string, uint32

MSG_USERAUTH_PK_OK = MSG_USERAUTH_PASSWD_CHANGEREQ = MSG_USERAUTH_INFO_REQUEST

_CERT = b"-cert-v01@openssh.com"


class PasswordChangeRequired(Exception):
    """Raised by ``validate_password`` to ask the client for a new password (RFC 4252 section 8)."""

    def __init__(self, prompt: str = "Password change required", lang: str = "") -> None:
        super().__init__(prompt)
        self.prompt = prompt
        self.lang = lang


#: a keyboard-interactive challenge: (name, instruction, language, [(prompt, echo), ...])
Challenge = Tuple[str, str, str, Sequence[Tuple[str, bool]]]


class ServerAuth:
    """The server's side of user authentication for one connection.

    :param server: the SSHServer-style object whose callbacks decide.
    :param session_id: the first exchange hash (publickey signatures cover it).
    :param authorized_keys: callable(username) -> AuthorizedKeys or None.
    :param trusted_ca_keys: CA keys whose user certificates are accepted for their principals.
    :param addr: the client's address (from=, source-address).
    :param sig_algs: the public key algorithms accepted for user keys.
    """

    def __init__(self, server: Any, session_id: bytes, *, authorized_keys: Callable[[str], Optional[AuthorizedKeys]],
                 trusted_ca_keys: Sequence[_keys.SSHKey] = (), addr: str = "", max_auth_tries: int = 6,
                 sig_algs: Sequence[bytes] = (), banner: Optional[str] = None,
                 now: Callable[[], Optional[float]] = lambda: None) -> None:
        self._server = server
        self._session_id = session_id
        self._authorized_keys = authorized_keys
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
    def _methods(self) -> List[bytes]:
        s = self._server
        out = []
        if s.public_key_auth_supported() or self._keys is not None or self._trusted:
            out.append(b"publickey")
        if s.password_auth_supported():
            out.append(b"password")
        if s.kbdint_auth_supported():
            out.append(b"keyboard-interactive")
        return out

    def _failure(self, counts: bool = True) -> List[bytes]:
        self._kbd_pending = False
        if counts:
            self.failures += 1
            self.failed = True
            if self.failures >= self._max:
                raise AuthenticationFailed("too many authentication failures for %s" % self.username, local=True)
        return [byte(MSG_USERAUTH_FAILURE) + namelist(self._methods()) + boolean(False)]

    def _success(self, method: bytes, perms: Optional[Permissions] = None) -> List[bytes]:
        self.success = True
        self.method = method
        if perms is not None:
            self.permissions = perms
        self._kbd_pending = False
        return [byte(MSG_USERAUTH_SUCCESS)]

    # ---- messages ----
    def handle(self, msg: int, payload: bytes) -> List[bytes]:
        """The replies to one USERAUTH_REQUEST or INFO_RESPONSE payload."""
        self.failed = False
        try:
            if msg == MSG_USERAUTH_INFO_RESPONSE:
                return self._info_response(SSHReader(payload[1:]))
            if msg != MSG_USERAUTH_REQUEST:
                raise ProtocolError("message %d during authentication" % msg, local=False)
            return self._request(payload)
        except (SSHFormatError, SSHKeyError) as e:
            raise ProtocolError("malformed authentication request: %s" % e, local=False) from None

    def _request(self, payload: bytes) -> List[bytes]:
        r = SSHReader(payload[1:])
        username, service, method = r.get_text(), r.get_string(), r.get_string()
        if service != SERVICE:
            raise ServiceNotAvailable("service %s is not offered" % service.decode(errors="replace"))
        out: List[bytes] = []
        if self.username is None:
            self.username = username
            self._keys = self._authorized_keys(username)
            if self._banner:
                out.append(byte(MSG_USERAUTH_BANNER) + string(self._banner) + string(b""))
            if not self._server.begin_auth(username):
                return out + self._success(b"none")
        elif username != self.username:
            raise ProtocolError("the user name changed during authentication", local=False)
        self._kbd_pending = False
        handler = {b"none": self._none, b"password": self._password, b"publickey": self._publickey,
                   b"keyboard-interactive": self._kbdint}.get(method)
        if handler is None or (method != b"none" and method not in self._methods()):
            return out + self._failure(counts=method != b"none")
        return out + handler(r)

    def _none(self, r: SSHReader) -> List[bytes]:
        return self._failure(counts=False)

    def _password(self, r: SSHReader) -> List[bytes]:
        change = r.get_boolean()
        password = r.get_text()
        user = self.username or ""
        if change:
            new = r.get_text()
            ok = self._server.change_password(user, password, new)
            return self._success(b"password") if ok else self._failure()
        try:
            ok = self._server.validate_password(user, password)
        except PasswordChangeRequired as req:
            return [byte(MSG_USERAUTH_PASSWD_CHANGEREQ) + string(req.prompt) + string(req.lang)]
        return self._success(b"password") if ok else self._failure()

    def _publickey(self, r: SSHReader) -> List[bytes]:
        has_sig = r.get_boolean()
        alg, blob = r.get_string(), r.get_string()
        sig = r.get_string() if has_sig else None
        r.done()
        base = alg[:-len(_CERT)] if alg.endswith(_CERT) else alg
        try:
            key = _keys.decode_public_blob(blob)
        except (SSHKeyError, SSHFormatError, ValueError):
            return self._failure()
        if (base not in self._sig_algs or alg not in key.sig_algorithms
                or alg.endswith(_CERT) != isinstance(key, _keys.SSHCertificate)):
            return self._failure()
        perms = self._key_permissions(key)
        if perms is None:
            return self._failure()
        if sig is None:
            return [byte(MSG_USERAUTH_PK_OK) + string(alg) + string(blob)]
        signed = (string(self._session_id) + byte(MSG_USERAUTH_REQUEST) + string(self.username or "")
                  + string(SERVICE) + string(b"publickey") + boolean(True) + string(alg) + string(blob))
        try:
            sig_alg = SSHReader(sig).get_string()
            good = sig_alg == base and key.verify(signed, sig)
        except SSHFormatError:
            good = False
        return self._success(b"publickey", perms) if good else self._failure()

    def _key_permissions(self, key: _keys.SSHKey) -> Optional[Permissions]:
        user = self.username or ""
        s = self._server
        if isinstance(key, _keys.SSHCertificate):
            perms = None
            if self._keys is not None:
                perms = self._keys.match_certificate(key, user, self._addr, self._now())
            if perms is None and self._trusted:
                perms = certificate_permissions(key, user, self._trusted, self._addr, self._now())
            if perms is None and s.validate_ca_key(user, key.signature_key):
                perms = certificate_permissions(key, user, [key.signature_key], self._addr, self._now())
            return perms
        if self._keys is not None:
            perms = self._keys.match(key, self._addr, self._now())
            if perms is not None:
                return perms
        return Permissions(key=key) if s.validate_public_key(user, key) else None

    def _kbdint(self, r: SSHReader) -> List[bytes]:
        lang = r.get_text()
        submethods = r.get_text()
        challenge = self._server.get_kbdint_challenge(self.username or "", lang, submethods)
        return self._challenge(challenge)

    def _challenge(self, challenge: Any) -> List[bytes]:
        if challenge is True:
            return self._success(b"keyboard-interactive")
        if not challenge:
            return self._failure()
        name, instruction, lang, prompts = challenge
        self._kbd_pending = True
        return [byte(MSG_USERAUTH_INFO_REQUEST) + string(name) + string(instruction) + string(lang)
                + uint32(len(prompts)) + b"".join(string(p) + boolean(e) for p, e in prompts)]

    def _info_response(self, r: SSHReader) -> List[bytes]:
        if not self._kbd_pending:
            raise ProtocolError("INFO_RESPONSE without a challenge", local=False)
        n = r.get_uint32()
        if n > 64:
            raise ProtocolError("%d keyboard-interactive answers" % n, local=False)
        answers = [r.get_text() for _ in range(n)]
        r.done()
        self._kbd_pending = False
        return self._challenge(self._server.validate_kbdint_response(self.username or "", answers))
