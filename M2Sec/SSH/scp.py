"""SCP: :func:`scp` copies files between local paths and ``[user@]host:path`` (as asyncssh's),
over SFTP when the server offers it and over the legacy ``scp -t``/``scp -f`` protocol
otherwise; and the server side of the legacy protocol (what OpenSSH's ``scp -O`` asks for),
served from an :class:`~M2Sec.SSH.sftp_server.SFTPServer` so that a chroot applies to it too.
No system ``scp`` is run.

The legacy protocol: the sink acknowledges with a NUL byte; the source sends ``T<mtime> 0
<atime> 0`` (with -p), ``C<mode> <size> <name>`` then the bytes and a NUL, ``D<mode> 0
<name>`` to enter a directory and ``E`` to leave it; ``\\x01`` or ``\\x02`` and a line are a
warning or a fatal error.
"""

import inspect
import os
import posixpath
import shlex
import stat as _stat
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from M2Sec.SSH.errors import ChannelRequestError
from M2Sec.SSH.sftp import SFTPAttrs, SFTPError, SFTPFailure

_BLOCK = 256 * 1024
_MAX_LINE = 8192


class SCPError(SFTPFailure):
    """The other side of a legacy SCP transfer reported an error, or broke the protocol."""


# ---- the protocol's pieces ------------------------------------------------------------------


async def _readline(reader: Any) -> bytes:
    line: bytes = await reader.readline()  # a channel stream without encoding: bytes
    if len(line) > _MAX_LINE:
        raise SCPError(reason="an SCP line too long")
    return line


async def _ack(reader: Any) -> None:
    b = await reader.read(1)
    if b == b"\x00":
        return
    if b in (b"\x01", b"\x02"):
        msg = (await _readline(reader)).decode("utf-8", "replace").strip()
        raise SCPError(reason=msg or "the remote scp failed")
    if not b:
        raise SCPError(reason="the remote scp ended the connection")
    raise SCPError(reason="a malformed SCP acknowledgement %r" % b)


#: the latest time a T record may carry (SFTP version 3's attributes hold 32-bit times)
_MAX_TIME = 0xFFFFFFFF


def _number(text: str, digits: str = "0123456789") -> str:
    """text if it is a plain number (ASCII digits only: int() would take "+1", "1_0", " 1"
    and other scripts' digits); ValueError otherwise."""
    if not text or len(text) > 20 or text.strip(digits):
        raise ValueError(text)
    return text


def _parse_entry(line: bytes) -> Tuple[int, int, str]:
    """(mode, size, name) of a C or D line (without its letter); SCPError if malformed (a mode
    beyond 07777 included) or if the name tries to leave the target directory."""
    try:
        mode_s, size_s, name = line.decode("utf-8", "surrogateescape").rstrip("\n").split(" ", 2)
        mode, size = int(_number(mode_s, "01234567"), 8), int(_number(size_s))
    except ValueError:
        raise SCPError(reason="a malformed SCP line %r" % line[:80]) from None
    if mode > 0o7777:
        raise SCPError(reason="a malformed SCP file mode %r" % mode_s[:20])
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise SCPError(reason="an unsafe SCP file name %r" % name)
    return mode, size, name


def _parse_times(line: bytes) -> Tuple[int, int]:
    """(atime, mtime) of a T line (``T<mtime> <usec> <atime> <usec>``, without its letter)."""
    try:
        mtime, musec, atime, ausec = (int(_number(p)) for p in line.decode("ascii").split())
    except (ValueError, UnicodeDecodeError):
        raise SCPError(reason="a malformed SCP time line") from None
    if max(mtime, atime) > _MAX_TIME or max(musec, ausec) > 999999:
        raise SCPError(reason="an SCP time out of range")
    return atime, mtime


