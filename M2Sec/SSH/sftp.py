"""SFTP version 3 (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it): the protocol core,
without I/O.

What is here: the packet numbers, flags and status codes; :class:`SFTPAttrs` (file
attributes) and :class:`SFTPName`; the exceptions a status reply maps to (:class:`SFTPError`
and its subclasses, which are also :class:`OSError` with the matching errno);
:class:`PacketBuffer`, which cuts a byte stream into packets and refuses one larger than the
negotiated limit; :class:`SFTPClientCore`, which numbers requests, encodes them, and matches
replies to them (a reply to no request, or of the wrong type, is a protocol error); and
:class:`SFTPServerCore`, which decodes requests into :class:`Request` objects and encodes
replies.  The front ends (sftp_client.py, sftp_server.py) own the channel, the files and the
clock; this module takes bytes and returns bytes and events.

OpenSSH's extensions: posix-rename, statvfs, fstatvfs, hardlink, fsync, lsetstat, limits,
expand-path (all ``@openssh.com``), copy-data, home-directory and
users-groups-by-id@openssh.com.
"""

import errno as _errno
import struct
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

from M2Sec.SSH.errors import SSHError, SSHFormatError
from M2Sec.SSH.packet import Buffer, SSHReader, string, uint32, uint64

SFTP_VERSION = 3

# ---- packet types (draft-ietf-secsh-filexfer-02 section 3) -----------------------------------
FXP_INIT = 1
FXP_VERSION = 2
FXP_OPEN = 3
FXP_CLOSE = 4
FXP_READ = 5
FXP_WRITE = 6
FXP_LSTAT = 7
FXP_FSTAT = 8
FXP_SETSTAT = 9
FXP_FSETSTAT = 10
FXP_OPENDIR = 11
FXP_READDIR = 12
FXP_REMOVE = 13
FXP_MKDIR = 14
FXP_RMDIR = 15
FXP_REALPATH = 16
FXP_STAT = 17
FXP_RENAME = 18
FXP_READLINK = 19
FXP_SYMLINK = 20
FXP_STATUS = 101
FXP_HANDLE = 102
FXP_DATA = 103
FXP_NAME = 104
FXP_ATTRS = 105
FXP_EXTENDED = 200
FXP_EXTENDED_REPLY = 201

# ---- open flags (section 6.3) ----------------------------------------------------------------
FXF_READ = 0x01
FXF_WRITE = 0x02
FXF_APPEND = 0x04
FXF_CREAT = 0x08
FXF_TRUNC = 0x10
FXF_EXCL = 0x20

# ---- attribute flags (section 5) -------------------------------------------------------------
FILEXFER_ATTR_SIZE = 0x01
FILEXFER_ATTR_UIDGID = 0x02
FILEXFER_ATTR_PERMISSIONS = 0x04
FILEXFER_ATTR_ACMODTIME = 0x08
FILEXFER_ATTR_EXTENDED = 0x80000000

# ---- status codes (section 7) ----------------------------------------------------------------
FX_OK = 0
FX_EOF = 1
FX_NO_SUCH_FILE = 2
FX_PERMISSION_DENIED = 3
FX_FAILURE = 4
FX_BAD_MESSAGE = 5
FX_NO_CONNECTION = 6
FX_CONNECTION_LOST = 7
FX_OP_UNSUPPORTED = 8

#: The largest packet either side accepts unless limits@openssh.com says otherwise
#: (OpenSSH's SFTP_MAX_MSG_LENGTH), and the largest read or write asked for by default.
MAX_PACKET = 256 * 1024
MAX_READ = MAX_PACKET - 1024
#: Directory entries per READDIR reply from the server core's front end.
MAX_NAMES = 100

# ---- extensions ------------------------------------------------------------------------------
EXT_POSIX_RENAME = b"posix-rename@openssh.com"
EXT_STATVFS = b"statvfs@openssh.com"
EXT_FSTATVFS = b"fstatvfs@openssh.com"
EXT_HARDLINK = b"hardlink@openssh.com"
EXT_FSYNC = b"fsync@openssh.com"
EXT_LSETSTAT = b"lsetstat@openssh.com"
EXT_LIMITS = b"limits@openssh.com"
EXT_EXPAND_PATH = b"expand-path@openssh.com"
EXT_COPY_DATA = b"copy-data"
EXT_HOME_DIRECTORY = b"home-directory"
EXT_USERS_GROUPS = b"users-groups-by-id@openssh.com"

#: What the server core announces in FXP_VERSION (name -> version data).
SERVER_EXTENSIONS: Dict[bytes, bytes] = {
    EXT_POSIX_RENAME: b"1", EXT_STATVFS: b"2", EXT_FSTATVFS: b"2", EXT_HARDLINK: b"1",
    EXT_FSYNC: b"1", EXT_LSETSTAT: b"1", EXT_LIMITS: b"1", EXT_EXPAND_PATH: b"1",
    EXT_COPY_DATA: b"1", EXT_HOME_DIRECTORY: b"1", EXT_USERS_GROUPS: b"1",
}


