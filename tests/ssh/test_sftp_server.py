"""The M2Sec SFTP server (``listen(..., sftp_factory=...)``) against OpenSSH's ``sftp -b`` and
``scp`` (SFTP mode and legacy ``-O``), asyncssh's and paramiko's SFTP clients and M2Sec's own
client; a chroot that ``..``, absolute paths and symbolic links cannot leave; malformed and
oversized packets; a client that never reads its replies.  Every transfer is checked by
SHA-256."""

import asyncio
import grp
import os
import posixpath
import shutil
import subprocess
import tempfile

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import sftp as fx
from M2Sec.SSH.packet import string, uint32
from M2Sec.SSH.sftp_server import SFTPServer

from .server_helpers import SCP_BIN, SFTP_BIN, USER, ServerThread
from .server_helpers import file_sha256 as sha

from .test_server_openssh import keys  # noqa: F401  (the fixture: host and user keys of every type)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def root():
    d = tempfile.mkdtemp(prefix="m2sec-sftproot-")
    outside = tempfile.mkdtemp(prefix="m2sec-outside-")
    with open(os.path.join(outside, "secret"), "w") as f:
        f.write("secret")
    os.symlink(outside, os.path.join(d, "escape-abs"))
    os.symlink("../../../../../../" + outside, os.path.join(d, "escape-rel"))
    os.symlink("/", os.path.join(d, "rootlink"))
    try:
        yield d, outside
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


@pytest.fixture(scope="module")
def server(keys, root):  # noqa: F811
    s = ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=keys.authorized,
                     sftp_factory=lambda p: SFTPServer(p, chroot=root[0]))
    try:
        yield s
    finally:
        s.stop()


