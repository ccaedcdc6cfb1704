"""OpenSSH client configuration files (ssh_config(5)): the subset a library client applies.

:class:`SSHConfig` reads ``~/.ssh/config`` and the files it includes and answers
:meth:`SSHConfig.lookup` for one host (paramiko's names): a dict of lowercase keywords to
values, the first value obtained winning as in OpenSSH (``IdentityFile``, ``CertificateFile``
and the forwarding keywords collect every value).  ``Host`` and ``Match`` blocks are honoured
(``Match`` with ``all``, ``host``, ``originalhost``, ``user``, ``localuser``, ``canonical`` and
``final``; ``exec`` is never run: a block that needs it does not apply).  ``Include`` takes
globs relative to ``~/.ssh``; a loop of includes is an error.  Unknown keywords are ignored, as
OpenSSH does with ``IgnoreUnknown``.  Tokens (``%h %p %r %u %d %n %%``) and ``~`` are
expanded in the keywords that take them.

The front ends read the files; the protocol core only sees the options they result in.
"""

import fnmatch
import getpass
import glob
import os
import shlex
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from M2Sec.SSH.errors import SSHError

#: keywords whose every value is kept (in order), not only the first
MULTI = frozenset(["identityfile", "certificatefile", "localforward", "remoteforward", "dynamicforward",
                   "sendenv", "setenv", "userknownhostsfile"])
#: keywords whose value has tokens and ``~`` expanded
_PATHS = frozenset(["identityfile", "certificatefile", "userknownhostsfile", "identityagent", "controlpath"])
_TOKENS = frozenset(["hostname", "proxycommand", "localcommand", "remotecommand"]) | _PATHS
MAX_INCLUDE_DEPTH = 16
#: the largest configuration file read
MAX_FILE = 1 << 20


class SSHConfigError(SSHError, ValueError):
    """A configuration file cannot be used: unreadable, too large, a bad line or an Include loop."""


def _split(line: str) -> Optional[Tuple[str, List[str]]]:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    # "Keyword value", "Keyword=value" or "Keyword = value"
    head, sep, rest = line.partition("=")
    if sep and " " not in head.strip() and "\t" not in head.strip():
        key, value = head.strip(), rest.strip()
    else:
        parts = line.split(None, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
    try:
        args = shlex.split(value, comments=True)
    except ValueError as e:
        raise SSHConfigError("%s: %s" % (key, e)) from None
    return key.lower(), args


def _match_patterns(patterns: Sequence[str], name: str) -> bool:
    """OpenSSH pattern lists: any positive match and no negated one."""
    matched = False
    for pattern_list in patterns:
        for pat in pattern_list.split(","):
            if not pat:
                continue
            negate = pat.startswith("!")
            if negate:
                pat = pat[1:]
            if fnmatch.fnmatchcase(name.lower(), pat.lower()):
                if negate:
                    return False
                matched = True
    return matched


class SSHConfig:
    """An OpenSSH client configuration (see the module's docstring).

    :param paths: files to read, in order (``~`` expanded); missing files are skipped.
    """

    def __init__(self, paths: Sequence[Union[str, "os.PathLike[str]"]] = ()) -> None:
        self.paths = [os.path.expanduser(os.fspath(p)) for p in paths]
        self._texts: Dict[str, List[str]] = {}

    @classmethod
    def from_path(cls, path: Union[str, "os.PathLike[str]"]) -> "SSHConfig":
        return cls([path])

    @classmethod
    def from_text(cls, text: str) -> "SSHConfig":
        cfg = cls()
        cfg._texts["<text>"] = text.splitlines()
        cfg.paths = ["<text>"]
        return cfg

    def _lines(self, path: str) -> List[str]:
        if path not in self._texts:
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_FILE + 1)
            except FileNotFoundError:
                data = b""
            except OSError as e:
                raise SSHConfigError("cannot read %s: %s" % (path, e.strerror or e)) from None
            if len(data) > MAX_FILE:
                raise SSHConfigError("%s is larger than %d bytes" % (path, MAX_FILE))
            self._texts[path] = data.decode("utf-8", "replace").splitlines()
        return self._texts[path]

    def lookup(self, host: str, *, user: Optional[str] = None, port: Optional[int] = None) -> Dict[str, Any]:
        """The options for host: lowercase keyword -> value (a str, or a list of str for the
        keywords of :data:`MULTI`); ``hostname`` is always set (host itself by default).

        :raises SSHConfigError: an unreadable file, a malformed line, an Include loop.
        """
        opts: Dict[str, Any] = {}
        ctx = {"host": host, "user": user, "port": port}
        for path in self.paths:
            self._evaluate(path, opts, ctx, True, 0, final=False)
        if "match" in opts:  # never a value
            del opts["match"]
        opts.setdefault("hostname", host)
        return self._expand(opts, host, user)

    def _evaluate(self, path: str, opts: Dict[str, Any], ctx: Dict[str, Any], active: bool, depth: int,
                  final: bool) -> None:
        if depth > MAX_INCLUDE_DEPTH:
            raise SSHConfigError("Include nested more than %d deep (a loop?) at %s" % (MAX_INCLUDE_DEPTH, path))
        for number, raw in enumerate(self._lines(path), 1):
            try:
                parsed = _split(raw)
            except SSHConfigError as e:
                raise SSHConfigError("%s line %d: %s" % (path, number, e)) from None
            if parsed is None:
                continue
            key, args = parsed
            if key == "host":
                active = _match_patterns(args, ctx["host"])
            elif key == "match":
                active = self._match(args, opts, ctx, path, number)
            elif not active:
                continue
            elif key == "include":
                for pattern in args:
                    pattern = os.path.expanduser(pattern)
                    if not os.path.isabs(pattern):
                        pattern = os.path.join(os.path.expanduser("~/.ssh"), pattern)
                    for inc in sorted(glob.glob(pattern)):
                        self._evaluate(inc, opts, ctx, True, depth + 1, final)
            elif not args:
                raise SSHConfigError("%s line %d: %s has no value" % (path, number, key))
            elif key in MULTI:
                opts.setdefault(key, []).extend(args if key in ("sendenv", "setenv", "userknownhostsfile")
                                                else [" ".join(args)])
            elif key not in opts:
                opts[key] = args[0] if len(args) == 1 else " ".join(args)
                if key == "proxycommand":
                    opts[key] = " ".join(args)

    def _match(self, args: List[str], opts: Dict[str, Any], ctx: Dict[str, Any], path: str, number: int) -> bool:
        i, result = 0, True
        while i < len(args):
            word = args[i].lower()
            negate = word.startswith("!")
            word = word.lstrip("!")
            if word in ("all", "canonical", "final"):
                ok = True
                i += 1
            elif word in ("host", "originalhost", "user", "localuser", "exec", "tagged", "localnetwork"):
                if i + 1 >= len(args):
                    raise SSHConfigError("%s line %d: Match %s needs an argument" % (path, number, word))
                value = args[i + 1]
                i += 2
                if word == "host":
                    ok = _match_patterns([value], opts.get("hostname", ctx["host"]))
                elif word == "originalhost":
                    ok = _match_patterns([value], ctx["host"])
                elif word == "user":
                    ok = _match_patterns([value], opts.get("user", ctx["user"]) or getpass.getuser())
                elif word == "localuser":
                    ok = _match_patterns([value], getpass.getuser())
                else:
                    ok = False  # exec is never run; tagged and localnetwork are not supported
                    negate = False
            else:
                raise SSHConfigError("%s line %d: unknown Match criterion %r" % (path, number, word))
            result = result and (ok != negate)
        return result

    def _expand(self, opts: Dict[str, Any], host: str, user: Optional[str]) -> Dict[str, Any]:
        hostname = _tokens(opts["hostname"], {"h": host, "n": host})
        opts["hostname"] = hostname
        values = {"h": hostname, "n": host, "p": str(opts.get("port", 22)),
                  "r": opts.get("user") or user or getpass.getuser(), "u": getpass.getuser(),
                  "d": os.path.expanduser("~")}
        for key in _TOKENS & set(opts):
            if key == "hostname":
                continue
            v = opts[key]
            if isinstance(v, list):
                opts[key] = [self._path(key, _tokens(x, values)) for x in v]
            else:
                opts[key] = self._path(key, _tokens(v, values))
        return opts

    @staticmethod
    def _path(key: str, value: str) -> str:
        return os.path.expanduser(value) if key in _PATHS else value