# ---- exceptions ------------------------------------------------------------------------------


class SFTPError(SSHError, OSError):
    """An SFTP status other than OK: :attr:`code` (``FX_...``), :attr:`reason`, :attr:`lang`.

    Also an :class:`OSError` whose ``errno`` matches the status (ENOENT for a missing file,
    EACCES for a refused one, ...), so ``except FileNotFoundError`` and ``e.errno`` work as
    with local files and paramiko.
    """

    code = FX_FAILURE
    errno_code = _errno.EIO

    def __init__(self, code: Optional[int] = None, reason: str = "", lang: str = "",
                 filename: Optional[str] = None) -> None:
        if code is not None:
            self.code = code
        self.reason = reason or _STATUS_TEXT.get(self.code, "SFTP status %d" % self.code)
        self.lang = lang
        OSError.__init__(self, self.errno_code, self.reason)
        self.filename = filename

    def __str__(self) -> str:
        where = (": %r" % self.filename) if self.filename is not None else ""
        return "%s%s" % (self.reason, where)

    def __reduce__(self) -> Any:
        return (type(self), (self.code, self.reason, self.lang, self.filename))


class SFTPEOFError(SFTPError):
    """End of file or of a directory listing (FX_EOF)."""

    code = FX_EOF
    errno_code = 0


class SFTPNoSuchFile(SFTPError, FileNotFoundError):
    """FX_NO_SUCH_FILE (ENOENT)."""

    code = FX_NO_SUCH_FILE
    errno_code = _errno.ENOENT


class SFTPPermissionDenied(SFTPError, PermissionError):
    """FX_PERMISSION_DENIED (EACCES)."""

    code = FX_PERMISSION_DENIED
    errno_code = _errno.EACCES


class SFTPFailure(SFTPError):
    """FX_FAILURE: the server could not do it and said no more (EIO)."""

    code = FX_FAILURE
    errno_code = _errno.EIO


class SFTPBadMessage(SFTPError):
    """FX_BAD_MESSAGE: a malformed packet (EBADMSG)."""

    code = FX_BAD_MESSAGE
    errno_code = _errno.EBADMSG


class SFTPNoConnection(SFTPError, ConnectionError):
    """FX_NO_CONNECTION (ENOTCONN)."""

    code = FX_NO_CONNECTION
    errno_code = _errno.ENOTCONN


class SFTPConnectionLost(SFTPError, ConnectionError):
    """FX_CONNECTION_LOST, or the channel closed with requests outstanding (ECONNRESET)."""

    code = FX_CONNECTION_LOST
    errno_code = _errno.ECONNRESET


class SFTPOpUnsupported(SFTPError):
    """FX_OP_UNSUPPORTED: the server does not do this (ENOTSUP)."""

    code = FX_OP_UNSUPPORTED
    errno_code = _errno.ENOTSUP


class SFTPProtocolError(SSHError, ValueError):
    """The peer broke the SFTP protocol: a reply to no request, a reply of the wrong type, a
    packet over the size limit, a malformed packet.  The SFTP session cannot go on."""


_STATUS_TEXT = {
    FX_OK: "success", FX_EOF: "end of file", FX_NO_SUCH_FILE: "no such file",
    FX_PERMISSION_DENIED: "permission denied", FX_FAILURE: "failure", FX_BAD_MESSAGE: "bad message",
    FX_NO_CONNECTION: "no connection", FX_CONNECTION_LOST: "connection lost",
    FX_OP_UNSUPPORTED: "operation unsupported",
}
_EXC_BY_CODE = {cls.code: cls for cls in (SFTPEOFError, SFTPNoSuchFile, SFTPPermissionDenied, SFTPFailure,
                                          SFTPBadMessage, SFTPNoConnection, SFTPConnectionLost,
                                          SFTPOpUnsupported)}


def status_error(code: int, reason: str = "", lang: str = "", filename: Optional[str] = None) -> SFTPError:
    """The exception for a status code (a plain SFTPError for codes beyond version 3's)."""
    cls = _EXC_BY_CODE.get(code)
    if cls is None:
        return SFTPError(code, reason, lang, filename)
    return cls(code, reason, lang, filename)


def status_for_oserror(e: OSError) -> Tuple[int, str]:
    """The (status code, message) a server sends for a local OSError."""
    n = e.errno
    if isinstance(e, SFTPError):
        return e.code, e.reason
    if n in (_errno.ENOENT, _errno.ENOTDIR, _errno.ELOOP, _errno.EBADF, _errno.ENAMETOOLONG):
        code = FX_NO_SUCH_FILE
    elif n in (_errno.EACCES, _errno.EPERM, _errno.EROFS):
        code = FX_PERMISSION_DENIED
    elif n in (_errno.ENOSYS, _errno.ENOTSUP, _errno.EOPNOTSUPP):
        code = FX_OP_UNSUPPORTED
    else:
        code = FX_FAILURE
    return code, e.strerror or _STATUS_TEXT[code]