def _opts(server, keys):
    return ["-F", "/dev/null", "-P", str(server.port), "-o", "UserKnownHostsFile=" + keys.known_hosts(server.port),
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none", "-o", "BatchMode=yes", "-i", keys.user["ed25519"], "-o", "LogLevel=ERROR"]


def sftp_batch(server, keys, batch, tmp_path):
    path = tmp_path / "batch"
    path.write_text(batch)
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run([SFTP_BIN, *_opts(server, keys), "-b", str(path), "%s@127.0.0.1" % USER],
                          capture_output=True, timeout=60, env=env, cwd=str(tmp_path))


def scp_run(server, keys, *args):
    env = dict(os.environ)
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run([SCP_BIN, *_opts(server, keys), *args], capture_output=True, timeout=60, env=env)


def test_openssh_sftp_batch(server, keys, root, tmp_path):  # noqa: F811
    d = root[0]
    local = tmp_path / "big"
    local.write_bytes(os.urandom(5 * 1024 * 1024 + 77))
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    for i in range(30):
        (tmp_path / "tree" / ("sub" if i % 2 else "") / ("f%d" % i)).write_bytes(os.urandom(4096 + i))
    batch = """
mkdir /up
cd /up
put big
put -r tree
rename big big2
ls -l
symlink big2 link
chmod 600 big2
get big2 back
get -r tree treeback
df /
rm link
-rm nonexistent
ln big2 hard
lls
bye
"""
    r = sftp_batch(server, keys, batch, tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert "big2" in r.stdout.decode()
    assert sha(local) == sha(os.path.join(d, "up", "big2")) == sha(tmp_path / "back")
    assert oct(os.stat(os.path.join(d, "up", "big2")).st_mode & 0o777) == "0o600"
    assert os.stat(os.path.join(d, "up", "hard")).st_ino == os.stat(os.path.join(d, "up", "big2")).st_ino
    for i in range(30):
        rel = os.path.join("sub" if i % 2 else "", "f%d" % i)
        assert sha(tmp_path / "tree" / rel) == sha(os.path.join(d, "up", "tree", rel)) == \
            sha(tmp_path / "treeback" / rel)


@pytest.mark.parametrize("legacy", [False, True], ids=["sftp-mode", "legacy-O"])
def test_openssh_scp(server, keys, root, tmp_path, legacy):  # noqa: F811
    d = root[0]
    local = tmp_path / "f"
    local.write_bytes(os.urandom(3 * 1024 * 1024 + 1))
    (tmp_path / "dir" / "in").mkdir(parents=True)
    (tmp_path / "dir" / "in" / "x").write_bytes(os.urandom(1000))
    (tmp_path / "dir" / "y").write_bytes(b"")
    os.utime(local, (1000000000, 1100000000))
    flags = ["-O"] if legacy else ["-s"]
    target = "scp-%s" % ("O" if legacy else "s")
    os.makedirs(os.path.join(d, target), exist_ok=True)
    r = scp_run(server, keys, *flags, "-p", str(local), "%s@127.0.0.1:/%s/f" % (USER, target))
    assert r.returncode == 0, r.stderr.decode()
    assert sha(local) == sha(os.path.join(d, target, "f"))
    assert int(os.stat(os.path.join(d, target, "f")).st_mtime) == 1100000000
    r = scp_run(server, keys, *flags, "-r", str(tmp_path / "dir"), "%s@127.0.0.1:/%s/" % (USER, target))
    assert r.returncode == 0, r.stderr.decode()
    assert sha(os.path.join(d, target, "dir", "in", "x")) == sha(tmp_path / "dir" / "in" / "x")
    assert os.path.getsize(os.path.join(d, target, "dir", "y")) == 0
    r = scp_run(server, keys, *flags, "-r", "%s@127.0.0.1:/%s" % (USER, target), str(tmp_path / "back"))
    assert r.returncode == 0, r.stderr.decode()
    assert sha(tmp_path / "back" / "f") == sha(local)
    assert sha(tmp_path / "back" / "dir" / "in" / "x") == sha(tmp_path / "dir" / "in" / "x")
    # out of the root: refused, nothing read
    r = scp_run(server, keys, *flags, "%s@127.0.0.1:/escape-abs/secret" % USER, str(tmp_path / "stolen"))
    assert r.returncode != 0 and not (tmp_path / "stolen").exists()


def _m2sec_client(server, keys):
    return SSH.connect("127.0.0.1", server.port, username=USER, client_keys=[keys.user["ed25519"]],
                       known_hosts=keys.known_hosts(server.port))


def test_chroot_cannot_be_left(server, keys, root, tmp_path):  # noqa: F811
    d, outside = root

    async def go():
        async with _m2sec_client(server, keys) as conn:
            async with conn.start_sftp_client() as sftp:
                assert await sftp.realpath(".") == "/"
                assert await sftp.realpath("../../..") == "/"
                for p in ("/escape-abs/secret", "escape-rel/secret", "../../../../" + outside + "/secret",
                          outside + "/secret", "/rootlink" + outside + "/secret"):
                    with pytest.raises(fx.SFTPNoSuchFile):
                        await sftp.stat(p)
                    with pytest.raises(fx.SFTPNoSuchFile):
                        await sftp.open(p)
                # writing through a link or .. lands inside the root, never outside
                with pytest.raises(fx.SFTPNoSuchFile):  # the link's target, taken inside the root, is not there
                    await sftp.open("/escape-abs/new", "wb")
                await sftp.mkdir("/tmp")
                for p in ("../../../../tmp/m2sec-escaped", "/rootlink/tmp/m2sec-escaped2"):
                    async with await sftp.open(p, "wb") as f:
                        await f.write(b"x")
                assert await sftp.readlink("escape-abs") == outside
                # a link made by the client points inside the root however it is written
                await sftp.symlink("/../../../..", "mylink")
                assert sorted(await sftp.listdir("mylink")) == sorted(os.listdir(d))
                with pytest.raises(fx.SFTPError):
                    await sftp.remove("/")
                await sftp.mkdir("../../made")
                assert await sftp.isdir("/made")
    asyncio.run(asyncio.wait_for(go(), 60))
    assert os.listdir(outside) == ["secret"]
    assert not os.path.exists("/tmp/m2sec-escaped") and not os.path.exists("/tmp/m2sec-escaped2")
    assert os.path.isdir(os.path.join(d, "made"))
    assert sorted(os.listdir(os.path.join(d, "tmp"))) == ["m2sec-escaped", "m2sec-escaped2"]


def test_m2sec_client_against_m2sec_server(server, keys, root, tmp_path):  # noqa: F811
    d = root[0]
    src = tmp_path / "src"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 3))
    (tmp_path / "many").mkdir()
    for i in range(200):
        (tmp_path / "many" / ("%03d" % i)).write_bytes(os.urandom(4096))

    async def go():
        async with _m2sec_client(server, keys) as conn:
            async with conn.start_sftp_client() as sftp:
                assert fx.EXT_LIMITS in sftp.extensions and sftp.limits.max_packet_len == fx.MAX_PACKET
                await sftp.put(str(src), "/m2.bin")
                await sftp.get("/m2.bin", str(tmp_path / "back"))
                await sftp.put(str(tmp_path / "many"), "/", recurse=True)
                await sftp.get("/many", str(tmp_path / "many2"), recurse=True)
                await sftp.copy("/m2.bin", "/m2copy.bin")
                await sftp.posix_rename("/m2copy.bin", "/m2.bin")
                v = await sftp.statvfs("/")
                assert v.f_bsize > 0
                assert await sftp.expand_path("~/x") == "/x"
                async with await sftp.open("/m2.bin") as f:
                    await f.fsync()
                    assert (await f.statvfs()).f_bsize == v.f_bsize
                await sftp.link("/m2.bin", "/m2hard")
                await sftp.setstat("/m2hard", fx.SFTPAttrs(permissions=0o600))
                assert (await sftp.lstat("/m2.bin")).permissions & 0o777 == 0o600
                with pytest.raises(fx.SFTPFailure):
                    await sftp.rename("/m2.bin", "/m2hard")
    asyncio.run(asyncio.wait_for(go(), 90))
    assert sha(src) == sha(os.path.join(d, "m2.bin")) == sha(tmp_path / "back")
    for i in range(200):
        n = "%03d" % i
        assert sha(tmp_path / "many" / n) == sha(os.path.join(d, "many", n)) == sha(tmp_path / "many2" / n)


