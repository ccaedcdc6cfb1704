"""The SFTP protocol core (M2Sec/SSH/sftp.py) as an in-memory client/server pair, and its
answers to bad input: wrong reply ids, truncated and oversized packets, a name list claiming
2^31 entries, NUL in a path."""

import errno

import pytest

from M2Sec.SSH import sftp as fx
from M2Sec.SSH.errors import SSHFormatError
from M2Sec.SSH.packet import string, uint32, uint64


def _pair():
    c, s = fx.SFTPClientCore(), fx.SFTPServerCore()
    c.init()
    assert s.receive(c.data_to_send()) == []
    (version,) = c.receive(s.data_to_send())
    assert version.type == fx.FXP_VERSION and c.version == 3
    assert fx.EXT_LIMITS in c.extensions and fx.EXT_POSIX_RENAME in c.extensions
    return c, s


def test_round_trip_of_each_reply_type():
    c, s = _pair()
    rid = c.open("/a/b", fx.FXF_READ | fx.FXF_WRITE, fx.SFTPAttrs(permissions=0o600))
    (req,) = s.receive(c.data_to_send())
    assert (req.id, req.type, req.args[:2]) == (rid, fx.FXP_OPEN, ("/a/b", 3))
    assert req.args[2].permissions == 0o600
    s.handle(req.id, b"H")
    (rep,) = c.receive(s.data_to_send())
    assert rep.value == b"H" and rep.error is None
    rid = c.read(b"H", 1 << 40, 4096)
    (req,) = s.receive(c.data_to_send())
    assert req.args == (b"H", 1 << 40, 4096)
    s.data(req.id, b"x" * 10)
    assert c.receive(s.data_to_send())[0].value == b"x" * 10
    rid = c.path_request(fx.FXP_STAT, "/a")
    (req,) = s.receive(c.data_to_send())
    attrs = fx.SFTPAttrs(1, 2, 3, 0o100644, 4, 5, [(b"a@b", b"v")])
    s.attrs(req.id, attrs)
    assert c.receive(s.data_to_send())[0].value == attrs
    c.path_request(fx.FXP_REALPATH, ".")
    (req,) = s.receive(c.data_to_send())
    s.names(req.id, [fx.SFTPName("/home/ü", "long", fx.SFTPAttrs(size=1))])
    (rep,) = c.receive(s.data_to_send())
    assert rep.value[0].filename == "/home/ü" and rep.value[0].attrs.size == 1
    c.path_request(fx.FXP_REMOVE, "/nope")
    (req,) = s.receive(c.data_to_send())
    s.error(req.id, FileNotFoundError(errno.ENOENT, "No such file"))
    (rep,) = c.receive(s.data_to_send())
    assert isinstance(rep.error, fx.SFTPNoSuchFile) and isinstance(rep.error, FileNotFoundError)
    assert rep.error.errno == errno.ENOENT and rep.error.code == fx.FX_NO_SUCH_FILE
    c.extended(fx.EXT_LIMITS)
    (req,) = s.receive(c.data_to_send())
    assert req.name == fx.EXT_LIMITS
    s.extended_reply(req.id, fx.SFTPLimits().encode())
    (rep,) = c.receive(s.data_to_send())
    assert fx.SFTPLimits.decode(fx.SSHReader(rep.value)).max_packet_len == fx.MAX_PACKET


@pytest.mark.parametrize("code,cls,err", [
    (fx.FX_NO_SUCH_FILE, fx.SFTPNoSuchFile, errno.ENOENT),
    (fx.FX_PERMISSION_DENIED, fx.SFTPPermissionDenied, errno.EACCES),
    (fx.FX_FAILURE, fx.SFTPFailure, errno.EIO),
    (fx.FX_OP_UNSUPPORTED, fx.SFTPOpUnsupported, errno.ENOTSUP),
    (fx.FX_CONNECTION_LOST, fx.SFTPConnectionLost, errno.ECONNRESET),
])
def test_status_codes_are_oserrors(code, cls, err):
    e = fx.status_error(code, "why", filename="/f")
    assert type(e) is cls and isinstance(e, OSError) and isinstance(e, fx.SFTPError)
    assert e.errno == err and e.reason == "why" and "/f" in str(e)


def test_reply_with_a_wrong_id():
    c, s = _pair()
    rid = c.path_request(fx.FXP_STAT, "/")
    s.receive(c.data_to_send())
    s.status(rid + 7, fx.FX_OK)
    with pytest.raises(fx.SFTPProtocolError, match="not outstanding"):
        c.receive(s.data_to_send())


def test_reply_of_the_wrong_type():
    c, s = _pair()
    rid = c.path_request(fx.FXP_STAT, "/")
    s.receive(c.data_to_send())
    s.handle(rid, b"h")
    with pytest.raises(fx.SFTPProtocolError, match="type"):
        c.receive(s.data_to_send())


def test_oversized_packet_refused_before_buffering():
    c, s = _pair()
    with pytest.raises(fx.SFTPProtocolError, match="limit"):
        c.receive(uint32(fx.MAX_PACKET * 64) + b"\x65")
    with pytest.raises(fx.SFTPProtocolError, match="limit"):
        s.receive(uint32(fx.MAX_PACKET + 1) + b"\x05")
    with pytest.raises(fx.SFTPProtocolError):
        s.receive(uint32(0))