# ---- attributes and names --------------------------------------------------------------------


class SFTPAttrs:
    """File attributes (section 5).  A field is None when absent.

    The names are paramiko's (``st_size``, ``st_uid``, ``st_gid``, ``st_mode``,
    ``st_atime``, ``st_mtime``) and asyncssh's (``size``, ``uid``, ``gid``,
    ``permissions``, ``atime``, ``mtime``) at once; ``extended`` is a list of
    (type, data) pairs; ``filename`` and ``longname`` are set in directory listings.
    """

    __slots__ = ("st_size", "st_uid", "st_gid", "st_mode", "st_atime", "st_mtime", "extended",
                 "filename", "longname")

    def __init__(self, size: Optional[int] = None, uid: Optional[int] = None, gid: Optional[int] = None,
                 permissions: Optional[int] = None, atime: Optional[int] = None, mtime: Optional[int] = None,
                 extended: Sequence[Tuple[bytes, bytes]] = ()) -> None:
        if (uid is None) != (gid is None):
            raise ValueError("uid and gid go together")
        if (atime is None) != (mtime is None):
            raise ValueError("atime and mtime go together")
        self.st_size = size
        self.st_uid = uid
        self.st_gid = gid
        self.st_mode = permissions
        self.st_atime = atime
        self.st_mtime = mtime
        self.extended = list(extended)
        self.filename: Optional[str] = None
        self.longname: Optional[str] = None

    # asyncssh's names
    size = property(lambda self: self.st_size)
    uid = property(lambda self: self.st_uid)
    gid = property(lambda self: self.st_gid)
    permissions = property(lambda self: self.st_mode)
    atime = property(lambda self: self.st_atime)
    mtime = property(lambda self: self.st_mtime)

    @classmethod
    def from_stat(cls, st: Any) -> "SFTPAttrs":
        """The attributes of an ``os.stat_result`` (times truncated to seconds)."""
        return cls(st.st_size, st.st_uid, st.st_gid, st.st_mode, int(st.st_atime), int(st.st_mtime))

    @property
    def type(self) -> int:
        """The file type bits of st_mode (0 if unknown)."""
        return (self.st_mode or 0) & 0o170000

    def encode(self) -> bytes:
        """The wire form."""
        flags = 0
        out = []
        if self.st_size is not None:
            flags |= FILEXFER_ATTR_SIZE
            out.append(uint64(self.st_size))
        if self.st_uid is not None:
            if self.st_gid is None:
                raise ValueError("SFTP sends a uid only with a gid")
            flags |= FILEXFER_ATTR_UIDGID
            out.append(uint32(self.st_uid) + uint32(self.st_gid))
        if self.st_mode is not None:
            flags |= FILEXFER_ATTR_PERMISSIONS
            out.append(uint32(self.st_mode))
        if self.st_atime is not None:
            if self.st_mtime is None:
                raise ValueError("SFTP sends an atime only with an mtime")
            flags |= FILEXFER_ATTR_ACMODTIME
            out.append(uint32(self.st_atime & 0xFFFFFFFF) + uint32(self.st_mtime & 0xFFFFFFFF))
        if self.extended:
            flags |= FILEXFER_ATTR_EXTENDED
            out.append(uint32(len(self.extended)))
            out.extend(string(t) + string(d) for t, d in self.extended)
        return uint32(flags) + b"".join(out)

    @classmethod
    def decode(cls, r: SSHReader) -> "SFTPAttrs":
        """Read attributes from r (SSHFormatError if truncated or too many extended pairs)."""
        flags = r.get_uint32()
        a = cls()
        if flags & FILEXFER_ATTR_SIZE:
            a.st_size = r.get_uint64()
        if flags & FILEXFER_ATTR_UIDGID:
            a.st_uid, a.st_gid = r.get_uint32(), r.get_uint32()
        if flags & FILEXFER_ATTR_PERMISSIONS:
            a.st_mode = r.get_uint32()
        if flags & FILEXFER_ATTR_ACMODTIME:
            a.st_atime, a.st_mtime = r.get_uint32(), r.get_uint32()
        if flags & FILEXFER_ATTR_EXTENDED:
            n = r.get_uint32()
            if n * 8 > r.remaining():
                raise SSHFormatError("attributes claim %d extended pairs in %d bytes" % (n, r.remaining()))
            a.extended = [(r.get_string(), r.get_string()) for _ in range(n)]
        return a

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SFTPAttrs):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__[:7])

    def __repr__(self) -> str:
        fields = ("%s=%r" % (s, getattr(self, s)) for s in self.__slots__[:7] if getattr(self, s) not in (None, []))
        return "SFTPAttrs(%s)" % ", ".join(fields)


#: paramiko's name for the attributes
SFTPAttributes = SFTPAttrs


