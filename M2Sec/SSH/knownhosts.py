"""OpenSSH known_hosts files (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT").

Each line is ``[@marker] patterns keytype base64-key [comment]``.  Patterns are host names or
addresses, ``[host]:port`` for a port other than 22, with ``*`` and ``?`` wildcards and ``!``
negation, or one hashed name ``|1|base64(salt)|base64(HMAC-SHA1(salt, name))`` as
``ssh-keygen -H`` writes.  ``@revoked`` marks a key that must never be accepted and
``@cert-authority`` a CA whose host certificates are trusted for the matching hosts.
"""

import base64
import hmac
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

from M2Sec.SSH import crypto
from M2Sec.SSH.errors import SSHError
from M2Sec.SSH.keys import CERT_HOST, CertificateError, SSHCertificate, SSHKey, decode_public_blob

OK = "ok"
REVOKED = "revoked"
CHANGED = "changed"
UNKNOWN = "unknown"

_HASH_MAGIC = "|1|"


def host_name(host: str, port: int = 22) -> str:
    """The name known_hosts uses for host at port: ``host`` for 22, else ``[host]:port``, in
    lower case (as OpenSSH looks names up and hashes them)."""
    host = host.lower()
    return host if port == 22 else "[%s]:%d" % (host, port)


def hash_host(name: str, salt: Optional[bytes] = None) -> str:
    """The hashed form ``|1|salt|hash`` of a known_hosts name (HMAC-SHA1, as ssh-keygen -H)."""
    salt = crypto.random_bytes(20) if salt is None else salt
    digest = _name_hmac(salt, name)
    return _HASH_MAGIC + base64.b64encode(salt).decode() + "|" + base64.b64encode(digest).decode()


def _name_hmac(salt: bytes, name: str) -> bytes:
    return crypto.hmac(salt, name.encode("utf-8"), "sha1")


def _wildcard(pattern: str, name: str) -> bool:
    """OpenSSH's match_pattern: ``*`` any run, ``?`` any one character; case-insensitive."""
    p, n = pattern.lower(), name.lower()
    pi = ni = 0
    star, mark = -1, 0
    while ni < len(n):
        if pi < len(p) and (p[pi] == "?" or p[pi] == n[ni]):
            pi, ni = pi + 1, ni + 1
        elif pi < len(p) and p[pi] == "*":
            star, mark = pi, ni
            pi += 1
        elif star >= 0:
            pi, mark = star + 1, mark + 1
            ni = mark
        else:
            return False
    while pi < len(p) and p[pi] == "*":
        pi += 1
    return pi == len(p)


@dataclass
class KnownHostsEntry:
    """One key line of a known_hosts file."""

    marker: Optional[str]      # None, "revoked" or "cert-authority"
    patterns: List[str]        # the host patterns (one hashed name, or plain patterns)
    blob: bytes                # the public key blob
    algorithm: str
    comment: str = ""
    line: int = 0              # 1-based line number in the file

    @property
    def key(self) -> SSHKey:
        """The entry's key, decoded (SSHKeyError for a type M2Sec does not support)."""
        return decode_public_blob(self.blob)

    def matches(self, name: str) -> bool:
        """True if the entry's patterns match the known_hosts name (see :func:`host_name`)."""
        positive = False
        for pat in self.patterns:
            if pat.startswith(_HASH_MAGIC):
                if _hashed_match(pat, name):
                    positive = True
                continue
            negated = pat.startswith("!")
            if _wildcard(pat[1:] if negated else pat, name):
                if negated:
                    return False
                positive = True
        return positive