def test_home_directory_and_users_groups_by_id(server, keys):  # noqa: F811
    async def go():
        async with _m2sec_client(server, keys) as conn:
            async with conn.start_sftp_client() as sftp:
                # the chroot's start directory, for the login name and for the draft's "" alike
                assert await sftp.home_directory() == await sftp.home_directory("") == "/"
                assert await sftp.home_directory(USER) == "/"
                with pytest.raises(fx.SFTPNoSuchFile):  # other users' homes are not shown
                    await sftp.home_directory("someone-else")
                users, groups = await sftp.users_groups_by_id([0, 3999999], [0, 3999999])
                assert users == ["root", ""] and groups[1] == ""
                assert groups[0] == grp.getgrgid(0).gr_name
                assert await sftp.users_groups_by_id() == ([], [])
    asyncio.run(asyncio.wait_for(go(), 60))


def test_m2sec_scp_both_protocols(server, keys, root, tmp_path):  # noqa: F811
    d = root[0]
    src = tmp_path / "s"
    src.write_bytes(os.urandom(2 * 1024 * 1024 + 9))
    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "b").write_bytes(os.urandom(5000))
    progress = []

    async def go():
        kw = dict(port=server.port, client_keys=[keys.user["ed25519"]], known_hosts=keys.known_hosts(server.port))
        await SSH.scp(str(src), "%s@127.0.0.1:/scp1" % USER, progress_handler=lambda *a: progress.append(a), **kw)
        await SSH.scp(str(src), "%s@127.0.0.1:/scp2" % USER, legacy=True, **kw)
        await SSH.scp(str(tmp_path / "tree"), "%s@127.0.0.1:/" % USER, recurse=True, legacy=True, **kw)
        await SSH.scp("%s@127.0.0.1:/scp2" % USER, str(tmp_path / "back1"), **kw)
        await SSH.scp("%s@127.0.0.1:/scp1" % USER, str(tmp_path / "back2"), legacy=True, **kw)
        await SSH.scp("%s@127.0.0.1:/tree" % USER, str(tmp_path / "tree2"), legacy=True, recurse=True, **kw)
        async with _m2sec_client(server, keys) as conn:
            await SSH.scp((conn, "/scp1"), (conn, "/scp3"))
        with pytest.raises(SSH.SCPError):
            await SSH.scp("%s@127.0.0.1:/nope" % USER, str(tmp_path / "nope"), legacy=True, **kw)
    asyncio.run(asyncio.wait_for(go(), 90))
    for p in (os.path.join(d, "scp1"), os.path.join(d, "scp2"), os.path.join(d, "scp3"), tmp_path / "back1",
              tmp_path / "back2"):
        assert sha(p) == sha(src)
    assert sha(tmp_path / "tree2" / "a" / "b") == sha(tmp_path / "tree" / "a" / "b")
    assert progress[-1][2] == progress[-1][3] == src.stat().st_size