class SFTPName:
    """A directory entry: :attr:`filename`, :attr:`longname` (``ls -l`` style) and :attr:`attrs`."""

    __slots__ = ("filename", "longname", "attrs")

    def __init__(self, filename: str, longname: str = "", attrs: Optional[SFTPAttrs] = None) -> None:
        self.filename = filename
        self.longname = longname
        self.attrs = attrs if attrs is not None else SFTPAttrs()

    def __repr__(self) -> str:
        return "SFTPName(%r, %r)" % (self.filename, self.attrs)


class SFTPVFSAttrs:
    """statvfs@openssh.com's reply, named as ``os.statvfs_result``."""

    FIELDS = ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail",
              "f_fsid", "f_flag", "f_namemax")

    def __init__(self, *values: int) -> None:
        if len(values) != len(self.FIELDS):
            raise ValueError("statvfs has %d fields" % len(self.FIELDS))
        for k, v in zip(self.FIELDS, values):
            setattr(self, k, v)

    @classmethod
    def from_statvfs(cls, st: Any) -> "SFTPVFSAttrs":
        return cls(*(int(getattr(st, f, 0)) & 0xFFFFFFFFFFFFFFFF for f in cls.FIELDS))

    def encode(self) -> bytes:
        return b"".join(uint64(getattr(self, f)) for f in self.FIELDS)

    @classmethod
    def decode(cls, r: SSHReader) -> "SFTPVFSAttrs":
        return cls(*(r.get_uint64() for _ in cls.FIELDS))

    def __repr__(self) -> str:
        return "SFTPVFSAttrs(%s)" % ", ".join("%s=%d" % (f, getattr(self, f)) for f in self.FIELDS)


class SFTPLimits:
    """limits@openssh.com's reply: the largest packet, read, write, and how many open handles."""

    def __init__(self, max_packet_len: int = MAX_PACKET, max_read_len: int = MAX_READ,
                 max_write_len: int = MAX_READ, max_open_handles: int = 0) -> None:
        self.max_packet_len = max_packet_len
        self.max_read_len = max_read_len
        self.max_write_len = max_write_len
        self.max_open_handles = max_open_handles

    def encode(self) -> bytes:
        return uint64(self.max_packet_len) + uint64(self.max_read_len) + uint64(self.max_write_len) \
            + uint64(self.max_open_handles)

    @classmethod
    def decode(cls, r: SSHReader) -> "SFTPLimits":
        return cls(r.get_uint64(), r.get_uint64(), r.get_uint64(), r.get_uint64())


# ---- framing ---------------------------------------------------------------------------------

_LEN = struct.Struct(">I")
_LEN_TYPE_ID = struct.Struct(">IBI")
_ID_LEN = struct.Struct(">II")


def packet(ptype: int, *parts: bytes) -> bytes:
    """One SFTP packet: uint32 length, byte type, then the parts."""
    body = b"".join(parts)
    return _LEN.pack(len(body) + 1) + bytes((ptype,)) + body


def check_path(path: Union[str, bytes]) -> bytes:
    """A path as the wire wants it (str is UTF-8); ValueError for a NUL byte in it."""
    if isinstance(path, str):
        path = path.encode("utf-8", "surrogateescape")
    path = bytes(path)
    if b"\x00" in path:
        raise ValueError("a path must not contain a NUL byte: %r" % path)
    return path


def decode_path(raw: bytes) -> str:
    """A wire path as str (undecodable bytes kept as surrogates, as os.fsdecode does)."""
    return raw.decode("utf-8", "surrogateescape")


class PacketBuffer:
    """Cuts a byte stream into SFTP packets; refuses a packet over :attr:`max_packet`.

    ``feed(data)`` returns the complete packets (type, body) now available, the body (a
    memoryview) being everything after the type byte.  It raises :class:`SFTPProtocolError`
    for an empty or oversized packet, before buffering its body.  Pieces are joined once per
    packet that spans them, not copied on every feed.
    """

    def __init__(self, max_packet: int = MAX_PACKET + 1024) -> None:
        self.max_packet = max_packet
        self._parts: List[bytes] = []
        self._off = 0
        self._size = 0

    def buffered(self) -> int:
        return self._size

    def _join(self) -> bytes:
        parts = self._parts
        joined = b"".join([parts[0][self._off:]] + parts[1:]) if self._off or len(parts) > 1 else parts[0]
        self._parts = [joined]
        self._off = 0
        return joined

    def feed(self, data: bytes) -> List[Tuple[int, memoryview]]:
        if data:
            self._parts.append(bytes(data))
            self._size += len(data)
        out = []
        while self._size >= 4:
            head, off = self._parts[0], self._off
            if len(head) - off < 4:
                head, off = self._join(), 0
            length = _LEN.unpack_from(head, off)[0]
            if length == 0 or length > self.max_packet:
                raise SFTPProtocolError("an SFTP packet of %d bytes (the limit is %d)" % (length, self.max_packet))
            total = 4 + length
            if self._size < total:
                break
            if len(head) - off < total:
                head, off = self._join(), 0
            out.append((head[off + 4], memoryview(head)[off + 5:off + total]))
            off += total
            self._size -= total
            if off == len(head):
                self._parts.pop(0)
                off = 0
            self._off = off
        return out