def test_truncated_packet_is_buffered_then_bad_message():
    c, s = _pair()
    pkt = fx.packet(fx.FXP_STAT, uint32(1), string("/etc"))
    assert s.receive(pkt[:7]) == []
    assert [r.args for r in s.receive(pkt[7:])] == [("/etc",)]
    # a body too short for its fields: FX_BAD_MESSAGE, not an exception
    assert s.receive(fx.packet(fx.FXP_READ, uint32(9), string("h"), uint64(0))) == []
    (rep,) = _status_replies(s.data_to_send())
    assert rep == (9, fx.FX_BAD_MESSAGE)


def _status_replies(data):
    buf = fx.PacketBuffer()
    out = []
    for t, body in buf.feed(data):
        assert t == fx.FXP_STATUS
        r = fx.SSHReader(body)
        out.append((r.get_uint32(), r.get_uint32()))
    return out


def test_name_list_claiming_2_31_entries():
    c, s = _pair()
    rid = c.path_request(fx.FXP_REALPATH, ".")
    s.receive(c.data_to_send())
    with pytest.raises(fx.SFTPProtocolError, match="claims"):
        c.receive(fx.packet(fx.FXP_NAME, uint32(rid), uint32(1 << 31), string("a"), string("b"), uint32(0)))


def test_attrs_claiming_many_extended_pairs():
    c, s = _pair()
    rid = c.path_request(fx.FXP_STAT, "/")
    s.receive(c.data_to_send())
    with pytest.raises(fx.SFTPProtocolError, match="extended"):
        c.receive(fx.packet(fx.FXP_ATTRS, uint32(rid), uint32(fx.FILEXFER_ATTR_EXTENDED), uint32(0xFFFFFFFF)))


def test_nul_in_a_path():
    c, s = _pair()
    with pytest.raises(ValueError, match="NUL"):
        c.path_request(fx.FXP_STAT, "/etc\x00/passwd")
    assert s.receive(fx.packet(fx.FXP_OPEN, uint32(4), string(b"/a\x00b"), uint32(1), uint32(0))) == []
    assert _status_replies(s.data_to_send()) == [(4, fx.FX_BAD_MESSAGE)]


def test_unknown_request_and_extension():
    c, s = _pair()
    assert s.receive(fx.packet(99, uint32(5))) == []
    assert s.receive(fx.packet(fx.FXP_EXTENDED, uint32(6), string("nope@example.com"))) == []
    assert _status_replies(s.data_to_send()) == [(5, fx.FX_OP_UNSUPPORTED), (6, fx.FX_OP_UNSUPPORTED)]
    with pytest.raises(fx.SFTPOpUnsupported):
        c.extended(b"nope@example.com")


def test_requests_before_init_and_a_second_version():
    s = fx.SFTPServerCore()
    with pytest.raises(fx.SFTPProtocolError, match="before"):
        s.receive(fx.packet(fx.FXP_STAT, uint32(1), string("/")))
    c, s = _pair()
    with pytest.raises(fx.SFTPProtocolError, match="second"):
        c.receive(fx.packet(fx.FXP_VERSION, uint32(3)))
    c = fx.SFTPClientCore()
    with pytest.raises(fx.SFTPProtocolError, match="not initialised"):
        c.path_request(fx.FXP_STAT, "/")


def test_users_groups_by_id_lists_and_bad_replies():
    raw = fx.encode_ids([1, 0xFFFFFFFF])
    assert fx.decode_ids(fx.SSHReader(raw).get_string()) == [1, 0xFFFFFFFF]
    for bad in (b"\0\0\0", b"\0" * 4 * (fx.MAX_IDS + 1)):
        with pytest.raises(SSHFormatError):
            fx.decode_ids(bad)
    for ids in ([-1], [1 << 32], range(fx.MAX_IDS + 1)):
        with pytest.raises(ValueError):
            fx.encode_ids(ids)

    def decode(data, nusers=2, ngroups=1):
        return fx.decode_extended("users-groups-by-id@openssh.com", data,
                                  lambda r: fx.decode_users_groups(r, nusers, ngroups))
    ok = string(string("alice") + string("")) + string(string("staff"))
    assert decode(ok) == (["alice", ""], ["staff"])
    # truncated, trailing bytes, a name short, a name too many, a truncated name inside a list
    for bad in (ok[:-1], ok + b"\0", string(string("alice")) + string(string("staff")),
                string(string("a") + string("b") + string("c")) + string(string("staff")),
                string(uint32(9) + b"ab") + string(b"")):
        with pytest.raises(fx.SFTPProtocolError, match="malformed users-groups-by-id@openssh.com reply"):
            decode(bad)
    with pytest.raises(fx.SFTPProtocolError, match="OK status"):
        decode(None)


def test_malformed_statvfs_and_limits_replies():
    good = fx.SFTPVFSAttrs(*range(11)).encode()
    assert fx.decode_extended("statvfs@openssh.com", good, fx.SFTPVFSAttrs.decode).f_namemax == 10
    for what, cls, data in [("statvfs@openssh.com", fx.SFTPVFSAttrs, good[:-1]),
                            ("statvfs@openssh.com", fx.SFTPVFSAttrs, b""),
                            ("limits@openssh.com", fx.SFTPLimits, uint64(1) * 3)]:
        with pytest.raises(fx.SFTPProtocolError, match="malformed %s reply" % what):
            fx.decode_extended(what, data, cls.decode)