def test_asyncssh_client(server, keys, root, tmp_path):  # noqa: F811
    asyncssh = pytest.importorskip("asyncssh", reason="asyncssh is in tests/requirements.txt")
    d = root[0]
    src = tmp_path / "a"
    src.write_bytes(os.urandom(4 * 1024 * 1024 + 1))

    async def go():
        async with asyncssh.connect("127.0.0.1", server.port, username=USER, client_keys=[keys.user["ed25519"]],
                                    known_hosts=keys.known_hosts(server.port)) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(src), "/asyncssh.bin")
                await sftp.get("/asyncssh.bin", str(tmp_path / "back"))
                assert "asyncssh.bin" in await sftp.listdir("/")
                assert (await sftp.stat("/asyncssh.bin")).size == src.stat().st_size
                await sftp.mkdir("/adir")
                await sftp.rename("/asyncssh.bin", "/adir/x")
                assert await sftp.exists("/adir/x")
                with pytest.raises(asyncssh.SFTPNoSuchFile):
                    await sftp.stat("/escape-abs/secret")
    asyncio.run(asyncio.wait_for(go(), 60))
    assert sha(src) == sha(os.path.join(d, "adir", "x")) == sha(tmp_path / "back")


def test_paramiko_client(server, keys, root, tmp_path):  # noqa: F811
    paramiko = pytest.importorskip("paramiko", reason="paramiko is in tests/requirements.txt")
    d = root[0]
    src = tmp_path / "p"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 11))
    client = paramiko.SSHClient()
    client.load_host_keys(keys.known_hosts(server.port))
    client.connect("127.0.0.1", server.port, username=USER, key_filename=keys.user["ed25519"],
                   allow_agent=False, look_for_keys=False, timeout=20)
    try:
        sftp = client.open_sftp()
        sftp.put(str(src), "/paramiko.bin")
        sftp.get("/paramiko.bin", str(tmp_path / "back"))
        assert "paramiko.bin" in sftp.listdir("/")
        with sftp.open("/paramiko.bin") as f:
            f.prefetch()
            assert f.read() == src.read_bytes()
        with pytest.raises(IOError) as e:
            sftp.stat("/escape-rel/secret")
        assert e.value.errno == 2
        sftp.close()
    finally:
        client.close()
    assert sha(src) == sha(os.path.join(d, "paramiko.bin")) == sha(tmp_path / "back")


def _raw_session(server, keys):
    """An M2Sec connection and an sftp subsystem channel driven by hand."""
    async def open_():
        conn = await _m2sec_client(server, keys)
        proc = await conn.create_process(subsystem="sftp")
        proc.stdin.write(fx.packet(fx.FXP_INIT, uint32(3)))
        ln = await proc.stdout.readexactly(4)
        await proc.stdout.readexactly(int.from_bytes(ln, "big"))
        return conn, proc
    return open_()


