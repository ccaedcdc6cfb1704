"""The blocking SFTP client, with paramiko's names: ``sftp = client.open_sftp()`` then
``sftp.get(remote, local)``, ``sftp.put(local, remote)``, ``sftp.open(path, "rb")``, ...

It drives the asyncio client (sftp_client.py) in the blocking :class:`~M2Sec.SSH.Client`'s
event loop, so transfers keep many requests in flight here too.  ``callback(done, total)``
is paramiko's progress callback.
"""

import os
import posixpath
import stat as _stat
from typing import IO, Any, Callable, Coroutine, List, Optional, Protocol, Sequence, Tuple, TypeVar

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.sftp import SFTPAttributes
from M2Sec.SSH.sftp_client import SFTPClient as AsyncSFTPClient
from M2Sec.SSH.sftp_client import SFTPClientFile, file_chunks

Callback = Optional[Callable[[int, int], Any]]
_T = TypeVar("_T")


class _Runner(Protocol):
    """Runs a coroutine in the blocking client's event loop and gives its result."""

    def __call__(self, coro: Coroutine[Any, Any, _T]) -> _T: ...


def _progress(callback: Callback) -> Any:
    if callback is None:
        return None
    return lambda src, dst, done, total: callback(done, total)


class SFTPFile:
    """A remote file for blocking code: read, write, seek, tell, prefetch, stat, close."""

    def __init__(self, sftp: "SFTPClient", f: SFTPClientFile, mode: str) -> None:
        self._sftp = sftp
        self._f = f
        self.mode = mode
        self._buffer = b""
        self._buffer_pos = 0
        self._prefetched = False

    @property
    def closed(self) -> bool:
        return self._f.closed

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._sftp._run(coro)

    def read(self, size: Optional[int] = None) -> bytes:
        """Up to size bytes (the rest of the file if None); b"" at the end."""
        pos = self._f._pos
        if self._prefetched and self._buffer_pos <= pos <= self._buffer_pos + len(self._buffer):
            start = pos - self._buffer_pos
            data = self._buffer[start:] if size is None or size < 0 else self._buffer[start:start + size]
            self._f._pos += len(data)
            return data
        return self._run(self._f.read(-1 if size is None else size))

    def readline(self) -> bytes:
        out = b""
        while not out.endswith(b"\n"):
            chunk = self.read(8192)
            if not chunk:
                break
            i = chunk.find(b"\n")
            if i >= 0:
                self._f._pos -= len(chunk) - i - 1
                chunk = chunk[:i + 1]
            out += chunk
        return out

    def readlines(self) -> List[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def prefetch(self, file_size: Optional[int] = None) -> None:
        """Read the rest of the file at once, many requests in flight; reads are served from it."""
        pos = self._f._pos
        self._buffer = self._run(self._f.read(-1))
        self._f._pos = pos
        self._buffer_pos = pos
        self._prefetched = True

    def write(self, data: Any) -> int:
        self._prefetched = False
        if isinstance(data, str):
            data = data.encode()
        return self._run(self._f.write(data))

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._run(self._f.seek(offset, whence))

    def tell(self) -> int:
        return self._f._pos

    def stat(self) -> SFTPAttributes:
        return self._run(self._f.stat())

    def chmod(self, mode: int) -> None:
        self._run(self._f.chmod(mode))

    def truncate(self, size: int) -> None:
        self._run(self._f.truncate(size))

    def flush(self) -> None:
        pass

    def fsync(self) -> None:
        self._run(self._f.fsync())

    def close(self) -> None:
        if not self._f.closed:
            self._run(self._f.close())

    def __enter__(self) -> "SFTPFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class SFTPClient:
    """A blocking SFTP session (see the module's docstring); :attr:`sftp` is the asyncio one."""

    def __init__(self, run: _Runner, sftp: AsyncSFTPClient) -> None:
        self._run = run
        self.sftp = sftp

    # ---- transfers ----
    def get(self, remotepath: str, localpath: str, callback: Callback = None, prefetch: bool = True,
            max_concurrent_prefetch_requests: Optional[int] = None) -> None:
        """Download remotepath to localpath."""
        self._run(self.sftp.get(remotepath, localpath, progress_handler=_progress(callback),
                                max_requests=max_concurrent_prefetch_requests))

    def put(self, localpath: str, remotepath: str, callback: Callback = None, confirm: bool = True) -> SFTPAttributes:
        """Upload localpath to remotepath; its attributes (size checked with confirm)."""
        self._run(self.sftp.put(localpath, remotepath, progress_handler=_progress(callback)))
        return self._confirm(remotepath, os.path.getsize(localpath), confirm)

    def _confirm(self, remotepath: str, size: int, confirm: bool) -> SFTPAttributes:
        if not confirm:
            return SFTPAttributes()
        attrs = self.stat(remotepath)
        if attrs.st_size != size:
            raise IOError("size mismatch in put: %r != %r" % (attrs.st_size, size))
        return attrs

    def getfo(self, remotepath: str, fl: IO[bytes], callback: Callback = None, prefetch: bool = True,
              max_concurrent_prefetch_requests: Optional[int] = None) -> int:
        """Download remotepath into the open file fl; the byte count."""
        async def go() -> int:
            async with await self.sftp.open(remotepath, "rb") as f:
                total = (await f.stat()).st_size or 0
                parts = {}
                done = [0]

                def sink(off: int, data: bytes) -> None:
                    parts[off] = data
                    done[0] += len(data)
                    if callback is not None:
                        callback(done[0], total)
                end = await self.sftp._download(f._handle, sink, 0, None, None, max_concurrent_prefetch_requests,
                                                size_hint=total)
                n = 0
                for off in sorted(parts):
                    chunk = parts[off][:max(0, end - off)]
                    fl.write(chunk)
                    n += len(chunk)
                return n
        return self._run(go())

    def putfo(self, fl: IO[bytes], remotepath: str, file_size: int = 0, callback: Callback = None,
              confirm: bool = True) -> SFTPAttributes:
        """Upload the open file fl's contents to remotepath."""
        async def go() -> int:
            done = [0]

            def tick(n: int) -> None:
                done[0] += n
                if callback is not None:
                    callback(done[0], file_size)
            async with await self.sftp.open(remotepath, "wb") as f:
                await self.sftp._upload(f._handle, file_chunks(fl, self.sftp.block_size), None, tick)
            return done[0]
        n = self._run(go())
        return self._confirm(remotepath, n, confirm)

    # ---- files and directories ----
    def open(self, filename: str, mode: str = "r", bufsize: int = -1) -> SFTPFile:
        """A remote file ('r', 'w', 'a', 'x', with '+'; always binary)."""
        return SFTPFile(self, self._run(self.sftp.open(filename, mode)), mode)

    file = open

    def listdir(self, path: str = ".") -> List[str]:
        return self._run(self.sftp.listdir(path))

    def listdir_attr(self, path: str = ".") -> List[SFTPAttributes]:
        """The entries' attributes, each with ``filename`` and ``longname`` set."""
        out = []
        for n in self._run(self.sftp.readdir(path)):
            if n.filename in (".", ".."):
                continue
            a = n.attrs
            a.filename, a.longname = n.filename, n.longname
            out.append(a)
        return out

    def listdir_iter(self, path: str = ".", read_aheads: int = 50) -> Any:
        return iter(self.listdir_attr(path))

    def stat(self, path: str) -> SFTPAttributes:
        return self._run(self.sftp.stat(path))

    def lstat(self, path: str) -> SFTPAttributes:
        return self._run(self.sftp.lstat(path))

    def chmod(self, path: str, mode: int) -> None:
        self._run(self.sftp.chmod(path, mode))

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._run(self.sftp.chown(path, uid, gid))

    def utime(self, path: str, times: Any) -> None:
        self._run(self.sftp.utime(path, times))

    def truncate(self, path: str, size: int) -> None:
        self._run(self.sftp.truncate(path, size))

    def rename(self, oldpath: str, newpath: str) -> None:
        self._run(self.sftp.rename(oldpath, newpath))

    def posix_rename(self, oldpath: str, newpath: str) -> None:
        self._run(self.sftp.posix_rename(oldpath, newpath))

    def remove(self, path: str) -> None:
        self._run(self.sftp.remove(path))

    unlink = remove

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._run(self.sftp.mkdir(path, fx.SFTPAttrs(permissions=mode)))

    def rmdir(self, path: str) -> None:
        self._run(self.sftp.rmdir(path))

    def symlink(self, source: str, dest: str) -> None:
        self._run(self.sftp.symlink(source, dest))

    def readlink(self, path: str) -> str:
        return self._run(self.sftp.readlink(path))

    def normalize(self, path: str) -> str:
        return self._run(self.sftp.realpath(path))

    def chdir(self, path: Optional[str] = None) -> None:
        if path is None:
            self.sftp._cwd = None
        else:
            if not _stat.S_ISDIR(self.stat(path).st_mode or 0):
                raise fx.SFTPFailure(fx.FX_FAILURE, "not a directory", filename=path)
            self._run(self.sftp.chdir(path))

    def getcwd(self) -> Optional[str]:
        return self.sftp._cwd

    def statvfs(self, path: str) -> fx.SFTPVFSAttrs:
        return self._run(self.sftp.statvfs(path))

    def expand_path(self, path: str) -> str:
        """``~`` and ``~user`` expanded by the server (expand-path@openssh.com)."""
        return self._run(self.sftp.expand_path(path))

    def home_directory(self, user: Optional[str] = None) -> str:
        """The home directory of user, None for the login user's (home-directory extension)."""
        return self._run(self.sftp.home_directory(user))

    def users_groups_by_id(self, uids: Sequence[int] = (), gids: Sequence[int] = ()) -> Tuple[List[str], List[str]]:
        """The names of uids and gids, "" where the server has none (users-groups-by-id@openssh.com)."""
        return self._run(self.sftp.users_groups_by_id(uids, gids))

    def close(self) -> None:
        async def close() -> None:  # in the client's event loop, which owns the channel
            self.sftp.exit()
            await self.sftp.wait_closed()
        self._run(close())

    def __enter__(self) -> "SFTPClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _join(*parts: str) -> str:
        return posixpath.join(*parts)
