"""OpenSSH authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE FORMAT") and the permissions
a matching key or certificate grants.

Each line is ``[options] keytype base64 [comment]``.  Options understood: ``from=``,
``command=``, ``environment=``, ``expiry-time=``, ``principals=``, ``cert-authority``,
``restrict``, ``no-port-forwarding``/``port-forwarding``, ``no-pty``/``pty``,
``no-agent-forwarding``/``agent-forwarding``, ``no-X11-forwarding``/``X11-forwarding``,
``no-user-rc``/``user-rc``, ``permitopen=``, ``permitlisten=`` and ``no-touch-required``.
A line with an option M2Sec does not know, or a malformed one, is skipped as sshd skips it.

:meth:`AuthorizedKeys.match` answers for a plain key, :meth:`AuthorizedKeys.match_certificate`
for a user certificate against the ``cert-authority`` lines; both give :class:`Permissions`
or None.  :func:`certificate_permissions` does the same for a certificate signed by a CA the
server trusts (sshd's TrustedUserCAKeys).
"""

import calendar
import datetime
import ipaddress
import os
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

from M2Sec.SSH.errors import SSHError
from M2Sec.SSH.keys import CERT_USER, CertificateError, SSHCertificate, SSHKey, parse_public_line
from M2Sec.SSH.knownhosts import _wildcard


@dataclass
class Permissions:
    """What an authenticated key allows (sshd's auth options): a forced command, the
    environment, whether a pty and port forwarding are allowed, and where forwarding may go."""

    command: Optional[str] = None
    environment: Dict[str, str] = field(default_factory=dict)
    pty: bool = True
    port_forwarding: bool = True
    agent_forwarding: bool = True
    x11_forwarding: bool = True
    user_rc: bool = True
    #: "host:port" patterns for direct-tcpip (None: any)
    permitopen: Optional[List[str]] = None
    #: "[host:]port" patterns for tcpip-forward (None: any)
    permitlisten: Optional[List[str]] = None
    #: the key or certificate that matched, and the line of the file
    key: Optional[SSHKey] = None
    line: int = 0

    def allows_open(self, host: str, port: int) -> bool:
        """True if a direct-tcpip channel to host:port is allowed."""
        if not self.port_forwarding:
            return False
        return self.permitopen is None or any(_host_port_match(p, host, port) for p in self.permitopen)

    def allows_listen(self, host: str, port: int) -> bool:
        """True if a remote forward listening on host:port is allowed."""
        if not self.port_forwarding:
            return False
        if self.permitlisten is None:
            return True
        return any(_host_port_match(p if ":" in p else "localhost:" + p, host or "localhost", port)
                   for p in self.permitlisten)


def _host_port_match(pattern: str, host: str, port: int) -> bool:
    h, _, p = pattern.rpartition(":")
    if p != "*" and p != str(port):
        return False
    h = h.strip("[]")
    return h == "*" or h.lower() == host.lower() or (h == "localhost" and host in ("127.0.0.1", "::1", ""))


_FLAGS = {
    "port-forwarding": ("port_forwarding", True), "no-port-forwarding": ("port_forwarding", False),
    "pty": ("pty", True), "no-pty": ("pty", False),
    "agent-forwarding": ("agent_forwarding", True), "no-agent-forwarding": ("agent_forwarding", False),
    "x11-forwarding": ("x11_forwarding", True), "no-x11-forwarding": ("x11_forwarding", False),
    "user-rc": ("user_rc", True), "no-user-rc": ("user_rc", False),
}
_VALUED = ("from", "command", "environment", "expiry-time", "principals", "permitopen", "permitlisten")
_IGNORED = ("no-touch-required", "verify-required", "tunnel")


class AuthorizedKeysError(SSHError, ValueError):
    """A malformed authorized_keys option list."""


def parse_options(text: str) -> Tuple[List[Tuple[str, Optional[str]]], str]:
    """The options at the start of a line as (name, value) pairs, and the rest of the line.

    :raises AuthorizedKeysError: for an unterminated quote.
    """
    out: List[Tuple[str, Optional[str]]] = []
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j] not in "=, \t":
            j += 1
        name = text[i:j].lower()
        value: Optional[str] = None
        if j < n and text[j] == "=":
            if j + 1 >= n or text[j + 1] != '"':
                raise AuthorizedKeysError("option %s: the value must be quoted" % name)
            k = j + 2
            buf = []
            while k < n and text[k] != '"':
                if text[k] == "\\" and k + 1 < n and text[k + 1] == '"':
                    k += 1
                buf.append(text[k])
                k += 1
            if k >= n:
                raise AuthorizedKeysError("option %s: missing closing quote" % name)
            value = "".join(buf)
            j = k + 1
        out.append((name, value))
        if j < n and text[j] == ",":
            i = j + 1
            continue
        return out, text[j:].strip()
    return out, ""


