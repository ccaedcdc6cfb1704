"""SFTP packets (M2Sec.SSH.sftp): the client core and the server core fed a byte stream cut
where the input says (packets split across reads, several in one read).

Client (odd mode): the server's VERSION (the input's, or a real one), then one request of each
kind and each OpenSSH extension is outstanding, and the rest of the input is the server's
replies; the extension replies are decoded as the client front end decodes them (statvfs,
limits, expand-path) and attributes must survive encode/decode.  Server (even mode): the
client's INIT and requests, decoded into Requests or answered with a status; with mode bit 2,
each request is then served by M2Sec's SFTPServer chrooted in a scratch directory (reset for
each input), as ``listen(sftp_factory=...)`` serves it: a hook may answer with a status, but
an exception the server logs as an internal error fails the input, and so does any change
beside the root (the chroot must hold).  The peer's faults are SFTPProtocolError (the session
ends) or SSHFormatError from a reply's decoder."""
import atexit
import errno
import logging
import os
import shutil
import tempfile

from _harness import main, run_now, split

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.errors import SSHFormatError
from M2Sec.SSH.packet import SSHReader, string, uint32, uint64
from M2Sec.SSH.sftp_server import SFTPServer, SFTPSession

EXPECTED = (fx.SFTPProtocolError, SSHFormatError)
VERSION = fx.packet(fx.FXP_VERSION, uint32(3), *(string(k) + string(v) for k, v in fx.SERVER_EXTENSIONS.items()))


def requests(directory: bytes = b"/d", file: bytes = b"/d/f") -> list:
    """(type, extension name, fields) of the requests the client has outstanding, in id order
    (make_seeds.py sends them to OpenSSH's sftp-server with real paths)."""
    d, f, h = string(directory), string(file), string(uint32(0))  # OpenSSH's first handle
    return [
        (fx.FXP_OPEN, None, f + uint32(fx.FXF_READ) + fx.SFTPAttrs().encode()),
        (fx.FXP_READ, None, h + uint64(0) + uint32(4096)),
        (fx.FXP_FSTAT, None, h), (fx.FXP_WRITE, None, h + uint64(0) + string(b"data")),
        (fx.FXP_OPENDIR, None, d), (fx.FXP_READDIR, None, string(uint32(1))),
        (fx.FXP_STAT, None, f), (fx.FXP_LSTAT, None, d), (fx.FXP_SETSTAT, None, d + fx.SFTPAttrs().encode()),
        (fx.FXP_REALPATH, None, d), (fx.FXP_READLINK, None, f), (fx.FXP_REMOVE, None, string(directory + b"/nope")),
        (fx.FXP_RENAME, None, d + d), (fx.FXP_CLOSE, None, h),
        (fx.FXP_EXTENDED, fx.EXT_STATVFS, d), (fx.FXP_EXTENDED, fx.EXT_FSTATVFS, string(uint32(1))),
        (fx.FXP_EXTENDED, fx.EXT_LIMITS, b""), (fx.FXP_EXTENDED, fx.EXT_EXPAND_PATH, string(b"~/x")),
        (fx.FXP_EXTENDED, fx.EXT_HOME_DIRECTORY, string(b"root")),
        (fx.FXP_EXTENDED, fx.EXT_USERS_GROUPS, string(uint32(0)) + string(uint32(0))),
    ]


REQUESTS = requests()


def _extended(name: bytes, value: bytes) -> None:
    """An extension's reply, decoded as the client front end decodes it."""
    r = SSHReader(value)
    if name in (fx.EXT_STATVFS, fx.EXT_FSTATVFS):
        fx.SFTPVFSAttrs.decode(r)
    elif name == fx.EXT_LIMITS:
        fx.SFTPClientCore().set_limits(fx.SFTPLimits.decode(r))
    elif name in (fx.EXT_EXPAND_PATH, fx.EXT_HOME_DIRECTORY):
        fx.decode_names(r)