class _Ops:
    """File operations for the legacy protocol: on the local file system or an SFTPServer."""

    def __init__(self, server: Any = None) -> None:
        self.server = server

    async def call(self, name: str, *args: Any) -> Any:
        r = getattr(self.server, name)(*args)
        if inspect.isawaitable(r):
            r = await r
        return r

    def map(self, path: str, follow: bool = True) -> str:
        return self.server.map_path(path, follow) if self.server is not None else path

    async def stat(self, path: str) -> SFTPAttrs:
        if self.server is None:
            return SFTPAttrs.from_stat(os.stat(path))
        attrs: SFTPAttrs = await self.call("stat", path)
        return attrs

    async def names(self, path: str) -> List[str]:
        if self.server is None:
            return sorted(os.listdir(path))
        return sorted(n.filename for n in await self.call("scandir", path) if n.filename not in (".", ".."))

    async def mkdir(self, path: str, mode: int) -> None:
        if self.server is None:
            os.mkdir(path, mode)
        else:
            await self.call("mkdir", path, SFTPAttrs(permissions=mode))

    async def open(self, path: str, write: bool, mode: int = 0o644) -> Any:
        from M2Sec.SSH import sftp as fx
        if self.server is None:
            return open(path, "wb" if write else "rb")
        flags = (fx.FXF_WRITE | fx.FXF_CREAT | fx.FXF_TRUNC) if write else fx.FXF_READ
        return await self.call("open", path, flags, SFTPAttrs(permissions=mode))

    async def read(self, f: Any, off: int, n: int) -> bytes:
        data: bytes = f.read(n) if self.server is None else await self.call("read", f, off, n)
        return data

    async def write(self, f: Any, off: int, data: bytes) -> None:
        if self.server is None:
            f.write(data)
            return
        view = memoryview(data)
        while view:
            n = await self.call("write", f, off, view)
            off += n
            view = view[n:]

    async def close(self, f: Any) -> None:
        if self.server is None:
            f.close()
        else:
            await self.call("close", f)

    async def set_attrs(self, path: str, attrs: SFTPAttrs) -> None:
        if self.server is None:
            if attrs.st_mode is not None:
                os.chmod(path, attrs.st_mode)
            if attrs.st_atime is not None and attrs.st_mtime is not None:
                os.utime(path, (attrs.st_atime, attrs.st_mtime))
        else:
            await self.call("setstat", path, attrs)


async def _send(ops: _Ops, reader: Any, writer: Any, path: str, recurse: bool, preserve: bool,
                progress: Optional[Callable[[int, int], None]] = None) -> None:
    """Act as the source for one path (as the client names it: each is mapped, children too)."""
    attrs = await ops.stat(ops.map(path))
    name = posixpath.basename(path.rstrip("/")) or "/"
    if preserve:
        writer.write(b"T%d 0 %d 0\n" % (attrs.st_mtime or 0, attrs.st_atime or 0))
        await _ack(reader)
    mode = _stat.S_IMODE(attrs.st_mode or 0o644)
    if _stat.S_ISDIR(attrs.st_mode or 0):
        if not recurse:
            raise SCPError(reason="%s is a directory (use -r)" % name)
        writer.write(b"D%04o 0 %s\n" % (mode, name.encode("utf-8", "surrogateescape")))
        await _ack(reader)
        for child in await ops.names(ops.map(path)):
            await _send(ops, reader, writer, posixpath.join(path, child), recurse, preserve, progress)
        writer.write(b"E\n")
        await _ack(reader)
        return
    size = attrs.st_size or 0
    writer.write(b"C%04o %d %s\n" % (mode, size, name.encode("utf-8", "surrogateescape")))
    await _ack(reader)
    f = await ops.open(ops.map(path), False)
    try:
        off = 0
        while off < size:
            data = await ops.read(f, off, min(_BLOCK, size - off))
            if not data:  # the file shrank: pad it as OpenSSH does, and report it
                writer.write(bytes(size - off))
                writer.write(b"\x01scp: %s: file changed size\n" % name.encode("utf-8", "surrogateescape"))
                await _ack(reader)
                return
            writer.write(data)
            off += len(data)
            if progress is not None:
                progress(off, size)
            await writer.drain()
    finally:
        await ops.close(f)
    writer.write(b"\x00")
    await _ack(reader)


