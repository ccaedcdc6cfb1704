"""The SFTP server: ``listen(..., sftp_factory=SFTPServer)`` serves the local file system as
the server's user; ``sftp_factory=lambda process: SFTPServer(process, chroot="/srv/files")``
serves one directory tree, every path resolved inside it.

:class:`SFTPServer` is also the hook class for virtual file systems and per-user policy, in
asyncssh's shape: subclass it and override ``open``, ``read``, ``write``, ``stat``,
``scandir``, ... (plain methods or coroutines).  Paths reach the hooks as the real local path
(after :meth:`SFTPServer.map_path`); ``OSError`` s they raise become status replies.

In a chroot, :meth:`SFTPServer.map_path` resolves a path one component at a time, reading
each symbolic link and resolving its target inside the root too (``..`` stops at the root,
an absolute target starts at it), as Linux's ``openat2(RESOLVE_IN_ROOT)`` does; files are then
opened with ``O_NOFOLLOW``.  What a local process changes in the tree between the check and
the use is not guarded against (as with OpenSSH's ChrootDirectory, the tree should belong to
the server).

:func:`run_sftp_server` is the session loop: it reads requests only while the replies it has
queued fit under a high-water mark, so a client that never reads its replies stops being read
(its channel window closes) and the server's memory stays bounded.
"""

import errno
import inspect
import logging
import os
import posixpath
import stat as _stat
from collections import deque
from typing import (Any, AsyncIterable, AsyncIterator, Awaitable, Callable, Dict, Iterable, Iterator, List, Optional,
                    Union)

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.packet import Buffer, string
from M2Sec.SSH.sftp import SFTPAttrs, SFTPName

log = logging.getLogger("M2Sec.SSH.sftp")

#: replies queued before the loop waits for the client to take them
HIGH_WATER = 1024 * 1024
#: replies gathered into one channel write
_BATCH = 64 * 1024
#: handles one session may hold open
MAX_HANDLES = 1024
_MAX_LINKS = 40