# ---- the client's core -----------------------------------------------------------------------

#: the reply type each request expects besides STATUS (None: STATUS only)
_EXPECTED = {
    FXP_OPEN: FXP_HANDLE, FXP_OPENDIR: FXP_HANDLE, FXP_READ: FXP_DATA, FXP_READDIR: FXP_NAME,
    FXP_REALPATH: FXP_NAME, FXP_READLINK: FXP_NAME, FXP_STAT: FXP_ATTRS, FXP_LSTAT: FXP_ATTRS,
    FXP_FSTAT: FXP_ATTRS, FXP_CLOSE: None, FXP_WRITE: None, FXP_SETSTAT: None, FXP_FSETSTAT: None,
    FXP_REMOVE: None, FXP_MKDIR: None, FXP_RMDIR: None, FXP_RENAME: None, FXP_SYMLINK: None,
    FXP_EXTENDED: FXP_EXTENDED_REPLY,
}


class Reply:
    """A reply matched to its request: :attr:`id`, :attr:`request` (the ``FXP_`` type asked),
    :attr:`type` of the reply and :attr:`value` (handle bytes, data bytes, a list of
    :class:`SFTPName`, :class:`SFTPAttrs`, the extended reply's bytes, None for OK) or
    :attr:`error` (an :class:`SFTPError`)."""

    __slots__ = ("id", "request", "type", "value", "error")

    def __init__(self, rid: int, request: int, rtype: int, value: Any = None,
                 error: Optional[SFTPError] = None) -> None:
        self.id = rid
        self.request = request
        self.type = rtype
        self.value = value
        self.error = error