async def _receive(ops: _Ops, reader: Any, writer: Any, target: str, target_is_dir: bool,
                   preserve: bool, progress: Optional[Callable[[int, int], None]] = None) -> List[str]:
    """Act as the sink: take files (and directories) into target (as the client names it: each
    path is mapped before use).  The source's warnings (a file it could not read, ...)."""
    warnings: List[str] = []
    writer.write(b"\x00")
    dirs: List[Tuple[str, Optional[SFTPAttrs]]] = []
    cur = target
    times: Optional[Tuple[int, int]] = None
    while True:
        line = await _readline(reader)
        if not line:
            if dirs:
                raise SCPError(reason="the SCP stream ended inside a directory")
            return warnings
        kind, rest = line[:1], line[1:]
        if kind in (b"\x01", b"\x02"):
            if kind == b"\x02":
                raise SCPError(reason=rest.decode("utf-8", "replace").strip())
            warnings.append(rest.decode("utf-8", "replace").strip())
            continue
        if kind == b"T":
            times = _parse_times(rest)
            writer.write(b"\x00")
            continue
        if kind == b"E":
            if not dirs:
                raise SCPError(reason="an SCP E line outside a directory")
            done, attrs = dirs.pop()
            if attrs is not None:
                await ops.set_attrs(ops.map(done), attrs)
            cur = dirs[-1][0] if dirs else target
            writer.write(b"\x00")
            continue
        if kind not in (b"C", b"D"):
            raise SCPError(reason="a malformed SCP line %r" % line[:80])
        mode, size, name = _parse_entry(rest)
        if dirs or target_is_dir:
            dest = posixpath.join(cur, name)
        else:
            dest = target
        if kind == b"D":
            try:
                st = await ops.stat(ops.map(dest))
                if not _stat.S_ISDIR(st.st_mode or 0):
                    raise SCPError(reason="%s is not a directory" % name)
            except (FileNotFoundError, SFTPError) as e:
                if isinstance(e, SCPError):
                    raise
                await ops.mkdir(ops.map(dest, False), mode)
            dirs.append((dest, SFTPAttrs(permissions=mode, atime=times[0], mtime=times[1]) if times
                         else None))
            cur = dest
            times = None
            writer.write(b"\x00")
            continue
        f = await ops.open(ops.map(dest), True, mode)
        writer.write(b"\x00")
        got = 0
        try:
            while got < size:
                data = await reader.read(min(_BLOCK, size - got))
                if not data:
                    raise SCPError(reason="the SCP stream ended inside %s" % name)
                await ops.write(f, got, data)
                got += len(data)
                if progress is not None:
                    progress(got, size)
        finally:
            await ops.close(f)
        await _ack(reader)
        if times is not None or preserve:
            await ops.set_attrs(ops.map(dest), SFTPAttrs(permissions=mode, atime=times[0] if times else None,
                                                mtime=times[1] if times else None))
        times = None
        writer.write(b"\x00")


# ---- the server side ------------------------------------------------------------------------