def parse_expiry(value: str) -> float:
    """An expiry-time (``YYYYMMDD[HHMM[SS]]``, local time, or UTC with a ``Z`` suffix) in
    seconds since the epoch."""
    utc = value.endswith("Z") or value.endswith("z")
    digits = value[:-1] if utc else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 12, 14):
        raise AuthorizedKeysError("bad expiry-time %r" % value)
    digits = digits.ljust(14, "0")
    parts = (int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]),
             int(digits[12:14]))
    try:  # a date that does not exist (month 13, February 30) is refused, not normalised
        datetime.datetime(*parts)
    except ValueError:
        raise AuthorizedKeysError("bad expiry-time %r" % value) from None
    tm = parts + (0, 0, -1)
    return float(calendar.timegm(tm) if utc else time.mktime(tm))


def match_address(patterns: str, addr: str, host: Optional[str] = None) -> bool:
    """sshd's from= / source-address check: comma-separated patterns (wildcards, ``!``
    negation, CIDR blocks) against the client's address (and host name if known)."""
    positive = False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        ip = None
    for pat in patterns.split(","):
        pat = pat.strip()
        if not pat:
            continue
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        hit = False
        if "/" in p and ip is not None:
            try:
                hit = ip in ipaddress.ip_network(p, strict=False)
            except ValueError:
                hit = False
        else:
            hit = _wildcard(p, addr) or (host is not None and _wildcard(p, host))
        if hit:
            if neg:
                return False
            positive = True
    return positive


@dataclass
class AuthorizedKeyEntry:
    """One key line: the key, its options as parsed, and where it was."""

    key: SSHKey
    options: List[Tuple[str, Optional[str]]]
    comment: str = ""
    line: int = 0

    @property
    def cert_authority(self) -> bool:
        return any(n == "cert-authority" for n, _ in self.options)

    def option(self, name: str) -> Optional[str]:
        for n, v in self.options:
            if n == name:
                return v
        return None

    def permissions(self, addr: str, now: float) -> Optional[Permissions]:
        """The permissions of this line for a client at addr, or None if from= or
        expiry-time refuse it."""
        perms = Permissions(line=self.line)
        for name, value in self.options:
            if name == "restrict":
                perms = replace(perms, pty=False, port_forwarding=False, agent_forwarding=False,
                                x11_forwarding=False, user_rc=False)
            elif name in _FLAGS:
                setattr(perms, _FLAGS[name][0], _FLAGS[name][1])
            elif name == "from":
                if not match_address(value or "", addr):
                    return None
            elif name == "expiry-time":
                if now >= parse_expiry(value or ""):
                    return None
            elif name == "command":
                perms.command = value
            elif name == "environment":
                k, _, v = (value or "").partition("=")
                perms.environment[k] = v
            elif name == "permitopen":
                perms.permitopen = (perms.permitopen or []) + [value or ""]
            elif name == "permitlisten":
                perms.permitlisten = (perms.permitlisten or []) + [value or ""]
        return perms


def _check_line_options(options: List[Tuple[str, Optional[str]]]) -> None:
    for name, value in options:
        known = name in _FLAGS or name in ("restrict", "cert-authority") or name in _IGNORED
        if name in _VALUED:
            if value is None:
                raise AuthorizedKeysError("option %s needs a value" % name)
            if name == "expiry-time":
                parse_expiry(value)
            known = True
        elif value is not None and known:
            raise AuthorizedKeysError("option %s takes no value" % name)
        if not known:
            raise AuthorizedKeysError("unknown option %s" % name)