class SFTPClientCore:
    """The client side: :meth:`init` then requests; :meth:`receive` matches replies.

    Each request method returns its request id and queues the packet (take it with
    :meth:`data_to_send`).  After the server's VERSION, :attr:`version` and
    :attr:`extensions` (name -> data) are set, and :attr:`limits` once the front end has
    asked for limits@openssh.com and recorded them with :meth:`set_limits`.
    """

    def __init__(self, max_packet: int = MAX_PACKET + 1024) -> None:
        self._out: List[bytes] = []
        self._next_id = 0
        self._pending: Dict[int, int] = {}
        self._buffer = PacketBuffer(max_packet)
        self.version: Optional[int] = None
        self.extensions: Dict[bytes, bytes] = {}
        self.limits = SFTPLimits()

    # ---- output ----
    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    def init(self) -> None:
        """Queue FXP_INIT (version 3)."""
        self._out.append(packet(FXP_INIT, uint32(SFTP_VERSION)))

    def set_limits(self, limits: SFTPLimits) -> None:
        self.limits = limits
        if limits.max_packet_len:
            self._buffer.max_packet = max(self._buffer.max_packet, min(limits.max_packet_len, 16 * MAX_PACKET))

    def outstanding(self) -> int:
        return len(self._pending)

    def take_parts(self) -> List[Any]:
        """What data_to_send gives, as the pieces queued (large data is not copied)."""
        out = self._out
        self._out = []
        return out

    def request(self, ptype: int, *parts: bytes, tail: Any = b"") -> int:
        """Queue a request of type ptype with its fields (encoded), then tail (bytes or a
        memoryview queued as it is: a WRITE's data); its id."""
        if self.version is None:
            raise SFTPProtocolError("the SFTP session is not initialised")
        rid = self._next_id
        self._next_id = (rid + 1) & 0xFFFFFFFF
        if rid in self._pending:
            raise SFTPProtocolError("too many requests outstanding")
        self._pending[rid] = ptype
        if len(tail):
            head = b"".join(parts)
            self._out.append(_LEN_TYPE_ID.pack(len(head) + len(tail) + 5, ptype, rid) + head)
            self._out.append(tail)
        else:
            self._out.append(packet(ptype, uint32(rid), *parts))
        return rid

    def extended(self, name: bytes, *parts: bytes) -> int:
        """Queue an FXP_EXTENDED request; SFTPOpUnsupported if the server did not announce it."""
        if name not in self.extensions:
            raise SFTPOpUnsupported(FX_OP_UNSUPPORTED, "the server does not support %s" % name.decode())
        return self.request(FXP_EXTENDED, string(name), *parts)

    # convenience encoders
    def open(self, path: Union[str, bytes], pflags: int, attrs: Optional[SFTPAttrs] = None) -> int:
        return self.request(FXP_OPEN, string(check_path(path)), uint32(pflags), (attrs or SFTPAttrs()).encode())

    def read(self, handle: bytes, offset: int, length: int) -> int:
        return self.request(FXP_READ, string(handle), uint64(offset), uint32(length))

    def write(self, handle: bytes, offset: int, data: Union[bytes, memoryview]) -> int:
        return self.request(FXP_WRITE, string(handle), uint64(offset), uint32(len(data)), tail=data)

    def path_request(self, ptype: int, path: Union[str, bytes], *more: bytes) -> int:
        return self.request(ptype, string(check_path(path)), *more)

    def handle_request(self, ptype: int, handle: bytes, *more: bytes) -> int:
        return self.request(ptype, string(handle), *more)

    # ---- input ----
    def receive(self, data: bytes) -> List[Reply]:
        """Replies in data; SFTPProtocolError if the server broke the protocol."""
        out = []
        for ptype, body in self._buffer.feed(data):
            if ptype == FXP_DATA and len(body) >= 8:
                reply = self._data_reply(body)
                if reply is not None:
                    out.append(reply)
                    continue
            reply = self._reply(ptype, body)
            if reply is not None:
                out.append(reply)
        return out

    def _data_reply(self, body: memoryview) -> Optional[Reply]:
        """FXP_DATA without the general parser's copies (None: let it report the error)."""
        rid, n = _ID_LEN.unpack_from(body, 0)
        if self._pending.get(rid) != FXP_READ or len(body) != 8 + n:
            return None
        del self._pending[rid]
        return Reply(rid, FXP_READ, FXP_DATA, body[8:].tobytes())

    def _reply(self, ptype: int, body: Any) -> Optional[Reply]:
        r = SSHReader(body)
        try:
            if ptype == FXP_VERSION:
                if self.version is not None:
                    raise SFTPProtocolError("a second FXP_VERSION")
                version = r.get_uint32()
                ext = {}
                while r.remaining():
                    name = r.get_string()
                    ext[name] = r.get_string()
                self.version = version
                self.extensions = ext
                if version != SFTP_VERSION:
                    raise SFTPProtocolError("the server speaks SFTP version %d, not 3" % version)
                return Reply(0, FXP_INIT, FXP_VERSION, ext)
            if self.version is None:
                raise SFTPProtocolError("an SFTP packet of type %d before FXP_VERSION" % ptype)
            rid = r.get_uint32()
            req = self._pending.pop(rid, None)
            if req is None:
                raise SFTPProtocolError("a reply (type %d) to request id %d, which is not outstanding" % (ptype, rid))
            if ptype == FXP_STATUS:
                code = r.get_uint32()
                # OpenSSH before 3.x sent no message; tolerate a status without one
                msg = r.get_text() if r.remaining() else ""
                lang = r.get_text() if r.remaining() else ""
                return Reply(rid, req, ptype, None, None if code == FX_OK else status_error(code, msg, lang))
            expected = _EXPECTED.get(req)
            if req == FXP_EXTENDED and ptype == FXP_NAME:
                expected = FXP_NAME  # expand-path and home-directory answer with names
            if ptype != expected:
                raise SFTPProtocolError("a reply of type %d to request %d (type %d)" % (ptype, rid, req))
            if ptype == FXP_HANDLE:
                value: Any = r.get_string()
                if len(value) > 256:
                    raise SFTPProtocolError("a handle of %d bytes" % len(value))
            elif ptype == FXP_DATA:
                value = r.get_string()
            elif ptype == FXP_ATTRS:
                value = SFTPAttrs.decode(r)
            elif ptype == FXP_NAME:
                value = decode_names(r)
            else:  # EXTENDED_REPLY
                return Reply(rid, req, ptype, r.get_rest())
            r.done()
            return Reply(rid, req, ptype, value)
        except SSHFormatError as e:
            raise SFTPProtocolError("a malformed SFTP reply (type %d): %s" % (ptype, e)) from None

    def fail_all(self) -> List[int]:
        """The ids still outstanding (now forgotten): the channel has gone."""
        ids = list(self._pending)
        self._pending.clear()
        return ids


def decode_names(r: SSHReader) -> List[SFTPName]:
    """An FXP_NAME body after the id; the count is checked against the bytes present."""
    count = r.get_uint32()
    if count * 12 > r.remaining():
        raise SSHFormatError("a name list claims %d entries in %d bytes" % (count, r.remaining()))
    names = []
    for _ in range(count):
        filename = decode_path(r.get_string())
        longname = decode_path(r.get_string())
        names.append(SFTPName(filename, longname, SFTPAttrs.decode(r)))
    return names


#: the most ids one users-groups-by-id@openssh.com request may carry (per list)
MAX_IDS = 4096

_T = TypeVar("_T")


def decode_extended(what: str, data: Optional[bytes], decode: Callable[[SSHReader], _T]) -> _T:
    """An extended reply's body (None: the server sent a bare OK status), decoded by
    ``decode(reader)``.

    :raises SFTPProtocolError: no body, or a malformed one (truncated, bad text, ...).
    """
    if data is None:
        raise SFTPProtocolError("an OK status instead of a %s reply" % what)
    try:
        return decode(SSHReader(data))
    except (SSHFormatError, ValueError) as e:
        raise SFTPProtocolError("a malformed %s reply: %s" % (what, e)) from None