def test_bad_packets_get_status_or_end_the_session(server, keys):  # noqa: F811
    async def go():
        conn, proc = await _raw_session(server, keys)
        async with conn:
            # malformed: a READ without its length; a path with NUL; an unknown extension
            proc.stdin.write(fx.packet(fx.FXP_READ, uint32(1), string(b"h")))
            proc.stdin.write(fx.packet(fx.FXP_STAT, uint32(2), string(b"/a\x00b")))
            proc.stdin.write(fx.packet(fx.FXP_EXTENDED, uint32(3), string(b"bogus@x")))
            proc.stdin.write(fx.packet(fx.FXP_READ, uint32(4), string(b"nohandle"), b"\0" * 8, uint32(10)))
            # users-groups-by-id with an id list of 3 bytes, and one of 4097 ids
            proc.stdin.write(fx.packet(fx.FXP_EXTENDED, uint32(5), string(fx.EXT_USERS_GROUPS), string(b"\0" * 3),
                                       string(b"")))
            proc.stdin.write(fx.packet(fx.FXP_EXTENDED, uint32(6), string(fx.EXT_USERS_GROUPS), string(b""),
                                       string(b"\0" * 4 * (fx.MAX_IDS + 1))))
            buf = fx.PacketBuffer()
            got = []
            while len(got) < 6:
                got += buf.feed(await proc.stdout.read(65536))
            codes = [(fx.SSHReader(b).get_uint32(), fx.SSHReader(b[4:]).get_uint32()) for t, b in got]
            assert codes == [(1, fx.FX_BAD_MESSAGE), (2, fx.FX_BAD_MESSAGE), (3, fx.FX_OP_UNSUPPORTED),
                             (4, fx.FX_NO_SUCH_FILE), (5, fx.FX_FAILURE), (6, fx.FX_FAILURE)]
            # oversized: the session ends, no buffer grows
            proc.stdin.write(uint32(64 * 1024 * 1024) + b"\x03")
            result = await asyncio.wait_for(proc.wait(), 20)
            assert result.exit_status == 1
    asyncio.run(asyncio.wait_for(go(), 60))


def _held(conn):
    """Bytes a server connection holds for its channels: output queued and input unread."""
    return sum(c.app._pending_size + c.app.stdout._size for c in conn._core._channels.values() if c.app)


def test_client_that_never_reads_keeps_server_memory_bounded(server, keys, root):  # noqa: F811
    d = root[0]
    with open(os.path.join(d, "big-for-reads"), "wb") as f:
        f.write(os.urandom(1024 * 1024))

    async def go():
        conn, proc = await _raw_session(server, keys)
        async with conn:
            proc.stdin.write(fx.packet(fx.FXP_OPEN, uint32(1), string("/big-for-reads"), uint32(fx.FXF_READ),
                                       uint32(0)))
            ln = await proc.stdout.readexactly(4)
            body = await proc.stdout.readexactly(int.from_bytes(ln, "big"))
            handle = fx.SSHReader(body[5:]).get_string()
            # 2000 reads of 255 KiB asked (500 MB of replies), none read
            for i in range(2000):
                proc.stdin.write(fx.packet(fx.FXP_READ, uint32(10 + i), string(handle), b"\0" * 8,
                                           uint32(fx.MAX_READ)))
            await asyncio.sleep(3)
            return server.call(lambda: max((_held(c) for c in server.acceptor.connections), default=0))
    queued = asyncio.run(asyncio.wait_for(go(), 60))
    # what the server holds: its output queue (bounded by the high-water mark and one reply)
    # and its input window; never the 500 MB asked for
    assert 0 < queued < 8 * 1024 * 1024, queued


