"""~/.ssh/config (M2Sec.SSH.config): the input's first piece is the configuration, the other
pieces are files that ``Include`` can name (``~/.ssh/a``, ``~/.ssh/b``, ...: served from
memory).  One host is looked up (Host and Match blocks, Include, tokens and ``~``), and the
values are then read as ``connect()`` reads them (ports, sizes, times, ProxyJump hops,
algorithm lists, the core's ClientConfig).  A bad configuration is an SSHConfigError.

Nothing may touch the machine: ``Include`` globs run over the in-memory files only, and an
audit hook fails the input if the parser opens a file, lists a directory, globs, or starts a
process (``Match exec`` must never run: M2Sec does not run it)."""
import fnmatch
import os
import sys
import types

from _harness import main, split

import pwd  # noqa: F401  (posixpath.expanduser imports it for ~user: not during an input)

from M2Sec.SSH import config
from M2Sec.SSH.config import SSHConfig, SSHConfigError, algorithm_list, client_options
from M2Sec.SSH.connection import (DEFAULT_CIPHERS, DEFAULT_HOST_KEY_ALGS, DEFAULT_MACS, SUPPORTED_CIPHERS,
                                  SUPPORTED_HOST_KEY_ALGS, SUPPORTED_MACS, ClientConfig, kex)

EXPECTED = (SSHConfigError,)
HOME = "/nonexistent-fuzz-home"
os.environ.update(HOME=HOME, LOGNAME="fuzz", USER="fuzz")
HOSTS = ("web", "db.example.com", "10.0.0.1", "h")
FILES = [HOME + "/.ssh/" + c for c in "abcdefgh"]
ALGORITHMS = (("kexalgorithms", "kex_algs", kex.DEFAULT_KEX, kex.SUPPORTED_KEX),
              ("ciphers", "encryption_algs", DEFAULT_CIPHERS, SUPPORTED_CIPHERS),
              ("macs", "mac_algs", DEFAULT_MACS, SUPPORTED_MACS),
              ("hostkeyalgorithms", "server_host_key_algs", DEFAULT_HOST_KEY_ALGS, SUPPORTED_HOST_KEY_ALGS))


class Escaped(BaseException):
    """The parser reached outside the harness's memory (a file, a directory, a process)."""


_guard = {"on": False, "what": None}
_FORBIDDEN = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
              "pty.spawn", "glob.glob", "os.listdir", "os.scandir")
_PREFIXES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def _audit(event: str, args: tuple) -> None:
    if not _guard["on"]:
        return
    bad = event in _FORBIDDEN or event == "open" and not isinstance(args[0], int) \
        and not os.fsdecode(args[0]).startswith(_PREFIXES)  # a module imported late is fine
    if bad:
        _guard["what"] = "%s%r" % (event, args[:2])
        raise Escaped(_guard["what"])


sys.addaudithook(_audit)


class _Files:
    """What config.glob becomes: glob over the in-memory files."""

    names: list = []

    @classmethod
    def glob(cls, pattern: str) -> list:
        return [n for n in cls.names if fnmatch.fnmatchcase(n, pattern)]


config.glob = types.SimpleNamespace(glob=_Files.glob)  # type: ignore[attr-defined]


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, data = data[0], data[1:]
    pieces = [p.decode("utf-8", "replace") for p in split(data, len(FILES))]
    cfg = SSHConfig.from_text(pieces[0])
    _Files.names = FILES[:len(pieces) - 1]
    for name, text in zip(_Files.names, pieces[1:]):
        cfg._texts[name] = text.splitlines()
    _guard["on"], _guard["what"] = True, None
    try:
        opts = cfg.lookup(HOSTS[mode & 3], user="alice" if mode & 4 else None)
        conf = client_options(opts)
        algs = {arg: algorithm_list(opts[key], default, supported)
                for key, arg, default, supported in ALGORITHMS if key in opts}
    finally:
        _guard["on"] = False
        if _guard["what"]:
            raise Escaped(_guard["what"])
    assert isinstance(opts["hostname"], str), opts
    ClientConfig(username="u", host=opts["hostname"], port=conf.get("port", 22),
                 rekey_bytes=conf.get("rekey_bytes", 1 << 30), rekey_seconds=conf.get("rekey_seconds", 3600.0),
                 preferred_auth=[m.encode() for m in conf.get("preferred_auth", ())] or None, **algs)


if __name__ == "__main__":
    main(one_input, EXPECTED)