def encode_ids(ids: Sequence[int]) -> bytes:
    """users-groups-by-id@openssh.com's id list: the uint32s back to back, as one string.

    :raises ValueError: more than :data:`MAX_IDS` ids, or one outside 0..2**32-1.
    """
    if len(ids) > MAX_IDS:
        raise ValueError("at most %d ids in one request, not %d" % (MAX_IDS, len(ids)))
    for i in ids:
        if not 0 <= i <= 0xFFFFFFFF:
            raise ValueError("an id out of range: %r" % i)
    return string(b"".join(uint32(i) for i in ids))


def decode_ids(raw: bytes) -> List[int]:
    """The ids of :func:`encode_ids`'s string; SSHFormatError if malformed or too many."""
    if len(raw) % 4 or len(raw) > 4 * MAX_IDS:
        raise SSHFormatError("a malformed id list of %d bytes" % len(raw))
    return [n for (n,) in struct.iter_unpack(">I", raw)]


def decode_users_groups(r: SSHReader, nusers: int, ngroups: int) -> Tuple[List[str], List[str]]:
    """users-groups-by-id@openssh.com's reply: the names, one per id asked ("" for an unknown id).

    :raises SSHFormatError: malformed, or not one name per id.
    """
    out = []
    for what, count in (("user", nusers), ("group", ngroups)):
        names = SSHReader(r.get_string())
        got = []
        while names.remaining():
            got.append(decode_path(names.get_string()))
        if len(got) != count:
            raise SSHFormatError("%d %s names for %d ids" % (len(got), what, count))
        out.append(got)
    r.done()
    return out[0], out[1]


def encode_names(names: Sequence[SFTPName]) -> bytes:
    return uint32(len(names)) + b"".join(string(check_path(n.filename)) + string(check_path(n.longname))
                                         + n.attrs.encode() for n in names)


# ---- the server's core -----------------------------------------------------------------------


class Request:
    """A decoded client request: :attr:`id`, :attr:`type` (``FXP_...``), :attr:`name` (the
    extension's name for FXP_EXTENDED, else None) and :attr:`args` (a tuple: paths as str,
    handles and data as bytes, flags as int, attributes as :class:`SFTPAttrs`)."""

    __slots__ = ("id", "type", "name", "args")

    def __init__(self, rid: int, rtype: int, args: Tuple[Any, ...], name: Optional[bytes] = None) -> None:
        self.id = rid
        self.type = rtype
        self.args = args
        self.name = name

    def __repr__(self) -> str:
        return "Request(%d, %d, %r, %r)" % (self.id, self.type, self.name, self.args)


def _path(r: SSHReader) -> str:
    raw = r.get_string()
    if b"\x00" in raw:
        raise SSHFormatError("a path with a NUL byte")
    return decode_path(raw)


# per request type: how its fields read ("p" path, "h" handle, "u" uint32, "q" uint64,
# "a" attributes, "s" string)
_REQUEST_FIELDS = {
    FXP_OPEN: "pua", FXP_CLOSE: "h", FXP_READ: "hqu", FXP_WRITE: "hqs", FXP_LSTAT: "p", FXP_FSTAT: "h",
    FXP_SETSTAT: "pa", FXP_FSETSTAT: "ha", FXP_OPENDIR: "p", FXP_READDIR: "h", FXP_REMOVE: "p",
    FXP_MKDIR: "pa", FXP_RMDIR: "p", FXP_REALPATH: "p", FXP_STAT: "p", FXP_RENAME: "pp",
    FXP_READLINK: "p", FXP_SYMLINK: "pp",
}
_EXTENDED_FIELDS = {
    EXT_POSIX_RENAME: "pp", EXT_STATVFS: "p", EXT_FSTATVFS: "h", EXT_HARDLINK: "pp", EXT_FSYNC: "h",
    EXT_LSETSTAT: "pa", EXT_LIMITS: "", EXT_EXPAND_PATH: "p", EXT_COPY_DATA: "hqqhq",
    EXT_HOME_DIRECTORY: "s", EXT_USERS_GROUPS: "ss",
}


def _fields(r: SSHReader, spec: str) -> Tuple[Any, ...]:
    out: List[Any] = []
    for f in spec:
        if f == "p":
            out.append(_path(r))
        elif f in "hs":
            out.append(r.get_string())
        elif f == "u":
            out.append(r.get_uint32())
        elif f == "q":
            out.append(r.get_uint64())
        else:
            out.append(SFTPAttrs.decode(r))
    return tuple(out)