class MemoryFS(SFTPServer):
    """A virtual file system in a dict, its hooks coroutines, with a per-user policy: files
    named ``ro-*`` cannot be written."""

    files = {}

    def map_path(self, path, follow=True):
        return "/" + posixpath.normpath("/" + path).lstrip("/")

    async def open(self, path, pflags, attrs):
        if pflags & fx.FXF_WRITE:
            if path.startswith("/ro-") and self.process.username == USER:
                raise PermissionError(13, "read-only for %s" % self.process.username)
            if pflags & fx.FXF_TRUNC or path not in self.files:
                self.files[path] = bytearray()
        elif path not in self.files:
            raise FileNotFoundError(2, "no such file")
        return path

    async def close(self, f):
        pass

    async def read(self, f, offset, size):
        return bytes(self.files[f][offset:offset + size])

    async def write(self, f, offset, data):
        buf = self.files[f]
        if len(buf) < offset:
            buf.extend(bytes(offset - len(buf)))
        buf[offset:offset + len(data)] = data
        return len(data)

    def _attrs(self, path):
        if path == "/":
            return fx.SFTPAttrs(permissions=0o40755, size=0)
        if path not in self.files:
            raise FileNotFoundError(2, "no such file")
        return fx.SFTPAttrs(size=len(self.files[path]), permissions=0o100644, atime=0, mtime=0)

    async def stat(self, path):
        return self._attrs(path)

    lstat = stat

    async def fstat(self, f):
        return self._attrs(f)

    async def setstat(self, path, attrs):
        pass

    async def scandir(self, path):
        for name in sorted(self.files):
            yield fx.SFTPName(name[1:], "", self._attrs(name))

    def realpath(self, path):
        return self.map_path(path)


def test_virtual_file_system_hooks(keys, tmp_path):  # noqa: F811
    s = ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=keys.authorized,
                     sftp_factory=MemoryFS)
    MemoryFS.files = {"/ro-x": bytearray(b"fixed")}
    data = os.urandom(1024 * 1024 + 3)
    (tmp_path / "in").write_bytes(data)
    try:
        async def go():
            async with SSH.connect("127.0.0.1", s.port, username=USER, client_keys=[keys.user["ed25519"]],
                                   known_hosts=keys.known_hosts(s.port)) as conn:
                async with conn.start_sftp_client() as sftp:
                    await sftp.put(str(tmp_path / "in"), "/a/../mem.bin")
                    await sftp.get("mem.bin", str(tmp_path / "out"))
                    assert await sftp.listdir("/") == ["mem.bin", "ro-x"]
                    assert (await sftp.stat("/mem.bin")).size == len(data)
                    with pytest.raises(fx.SFTPPermissionDenied):
                        await sftp.open("/ro-x", "wb")
                    async with await sftp.open("/ro-x") as f:
                        assert await f.read() == b"fixed"
                    with pytest.raises(fx.SFTPNoSuchFile):
                        await sftp.open("/nope")
        asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        s.stop()
    assert bytes(MemoryFS.files["/mem.bin"]) == data == (tmp_path / "out").read_bytes()


class _BadVFS:
    """What a broken statvfs hook gives: 10 bytes where 88 belong."""

    def encode(self):
        return b"\x00" * 10


class BadStatvfsServer(SFTPServer):
    def statvfs(self, path):
        return _BadVFS()

    def fstatvfs(self, f):
        return _BadVFS()


def test_malformed_statvfs_reply_is_a_protocol_error(keys, tmp_path):  # noqa: F811
    """A truncated statvfs@openssh.com reply raises SFTPProtocolError (once SSHFormatError escaped)."""
    s = ServerThread(server_host_keys=[keys.host["ed25519"]], authorized_client_keys=keys.authorized,
                     sftp_factory=lambda p: BadStatvfsServer(p, chroot=str(tmp_path)))
    (tmp_path / "f").write_bytes(b"x")
    try:
        async def go():
            async with SSH.connect("127.0.0.1", s.port, username=USER, client_keys=[keys.user["ed25519"]],
                                   known_hosts=keys.known_hosts(s.port)) as conn:
                async with conn.start_sftp_client() as sftp:
                    with pytest.raises(fx.SFTPProtocolError, match="malformed statvfs@openssh.com reply"):
                        await sftp.statvfs("/")
                    async with await sftp.open("/f") as f:
                        with pytest.raises(fx.SFTPProtocolError, match="malformed fstatvfs@openssh.com reply"):
                            await f.statvfs()
                        assert await f.read() == b"x"  # the session goes on
        asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        s.stop()
