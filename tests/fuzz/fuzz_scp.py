"""The legacy SCP protocol (M2Sec.SSH.scp): the peer's lines and bytes read by the sink
(``scp -t``: T, C, D and E records, warnings and errors), the acknowledgements read by the
source (``scp -f``), and the ``scp -t/-f`` command line the server parses.

The sink writes into an in-memory SFTPServer (mode, times and sizes checked as the real one's
os calls check them: a value the kernel or Python would refuse must have been refused as an
SCPError before).  The peer's faults are SCPError, the file system's answers OSError (the
server's handler catches both)."""
import os
import stat as _stat
import tempfile

from _harness import main, run_now

from M2Sec.SSH.scp import SCPError, _Ops, _receive, _send, parse_scp_command
from M2Sec.SSH.sftp import SFTPAttrs, SFTPError, SFTPName, SFTPNoSuchFile

EXPECTED = (SCPError, OSError)  # OSError: the file hooks' answers, as the server handler expects
_PROBE = tempfile.NamedTemporaryFile(prefix="fuzz_scp_")  # os.utime's own checks of the times


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    async def readline(self) -> bytes:
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        line, self.pos = self.data[self.pos:end], end
        return line

    async def read(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


class _Writer:
    def __init__(self) -> None:
        self.out = []

    def write(self, data: bytes) -> None:
        self.out.append(bytes(data))

    async def drain(self) -> None:
        pass


class _MemoryServer:
    """The SFTPServer hooks the legacy protocol calls, on a dict; values checked as os does."""

    def __init__(self) -> None:
        self.files = {"/": None, "/d": None, "/f": b"0123456789"}

    def map_path(self, path: str, follow: bool = True) -> str:
        return "/" + os.path.normpath("/" + path).lstrip("/")

    def stat(self, path: str) -> SFTPAttrs:
        if path not in self.files:
            raise SFTPNoSuchFile(reason="no such file", filename=path)
        body = self.files[path]
        if body is None:
            return SFTPAttrs(permissions=_stat.S_IFDIR | 0o755, atime=1, mtime=2)
        return SFTPAttrs(size=len(body), permissions=_stat.S_IFREG | 0o644, atime=1, mtime=2)

    def scandir(self, path: str) -> list:
        return [SFTPName(p.rsplit("/", 1)[1]) for p in self.files if p.rsplit("/", 1)[0] == path and p != "/"]

    def mkdir(self, path: str, attrs: SFTPAttrs) -> None:
        _stat.S_IMODE(attrs.st_mode)
        self.files[path] = None

    def open(self, path: str, flags: int, attrs: SFTPAttrs) -> str:
        _stat.S_IMODE(attrs.st_mode)
        if self.files.get(path, b"") is None:
            raise SFTPError(reason="is a directory", filename=path)
        self.files[path] = b""
        return path

    def write(self, f: str, off: int, data: memoryview) -> int:
        self.files[f] = self.files[f][:off] + bytes(data)
        return len(data)

    def read(self, f: str, off: int, n: int) -> bytes:
        return self.files[f][off:off + n]

    def close(self, f: str) -> None:
        pass

    def setstat(self, path: str, attrs: SFTPAttrs) -> None:
        if attrs.st_mode is not None:
            _stat.S_IMODE(attrs.st_mode)
        if attrs.st_atime is not None:
            os.utime(_PROBE.fileno(), (attrs.st_atime, attrs.st_mtime))


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0] % 4, data[1:]
    ops = _Ops(_MemoryServer())
    if mode == 0:  # the sink, into a directory
        run_now(_receive(ops, _Reader(data), _Writer(), "/d", True, False))
    elif mode == 1:  # the sink, to one file name, preserving times
        run_now(_receive(ops, _Reader(data), _Writer(), "/new", False, True))
    elif mode == 2:  # the source: the peer's acknowledgements
        run_now(_send(ops, _Reader(data), _Writer(), "/d" if data[:1] == b"\x00" else "/f", True, True))
    else:
        parsed = parse_scp_command(data.decode("utf-8", "surrogateescape"))
        assert parsed is None or parsed[0] in "tf" and parsed[1], parsed


if __name__ == "__main__":
    main(one_input, EXPECTED)