def parse_scp_command(command: str) -> Optional[Tuple[str, List[str], bool, bool, bool]]:
    """(direction "t" or "f", paths, recurse, preserve, target_is_dir) of an ``scp -t/-f``
    command line, or None if it is not one."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if not argv or posixpath.basename(argv[0]) != "scp":
        return None
    direction, recurse, preserve, target_dir = None, False, False, False
    paths: List[str] = []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--":
            paths.extend(argv[i + 1:])
            break
        if a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c in "tf":
                    direction = c
                elif c == "r":
                    recurse = True
                elif c == "p":
                    preserve = True
                elif c == "d":
                    target_dir = True
                elif c in "vq":
                    pass
                else:
                    return None
        else:
            paths.append(a)
        i += 1
    if direction is None or not paths:
        return None
    return direction, paths, recurse, preserve, target_dir


def scp_server_handler(command: str, sftp_factory: Any) -> Optional[Callable[[Any], Any]]:
    """The session handler serving a legacy ``scp -t``/``scp -f`` command from the
    SFTPServer that sftp_factory makes, or None if command is not one."""
    parsed = parse_scp_command(command)
    if parsed is None:
        return None
    direction, paths, recurse, preserve, target_dir = parsed

    async def handler(process: Any) -> int:
        from M2Sec.SSH.sftp_server import SFTPServer
        server = SFTPServer(process) if sftp_factory is True else sftp_factory(process)
        ops = _Ops(server)
        reader, writer = process.stdin, process.stdout
        try:
            if direction == "t":
                if len(paths) != 1:
                    raise SCPError(reason="one target expected")
                target = paths[0]
                is_dir = False
                try:
                    is_dir = _stat.S_ISDIR((await ops.stat(ops.map(target))).st_mode or 0)
                except OSError:
                    pass
                if target_dir and not is_dir:
                    raise SCPError(reason="%s: not a directory" % paths[0])
                if await _receive(ops, reader, writer, target, is_dir, preserve):
                    await writer.drain()
                    return 1
            else:
                await _ack(reader)
                for p in paths:
                    await _send(ops, reader, writer, p, recurse, preserve)
            await writer.drain()
            return 0
        except (OSError, SCPError) as e:
            msg = str(getattr(e, "reason", None) or e.strerror or e)
            try:
                writer.write(b"\x02scp: %s\n" % msg.encode("utf-8", "replace"))
                await writer.drain()
            except (OSError, BrokenPipeError):
                pass
            return 1
    return handler


# ---- the client side --------------------------------------------------------------------------

PathSpec = Union[str, "os.PathLike[str]", Tuple[Any, str]]


def _split(spec: Any) -> Tuple[Optional[Any], Optional[str], str]:
    """(connection, "[user@]host", path) of a path argument; host None for a local path."""
    if isinstance(spec, tuple):
        conn, path = spec
        if isinstance(conn, str):
            return None, conn, os.fspath(path)
        return conn, None, os.fspath(path)
    spec = os.fspath(spec)
    if isinstance(spec, bytes):
        spec = spec.decode("utf-8", "surrogateescape")
    if spec.startswith("/") or spec.startswith("./"):
        return None, None, spec
    host, sep, path = spec.partition(":")
    if not sep or "/" in host or not host:
        return None, None, spec
    return None, host, path or "."


async def _connection(conn: Any, host: Optional[str], kw: Dict[str, Any]) -> Tuple[Any, bool]:
    if conn is not None:
        return conn, False
    if host is None:
        raise ValueError("a remote path names neither a connection nor a host")
    from M2Sec.SSH._asyncio import connect
    user, _, hostname = host.rpartition("@")
    args = dict(kw)
    if user:
        args["username"] = user
    return await connect(hostname, **args), True


async def scp(srcpaths: Union[PathSpec, Sequence[PathSpec]], dstpath: Optional[PathSpec] = None, *,
              preserve: bool = False, recurse: bool = False, block_size: Optional[int] = None,
              progress_handler: Any = None, error_handler: Any = None, legacy: bool = False,
              **connect_kw: Any) -> None:
    """Copy files as OpenSSH's scp does: sources and destination are local paths,
    ``"[user@]host:path"`` strings or ``(connection, path)`` pairs.

    SFTP is used when the server offers it (``legacy=True`` forces the old protocol, which is
    also what a server refusing the sftp subsystem gets).  Other keyword arguments go to
    :func:`M2Sec.SSH.connect` for hosts named in the paths.

    :raises SFTPError, SCPError, OSError: what the transfer met.
    """
    sources = [srcpaths] if isinstance(srcpaths, (str, bytes, os.PathLike, tuple)) else list(srcpaths)
    dst_conn, dst_host, dst_path = _split(dstpath if dstpath is not None else ".")
    opened: List[Any] = []
    try:
        dconn = None
        if dst_conn is not None or dst_host is not None:
            dconn, new = await _connection(dst_conn, dst_host, connect_kw)
            if new:
                opened.append(dconn)
        for spec in sources:
            sconn, shost, spath = _split(spec)
            remote_src = sconn is not None or shost is not None
            if remote_src:
                sconn, new = await _connection(sconn, shost, connect_kw)
                if new:
                    opened.append(sconn)
            kw = dict(preserve=preserve, recurse=recurse, block_size=block_size, progress_handler=progress_handler,
                      error_handler=error_handler)
            if remote_src and dconn is not None:
                if sconn is not dconn:
                    raise ValueError("copying between two different hosts is not supported")
                async with sconn.start_sftp_client() as sftp:
                    await sftp.copy(spath, dst_path, **kw)
            elif remote_src:
                await _transfer(sconn, "get", spath, dst_path, legacy, kw)
            elif dconn is not None:
                await _transfer(dconn, "put", spath, dst_path, legacy, kw)
            else:
                raise ValueError("neither %r nor %r is remote" % (spec, dstpath))
    finally:
        for c in opened:
            c.close()
            await c.wait_closed()


async def _transfer(conn: Any, direction: str, src: str, dst: str, legacy: bool, kw: Dict[str, Any]) -> None:
    if not legacy:
        try:
            sftp = await conn.start_sftp_client()
        except ChannelRequestError:
            legacy = True
        else:
            async with sftp:
                await getattr(sftp, direction)(src, dst, **kw)
            return
    await _legacy(conn, direction, src, dst, kw["recurse"], kw["preserve"], kw["progress_handler"])


async def _legacy(conn: Any, direction: str, src: str, dst: str, recurse: bool, preserve: bool,
                  progress_handler: Any) -> None:
    """One source over the legacy protocol: the remote ``scp -t`` (put) or ``scp -f`` (get)."""
    flags = ("-%s " % (("r" if recurse else "") + ("p" if preserve else ""))).replace("- ", "")
    ops = _Ops()
    names = (src.encode("utf-8", "surrogateescape"), dst.encode("utf-8", "surrogateescape"))

    def progress(done: int, total: int) -> None:
        if progress_handler is not None:
            progress_handler(names[0], names[1], done, total)
    put = direction == "put"
    proc = await conn.create_process("scp %s-%s -- %s" % (flags, "t" if put else "f", shlex.quote(dst if put else src)))
    warnings: List[str] = []
    try:
        if put:
            await _ack(proc.stdout)
            await _send(ops, proc.stdout, proc.stdin, src, recurse, preserve, progress)
        else:
            warnings = await _receive(ops, proc.stdout, proc.stdin, dst, os.path.isdir(dst), preserve, progress)
        proc.stdin.write_eof()
    finally:
        result = await proc.wait()
    if warnings or result.exit_status not in (0, None):
        detail = "; ".join(warnings) or (result.stderr or b"").decode("utf-8", "replace").strip()
        raise SCPError(reason="the remote scp failed (exit status %s)%s" % (result.exit_status,
                                                                          ": " + detail if detail else ""))
