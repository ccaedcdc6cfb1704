"""``m2sec sftp get|put`` and ``m2sec scp`` (python -m M2Sec ...): file transfers with a
progress bar (bytes, rate, ETA) on a terminal, quiet when stderr is not one.

    m2sec sftp get [-P PORT] [-l USER] [-i KEY]... [-r] [--preserve] [-q] [user@]HOST:REMOTE [LOCAL]
    m2sec sftp put [-P PORT] [-l USER] [-i KEY]... [-r] [--preserve] [-q] LOCAL... [user@]HOST:REMOTE
    m2sec scp [-P PORT] [-i KEY]... [-r] [-p] [-O] [-q] SOURCE... TARGET

Host keys are checked against ``~/.ssh/known_hosts`` (``--known-hosts FILE`` to choose,
``--accept-any-host-key`` to skip the check, unsafely).
"""

import argparse
import asyncio
import getpass
import os
import sys
import time
from typing import Any, Dict, List, Optional, TextIO

from M2Sec.SSH.errors import DisconnectError, SSHError


class ProgressBar:
    """One line per file on a terminal: name, percent, bytes, rate and ETA; silent elsewhere.

    Call it as a ``progress_handler`` (src, dst, done, total).
    """

    def __init__(self, stream: TextIO = sys.stderr, enabled: Optional[bool] = None, width: int = 80) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.width = width
        self._start: Dict[bytes, float] = {}
        self._last = 0.0
        self._current: Optional[bytes] = None

    def __call__(self, src: bytes, dst: bytes, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        start = self._start.setdefault(src, now)
        if self._current is not None and self._current != src:
            self.stream.write("\n")
        self._current = src
        finished = done >= total
        if not finished and now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - start, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 and not finished else 0
        name = os.path.basename(src.decode("utf-8", "replace")) or "?"
        pct = 100 * done // total if total else 100
        right = "%3d%% %9s %9s/s %s" % (pct, _size(done), _size(rate), "%d:%02d" % divmod(int(eta), 60))
        room = max(self.width - len(right) - 1, 8)
        self.stream.write("\r%-*s %s" % (room, name[:room], right))
        if finished:
            self.stream.write("\n")
            self._current = None
        self.stream.flush()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1000
    return "%.1f TB" % n


def _common(p: argparse.ArgumentParser, port_flag: str) -> None:
    p.add_argument(port_flag, dest="port", type=int, default=22, help="port (default 22)")
    p.add_argument("-i", "--identity", action="append", default=[], help="private key file (repeatable)")
    p.add_argument("--password", action="store_true", help="ask for a password (or take $M2SEC_SSH_PASSWORD)")
    p.add_argument("--known-hosts", help="known_hosts file (default ~/.ssh/known_hosts)")
    p.add_argument("--accept-any-host-key", action="store_true", help="do not check the host key (insecure)")
    p.add_argument("-r", "--recursive", action="store_true", help="copy directories")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="a progress bar even when stderr is not a terminal")


def _connect_kw(args: argparse.Namespace) -> Dict[str, Any]:
    from M2Sec.SSH.cli import client_options
    kw: Dict[str, Any] = client_options(args)
    kw["port"] = args.port
    if getattr(args, "user", None):
        kw["username"] = args.user
    return kw


def _bar(args: argparse.Namespace) -> ProgressBar:
    return ProgressBar(sys.stderr, False if args.quiet else (True if args.progress else None))


def _run(coro: Any, what: str) -> int:
    try:
        asyncio.run(coro)
        return 0
    except KeyboardInterrupt:
        return 130
    except (DisconnectError, SSHError, OSError, ValueError) as e:
        print("m2sec %s: %s" % (what, e), file=sys.stderr)
        return 1


def sftp_main(argv: Optional[List[str]] = None) -> int:
    """``m2sec sftp get|put ...``; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="m2sec sftp", description="Copy files over SFTP (M2Sec).")
    sub = p.add_subparsers(dest="op", required=True)
    g = sub.add_parser("get", help="download")
    g.add_argument("remote", help="[user@]HOST:PATH")
    g.add_argument("local", nargs="?", default=".")
    u = sub.add_parser("put", help="upload")
    u.add_argument("local", nargs="+")
    u.add_argument("remote", help="[user@]HOST:PATH")
    for q in (g, u):
        _common(q, "-P")
        q.add_argument("-l", "--user")
        q.add_argument("--preserve", "-p", action="store_true", help="keep modes and times")
        q.add_argument("--block-size", type=int, default=None)
        q.add_argument("--requests", type=int, default=None, help="requests in flight per file")
    args = p.parse_args(argv)
    user, _, rest = args.remote.rpartition("@")
    host, sep, path = rest.partition(":")
    if not sep or not host:
        p.error("the remote side must be [user@]HOST:PATH")
    kw = _connect_kw(args)
    if user and "username" not in kw:
        kw["username"] = user

    async def go() -> None:
        from M2Sec.SSH._asyncio import connect
        async with connect(host, **kw) as conn:
            async with conn.start_sftp_client() as sftp:
                opts = dict(recurse=args.recursive, preserve=args.preserve, progress_handler=_bar(args),
                            block_size=args.block_size, max_requests=args.requests)
                if args.op == "get":
                    await sftp.get(path or ".", args.local, **opts)
                else:
                    await sftp.put(args.local if len(args.local) > 1 else args.local[0], path or None, **opts)
    return _run(go(), "sftp")


def scp_main(argv: Optional[List[str]] = None) -> int:
    """``m2sec scp SOURCE... TARGET``; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="m2sec scp", description="Copy files as scp does (M2Sec).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="sources then the target; remote as [user@]HOST:PATH")
    _common(p, "-P")
    p.add_argument("-p", dest="preserve", action="store_true", help="keep modes and times")
    p.add_argument("-O", dest="legacy", action="store_true", help="the legacy scp protocol instead of SFTP")
    args = p.parse_args(argv)
    if len(args.paths) < 2:
        p.error("a source and a target are needed")
    from M2Sec.SSH.scp import scp
    kw = _connect_kw(args)
    if "username" not in kw:
        kw["username"] = getpass.getuser()
    sources, target = args.paths[:-1], args.paths[-1]
    return _run(scp(sources if len(sources) > 1 else sources[0], target, preserve=args.preserve,
                    recurse=args.recursive, legacy=args.legacy, progress_handler=_bar(args), **kw), "scp")