def _tokens(value: str, values: Dict[str, str]) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "%" and i + 1 < len(value):
            t = value[i + 1]
            if t == "%":
                out.append("%")
            elif t in values:
                out.append(values[t])
            else:
                raise SSHConfigError("unknown token %%%s in %r" % (t, value))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def algorithm_list(value: str, default: Sequence[bytes], supported: Sequence[bytes]) -> List[bytes]:
    """An ssh_config algorithm list: a plain list replaces the default; ``+`` appends to it,
    ``-`` removes (patterns allowed) and ``^`` puts first, as OpenSSH 8+ reads them."""
    if not value:
        return list(default)
    head, body = value[0], value[1:]
    names = [n.strip().encode() for n in (body if head in "+-^" else value).split(",") if n.strip()]
    if head == "+":
        return list(default) + [n for n in names if n not in default and n in supported]
    if head == "-":
        return [d for d in default if not any(fnmatch.fnmatchcase(d.decode(), n.decode()) for n in names)]
    if head == "^":
        return names + [d for d in default if d not in names]
    return names


def parse_size(value: str) -> int:
    """A RekeyLimit size: a number with an optional K, M or G suffix."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    v = value.strip().lower()
    try:
        if v and v[-1] in units:
            return int(v[:-1]) * units[v[-1]]
        return int(v)
    except ValueError:
        raise SSHConfigError("bad size %r" % value) from None


def parse_time(value: str) -> float:
    """An ssh_config time: seconds, or a sum of numbers with s, m, h, d, w suffixes."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    total, num = 0.0, ""
    for c in value.strip().lower():
        if c.isdigit():
            num += c
        elif c in units and num:
            total += int(num) * units[c]
            num = ""
        else:
            raise SSHConfigError("bad time %r" % value)
    return total + (int(num) if num else 0)


def parse_jump(spec: str) -> Tuple[Optional[str], str, Optional[int]]:
    """``[user@]host[:port]`` (or ``ssh://[user@]host[:port]``) -> (user, host, port)."""
    if spec.startswith("ssh://"):
        spec = spec[6:]
    user: Optional[str] = None
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    port: Optional[int] = None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif spec.count(":") == 1:
        host, p = spec.split(":")
        port = int(p)
    else:
        host = spec
    if not host:
        raise SSHConfigError("no host in %r" % spec)
    return user, host, port
