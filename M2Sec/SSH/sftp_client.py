"""The SFTP client on asyncio, with asyncssh's names: ``async with conn.start_sftp_client() as
sftp: await sftp.get("remote", "local")``.

Requests go out through the protocol core (sftp.py) and are answered by id; a file transfer
keeps up to ``max_requests`` reads or writes of ``block_size`` bytes in flight, so that its
speed is not bound by the round trip, and directory transfers (``recurse=True``, mget, mput)
copy several files at once so that small files are pipelined too.  A remote file that
grows during a download is read to its new end; one that shrinks ends where it ends.
"""

import asyncio
import fnmatch
import os
import posixpath
import stat as _stat
from typing import (Any, AsyncIterator, Callable, Coroutine, Dict, Generator, List, Optional, Protocol, Sequence, Tuple,
                    Union)

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.errors import ChannelRequestError
from M2Sec.SSH.packet import string, uint32, uint64
from M2Sec.SSH.sftp import (SFTPAttrs, SFTPError, SFTPEOFError, SFTPName, SFTPNoSuchFile, SFTPProtocolError,
                            SFTPVFSAttrs)

PathArg = Union[str, bytes, "os.PathLike[str]"]
ProgressHandler = Callable[[bytes, bytes, int, int], Any]

#: defaults: bytes per read or write request and requests in flight per file
DEFAULT_BLOCK_SIZE = 128 * 1024
DEFAULT_MAX_REQUESTS = 64
#: files copied at once in a directory transfer
DEFAULT_PARALLEL_FILES = 64
#: queued output beyond which a writer waits for the channel to drain
_HIGH_WATER = 4 * 1024 * 1024


def _mode_flags(mode: str) -> int:
    """Open flags for a Python mode string ('r', 'w', 'a', 'x', with '+' and 'b')."""
    m = mode.replace("b", "").replace("t", "")
    base = m.replace("+", "")
    if base not in ("r", "w", "a", "x") or len(base) != 1:
        raise ValueError("invalid mode %r" % mode)
    plus = "+" in m
    return {"r": fx.FXF_READ | (fx.FXF_WRITE if plus else 0),
            "w": fx.FXF_WRITE | fx.FXF_CREAT | fx.FXF_TRUNC | (fx.FXF_READ if plus else 0),
            "a": fx.FXF_WRITE | fx.FXF_CREAT | fx.FXF_APPEND | (fx.FXF_READ if plus else 0),
            "x": fx.FXF_WRITE | fx.FXF_CREAT | fx.FXF_EXCL | (fx.FXF_READ if plus else 0)}[base]


def _str(path: PathArg) -> str:
    p = os.fspath(path)
    return fx.decode_path(p) if isinstance(p, bytes) else p


class SFTPClientFile:
    """A remote file open for reading and/or writing (what :meth:`SFTPClient.open` gives).

    ``read`` and ``write`` are coroutines; a large read or write is split into
    ``block_size`` requests sent together.  Use it as ``async with``.
    """

    def __init__(self, sftp: "SFTPClient", handle: bytes, path: str, append: bool, block_size: int,
                 max_requests: int) -> None:
        self._sftp = sftp
        self._handle = handle
        self.name = path
        self._append = append
        self._pos = 0
        self._block = block_size
        self._max = max_requests
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed SFTP file")

    async def read(self, size: int = -1, offset: Optional[int] = None) -> bytes:
        """Up to size bytes (to the end of the file if size < 0) from offset (default: the
        current position, which then moves on); b"" at the end of the file."""
        self._check()
        pos = self._pos if offset is None else offset
        parts: Dict[int, bytes] = {}
        hint = None
        if size < 0:
            hint = (await self.stat()).st_size

        def sink(off: int, data: bytes) -> None:
            parts[off] = data
        end = await self._sftp._download(self._handle, sink, pos, None if size < 0 else size, self._block, self._max,
                                         size_hint=hint)
        data = b"".join(parts[k] for k in sorted(parts))[:end - pos]
        if offset is None:
            self._pos = pos + len(data)
        return data

    async def write(self, data: Union[bytes, bytearray, memoryview], offset: Optional[int] = None) -> int:
        """Write data at offset (default: the current position, or the end in append mode)."""
        self._check()
        view = memoryview(data).cast("B")
        pos = self._pos if offset is None else offset
        chunks = ((pos + i, view[i:i + self._block]) for i in range(0, len(view), self._block))
        await self._sftp._upload(self._handle, chunks, self._max)
        if offset is None:
            self._pos = pos + len(view)
        return len(view)

    async def seek(self, offset: int, from_what: int = os.SEEK_SET) -> int:
        """Move the position; SEEK_END asks the server for the size."""
        self._check()
        if from_what == os.SEEK_SET:
            self._pos = offset
        elif from_what == os.SEEK_CUR:
            self._pos += offset
        elif from_what == os.SEEK_END:
            size = (await self.stat()).st_size
            if size is None:
                raise fx.SFTPFailure(fx.FX_FAILURE, "the server gave no size to seek from", filename=self.name)
            self._pos = size + offset
        else:
            raise ValueError("invalid whence %r" % from_what)
        return self._pos

    async def tell(self) -> int:
        return self._pos

    async def stat(self) -> SFTPAttrs:
        self._check()
        return _attrs(await self._sftp._call(fx.FXP_FSTAT, string(self._handle)))

    async def setstat(self, attrs: SFTPAttrs) -> None:
        self._check()
        await self._sftp._call(fx.FXP_FSETSTAT, string(self._handle), attrs.encode())

    async def truncate(self, size: Optional[int] = None) -> None:
        await self.setstat(SFTPAttrs(size=self._pos if size is None else size))

    async def chmod(self, mode: int) -> None:
        await self.setstat(SFTPAttrs(permissions=mode))

    async def utime(self, times: Optional[Tuple[float, float]] = None) -> None:
        import time
        a, m = times if times is not None else (time.time(), time.time())
        await self.setstat(SFTPAttrs(atime=int(a), mtime=int(m)))

    async def statvfs(self) -> SFTPVFSAttrs:
        self._check()
        reply = await self._sftp._extended(fx.EXT_FSTATVFS, string(self._handle))
        return fx.decode_extended("fstatvfs@openssh.com", reply.value, SFTPVFSAttrs.decode)

    async def fsync(self) -> None:
        """Ask the server to flush the file to disk (fsync@openssh.com)."""
        self._check()
        await self._sftp._extended(fx.EXT_FSYNC, string(self._handle))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._sftp._close_handle(self._handle)

    async def __aenter__(self) -> "SFTPClientFile":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _attrs(reply: fx.Reply) -> SFTPAttrs:
    """The attributes of a STAT, LSTAT or FSTAT reply (SFTPProtocolError for a bare OK status)."""
    if not isinstance(reply.value, SFTPAttrs):
        raise SFTPProtocolError("an OK status instead of attributes")
    return reply.value