def _hashed_match(pattern: str, name: str) -> bool:
    parts = pattern[len(_HASH_MAGIC):].split("|")
    if len(parts) != 2:
        return False
    try:
        salt, want = base64.b64decode(parts[0], validate=True), base64.b64decode(parts[1], validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(_name_hmac(salt, name), want)


@dataclass
class KnownHostsResult:
    """The outcome of :meth:`KnownHosts.match`.

    ``status`` is ``"ok"`` (the key, or the CA of its host certificate, is listed for the
    host), ``"revoked"``, ``"changed"`` (the host is listed with other keys only) or
    ``"unknown"`` (the host is not listed).  ``entry`` is the line that decided, ``keys`` the
    entries listed for the host, and ``reason`` says why a certificate was not accepted.
    """

    status: str
    entry: Optional[KnownHostsEntry] = None
    keys: List[KnownHostsEntry] = field(default_factory=list)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == OK


class KnownHostsError(SSHError, ValueError):
    """A known_hosts file that cannot be read."""


class KnownHosts:
    """The entries of an OpenSSH known_hosts file.

    :param path_or_text: a path (str or os.PathLike) of a file, or its contents as bytes or
        as a str (a str with a newline, or with a space that is not an existing file's name, is
        taken as the contents).  Lines that cannot be parsed are skipped, as OpenSSH does, and
        their numbers listed in :attr:`errors`.
    :param missing_ok: a path that does not exist gives an empty list (that :meth:`save`
        creates) instead of FileNotFoundError.
    """

    def __init__(self, path_or_text: Union[str, bytes, "os.PathLike[str]", None] = None, *,
                 missing_ok: bool = False) -> None:
        self.entries: List[KnownHostsEntry] = []
        self.errors: List[int] = []
        #: the file this was read from (where :meth:`save` appends), or None
        self.path: Optional[str] = None
        self._unsaved: List[str] = []
        if path_or_text is None:
            return
        if isinstance(path_or_text, (bytes, bytearray)):
            text = bytes(path_or_text).decode("utf-8", "replace")
        elif isinstance(path_or_text, str) and ("\n" in path_or_text or
                                                (" " in path_or_text and not os.path.exists(path_or_text))):
            text = path_or_text
        else:
            self.path = os.path.expanduser(os.fspath(path_or_text))
            try:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                if not missing_ok:
                    raise
                text = ""  # an empty file, which save() creates
        for number, line in enumerate(text.splitlines(), 1):
            self._parse_line(line, number)

    def _parse_line(self, line: str, number: int) -> None:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            return
        marker = None
        if fields[0].startswith("@"):
            marker = fields.pop(0)[1:]
            if marker not in ("revoked", "cert-authority"):
                self.errors.append(number)
                return
        if len(fields) < 3:
            self.errors.append(number)
            return
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except ValueError:
            self.errors.append(number)
            return
        self.entries.append(KnownHostsEntry(marker, fields[0].split(","), blob, fields[1],
                                            " ".join(fields[3:]), number))

    def lookup(self, host: str, port: int = 22) -> List[KnownHostsEntry]:
        """The entries whose patterns match host at port."""
        name = host_name(host, port)
        return [e for e in self.entries if e.matches(name)]

    def host_key_algorithms(self, host: str, port: int = 22) -> List[bytes]:
        """The key algorithms listed for host (plain keys first, then ``@cert-authority``
        certificate types), so that a client can prefer them in key exchange as OpenSSH does."""
        plain, certs = [], []
        for e in self.lookup(host, port):
            if e.marker is None:
                plain.append(e.algorithm.encode())
            elif e.marker == "cert-authority":
                certs.append(e.algorithm.encode())
        return list(dict.fromkeys(plain)) + [a + b"-cert-v01@openssh.com" for a in dict.fromkeys(certs)]

    def match(self, host: str, port: int, key: SSHKey, now: Optional[float] = None) -> KnownHostsResult:
        """Check a server's host key (or host certificate) for host at port.

        A key (or the CA of a certificate) listed ``@revoked`` for the host is "revoked".  A
        host certificate is "ok" when a ``@cert-authority`` entry for the host lists its CA and
        the certificate is valid for the host name now; otherwise its key is looked up as a
        plain key.  A plain key is "ok" when listed, "changed" when the host is listed with
        other keys only, and "unknown" when the host is not listed at all.
        """
        entries = self.lookup(host, port)
        blob = key.public_blob()
        cert = key if isinstance(key, SSHCertificate) else None
        plain_blob = cert.key.public_blob() if cert is not None else blob
        ca_blob = cert.signature_key.public_blob() if cert is not None else None
        for e in entries:
            if e.marker == "revoked" and e.blob in (blob, plain_blob, ca_blob):
                return KnownHostsResult(REVOKED, e, entries)
        reason = ""
        if cert is not None:
            for e in entries:
                if e.marker == "cert-authority" and e.blob == ca_blob:
                    try:
                        cert.check(host, now, cert_type=CERT_HOST)
                    except CertificateError as exc:
                        reason = str(exc)
                        continue
                    return KnownHostsResult(OK, e, entries)
            if not reason:
                reason = "no @cert-authority entry for this host lists the certificate's CA"
        known = [e for e in entries if e.marker is None]
        for e in known:
            if e.blob == plain_blob:
                return KnownHostsResult(OK, e, entries, reason)
        return KnownHostsResult(CHANGED if known else UNKNOWN, None, entries, reason)

    def add(self, host: str, port: int, key: SSHKey, *, hashed: bool = False, comment: str = "") -> str:
        """Add key for host at port and return the line to append to the file (no newline)."""
        if isinstance(key, SSHCertificate):
            key = key.key
        name = host_name(host, port)
        pattern = hash_host(name) if hashed else name
        line = known_hosts_line(pattern, key, comment)
        self.entries.append(KnownHostsEntry(None, [pattern], key.public_blob(), key.algorithm.decode(), comment,
                                            (self.entries[-1].line if self.entries else 0) + 1))
        self._unsaved.append(line)
        return line

    def save(self, path: Union[str, "os.PathLike[str]", None] = None) -> None:
        """Append the entries added since the last save to path (default: the file this was
        read from), creating it (and its directory, mode 0700) if needed, as ssh does.

        :raises ValueError: no path to write to.
        """
        target = os.path.expanduser(os.fspath(path)) if path is not None else self.path
        if target is None:
            raise ValueError("this KnownHosts was not read from a file: give a path")
        if not self._unsaved:
            return
        directory = os.path.dirname(target)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(target, "a", encoding="utf-8") as f:
            if f.tell():
                with open(target, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        f.write("\n")
            f.write("".join(line + "\n" for line in self._unsaved))
        self._unsaved = []

    def __len__(self) -> int:
        return len(self.entries)


def known_hosts_line(patterns: Union[str, Sequence[str]], key: SSHKey, comment: str = "",
                     marker: Optional[str] = None) -> str:
    """A known_hosts line for key with the given host patterns (no newline)."""
    names = patterns if isinstance(patterns, str) else ",".join(patterns)
    line = key.public_line(comment)
    return ("@%s %s %s" % (marker, names, line)) if marker else "%s %s" % (names, line)