class SFTPServer:
    """Serves SFTP requests from the local file system (see the module's docstring).

    :param process: the session (its ``username`` and ``get_extra_info`` serve policy).
    :param chroot: a directory every path is confined to (None: the whole file system,
        relative paths from ``home``).
    :param home: the start directory (default: the root of the chroot, or the current
        directory without one).
    """

    def __init__(self, process: Any = None, chroot: Optional[str] = None, home: Optional[str] = None) -> None:
        self.process = process
        self._chroot = os.path.realpath(chroot) if chroot is not None else None
        if self._chroot is not None:
            self.home = home if home is not None else "/"
        else:
            self.home = home if home is not None else os.getcwd()

    # ---- paths ----
    def map_path(self, path: str, follow: bool = True) -> str:
        """The local path of a client's path.  In a chroot every component is resolved inside
        it (symbolic links too, unless ``follow`` is False for the last one)."""
        if self._chroot is None:
            return posixpath.join(self.home, path) if path else self.home
        return self._chroot + self._resolve(path, follow)

    def reverse_map_path(self, local: str) -> str:
        """The client's view of a local path (what realpath answers)."""
        if self._chroot is None:
            return local
        rel = local[len(self._chroot):]
        return rel or "/"

    def _resolve(self, path: str, follow: bool) -> str:
        """The virtual path, symbolic links resolved inside the root."""
        root = self._chroot
        assert root is not None
        start = path if path.startswith("/") else posixpath.join(self.home, path)
        todo = deque(start.split("/"))
        done: List[str] = []
        hops = 0
        while todo:
            c = todo.popleft()
            if c in ("", "."):
                continue
            if c == "..":
                if done:
                    done.pop()
                continue
            local = root + "/" + "/".join(done + [c])
            if todo or follow:
                try:
                    is_link = _stat.S_ISLNK(os.lstat(local).st_mode)
                except OSError:
                    is_link = False
                if is_link:
                    hops += 1
                    if hops > _MAX_LINKS:
                        raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                    target = os.readlink(local)
                    if target.startswith("/"):
                        done = []
                    todo.extendleft(reversed(target.split("/")))
                    continue
            done.append(c)
        return "/" + "/".join(done)

    # ---- formatting ----
    def format_user(self, uid: Optional[int]) -> str:
        import pwd  # POSIX only: imported here so that M2Sec.SSH imports everywhere
        try:
            return pwd.getpwuid(uid).pw_name if uid is not None else ""
        except KeyError:
            return str(uid)

    def format_group(self, gid: Optional[int]) -> str:
        import grp
        try:
            return grp.getgrgid(gid).gr_name if gid is not None else ""
        except KeyError:
            return str(gid)

    def format_longname(self, name: SFTPName) -> None:
        name.longname = fx.longname(name.filename, name.attrs, self.format_user(name.attrs.st_uid),
                                    self.format_group(name.attrs.st_gid))

    # ---- files ----
    def open(self, path: str, pflags: int, attrs: SFTPAttrs) -> Any:
        """A file object for the other hooks (here: a file descriptor)."""
        flags = os.O_NOFOLLOW if self._chroot is not None else 0
        rw = pflags & (fx.FXF_READ | fx.FXF_WRITE)
        flags |= os.O_RDWR if rw == (fx.FXF_READ | fx.FXF_WRITE) else os.O_WRONLY if rw == fx.FXF_WRITE \
            else os.O_RDONLY
        if pflags & fx.FXF_APPEND:
            flags |= os.O_APPEND
        if pflags & fx.FXF_CREAT:
            flags |= os.O_CREAT
        if pflags & fx.FXF_TRUNC:
            flags |= os.O_TRUNC
        if pflags & fx.FXF_EXCL:
            flags |= os.O_EXCL
        mode = _stat.S_IMODE(attrs.st_mode) if attrs.st_mode is not None else 0o666
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), mode)
        if _stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        return fd

    def close(self, file_obj: Any) -> None:
        os.close(file_obj)

    def read(self, file_obj: Any, offset: int, size: int) -> bytes:
        return os.pread(file_obj, size, offset)

    def write(self, file_obj: Any, offset: int, data: Buffer) -> int:
        return os.pwrite(file_obj, data, offset)

    def fstat(self, file_obj: Any) -> SFTPAttrs:
        return SFTPAttrs.from_stat(os.fstat(file_obj))

    def fsetstat(self, file_obj: Any, attrs: SFTPAttrs) -> None:
        _set_attrs(file_obj, attrs, True)

    def fsync(self, file_obj: Any) -> None:
        os.fsync(file_obj)

    def fstatvfs(self, file_obj: Any) -> fx.SFTPVFSAttrs:
        return fx.SFTPVFSAttrs.from_statvfs(os.fstatvfs(file_obj))

    # ---- paths' attributes ----
    def stat(self, path: str) -> SFTPAttrs:
        return SFTPAttrs.from_stat(os.stat(path))

    def lstat(self, path: str) -> SFTPAttrs:
        return SFTPAttrs.from_stat(os.lstat(path))

    def setstat(self, path: str, attrs: SFTPAttrs) -> None:
        _set_attrs(path, attrs, True)

    def lsetstat(self, path: str, attrs: SFTPAttrs) -> None:
        _set_attrs(path, attrs, False)

    def statvfs(self, path: str) -> fx.SFTPVFSAttrs:
        return fx.SFTPVFSAttrs.from_statvfs(os.statvfs(path))

    # ---- directories and names ----
    def scandir(self, path: str) -> Iterable[SFTPName]:
        """The directory's entries (with . and ..), attributes from lstat; an override may
        return an iterable or an async iterable."""
        names = [".", ".."] + sorted(os.listdir(path))
        for n in names:
            try:
                attrs = SFTPAttrs.from_stat(os.lstat(os.path.join(path, n)))
            except OSError:
                attrs = SFTPAttrs()
            yield SFTPName(n, "", attrs)

    def mkdir(self, path: str, attrs: SFTPAttrs) -> None:
        os.mkdir(path, _stat.S_IMODE(attrs.st_mode) if attrs.st_mode is not None else 0o777)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def remove(self, path: str) -> None:
        if _stat.S_ISDIR(os.lstat(path).st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        os.unlink(path)

    def rename(self, oldpath: str, newpath: str) -> None:
        """SFTP's rename: fails when newpath exists (as OpenSSH's, through a hard link)."""
        if os.path.lexists(newpath):
            raise FileExistsError(errno.EEXIST, "the target exists", newpath)
        os.rename(oldpath, newpath)

    def posix_rename(self, oldpath: str, newpath: str) -> None:
        os.replace(oldpath, newpath)

    def link(self, oldpath: str, newpath: str) -> None:
        os.link(oldpath, newpath, follow_symlinks=False)

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def symlink(self, target: str, linkpath: str) -> None:
        os.symlink(target, linkpath)

    def realpath(self, path: str) -> str:
        """The client's absolute, resolved path (no check that it exists beyond its parent)."""
        if self._chroot is not None:
            return self._resolve(path, True)
        return os.path.realpath(self.map_path(path))

    def expand_path(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            path = self.home + path[1:]
        return self.realpath(path)

    def home_directory(self, user: str) -> str:
        """The home directory of user (home-directory): :attr:`home` for "" or the session's
        own user; other users' homes are not shown (FileNotFoundError)."""
        if user and user != getattr(self.process, "username", None):
            raise OSError(errno.ENOENT, "no home directory is known for that user", user)
        return self.home

    def exit(self) -> None:
        """The session ended."""


def _set_attrs(target: Any, attrs: SFTPAttrs, follow: bool) -> None:
    kw: Dict[str, bool] = {} if isinstance(target, int) else {"follow_symlinks": follow}
    if attrs.st_size is not None:
        os.truncate(target, attrs.st_size)
    if attrs.st_uid is not None and attrs.st_gid is not None:  # (SFTP sets the two together)
        os.chown(target, attrs.st_uid, attrs.st_gid, **kw)
    if attrs.st_mode is not None:
        os.chmod(target, _stat.S_IMODE(attrs.st_mode), **kw)
    if attrs.st_atime is not None and attrs.st_mtime is not None:  # (and these two)
        times = (attrs.st_atime, attrs.st_mtime)
        if isinstance(target, int):
            os.utime(target, times)
        else:
            os.utime(target, times, follow_symlinks=follow)


class _Dir:
    """An open directory: the names not sent yet (from an iterable or an async iterable)."""

    def __init__(self, entries: Union[Iterable[SFTPName], AsyncIterable[SFTPName]]) -> None:
        self.aiter: Optional[AsyncIterator[SFTPName]] = None
        self.entries: Optional[Iterator[SFTPName]] = None
        if isinstance(entries, AsyncIterable):
            self.aiter = entries.__aiter__()
        else:
            self.entries = iter(entries)

    async def next(self) -> Optional[SFTPName]:
        if self.aiter is not None:
            try:
                return await self.aiter.__anext__()
            except StopAsyncIteration:
                return None
        return next(self.entries, None) if self.entries is not None else None


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    """hook(*args), awaited when the hook is a coroutine (hooks may be either)."""
    value = hook(*args)
    if inspect.isawaitable(value):
        return await value
    return value


class SFTPSession:
    """One SFTP session: the core, the handles, and the dispatch to the SFTPServer hooks."""

    def __init__(self, server: SFTPServer, limits: Optional[fx.SFTPLimits] = None) -> None:
        self.server = server
        self.limits = limits or fx.SFTPLimits(fx.MAX_PACKET, fx.MAX_READ, fx.MAX_READ, MAX_HANDLES)
        self.core = fx.SFTPServerCore(self.limits.max_packet_len)
        self.handles: Dict[bytes, Any] = {}
        self._next = 0
        self._dispatch: Dict[int, Callable[..., Awaitable[None]]] = {
            fx.FXP_OPEN: self._open, fx.FXP_CLOSE: self._close, fx.FXP_READ: self._read,
            fx.FXP_WRITE: self._write, fx.FXP_LSTAT: self._lstat, fx.FXP_FSTAT: self._fstat,
            fx.FXP_SETSTAT: self._setstat, fx.FXP_FSETSTAT: self._fsetstat, fx.FXP_OPENDIR: self._opendir,
            fx.FXP_READDIR: self._readdir, fx.FXP_REMOVE: self._remove, fx.FXP_MKDIR: self._mkdir,
            fx.FXP_RMDIR: self._rmdir, fx.FXP_REALPATH: self._realpath, fx.FXP_STAT: self._stat,
            fx.FXP_RENAME: self._rename, fx.FXP_READLINK: self._readlink, fx.FXP_SYMLINK: self._symlink,
        }
        self._extended: Dict[bytes, Callable[..., Awaitable[None]]] = {
            fx.EXT_POSIX_RENAME: self._posix_rename, fx.EXT_STATVFS: self._statvfs,
            fx.EXT_FSTATVFS: self._fstatvfs, fx.EXT_HARDLINK: self._hardlink, fx.EXT_FSYNC: self._fsync,
            fx.EXT_LSETSTAT: self._lsetstat, fx.EXT_LIMITS: self._limits, fx.EXT_EXPAND_PATH: self._expand_path,
            fx.EXT_COPY_DATA: self._copy_data, fx.EXT_HOME_DIRECTORY: self._home_directory,
            fx.EXT_USERS_GROUPS: self._users_groups,
        }

    # ---- the loop ----
    async def handle(self, req: fx.Request) -> None:
        try:
            fn = self._extended[req.name or b""] if req.type == fx.FXP_EXTENDED else self._dispatch[req.type]
            await fn(req.id, *req.args)
        except (OSError, ValueError) as e:
            self.core.error(req.id, e)
        except Exception as e:
            log.exception("the SFTP server hook failed")
            self.core.status(req.id, fx.FX_FAILURE, "internal error")

    async def close_all(self) -> None:
        for h in list(self.handles.values()):
            if not isinstance(h, _Dir):
                try:
                    await _call(self.server.close, h)
                except Exception:
                    pass
        self.handles.clear()
        await _call(self.server.exit)

    # ---- helpers ----
    def _new_handle(self, obj: Any) -> bytes:
        if len(self.handles) >= self.limits.max_open_handles:
            raise OSError(errno.EMFILE, "too many open handles")
        h = str(self._next).encode()
        self._next += 1
        self.handles[h] = obj
        return h

    def _file(self, h: bytes) -> Any:
        obj = self.handles.get(h)
        if obj is None or isinstance(obj, _Dir):
            raise OSError(errno.EBADF, "invalid handle")
        return obj

    def _map(self, path: str, follow: bool = True) -> str:
        return self.server.map_path(path, follow)

    # ---- requests ----
    async def _open(self, rid: int, path: str, pflags: int, attrs: SFTPAttrs) -> None:
        if len(self.handles) >= self.limits.max_open_handles:
            raise OSError(errno.EMFILE, "too many open handles")
        obj = await _call(self.server.open, self._map(path), pflags, attrs)
        self.core.handle(rid, self._new_handle(obj))

    async def _close(self, rid: int, h: bytes) -> None:
        obj = self.handles.pop(h, None)
        if obj is None:
            raise OSError(errno.EBADF, "invalid handle")
        if not isinstance(obj, _Dir):
            await _call(self.server.close, obj)
        self.core.status(rid, fx.FX_OK)

    async def _read(self, rid: int, h: bytes, offset: int, size: int) -> None:
        data = await _call(self.server.read, self._file(h), offset, min(size, self.limits.max_read_len))
        if data:
            self.core.data(rid, data)
        else:
            self.core.status(rid, fx.FX_EOF)

    async def _write(self, rid: int, h: bytes, offset: int, data: bytes) -> None:
        f = self._file(h)
        view = memoryview(data)
        while view:
            n = await _call(self.server.write, f, offset, view)
            if not n:
                raise OSError(errno.EIO, "short write")
            offset += n
            view = view[n:]
        self.core.status(rid, fx.FX_OK)

    async def _lstat(self, rid: int, path: str) -> None:
        self.core.attrs(rid, await _call(self.server.lstat, self._map(path, False)))

    async def _stat(self, rid: int, path: str) -> None:
        self.core.attrs(rid, await _call(self.server.stat, self._map(path)))

    async def _fstat(self, rid: int, h: bytes) -> None:
        self.core.attrs(rid, await _call(self.server.fstat, self._file(h)))

    async def _ok(self, rid: int, hook: Callable[..., Any], *args: Any) -> None:
        await _call(hook, *args)
        self.core.status(rid, fx.FX_OK)

    async def _setstat(self, rid: int, path: str, attrs: SFTPAttrs) -> None:
        await self._ok(rid, self.server.setstat, self._map(path), attrs)

    async def _lsetstat(self, rid: int, path: str, attrs: SFTPAttrs) -> None:
        await self._ok(rid, self.server.lsetstat, self._map(path, False), attrs)

    async def _fsetstat(self, rid: int, h: bytes, attrs: SFTPAttrs) -> None:
        await self._ok(rid, self.server.fsetstat, self._file(h), attrs)

    async def _opendir(self, rid: int, path: str) -> None:
        local = self._map(path)
        attrs = await _call(self.server.stat, local)
        if attrs.st_mode is not None and not _stat.S_ISDIR(attrs.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        entries = await _call(self.server.scandir, local)
        self.core.handle(rid, self._new_handle(_Dir(entries)))

    async def _readdir(self, rid: int, h: bytes) -> None:
        d = self.handles.get(h)
        if not isinstance(d, _Dir):
            raise OSError(errno.EBADF, "invalid handle")
        names: List[SFTPName] = []
        size = 0
        while True:
            name = await d.next()
            if name is None:
                break
            if not name.longname:
                self.server.format_longname(name)
            names.append(name)
            size += len(name.filename) * 2 + 80
            if len(names) >= fx.MAX_NAMES or size > self.limits.max_packet_len // 2:
                break
        if names:
            self.core.names(rid, names)
        else:
            self.core.status(rid, fx.FX_EOF)

    async def _remove(self, rid: int, path: str) -> None:
        await self._ok(rid, self.server.remove, self._map(path, False))

    async def _mkdir(self, rid: int, path: str, attrs: SFTPAttrs) -> None:
        await self._ok(rid, self.server.mkdir, self._map(path, False), attrs)

    async def _rmdir(self, rid: int, path: str) -> None:
        await self._ok(rid, self.server.rmdir, self._map(path, False))

    async def _realpath(self, rid: int, path: str) -> None:
        real = await _call(self.server.realpath, path or ".")
        self.core.names(rid, [SFTPName(real, real, SFTPAttrs())])

    async def _rename(self, rid: int, old: str, new: str) -> None:
        await self._ok(rid, self.server.rename, self._map(old, False), self._map(new, False))

    async def _posix_rename(self, rid: int, old: str, new: str) -> None:
        await self._ok(rid, self.server.posix_rename, self._map(old, False), self._map(new, False))

    async def _hardlink(self, rid: int, old: str, new: str) -> None:
        await self._ok(rid, self.server.link, self._map(old, False), self._map(new, False))

    async def _readlink(self, rid: int, path: str) -> None:
        target = await _call(self.server.readlink, self._map(path, False))
        self.core.names(rid, [SFTPName(target, target, SFTPAttrs())])

    async def _symlink(self, rid: int, target: str, linkpath: str) -> None:
        # OpenSSH sends (target, link), the reverse of the draft; so do its clients
        await self._ok(rid, self.server.symlink, target, self._map(linkpath, False))

    async def _statvfs(self, rid: int, path: str) -> None:
        self.core.extended_reply(rid, (await _call(self.server.statvfs, self._map(path))).encode())

    async def _fstatvfs(self, rid: int, h: bytes) -> None:
        self.core.extended_reply(rid, (await _call(self.server.fstatvfs, self._file(h))).encode())

    async def _fsync(self, rid: int, h: bytes) -> None:
        await self._ok(rid, self.server.fsync, self._file(h))

    async def _limits(self, rid: int) -> None:
        self.core.extended_reply(rid, self.limits.encode())

    async def _expand_path(self, rid: int, path: str) -> None:
        real = await _call(self.server.expand_path, path)
        self.core.names(rid, [SFTPName(real, real, SFTPAttrs())])

    async def _home_directory(self, rid: int, user: bytes) -> None:
        home = await _call(self.server.home_directory, fx.decode_path(user))
        self.core.names(rid, [SFTPName(home, home, SFTPAttrs())])

    async def _copy_data(self, rid: int, rh: bytes, roff: int, length: int, wh: bytes, woff: int) -> None:
        src, dst = self._file(rh), self._file(wh)
        left = length or (1 << 63)
        while left:
            data = await _call(self.server.read, src, roff, min(left, self.limits.max_read_len))
            if not data:
                if length:
                    raise OSError(errno.EIO, "copy-data ran past the end of the file")
                break
            n = 0
            while n < len(data):
                n += await _call(self.server.write, dst, woff + n, data[n:])
            roff += len(data)
            woff += len(data)
            left -= len(data)
        self.core.status(rid, fx.FX_OK)

    async def _users_groups(self, rid: int, uids: bytes, gids: bytes) -> None:
        def names(raw: bytes, fmt: Callable[[int], str]) -> bytes:
            out = []
            for i in fx.decode_ids(raw):
                name = fmt(i)
                out.append(string(name if name != str(i) else ""))  # "": no name for that id
            return b"".join(out)
        users = names(uids, self.server.format_user)
        groups = names(gids, self.server.format_group)
        self.core.extended_reply(rid, string(users) + string(groups))


async def run_sftp_server(process: Any, factory: Any) -> int:
    """Serve SFTP on a session (the ``sftp`` subsystem) until the client closes it; the exit
    status.  ``factory(process)`` makes the :class:`SFTPServer` (``True``: the default one)."""
    server = SFTPServer(process) if factory is True else factory(process)
    session = SFTPSession(server)
    core = session.core
    reader, writer = process.stdin, process.stdout
    io = writer._chan
    status = 0
    try:
        while True:
            data = await reader.read(fx.MAX_PACKET)
            if not data:
                break
            try:
                requests = core.receive(data)
            except fx.SFTPProtocolError as e:
                log.info("SFTP session ended: %s", e)
                status = 1
                break
            # replies go out together (each channel write is an SSH packet and a send())
            batch: List[bytes] = []
            size = 0
            for req in requests:
                await session.handle(req)
                out = core.data_to_send()
                if out:
                    batch.append(out)
                    size += len(out)
                    if size >= _BATCH:
                        writer.write(b"".join(batch) if len(batch) > 1 else out)
                        batch, size = [], 0
                        if io._pending_size > HIGH_WATER:
                            await writer.drain()
            out = core.data_to_send()  # VERSION, or statuses receive() itself gave
            if out:
                batch.append(out)
            if batch:
                writer.write(b"".join(batch))
            if io._pending_size > HIGH_WATER:
                await writer.drain()
    except (BrokenPipeError, ConnectionError):
        status = 1
    finally:
        await session.close_all()
    return status