async def _completed(inflight: Dict["asyncio.Future[fx.Reply]", Any]
                     ) -> List[Tuple[Any, Optional[fx.Reply], Optional[BaseException]]]:
    """Wait for at least one request in flight to be answered; (its key, the reply, the error
    (a status other than OK, or the session's end)) of each answered, taken out of inflight:
    the reply is None only with an error."""
    done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
    out: List[Tuple[Any, Optional[fx.Reply], Optional[BaseException]]] = []
    for fut in done:
        key = inflight.pop(fut)
        try:
            reply = fut.result()
        except BaseException as e:
            out.append((key, None, e))
            continue
        out.append((key, reply, reply.error))
    return out


class SFTPClient:
    """An SFTP session on a channel; made by ``conn.start_sftp_client()``.

    :param block_size: default bytes per read/write request (capped by the server's limits).
    :param max_requests: default requests in flight per file.
    """

    def __init__(self, conn: Any, io: Any, *, block_size: int = DEFAULT_BLOCK_SIZE,
                 max_requests: int = DEFAULT_MAX_REQUESTS, path_encoding: str = "utf-8") -> None:
        self._conn = conn
        self._io = io
        self._core = fx.SFTPClientCore()
        self._futures: Dict[int, asyncio.Future[fx.Reply]] = {}
        self._version: asyncio.Future[Dict[bytes, bytes]] = asyncio.get_running_loop().create_future()
        self._error: Optional[BaseException] = None
        self.block_size = block_size
        self.max_requests = max_requests
        self._cwd: Optional[str] = None

    # ---- the channel side ----
    def _on_data(self, data: bytes, ext: int) -> None:
        io = self._io
        if ext or self._error is not None:  # stderr from the server's subsystem: dropped
            io._consumed(len(data))
            return
        try:
            replies = self._core.receive(data)
        except SFTPProtocolError as e:
            self._fail(e)
            io.close()
            return
        finally:
            io._consumed(len(data))
        for r in replies:
            if r.type == fx.FXP_VERSION:
                if not self._version.done():
                    self._version.set_result(r.value)
                continue
            fut = self._futures.pop(r.id, None)
            if fut is not None and not fut.done():
                fut.set_result(r)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._core.fail_all()
        futures, self._futures = self._futures, {}
        for f in futures.values():
            if not f.done():
                f.set_exception(exc)
        if not self._version.done():
            self._version.set_exception(exc)

    async def _watch(self) -> None:
        await self._io.closed
        self._fail(self._io.error or fx.SFTPConnectionLost(fx.FX_CONNECTION_LOST, "the SFTP channel closed"))

    async def _start(self) -> None:
        self._core.init()
        self._send()
        self._conn._spawn(self._watch())
        await self._version
        if fx.EXT_LIMITS in self._core.extensions:
            reply = await self._extended(fx.EXT_LIMITS)
            self._core.set_limits(fx.decode_extended("limits@openssh.com", reply.value, fx.SFTPLimits.decode))
        lim = self._core.limits
        if lim.max_read_len:
            self.block_size = min(self.block_size, lim.max_read_len, lim.max_write_len or lim.max_read_len)

    @property
    def version(self) -> int:
        return self._core.version or 0

    @property
    def extensions(self) -> Dict[bytes, bytes]:
        """The server's extensions (name -> version data)."""
        return dict(self._core.extensions)

    @property
    def limits(self) -> fx.SFTPLimits:
        return self._core.limits

    # ---- requests ----
    def _issue(self, ptype: int, *parts: bytes, send: bool = True, tail: Any = b"") -> "asyncio.Future[fx.Reply]":
        """Queue a request (and send it, unless send is False: then :meth:`_send` does)."""
        if self._error is not None:
            raise self._error
        rid = self._core.request(ptype, *parts, tail=tail)
        fut = asyncio.get_running_loop().create_future()
        self._futures[rid] = fut
        if send:
            self._send()
        return fut

    def _send(self) -> None:
        # one write per burst: each channel write is at least one SSH packet and one send()
        parts = self._core.take_parts()
        if parts:
            self._io.write(parts[0] if len(parts) == 1 else b"".join(parts))

    async def _drain(self) -> None:
        if self._io._pending_size > _HIGH_WATER:
            await self._io.drain()

    async def _call(self, ptype: int, *parts: bytes, path: Optional[str] = None) -> fx.Reply:
        fut = self._issue(ptype, *parts)
        await self._drain()
        reply = await fut
        if reply.error is not None:
            reply.error.filename = path
            raise reply.error
        return reply

    async def _extended(self, name: bytes, *parts: bytes, path: Optional[str] = None) -> fx.Reply:
        if name not in self._core.extensions:
            raise fx.SFTPOpUnsupported(fx.FX_OP_UNSUPPORTED, "the server does not support %s" % name.decode())
        return await self._call(fx.FXP_EXTENDED, string(name), *parts, path=path)

    def _path(self, path: PathArg) -> str:
        p = _str(path)
        if self._cwd is not None and not p.startswith("/"):
            p = posixpath.join(self._cwd, p)
        fx.check_path(p)
        return p

    async def _path_call(self, ptype: int, path: PathArg, *more: bytes) -> fx.Reply:
        p = self._path(path)
        return await self._call(ptype, string(fx.check_path(p)), *more, path=p)

    async def _close_handle(self, handle: bytes) -> None:
        if self._error is None:
            await self._call(fx.FXP_CLOSE, string(handle))

    # ---- the engines of transfers ----
    async def _download(self, handle: bytes, sink: Callable[[int, bytes], Any], offset: int = 0,
                        length: Optional[int] = None, block_size: Optional[int] = None,
                        max_requests: Optional[int] = None, size_hint: Optional[int] = None,
                        progress: Optional[Callable[[int], None]] = None) -> int:
        """Read from offset (length bytes, or to the end) with many reads in flight; each piece
        goes to sink(offset, data).  The offset where the data ended."""
        block = block_size or self.block_size
        most = max_requests or self.max_requests
        end = None if length is None else offset + length
        hint = size_hint if size_hint is not None else (end if end is not None else offset + block * 4)
        nxt = offset
        eof_at: Optional[int] = None
        gaps: List[Tuple[int, int]] = []
        inflight: Dict[asyncio.Future[fx.Reply], Tuple[int, int]] = {}
        top = offset
        error: Optional[BaseException] = None
        refill_below = most - max(1, most // 4)  # refill in bursts: fewer, larger writes
        while True:
            while error is None and len(inflight) < most and (len(inflight) <= refill_below or gaps):
                if gaps:
                    off, size = gaps.pop()
                elif eof_at is None and (end is None or nxt < end) and nxt <= hint:
                    off = nxt
                    size = block if nxt >= hint else min(block, hint - nxt)
                    if end is not None:
                        size = min(size, end - nxt)
                    nxt += size
                else:
                    break
                inflight[self._issue(fx.FXP_READ, string(handle), uint64(off), uint32(size), send=False)] = (off, size)
            self._send()
            if not inflight:
                break
            await self._drain()
            for (off, size), reply, exc in await _completed(inflight):
                if exc is not None and not isinstance(exc, SFTPEOFError):
                    error = error or exc
                    continue
                if exc is not None or reply is None:  # (no reply: only with an error)
                    eof_at = off if eof_at is None else min(eof_at, off)
                    continue
                data = reply.value
                if not data:
                    eof_at = off if eof_at is None else min(eof_at, off)
                    continue
                if len(data) > size:
                    error = error or SFTPProtocolError("the server sent %d bytes for a read of %d" % (len(data), size))
                    continue
                if eof_at is not None and off >= eof_at:
                    continue
                sink(off, data)
                top = max(top, off + len(data))
                if progress is not None:
                    progress(len(data))
                if len(data) < size:
                    gaps.append((off + len(data), size - len(data)))
                if off + len(data) >= hint and eof_at is None:
                    hint = max(hint, nxt + (nxt - offset))  # longer than thought: look further ahead
        if error is not None:
            raise error
        stop = eof_at if eof_at is not None else top
        return min(stop, top) if eof_at is not None else top

    async def _upload(self, handle: bytes, chunks: Any, max_requests: Optional[int] = None,
                      progress: Optional[Callable[[int], None]] = None) -> None:
        """Write (offset, data) pieces from the iterable chunks, many writes in flight."""
        most = max_requests or self.max_requests
        inflight: Dict[asyncio.Future[fx.Reply], int] = {}
        error: Optional[BaseException] = None
        it = iter(chunks)
        more = True
        while True:
            while more and error is None and len(inflight) < most:
                try:
                    off, data = next(it)
                except StopIteration:
                    more = False
                    break
                if not len(data):
                    continue
                inflight[self._issue(fx.FXP_WRITE, string(handle), uint64(off), uint32(len(data)),
                                     tail=data)] = len(data)
                await self._drain()
            if not inflight:
                break
            for n, reply, exc in await _completed(inflight):
                if exc is not None:
                    error = error or exc
                elif progress is not None:
                    progress(n)
        if error is not None:
            raise error

    # ---- files ----
    async def open(self, path: PathArg, pflags_or_mode: Union[int, str] = "r", attrs: Optional[SFTPAttrs] = None,
                   encoding: Optional[str] = None, block_size: Optional[int] = None,
                   max_requests: Optional[int] = None) -> SFTPClientFile:
        """Open a remote file: mode as Python's ('r', 'wb', 'a+', ...) or ``FXF_`` flags.

        :raises SFTPNoSuchFile, SFTPPermissionDenied, SFTPFailure: as the server says.
        """
        if encoding is not None:
            raise ValueError("text mode is not supported: read and write bytes")
        flags = _mode_flags(pflags_or_mode) if isinstance(pflags_or_mode, str) else pflags_or_mode
        p = self._path(path)
        reply = await self._call(fx.FXP_OPEN, string(fx.check_path(p)), uint32(flags), (attrs or SFTPAttrs()).encode(),
                                 path=p)
        f = SFTPClientFile(self, reply.value, p, bool(flags & fx.FXF_APPEND), block_size or self.block_size,
                           max_requests or self.max_requests)
        if flags & fx.FXF_APPEND:
            f._pos = (await f.stat()).st_size or 0
        return f

    # ---- attributes ----
    async def stat(self, path: PathArg, *, follow_symlinks: bool = True) -> SFTPAttrs:
        return _attrs(await self._path_call(fx.FXP_STAT if follow_symlinks else fx.FXP_LSTAT, path))

    async def lstat(self, path: PathArg) -> SFTPAttrs:
        return _attrs(await self._path_call(fx.FXP_LSTAT, path))

    async def setstat(self, path: PathArg, attrs: SFTPAttrs, *, follow_symlinks: bool = True) -> None:
        if follow_symlinks:
            await self._path_call(fx.FXP_SETSTAT, path, attrs.encode())
        else:
            p = self._path(path)
            await self._extended(fx.EXT_LSETSTAT, string(fx.check_path(p)), attrs.encode(), path=p)

    async def chmod(self, path: PathArg, mode: int, *, follow_symlinks: bool = True) -> None:
        await self.setstat(path, SFTPAttrs(permissions=mode), follow_symlinks=follow_symlinks)

    async def chown(self, path: PathArg, uid: int, gid: int, *, follow_symlinks: bool = True) -> None:
        await self.setstat(path, SFTPAttrs(uid=uid, gid=gid), follow_symlinks=follow_symlinks)

    async def utime(self, path: PathArg, times: Optional[Tuple[float, float]] = None, *,
                    follow_symlinks: bool = True) -> None:
        import time
        a, m = times if times is not None else (time.time(), time.time())
        await self.setstat(path, SFTPAttrs(atime=int(a), mtime=int(m)), follow_symlinks=follow_symlinks)

    async def truncate(self, path: PathArg, size: int) -> None:
        await self.setstat(path, SFTPAttrs(size=size))

    async def exists(self, path: PathArg) -> bool:
        try:
            await self.stat(path)
        except SFTPNoSuchFile:
            return False
        return True

    async def lexists(self, path: PathArg) -> bool:
        try:
            await self.lstat(path)
        except SFTPNoSuchFile:
            return False
        return True

    async def _type(self, path: PathArg, follow: bool = True) -> int:
        try:
            return (await self.stat(path, follow_symlinks=follow)).type
        except (SFTPNoSuchFile, fx.SFTPPermissionDenied):
            return 0

    async def isdir(self, path: PathArg) -> bool:
        return await self._type(path) == _stat.S_IFDIR

    async def isfile(self, path: PathArg) -> bool:
        return await self._type(path) == _stat.S_IFREG

    async def islink(self, path: PathArg) -> bool:
        return await self._type(path, False) == _stat.S_IFLNK

    async def getsize(self, path: PathArg) -> Optional[int]:
        return (await self.stat(path)).st_size

    async def getatime(self, path: PathArg) -> Optional[int]:
        return (await self.stat(path)).st_atime

    async def getmtime(self, path: PathArg) -> Optional[int]:
        return (await self.stat(path)).st_mtime

    async def statvfs(self, path: PathArg) -> SFTPVFSAttrs:
        p = self._path(path)
        reply = await self._extended(fx.EXT_STATVFS, string(fx.check_path(p)), path=p)
        return fx.decode_extended("statvfs@openssh.com", reply.value, SFTPVFSAttrs.decode)

    # ---- directories ----
    async def scandir(self, path: PathArg = ".") -> AsyncIterator[SFTPName]:
        """The entries of a directory (with . and .. as the server sends them)."""
        reply = await self._path_call(fx.FXP_OPENDIR, path)
        handle = reply.value
        try:
            while True:
                try:
                    names = (await self._call(fx.FXP_READDIR, string(handle))).value
                except SFTPEOFError:
                    break
                for n in names:
                    yield n
        finally:
            await self._close_handle(handle)

    async def readdir(self, path: PathArg = ".") -> List[SFTPName]:
        return [n async for n in self.scandir(path)]

    async def listdir(self, path: PathArg = ".") -> List[str]:
        """The names in a directory, sorted, without . and .."""
        return sorted(n.filename for n in await self.readdir(path) if n.filename not in (".", ".."))

    async def mkdir(self, path: PathArg, attrs: Optional[SFTPAttrs] = None) -> None:
        await self._path_call(fx.FXP_MKDIR, path, (attrs or SFTPAttrs()).encode())

    async def makedirs(self, path: PathArg, attrs: Optional[SFTPAttrs] = None, exist_ok: bool = False) -> None:
        p = self._path(path)
        parts = [x for x in p.split("/") if x]
        cur = "/" if p.startswith("/") else ""
        made = False
        for i, part in enumerate(parts):
            cur = posixpath.join(cur, part) if cur else part
            if await self.isdir(cur):
                continue
            await self.mkdir(cur, attrs)
            made = True
        if not made and not exist_ok:
            raise fx.SFTPFailure(fx.FX_FAILURE, "the directory exists", filename=p)

    async def rmdir(self, path: PathArg) -> None:
        await self._path_call(fx.FXP_RMDIR, path)

    async def rmtree(self, path: PathArg, ignore_errors: bool = False) -> None:
        """Remove a directory tree (symbolic links in it are removed, not followed)."""
        p = self._path(path)
        try:
            names = await self.readdir(p)
        except SFTPError:
            if ignore_errors:
                return
            raise
        jobs = []
        for n in names:
            if n.filename in (".", ".."):
                continue
            child = posixpath.join(p, n.filename)
            if n.attrs.type == _stat.S_IFDIR:
                jobs.append(self.rmtree(child, ignore_errors))
            else:
                jobs.append(self.remove(child))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not ignore_errors:
                raise r
        try:
            await self.rmdir(p)
        except SFTPError:
            if not ignore_errors:
                raise

    # ---- names ----
    async def remove(self, path: PathArg) -> None:
        await self._path_call(fx.FXP_REMOVE, path)

    unlink = remove

    async def rename(self, oldpath: PathArg, newpath: PathArg) -> None:
        """Rename (SFTP's rename fails if newpath exists; see posix_rename)."""
        old, new = self._path(oldpath), self._path(newpath)
        await self._call(fx.FXP_RENAME, string(fx.check_path(old)), string(fx.check_path(new)), path=old)

    async def posix_rename(self, oldpath: PathArg, newpath: PathArg) -> None:
        """Rename, replacing newpath (posix-rename@openssh.com)."""
        old, new = self._path(oldpath), self._path(newpath)
        await self._extended(fx.EXT_POSIX_RENAME, string(fx.check_path(old)), string(fx.check_path(new)), path=old)

    async def link(self, oldpath: PathArg, newpath: PathArg) -> None:
        """A hard link (hardlink@openssh.com)."""
        old, new = self._path(oldpath), self._path(newpath)
        await self._extended(fx.EXT_HARDLINK, string(fx.check_path(old)), string(fx.check_path(new)), path=old)

    async def symlink(self, oldpath: PathArg, newpath: PathArg) -> None:
        """newpath becomes a symbolic link to oldpath.

        The fields go as OpenSSH sends them (target first), not as the draft orders them.
        """
        target, link = _str(oldpath), self._path(newpath)
        await self._call(fx.FXP_SYMLINK, string(fx.check_path(target)), string(fx.check_path(link)), path=link)

    @staticmethod
    def _one_name(what: str, reply: fx.Reply) -> str:
        """The one name of an FXP_NAME reply (or of an extended reply carrying a name list)."""
        names = reply.value if reply.type == fx.FXP_NAME else fx.decode_extended(what, reply.value, fx.decode_names)
        if len(names) != 1:
            raise SFTPProtocolError("%s gave %d names" % (what, len(names)))
        return names[0].filename

    async def readlink(self, path: PathArg) -> str:
        return self._one_name("readlink", await self._path_call(fx.FXP_READLINK, path))

    async def realpath(self, path: PathArg = ".") -> str:
        return self._one_name("realpath", await self._path_call(fx.FXP_REALPATH, path))

    async def expand_path(self, path: PathArg) -> str:
        """``~`` and ``~user`` expanded by the server (expand-path@openssh.com)."""
        p = _str(path)
        reply = await self._extended(fx.EXT_EXPAND_PATH, string(fx.check_path(p)), path=p)
        return self._one_name("expand-path", reply)

    async def home_directory(self, user: Optional[str] = None) -> str:
        """The home directory of user on the server (the home-directory extension).

        :param user: a user name; None: the connection's login name (OpenSSH's sftp-server
            refuses the draft's "" for the current user; other servers take it).
        :raises SFTPOpUnsupported: the server does not offer the extension.
        :raises SFTPError: the server knows no such user (OpenSSH: SFTPFailure) or refused.
        """
        if user is None:
            user = self._conn.get_extra_info("username") or ""
        reply = await self._extended(fx.EXT_HOME_DIRECTORY, string(fx.check_path(user)))
        return self._one_name("home-directory", reply)

    async def users_groups_by_id(self, uids: Sequence[int] = (), gids: Sequence[int] = ()
                                 ) -> Tuple[List[str], List[str]]:
        """The user names of uids and the group names of gids, in their order, "" for an id
        the server has no name for (users-groups-by-id@openssh.com, as ``ls -n`` needs).

        :raises ValueError: more than 4096 ids in a list, or an id outside 0..2**32-1.
        :raises SFTPOpUnsupported: the server does not offer the extension.
        :raises SFTPProtocolError: a malformed reply, or not one name per id.
        """
        uids, gids = list(uids), list(gids)
        reply = await self._extended(fx.EXT_USERS_GROUPS, fx.encode_ids(uids), fx.encode_ids(gids))
        return fx.decode_extended("users-groups-by-id@openssh.com", reply.value,
                                  lambda r: fx.decode_users_groups(r, len(uids), len(gids)))

    async def getcwd(self) -> str:
        if self._cwd is None:
            self._cwd = await self.realpath(".")
        return self._cwd

    async def chdir(self, path: PathArg) -> None:
        self._cwd = await self.realpath(path)

    # ---- glob ----
    async def glob(self, patterns: Union[PathArg, Sequence[PathArg]]) -> List[str]:
        """The remote paths matching shell patterns (``*``, ``?``, ``[...]``), sorted."""
        if isinstance(patterns, (str, bytes, os.PathLike)):
            patterns = [patterns]
        out: List[str] = []
        for pattern in patterns:
            p = self._path(pattern)
            found = await self._glob(p)
            if not found:
                raise SFTPNoSuchFile(fx.FX_NO_SUCH_FILE, "no matches", filename=p)
            out.extend(found)
        return out

    async def _glob(self, pattern: str) -> List[str]:
        parts = pattern.split("/")
        roots = ["/"] if pattern.startswith("/") else [""]
        for i, part in enumerate(parts):
            if not part:
                continue
            nxt = []
            if not any(c in part for c in "*?["):
                for r in roots:
                    cand = posixpath.join(r, part) if r else part
                    if await self.lexists(cand):
                        nxt.append(cand)
            else:
                for r in roots:
                    try:
                        names = await self.listdir(r or ".")
                    except SFTPError:
                        continue
                    nxt.extend(posixpath.join(r, n) if r else n for n in names
                               if fnmatch.fnmatchcase(n, part) and (part.startswith(".") or not n.startswith(".")))
            roots = nxt
        return sorted(roots)

    # ---- transfers ----
    async def get(self, remotepaths: Union[PathArg, Sequence[PathArg]], localpath: Optional[PathArg] = None, *,
                  preserve: bool = False, recurse: bool = False, follow_symlinks: bool = False,
                  block_size: Optional[int] = None, max_requests: Optional[int] = None,
                  progress_handler: Optional[ProgressHandler] = None, error_handler: Any = None) -> None:
        """Download remote files (a directory with recurse) to localpath (a directory when it
        is one, or when several sources are given; default the current directory)."""
        await self._transfer(_Remote(self), _Local(), remotepaths, localpath, preserve, recurse, follow_symlinks,
                             block_size, max_requests, progress_handler, error_handler)

    async def put(self, localpaths: Union[PathArg, Sequence[PathArg]], remotepath: Optional[PathArg] = None, *,
                  preserve: bool = False, recurse: bool = False, follow_symlinks: bool = False,
                  block_size: Optional[int] = None, max_requests: Optional[int] = None,
                  progress_handler: Optional[ProgressHandler] = None, error_handler: Any = None) -> None:
        """Upload local files (a directory with recurse) to remotepath."""
        await self._transfer(_Local(), _Remote(self), localpaths, remotepath, preserve, recurse, follow_symlinks,
                             block_size, max_requests, progress_handler, error_handler)

    async def copy(self, srcpaths: Union[PathArg, Sequence[PathArg]], dstpath: Optional[PathArg] = None, *,
                   preserve: bool = False, recurse: bool = False, follow_symlinks: bool = False,
                   block_size: Optional[int] = None, max_requests: Optional[int] = None,
                   progress_handler: Optional[ProgressHandler] = None, error_handler: Any = None) -> None:
        """Copy remote files to another remote path (copy-data on the server when it offers it)."""
        await self._transfer(_Remote(self), _Remote(self), srcpaths, dstpath, preserve, recurse, follow_symlinks,
                             block_size, max_requests, progress_handler, error_handler)

    async def mget(self, remotepaths: Union[PathArg, Sequence[PathArg]], localpath: Optional[PathArg] = None,
                   **kw: Any) -> None:
        """get() of the remote paths matching the patterns."""
        await self.get(await self.glob(remotepaths), localpath, **kw)

    async def mput(self, localpaths: Union[PathArg, Sequence[PathArg]], remotepath: Optional[PathArg] = None,
                   **kw: Any) -> None:
        """put() of the local paths matching the patterns."""
        import glob as _glob
        pats = [localpaths] if isinstance(localpaths, (str, bytes, os.PathLike)) else list(localpaths)
        found = sorted(p for pat in pats for p in _glob.glob(_str(pat)))
        if not found:
            raise FileNotFoundError("no local files match %r" % (pats,))
        await self.put(found, remotepath, **kw)

    async def mcopy(self, srcpaths: Union[PathArg, Sequence[PathArg]], dstpath: Optional[PathArg] = None,
                    **kw: Any) -> None:
        await self.copy(await self.glob(srcpaths), dstpath, **kw)

    async def _transfer(self, src: "_FS", dst: "_FS", srcpaths: Any, dstpath: Any, preserve: bool, recurse: bool,
                        follow: bool, block_size: Optional[int], max_requests: Optional[int],
                        progress: Optional[ProgressHandler], error_handler: Any) -> None:
        many = not isinstance(srcpaths, (str, bytes, os.PathLike))
        sources = [_str(p) for p in (srcpaths if many else [srcpaths])]
        if dstpath is None:
            dst_root = "." if isinstance(dst, _Local) else ""
        else:
            dst_root = _str(dstpath)
        dst_is_dir = dst_root in ("", ".") or await dst.isdir(dst_root)
        if many and not dst_is_dir:
            raise SFTPFailure(fx.FX_FAILURE, "copying several files needs a directory as destination",
                              filename=dst_root)
        jobs: List[Tuple[str, str, Any]] = []
        dirs: List[Tuple[str, str, Any]] = []
        for s in sources:
            target = posixpath.join(dst_root, posixpath.basename(s.rstrip("/"))) if dst_is_dir and dst_root \
                else (posixpath.basename(s.rstrip("/")) if dst_is_dir else dst_root)
            await self._plan(src, dst, s, target, recurse, follow, jobs, dirs)
        sem = asyncio.Semaphore(DEFAULT_PARALLEL_FILES)

        async def one(s: str, d: str, attrs: Any) -> None:
            async with sem:
                try:
                    await self._copy_file(src, dst, s, d, attrs, preserve, block_size, max_requests, progress)
                except (OSError, SFTPError) as e:
                    if error_handler is None:
                        raise
                    if error_handler is not False:
                        error_handler(e)
        results = await asyncio.gather(*(one(*j) for j in jobs), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if preserve:
            for s, d, attrs in reversed(dirs):
                await dst.set_attrs(d, attrs)

    async def _plan(self, src: "_FS", dst: "_FS", s: str, d: str, recurse: bool, follow: bool,
                    jobs: List[Tuple[str, str, Any]], dirs: List[Tuple[str, str, Any]],
                    attrs: Optional[SFTPAttrs] = None) -> None:
        # a directory listing's attributes (lstat's) do, unless a link is to be followed
        if attrs is None or attrs.st_mode is None or (follow and attrs.type == _stat.S_IFLNK):
            attrs = await src.stat(s, follow)
        kind = attrs.type
        if kind == _stat.S_IFDIR:
            if not recurse:
                raise SFTPFailure(fx.FX_FAILURE, "is a directory (recurse=True copies it)", filename=s)
            if not await dst.isdir(d):
                await dst.mkdir(d)
            dirs.append((s, d, attrs))
            for name, child in await src.entries(s):
                await self._plan(src, dst, posixpath.join(s, name), posixpath.join(d, name), recurse, follow, jobs,
                                 dirs, child)
        elif kind == _stat.S_IFLNK:
            await dst.symlink(await src.readlink(s), d)
        else:
            jobs.append((s, d, attrs))

    async def _copy_file(self, src: "_FS", dst: "_FS", s: str, d: str, attrs: SFTPAttrs, preserve: bool,
                         block_size: Optional[int], max_requests: Optional[int],
                         progress: Optional[ProgressHandler]) -> None:
        total = attrs.st_size or 0
        done = [0]
        sb, db = s.encode("utf-8", "surrogateescape"), d.encode("utf-8", "surrogateescape")

        def tick(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(sb, db, done[0], total)
        if isinstance(src, _Remote) and isinstance(dst, _Remote) and fx.EXT_COPY_DATA in self._core.extensions:
            async with await self.open(s, "rb") as fin, await self.open(d, "wb") as fout:
                await self._extended(fx.EXT_COPY_DATA, string(fin._handle), uint64(0), uint64(0),
                                     string(fout._handle), uint64(0), path=s)
            tick(total)
        else:
            block = block_size or self.block_size
            async with src.reader(s) as reader, dst.writer(d, attrs if preserve else None) as writer:
                await reader.copy_to(writer, total, block, max_requests or self.max_requests, tick)
        if progress is not None and total == 0:
            progress(sb, db, 0, 0)
        if preserve:
            await dst.set_attrs(d, attrs)

    # ---- the end ----
    def exit(self) -> None:
        """Close the SFTP channel."""
        self._io.close()

    close = exit

    async def wait_closed(self) -> None:
        await self._io.closed

    async def __aenter__(self) -> "SFTPClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.exit()
        await self.wait_closed()


SFTPFailure = fx.SFTPFailure


# ---- the two ends of a transfer: local files and remote files, one interface -------------------


class _FS(Protocol):
    """One end of a transfer: the local file system or the remote one."""

    async def stat(self, path: str, follow: bool) -> SFTPAttrs: ...
    async def isdir(self, path: str) -> bool: ...
    async def mkdir(self, path: str) -> None: ...
    async def entries(self, path: str) -> List[Tuple[str, SFTPAttrs]]: ...
    async def symlink(self, target: str, path: str) -> None: ...
    async def readlink(self, path: str) -> str: ...
    async def set_attrs(self, path: str, attrs: SFTPAttrs) -> None: ...
    def reader(self, path: str) -> Any: ...
    def writer(self, path: str, attrs: Optional[SFTPAttrs]) -> Any: ...


class _Local(_FS):
    async def stat(self, path: str, follow: bool) -> SFTPAttrs:
        return SFTPAttrs.from_stat(os.stat(path) if follow else os.lstat(path))

    async def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    async def mkdir(self, path: str) -> None:
        os.mkdir(path)

    async def entries(self, path: str) -> List[Tuple[str, SFTPAttrs]]:
        return [(n, SFTPAttrs.from_stat(os.lstat(os.path.join(path, n)))) for n in sorted(os.listdir(path))]

    async def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    async def readlink(self, path: str) -> str:
        return os.readlink(path)

    async def set_attrs(self, path: str, attrs: SFTPAttrs) -> None:
        if attrs.st_mode is not None:
            os.chmod(path, _stat.S_IMODE(attrs.st_mode))
        if attrs.st_atime is not None and attrs.st_mtime is not None:  # (SFTP sets the two together)
            os.utime(path, (attrs.st_atime, attrs.st_mtime))

    def reader(self, path: str) -> "_LocalFile":
        return _LocalFile(path, "rb")

    def writer(self, path: str, attrs: Optional[SFTPAttrs]) -> "_LocalFile":
        return _LocalFile(path, "wb")


def file_chunks(f: Any, block: int) -> Any:
    """(offset, data) pieces of an open binary file, read block by block to its end."""
    off = 0
    while True:
        data = f.read(block)
        if not data:
            return
        yield off, data
        off += len(data)


class _LocalFile:
    def __init__(self, path: str, mode: str) -> None:
        self.path = path
        self.mode = mode
        self.f: Any = None

    async def __aenter__(self) -> "_LocalFile":
        self.f = open(self.path, self.mode)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.f.close()

    async def copy_to(self, writer: Any, total: int, block: int, most: int, tick: Callable[[int], None]) -> None:
        await writer.write_chunks(file_chunks(self.f, block), most, tick)

    async def write_chunks(self, chunks: Any, most: int, tick: Callable[[int], None]) -> None:
        for off, data in chunks:
            os.pwrite(self.f.fileno(), data, off)
            tick(len(data))

    def sink(self, off: int, data: bytes) -> None:
        os.pwrite(self.f.fileno(), data, off)


class _Remote(_FS):
    def __init__(self, sftp: SFTPClient) -> None:
        self.sftp = sftp

    async def stat(self, path: str, follow: bool) -> SFTPAttrs:
        return await self.sftp.stat(path, follow_symlinks=follow)

    async def isdir(self, path: str) -> bool:
        return await self.sftp.isdir(path)

    async def mkdir(self, path: str) -> None:
        await self.sftp.mkdir(path)

    async def entries(self, path: str) -> List[Tuple[str, SFTPAttrs]]:
        return sorted((n.filename, n.attrs) for n in await self.sftp.readdir(path)
                      if n.filename not in (".", ".."))

    async def symlink(self, target: str, path: str) -> None:
        await self.sftp.symlink(target, path)

    async def readlink(self, path: str) -> str:
        return await self.sftp.readlink(path)

    async def set_attrs(self, path: str, attrs: SFTPAttrs) -> None:
        a = SFTPAttrs(permissions=None if attrs.st_mode is None else _stat.S_IMODE(attrs.st_mode),
                      atime=attrs.st_atime, mtime=attrs.st_mtime)
        await self.sftp.setstat(path, a)

    def reader(self, path: str) -> "_RemoteFile":
        return _RemoteFile(self.sftp, path, "rb")

    def writer(self, path: str, attrs: Optional[SFTPAttrs]) -> "_RemoteFile":
        return _RemoteFile(self.sftp, path, "wb", attrs)


class _RemoteFile:
    def __init__(self, sftp: SFTPClient, path: str, mode: str, attrs: Optional[SFTPAttrs] = None) -> None:
        self.sftp = sftp
        self.path = path
        self.mode = mode
        self.attrs = attrs
        self.f: Optional[SFTPClientFile] = None

    async def __aenter__(self) -> "_RemoteFile":
        perms = SFTPAttrs(permissions=_stat.S_IMODE(self.attrs.st_mode)) \
            if self.attrs is not None and self.attrs.st_mode is not None else None
        self.f = await self.sftp.open(self.path, self.mode, perms)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.f is not None:
            await self.f.close()

    async def copy_to(self, writer: Any, total: int, block: int, most: int, tick: Callable[[int], None]) -> None:
        assert self.f is not None
        if isinstance(writer, _LocalFile):
            end = await self.sftp._download(self.f._handle, writer.sink, 0, None, block, most, size_hint=total,
                                            progress=tick)
            writer.f.truncate(end)
            return
        parts: List[Tuple[int, bytes]] = []

        def collect(off: int, data: bytes) -> None:
            parts.append((off, data))
        end = await self.sftp._download(self.f._handle, collect, 0, None, block, most, size_hint=total)
        await writer.write_chunks(((o, d) for o, d in parts if o < end), most, tick)

    async def write_chunks(self, chunks: Any, most: int, tick: Callable[[int], None]) -> None:
        assert self.f is not None
        await self.sftp._upload(self.f._handle, chunks, most, tick)


async def start_sftp_client(conn: Any, **kw: Any) -> SFTPClient:
    """An SFTP session on a new session channel of conn (the ``sftp`` subsystem).

    :raises ChannelRequestError: the server refused the subsystem.
    :raises SFTPProtocolError: the server does not speak SFTP version 3.
    """
    client: Optional[SFTPClient] = None

    def on_data(data: bytes, ext: int) -> None:
        assert client is not None
        client._on_data(data, ext)
    io = await conn._open(b"session", on_data=on_data)
    client = SFTPClient(conn, io, **kw)
    try:
        if not await io.request(b"subsystem", string("sftp")):
            raise ChannelRequestError("the server refused the sftp subsystem")
        await client._start()
    except BaseException:
        io.close()
        raise
    return client


class _SFTPStarter:
    """What ``conn.start_sftp_client()`` returns: awaitable and an async context manager."""

    def __init__(self, coro: Coroutine[Any, Any, SFTPClient]) -> None:
        self._coro = coro
        self._client: Optional[SFTPClient] = None

    def __await__(self) -> Generator[Any, Any, SFTPClient]:
        return self._coro.__await__()

    async def __aenter__(self) -> SFTPClient:
        self._client = await self._coro
        return self._client

    async def __aexit__(self, *exc: Any) -> None:
        if self._client is not None:
            await self._client.__aexit__(*exc)
