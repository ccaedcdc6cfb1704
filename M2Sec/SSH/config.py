"""OpenSSH client configuration files (ssh_config(5)): the subset a library client applies.

:class:`SSHConfig` reads ``~/.ssh/config`` and the files it includes and answers
:meth:`SSHConfig.lookup` for one host (paramiko's names): a dict of lowercase keywords to
values, the first value obtained winning as in OpenSSH (``IdentityFile``, ``CertificateFile``
and the forwarding keywords collect every value).  ``Host`` and ``Match`` blocks are honoured
(``Match`` with ``all``, ``host``, ``originalhost``, ``user``, ``localuser``, ``canonical`` and
``final``; ``exec`` is never run: a block that needs it does not apply).  ``Include`` takes
globs relative to ``~/.ssh``; a loop of includes is an error, and so is a lookup that would read
more than :data:`MAX_INCLUDED` files.  Unknown keywords are ignored, as
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
#: the most files one lookup reads (Include of Include fans out: a few lines could ask for
#: millions of readings of the same files)
MAX_INCLUDED = 256
#: the largest configuration file read
MAX_FILE = 1 << 20


class SSHConfigError(SSHError, ValueError):
    """A configuration file cannot be used: unreadable, too large, a bad line or an Include loop."""


#: keywords whose value is a command for the shell: kept as written (OpenSSH takes the rest of
#: the line), quotes and all
_COMMANDS = frozenset(["proxycommand", "localcommand", "remotecommand"])


def _split(line: str) -> Optional[Tuple[str, List[str]]]:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if "\x00" in line:  # no path, pattern or command may hold one (os.* would raise ValueError)
        raise SSHConfigError("a NUL byte in the line")
    # "Keyword value", "Keyword=value" or "Keyword = value"
    head, sep, rest = line.partition("=")
    if sep and " " not in head.strip() and "\t" not in head.strip():
        key, value = head.strip(), rest.strip()
    else:
        parts = line.split(None, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
    if key.lower() in _COMMANDS:
        return key.lower(), [value] if value else []
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
        ctx: Dict[str, Any] = {"host": host, "user": user, "port": port, "stack": [], "files": 0}
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
        stack: List[str] = ctx["stack"]
        if path in stack:
            raise SSHConfigError("Include loop: %s" % " -> ".join(stack[stack.index(path):] + [path]))
        ctx["files"] += 1
        if ctx["files"] > MAX_INCLUDED:
            raise SSHConfigError("more than %d files read for one host (Include fans out too much) at %s"
                                 % (MAX_INCLUDED, path))
        stack.append(path)
        try:
            self._evaluate_lines(path, opts, ctx, active, depth, final)
        finally:
            stack.pop()

    def _evaluate_lines(self, path: str, opts: Dict[str, Any], ctx: Dict[str, Any], active: bool, depth: int,
                        final: bool) -> None:
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
    ``-`` removes (patterns allowed) and ``^`` puts first, as OpenSSH 8+ reads them.

    :raises SSHConfigError: a name this client does not support in a plain or ``^`` list (as
        OpenSSH's "Bad SSH2 ... spec"), or a list that leaves no algorithm.
    """
    if not value:
        return list(default)
    head, body = value[0], value[1:]
    names = [n.strip().encode("utf-8", "replace") for n in (body if head in "+-^" else value).split(",")
             if n.strip()]
    if head == "+":
        out = list(default) + [n for n in names if n not in default and n in supported]
    elif head == "-":
        out = [d for d in default if not any(fnmatch.fnmatchcase(d.decode(), n.decode("utf-8", "replace"))
                                             for n in names)]
    else:
        unknown = [n for n in names if n not in supported]
        if unknown:
            raise SSHConfigError("unsupported algorithm %s in %r" % (unknown[0].decode("utf-8", "replace"), value))
        out = list(dict.fromkeys(names))
        if head == "^":
            out += [d for d in default if d not in out]
    if not out:
        raise SSHConfigError("no algorithm left in %r" % value)
    return out


def parse_int(value: str, what: str, minimum: int = 0, maximum: int = 2 ** 31 - 1) -> int:
    """A decimal number from minimum to maximum (ASCII digits only, as OpenSSH's strtonum)."""
    v = value.strip()
    if not v or not v.isascii() or not v.isdigit() or len(v) > 20 or not minimum <= int(v) <= maximum:
        raise SSHConfigError("%s must be a number from %d to %d, not %r" % (what, minimum, maximum, value[:40]))
    return int(v)