def _client(mode: int, pieces: list) -> None:
    c = fx.SFTPClientCore()
    c.init()
    c.data_to_send()
    c.receive(pieces.pop(0) if mode & 2 and pieces else VERSION)
    if c.version is None:
        return
    names = {}
    for ptype, name, body in REQUESTS:
        rid = c.request(ptype, (string(name) if name else b"") + body)
        names[rid] = name
    for piece in pieces:
        for reply in c.receive(piece):
            if reply.error is not None:
                str(reply.error)
                assert isinstance(reply.error, OSError)
            elif reply.type == fx.FXP_EXTENDED_REPLY:
                _extended(names[reply.id], reply.value)
            elif reply.type == fx.FXP_ATTRS:
                again = fx.SFTPAttrs.decode(SSHReader(reply.value.encode()))
                assert again == reply.value, (again, reply.value)
            elif reply.type == fx.FXP_NAME:
                for n in reply.value:
                    fx.longname(n.filename, n.attrs)
                    fx.encode_names([n]) if "\x00" not in n.filename + n.longname else None


class _Quota(SFTPServer):
    """The real server, with a quota: no file past 1 MiB (so that a sparse terabyte and a
    copy-data of it cannot turn an input into minutes of copying)."""

    LIMIT = 1 << 20

    def write(self, file_obj, offset, data):
        if offset + len(data) > self.LIMIT:
            raise OSError(errno.EFBIG, "over the fuzzing quota")
        return super().write(file_obj, offset, data)

    def _check(self, attrs):
        if attrs.st_size is not None and attrs.st_size > self.LIMIT:
            raise OSError(errno.EFBIG, "over the fuzzing quota")

    def setstat(self, path, attrs):
        self._check(attrs)
        super().setstat(path, attrs)

    def lsetstat(self, path, attrs):
        self._check(attrs)
        super().lsetstat(path, attrs)

    def fsetstat(self, file_obj, attrs):
        self._check(attrs)
        super().fsetstat(file_obj, attrs)


_SCRATCH = tempfile.mkdtemp(prefix="fuzz_sftp_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
atexit.register(shutil.rmtree, _SCRATCH, True)
ROOT, OUTSIDE = os.path.join(_SCRATCH, "root"), os.path.join(_SCRATCH, "outside")
os.mkdir(OUTSIDE)
with open(os.path.join(OUTSIDE, "secret"), "wb") as _f:
    _f.write(b"secret")


class _Failures(logging.Handler):
    """The server's "hook failed" log records (an exception no status code was made for)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_failures = _Failures()
logging.getLogger("M2Sec.SSH.sftp").addHandler(_failures)
logging.getLogger("M2Sec.SSH.sftp").propagate = False


def _fresh_root() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(os.path.join(ROOT, "d", "sub"))
    with open(os.path.join(ROOT, "d", "f"), "wb") as f:
        f.write(b"content of f\n" * 10)
    os.symlink(OUTSIDE, os.path.join(ROOT, "d", "abs"))
    os.symlink("../../../outside/secret", os.path.join(ROOT, "d", "rel"))
    os.symlink("loop", os.path.join(ROOT, "loop"))


def _server(mode: int, pieces: list) -> None:
    s = fx.SFTPServerCore()
    session = None
    if mode & 4:
        _fresh_root()
        session = SFTPSession(_Quota(None, chroot=ROOT))
        s = session.core
        del _failures.records[:]
    try:
        if not mode & 2:
            s.receive(fx.packet(fx.FXP_INIT, uint32(3)))
        for piece in pieces:
            for req in s.receive(piece):
                repr(req)
                for a in req.args:
                    if isinstance(a, fx.SFTPAttrs):
                        assert fx.SFTPAttrs.decode(SSHReader(a.encode())) == a
                if session is None:
                    s.status(req.id, fx.FX_OK)
                else:
                    run_now(session.handle(req))
                    if _failures.records:
                        r = _failures.records[0]
                        raise AssertionError("the server failed on %r: %s" % (req, r.getMessage())) from \
                            (r.exc_info[1] if r.exc_info else None)
            s.data_to_send()
    finally:
        if session is not None:
            run_now(session.close_all())
            assert os.listdir(_SCRATCH) == ["outside", "root"] or sorted(os.listdir(_SCRATCH)) == \
                ["outside", "root"], os.listdir(_SCRATCH)
            assert os.listdir(OUTSIDE) == ["secret"], os.listdir(OUTSIDE)
            with open(os.path.join(OUTSIDE, "secret"), "rb") as f:
                assert f.read() == b"secret"


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, data = data[0], data[1:]
    pieces = split(data, 32)
    if mode & 1:
        _client(mode, pieces)
    else:
        _server(mode, pieces)


if __name__ == "__main__":
    main(one_input, EXPECTED)
