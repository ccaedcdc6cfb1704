"""SFTP packets (M2Sec.SSH.sftp): the client core and the server core fed a byte stream cut
where the input says (packets split across reads, several in one read).

Client (odd mode): the server's VERSION (the input's, or a real one), then one request of each
kind and each OpenSSH extension is outstanding, and the rest of the input is the server's
replies; the extension replies are decoded as the client front end decodes them (statvfs,
limits, expand-path) and attributes must survive encode/decode.  Server (even mode): the
client's INIT and requests, decoded into Requests or answered with a status.  The peer's faults
are SFTPProtocolError (the session ends) or SSHFormatError from a reply's decoder."""
from _harness import main, split

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.errors import SSHFormatError
from M2Sec.SSH.packet import SSHReader, string, uint32, uint64

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


def _server(mode: int, pieces: list) -> None:
    s = fx.SFTPServerCore()
    if not mode & 2:
        s.receive(fx.packet(fx.FXP_INIT, uint32(3)))
    for piece in pieces:
        for req in s.receive(piece):
            repr(req)
            for a in req.args:
                if isinstance(a, fx.SFTPAttrs):
                    assert fx.SFTPAttrs.decode(SSHReader(a.encode())) == a
            s.status(req.id, fx.FX_OK)
        s.data_to_send()


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