def parse_size(value: str) -> int:
    """A RekeyLimit size: a number with an optional K, M or G suffix."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    v = value.strip().lower()
    unit = units.get(v[-1:], 1)
    number = v[:-1] if unit != 1 else v
    if not number or not number.isascii() or not number.isdigit() or len(number) > 20 \
            or int(number) * unit > 2 ** 63 - 1:
        raise SSHConfigError("bad size %r" % value[:40])
    return int(number) * unit


#: the longest time ssh_config takes (OpenSSH's convtime: INT_MAX seconds)
MAX_TIME = 2 ** 31 - 1


def parse_time(value: str) -> float:
    """An ssh_config time: seconds, or a sum of numbers with s, m, h, d, w suffixes, up to
    :data:`MAX_TIME` seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    v = value.strip().lower()
    total, num, ok = 0, "", bool(v)
    for c in v:
        if c in "0123456789" and len(num) < 10:
            num += c
        elif c in units and num:
            total += int(num) * units[c]
            num = ""
        else:
            ok = False
            break
    total += int(num) if num else 0
    if not ok or total > MAX_TIME:
        raise SSHConfigError("bad time %r (seconds, or numbers with s, m, h, d, w up to %d seconds)"
                             % (value[:40], MAX_TIME))
    return float(total)


def parse_jump(spec: str) -> Tuple[Optional[str], str, Optional[int]]:
    """``[user@]host[:port]`` (or ``ssh://[user@]host[:port]``) -> (user, host, port)."""
    original = spec
    if spec.startswith("ssh://"):
        spec = spec[6:]
    user: Optional[str] = None
    if "@" in spec:
        user, spec = spec.rsplit("@", 1)
    port: Optional[int] = None
    p = None
    if spec.startswith("["):
        host, bracket, rest = spec[1:].partition("]")
        if not bracket or rest and not rest.startswith(":"):
            raise SSHConfigError("bad host in %r" % original[:80])
        p = rest[1:] if rest else None
    elif spec.count(":") == 1:
        host, p = spec.split(":")
    else:
        host = spec
    if p is not None:
        port = parse_int(p, "the port of %r" % original[:80], 1, 65535)
    if not host:
        raise SSHConfigError("no host in %r" % original[:80])
    return user, host, port


def client_options(opts: Dict[str, Any]) -> Dict[str, Any]:
    """The values of a :meth:`SSHConfig.lookup` result that :func:`M2Sec.SSH.connect` uses, read
    into its keyword arguments' types (only those the configuration sets): ``port``,
    ``rekey_bytes``, ``rekey_seconds``, ``connect_timeout``, ``keepalive_interval``,
    ``keepalive_count_max``, ``preferred_auth`` (a list of names), ``tunnel`` (the ProxyJump
    hops, checked) and ``proxy_command`` (tokens already expanded by the lookup).

    :raises SSHConfigError: a value that is not of its keyword's form.
    """
    out: Dict[str, Any] = {}
    if "port" in opts:
        out["port"] = parse_int(opts["port"], "Port", 1, 65535)
    limit = opts.get("rekeylimit", "").split()
    if limit and limit[0] != "default":
        out["rekey_bytes"] = parse_size(limit[0])
    if len(limit) > 1 and limit[1] != "none":
        out["rekey_seconds"] = parse_time(limit[1])
    if "connecttimeout" in opts:
        out["connect_timeout"] = parse_time(opts["connecttimeout"])
    if "serveraliveinterval" in opts:
        out["keepalive_interval"] = parse_time(opts["serveraliveinterval"])
    if "serveralivecountmax" in opts:
        out["keepalive_count_max"] = parse_int(opts["serveralivecountmax"], "ServerAliveCountMax")
    if "preferredauthentications" in opts:
        out["preferred_auth"] = [m for m in opts["preferredauthentications"].split(",") if m]
    jump = opts.get("proxyjump")
    if jump and jump.lower() != "none":
        hops = [h.strip() for h in jump.split(",") if h.strip()]
        for hop in hops:
            parse_jump(hop)
        if hops:
            out["tunnel"] = ",".join(hops)
    pc = opts.get("proxycommand")
    if pc and pc.lower() != "none":
        out["proxy_command"] = pc
    return out