class SFTPServerCore:
    """The server side: :meth:`receive` gives :class:`Request` s (after INIT, answered with
    VERSION and the extensions), the reply methods queue answers.

    A request that cannot be parsed is answered with FX_BAD_MESSAGE (when its id can be read)
    and not returned; an unknown request type or extension with FX_OP_UNSUPPORTED.  A packet
    over :attr:`max_packet` raises :class:`SFTPProtocolError`: the session must end.
    """

    def __init__(self, max_packet: int = MAX_PACKET, extensions: Optional[Dict[bytes, bytes]] = None) -> None:
        self._buffer = PacketBuffer(max_packet)
        self._out: List[bytes] = []
        self.version: Optional[int] = None
        self.extensions = dict(SERVER_EXTENSIONS if extensions is None else extensions)
        self.max_packet = max_packet

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    def pending_output(self) -> int:
        return sum(len(b) for b in self._out)

    def receive(self, data: bytes) -> List[Request]:
        out = []
        for ptype, body in self._buffer.feed(data):
            req = self._request(ptype, body)
            if req is not None:
                out.append(req)
        return out

    def _request(self, ptype: int, body: Buffer) -> Optional[Request]:
        r = SSHReader(body)
        if ptype == FXP_INIT:
            if self.version is not None:
                raise SFTPProtocolError("a second FXP_INIT")
            try:
                self.version = min(r.get_uint32(), SFTP_VERSION)
            except SSHFormatError:
                raise SFTPProtocolError("a malformed FXP_INIT") from None
            self._out.append(packet(FXP_VERSION, uint32(SFTP_VERSION),
                                    *(string(k) + string(v) for k, v in self.extensions.items())))
            return None
        if self.version is None:
            raise SFTPProtocolError("an SFTP request of type %d before FXP_INIT" % ptype)
        try:
            rid = r.get_uint32()
        except SSHFormatError:
            raise SFTPProtocolError("an SFTP request without an id") from None
        try:
            if ptype == FXP_EXTENDED:
                name = r.get_string()
                spec = _EXTENDED_FIELDS.get(name)
                if spec is None or name not in self.extensions:
                    self.status(rid, FX_OP_UNSUPPORTED, "unsupported extension %r" % name.decode("ascii", "replace"))
                    return None
                args = _fields(r, spec)
                r.done()
                return Request(rid, ptype, args, name)
            spec = _REQUEST_FIELDS.get(ptype)
            if spec is None:
                self.status(rid, FX_OP_UNSUPPORTED, "unsupported request type %d" % ptype)
                return None
            args = _fields(r, spec)
            if ptype != FXP_OPEN or r.remaining() == 0:
                r.done()
            return Request(rid, ptype, args)
        except SSHFormatError as e:
            self.status(rid, FX_BAD_MESSAGE, "bad message: %s" % e)
            return None

    # ---- replies ----
    def status(self, rid: int, code: int, message: str = "") -> None:
        self._out.append(packet(FXP_STATUS, uint32(rid), uint32(code),
                                string(message or _STATUS_TEXT.get(code, "")), string("")))

    def error(self, rid: int, exc: BaseException) -> None:
        """A status reply for an exception (OSError's errno, SFTPError's code, else FAILURE)."""
        if isinstance(exc, OSError):
            code, msg = status_for_oserror(exc)
        else:
            code, msg = FX_FAILURE, str(exc) or "failure"
        self.status(rid, code, msg)

    def handle(self, rid: int, handle: bytes) -> None:
        self._out.append(packet(FXP_HANDLE, uint32(rid), string(handle)))

    def data(self, rid: int, data: Union[bytes, memoryview]) -> None:
        self._out.append(_LEN_TYPE_ID.pack(len(data) + 9, FXP_DATA, rid) + uint32(len(data)))
        self._out.append(bytes(data))

    def names(self, rid: int, names: Sequence[SFTPName]) -> None:
        self._out.append(packet(FXP_NAME, uint32(rid), encode_names(names)))

    def attrs(self, rid: int, attrs: SFTPAttrs) -> None:
        self._out.append(packet(FXP_ATTRS, uint32(rid), attrs.encode()))

    def extended_reply(self, rid: int, data: bytes) -> None:
        self._out.append(packet(FXP_EXTENDED_REPLY, uint32(rid), data))


def longname(name: str, attrs: SFTPAttrs, owner: str = "", group: str = "") -> str:
    """An ``ls -l`` style line for a directory entry (what OpenSSH's ``ls -l`` shows)."""
    import stat as _stat
    import datetime as _dt
    mode = _stat.filemode(attrs.st_mode or 0) if attrs.st_mode is not None else "?---------"
    when = _dt.datetime.fromtimestamp(attrs.st_mtime or 0, _dt.timezone.utc).strftime("%b %d %H:%M") \
        if attrs.st_mtime is not None else "?"
    return "%s %3d %-8s %-8s %8d %s %s" % (mode, 1, owner or str(attrs.st_uid or 0), group or str(attrs.st_gid or 0),
                                         attrs.st_size or 0, when, name)