class AuthorizedKeys:
    """The keys of an authorized_keys file (a path, its text, or SSHKey objects).

    Lines that cannot be used (unknown key types, bad options) are skipped and listed in
    :attr:`skipped` as (line number, reason).
    """

    def __init__(self, source: Union[str, bytes, "os.PathLike[str]", Sequence[SSHKey], None] = None) -> None:
        self.entries: List[AuthorizedKeyEntry] = []
        self.skipped: List[Tuple[int, str]] = []
        if source is None:
            return
        if isinstance(source, (list, tuple)):
            for k in source:
                self.entries.append(AuthorizedKeyEntry(k if isinstance(k, SSHKey) else parse_public_line(k), []))
            return
        if isinstance(source, bytes):
            text = source.decode("utf-8", "replace")
        elif isinstance(source, str) and ("\n" in source or source.lstrip().startswith(("ssh-", "ecdsa-"))):
            text = source
        elif isinstance(source, (str, os.PathLike)):
            with open(os.fspath(source), encoding="utf-8", errors="replace") as f:
                text = f.read()
        else:
            raise TypeError("authorized keys come from a path, their text, or a list of SSHKey objects")
        for number, line in enumerate(text.splitlines(), 1):
            self._parse_line(line.strip(), number)

    def _parse_line(self, line: str, number: int) -> None:
        if not line or line.startswith("#"):
            return
        try:
            try:
                key = parse_public_line(line)
                options: List[Tuple[str, Optional[str]]] = []
                rest = line
            except (ValueError, SSHError):
                options, rest = parse_options(line)
                _check_line_options(options)
                key = parse_public_line(rest)
        except (ValueError, SSHError) as e:
            self.skipped.append((number, str(e)))
            return
        fields = rest.split(None, 2)
        self.entries.append(AuthorizedKeyEntry(key, options, fields[2] if len(fields) > 2 else "", number))

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, key: SSHKey, addr: str = "", now: Optional[float] = None) -> Optional[Permissions]:
        """The permissions for a plain public key, or None if no usable line lists it."""
        t = time.time() if now is None else now
        blob = key.public_blob()
        for e in self.entries:
            if not e.cert_authority and e.key.public_blob() == blob:
                perms = e.permissions(addr, t)
                if perms is not None:
                    perms.key = key
                    return perms
        return None

    def match_certificate(self, cert: SSHCertificate, username: str, addr: str = "",
                          now: Optional[float] = None) -> Optional[Permissions]:
        """The permissions for a user certificate signed by a ``cert-authority`` key of the
        file, valid for username (or, with principals=, for one of those), or None."""
        t = time.time() if now is None else now
        for e in self.entries:
            if not e.cert_authority or e.key.public_blob() != cert.signature_key.public_blob():
                continue
            allowed = e.option("principals")
            try:
                if allowed is not None:
                    cert.check(None, t, [e.key], CERT_USER, require_principal=True)
                    if not any(p in [a.strip() for a in allowed.split(",")] for p in cert.principals):
                        continue
                else:
                    cert.check(username, t, [e.key], CERT_USER, require_principal=True)
            except CertificateError:
                continue
            perms = e.permissions(addr, t)
            if perms is None:
                continue
            merged = _with_certificate(perms, cert, addr)
            if merged is not None:
                return merged
        return None


_CERT_FLAGS = {"permit-pty": "pty", "permit-port-forwarding": "port_forwarding",
               "permit-agent-forwarding": "agent_forwarding", "permit-X11-forwarding": "x11_forwarding",
               "permit-user-rc": "user_rc"}


def _with_certificate(perms: Permissions, cert: SSHCertificate, addr: str) -> Optional[Permissions]:
    """perms narrowed by the certificate's extensions and critical options (None: refused)."""
    for ext, attr in _CERT_FLAGS.items():
        if ext not in cert.extensions:
            setattr(perms, attr, False)
    for name, raw in cert.critical_options.items():
        value = raw.decode("utf-8", "replace")
        if name == "force-command":
            if perms.command is not None and perms.command != value:
                return None
            perms.command = value
        elif name == "source-address":
            if not match_address(value, addr):
                return None
        elif name != "verify-required":
            return None        # an unknown critical option refuses the certificate
    perms.key = cert
    return perms


def certificate_permissions(cert: SSHCertificate, username: str, ca_keys: Sequence[SSHKey], addr: str = "",
                            now: Optional[float] = None) -> Optional[Permissions]:
    """The permissions of a user certificate signed by one of ca_keys (sshd's
    TrustedUserCAKeys: username must be one of its principals), or None."""
    try:
        cert.check(username, now, list(ca_keys), CERT_USER, require_principal=True)
    except CertificateError:
        return None
    return _with_certificate(Permissions(), cert, addr)
