"""The M2Sec SFTP clients (asyncio, with asyncssh's names; blocking, with paramiko's) against
OpenSSH's sftp server (internal-sftp in the test sshd; the stand-alone sftp-server program
where said), every transfer checked by SHA-256."""

import asyncio
import grp
import os
import pwd
import stat

import pytest

import M2Sec.SSH as SSH
from M2Sec.SSH import sftp as fx

from .server_helpers import file_sha256 as sha
from .sshd_helpers import Sshd

pytestmark = pytest.mark.timeout(120)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 100))


def _connect(sshd):
    return SSH.connect("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                       known_hosts=sshd.known_hosts(), connect_timeout=20)


def _tree(root, files=40, size=4096):
    os.makedirs(os.path.join(root, "sub", "deeper"))
    for i in range(files):
        d = os.path.join(root, "sub") if i % 3 == 0 else root
        with open(os.path.join(d, "f%03d" % i), "wb") as f:
            f.write(os.urandom(size + i))
    with open(os.path.join(root, "sub", "deeper", "empty"), "wb"):
        pass
    os.symlink("f001", os.path.join(root, "link"))


def _listing(root):
    """(relative path, SHA-256 or link target) of every file under root."""
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            out.append((os.path.relpath(p, root), os.readlink(p) if os.path.islink(p) else sha(p)))
    return sorted(out)


def _same_tree(a, b):
    assert _listing(a) == _listing(b) and _listing(a)


def test_get_put_large_file(sshd, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    progress = []

    async def go():
        async with _connect(sshd) as conn:
            async with conn.start_sftp_client() as sftp:
                assert sftp.version == 3 and fx.EXT_LIMITS in sftp.extensions
                assert sftp.limits.max_packet_len >= 32768
                await sftp.put(str(src), str(tmp_path / "up"), progress_handler=lambda *a: progress.append(a))
                await sftp.get(str(tmp_path / "up"), str(tmp_path / "down"), block_size=16384, max_requests=8)
                assert await sftp.getsize(str(tmp_path / "up")) == src.stat().st_size
    run(go())
    assert sha(src) == sha(tmp_path / "up") == sha(tmp_path / "down")
    assert progress[-1][2] == progress[-1][3] == src.stat().st_size
    assert progress[-1][0] == str(src).encode()


def test_recursive_transfers_mget_mput_copy(sshd, tmp_path):
    _tree(str(tmp_path / "tree"))
    r = tmp_path / "remote"
    r.mkdir()

    async def go():
        async with _connect(sshd) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(tmp_path / "tree"), str(r), recurse=True, preserve=True)
                await sftp.get(str(r / "tree"), str(tmp_path / "back"), recurse=True)
                await sftp.copy(str(r / "tree"), str(r / "copy"), recurse=True)
                (tmp_path / "m").mkdir()
                await sftp.mget(str(r / "tree" / "f00*"), str(tmp_path / "m"))
                await sftp.makedirs(str(r / "x" / "y"))
                await sftp.mput(str(tmp_path / "tree" / "f01*"), str(r / "x" / "y"))
                assert await sftp.glob(str(r / "tree" / "sub" / "f*")) == sorted(
                    str(r / "tree" / "sub" / n) for n in os.listdir(tmp_path / "tree" / "sub") if n.startswith("f"))
                await sftp.rmtree(str(r / "copy"))
                assert not await sftp.exists(str(r / "copy"))
    run(go())
    _same_tree(str(tmp_path / "tree"), str(tmp_path / "back"))
    _same_tree(str(tmp_path / "tree"), str(r / "tree"))
    assert os.lstat(r / "tree" / "link") and os.readlink(r / "tree" / "link") == "f001"
    assert int((tmp_path / "tree" / "f004").stat().st_mtime) == (r / "tree" / "f004").stat().st_mtime
    assert sorted(os.listdir(tmp_path / "m")) == ["f001", "f002", "f004", "f005", "f007", "f008"]
    assert sha(tmp_path / "m" / "f002") == sha(tmp_path / "tree" / "f002")
    assert sorted(os.listdir(r / "x" / "y")) == ["f010", "f011", "f013", "f014", "f016", "f017", "f019"]


def test_file_object_and_metadata(sshd, tmp_path):
    p = str(tmp_path / "f")

    async def go():
        async with _connect(sshd) as conn:
            async with conn.start_sftp_client() as sftp:
                async with await sftp.open(p, "wb") as f:
                    assert await f.write(b"hello ") == 6
                    await f.write(b"world" * 100000)
                    await f.fsync()
                async with await sftp.open(p, "r+b") as f:
                    assert await f.read(5) == b"hello"
                    assert await f.tell() == 5
                    await f.seek(-5, os.SEEK_END)
                    assert await f.read() == b"world"
                    await f.write(b"HELLO", 0)
                    assert (await f.stat()).size == 500006
                async with await sftp.open(p, "ab") as f:
                    await f.write(b"!")
                await sftp.chmod(p, 0o640)
                await sftp.utime(p, (1000000, 2000000))
                a = await sftp.stat(p)
                assert (stat.S_IMODE(a.permissions), a.atime, a.mtime, a.size) == (0o640, 1000000, 2000000, 500007)
                await sftp.symlink("f", str(tmp_path / "l"))
                assert await sftp.readlink(str(tmp_path / "l")) == "f"
                assert await sftp.islink(str(tmp_path / "l")) and await sftp.isfile(str(tmp_path / "l"))
                await sftp.rename(p, str(tmp_path / "g"))
                with pytest.raises(fx.SFTPFailure):
                    await sftp.rename(str(tmp_path / "g"), str(tmp_path / "l"))
                await sftp.posix_rename(str(tmp_path / "g"), str(tmp_path / "l"))
                assert await sftp.realpath(str(tmp_path) + "/./l") == str(tmp_path / "l")
                await sftp.mkdir(str(tmp_path / "d"))
                assert await sftp.isdir(str(tmp_path / "d"))
                assert await sftp.listdir(str(tmp_path)) == ["d", "l"]
                names = {n.filename: n for n in await sftp.readdir(str(tmp_path))}
                assert names["l"].attrs.size == 500007 and "l" in names["l"].longname
                await sftp.rmdir(str(tmp_path / "d"))
                v = await sftp.statvfs(str(tmp_path))
                assert v.f_bsize > 0
                with pytest.raises(FileNotFoundError) as e:
                    await sftp.stat(str(tmp_path / "nope"))
                assert isinstance(e.value, fx.SFTPNoSuchFile) and e.value.filename == str(tmp_path / "nope")
                with pytest.raises(fx.SFTPNoSuchFile):
                    await sftp.get(str(tmp_path / "nope"), str(tmp_path / "x"))
                with pytest.raises(ValueError, match="NUL"):
                    await sftp.stat("/etc\x00x")
                await sftp.remove(str(tmp_path / "l"))
                assert await sftp.listdir(str(tmp_path)) == []
    run(go())


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_file_changing_size_during_a_download(sshd, tmp_path, change):
    src = tmp_path / "src"
    first = os.urandom(4 * 1024 * 1024)
    src.write_bytes(first)
    changed = []

    def progress(s, d, done, total):
        if not changed and done >= 1024 * 1024:
            changed.append(done)
            with open(src, "r+b") as f:
                if change == "grow":
                    f.seek(0, 2)
                    f.write(b"tail" * 100000)
                else:
                    f.truncate(2 * 1024 * 1024)

    async def go():
        async with _connect(sshd) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.get(str(src), str(tmp_path / "dst"), block_size=32768, max_requests=4,
                               progress_handler=progress)
    run(go())
    assert changed
    assert sha(tmp_path / "dst") == sha(src)


def test_blocking_client_with_paramiko_names(sshd, tmp_path):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    calls = []
    with SSH.Client("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                    known_hosts=sshd.known_hosts()) as client:
        with client.open_sftp() as sftp:
            attrs = sftp.put(str(src), str(tmp_path / "up"), callback=lambda d, t: calls.append((d, t)))
            assert attrs.st_size == src.stat().st_size
            sftp.get(str(tmp_path / "up"), str(tmp_path / "down"))
            with open(tmp_path / "fo", "wb") as fl:
                assert sftp.getfo(str(tmp_path / "up"), fl) == src.stat().st_size
            with open(src, "rb") as fl:
                sftp.putfo(fl, str(tmp_path / "pfo"))
            with sftp.open(str(tmp_path / "up")) as f:
                f.prefetch()
                assert f.read(10) == src.read_bytes()[:10]
                f.seek(100)
                assert f.read() == src.read_bytes()[100:]
            with sftp.open(str(tmp_path / "t"), "w") as f:
                f.write(b"one\ntwo\n")
            with sftp.open(str(tmp_path / "t")) as f:
                assert f.readline() == b"one\n" and list(f) == [b"two\n"]
            sftp.mkdir(str(tmp_path / "d"), 0o700)
            assert stat.S_IMODE(sftp.stat(str(tmp_path / "d")).st_mode) == 0o700
            sftp.chmod(str(tmp_path / "t"), 0o600)
            sftp.rename(str(tmp_path / "t"), str(tmp_path / "t2"))
            sftp.posix_rename(str(tmp_path / "t2"), str(tmp_path / "t3"))
            entries = {a.filename: a for a in sftp.listdir_attr(str(tmp_path))}
            assert entries["t3"].st_size == 8 and stat.S_IMODE(entries["t3"].st_mode) == 0o600
            assert sorted(sftp.listdir(str(tmp_path))) == ["d", "down", "fo", "pfo", "src", "t3", "up"]
            sftp.remove(str(tmp_path / "t3"))
            sftp.rmdir(str(tmp_path / "d"))
            assert sftp.lstat(str(tmp_path / "up")).st_size == src.stat().st_size
            with pytest.raises(IOError) as e:
                sftp.remove(str(tmp_path / "nope"))
            assert e.value.errno == 2
    assert calls[-1] == (src.stat().st_size, src.stat().st_size)
    for name in ("up", "down", "fo", "pfo"):
        assert sha(tmp_path / name) == sha(src)


@pytest.mark.parametrize("legacy", [False, True], ids=["sftp", "legacy-scp"])
def test_scp_against_openssh(sshd, tmp_path, legacy):
    """M2Sec.SSH.scp() against sshd: over its SFTP server, or its system scp (-t / -f)."""
    src = tmp_path / "s"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 1))
    os.utime(src, (1200000000, 1300000000))
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_bytes(os.urandom(10000))
    kw = dict(port=sshd.port, client_keys=[sshd.user_keys["ed25519"]], known_hosts=sshd.known_hosts(),
              legacy=legacy)
    remote = "%s@127.0.0.1:%s" % (sshd.user, tmp_path)

    async def go():
        await SSH.scp(str(src), remote + "/up", preserve=True, **kw)
        await SSH.scp(str(tmp_path / "d"), remote + "/dcopy", recurse=True, **kw)
        await SSH.scp(remote + "/up", str(tmp_path / "down"), **kw)
        await SSH.scp(remote + "/dcopy", str(tmp_path / "dback"), recurse=True, **kw)
        with pytest.raises((SSH.SCPError, SSH.SFTPNoSuchFile)):
            await SSH.scp(remote + "/missing", str(tmp_path / "x"), **kw)
    run(go())
    assert sha(tmp_path / "up") == sha(tmp_path / "down") == sha(src)
    assert int((tmp_path / "up").stat().st_mtime) == 1300000000
    assert sha(tmp_path / "dcopy" / "e" / "f") == sha(tmp_path / "dback" / "e" / "f") == sha(tmp_path / "d" / "e" / "f")


SFTP_SERVER = "/usr/lib/openssh/sftp-server"  # Debian's openssh-sftp-server


@pytest.fixture(scope="module")
def sftp_server_sshd():
    """An sshd whose sftp subsystem is OpenSSH's stand-alone sftp-server program."""
    assert os.access(SFTP_SERVER, os.X_OK), "%s is missing: install openssh-sftp-server" % SFTP_SERVER
    server = Sshd(sftp_subsystem=SFTP_SERVER).start()
    try:
        yield server
    finally:
        server.cleanup()


def _name(lookup, i):
    try:
        return lookup(i)
    except KeyError:
        return ""


def _unknown_id(lookup):
    return next(i for i in range(3999999, 4100000) if not _name(lookup, i))


@pytest.mark.parametrize("which", ["internal-sftp", "sftp-server"])
def test_home_directory_and_users_groups_by_id(request, which):
    sshd = request.getfixturevalue("sshd" if which == "internal-sftp" else "sftp_server_sshd")
    home = pwd.getpwnam(sshd.user).pw_dir
    uids = [os.getuid(), 0, _unknown_id(lambda i: pwd.getpwuid(i).pw_name)]
    gids = [os.getgid(), _unknown_id(lambda i: grp.getgrgid(i).gr_name)]
    want = ([_name(lambda i: pwd.getpwuid(i).pw_name, u) for u in uids],
            [_name(lambda i: grp.getgrgid(i).gr_name, g) for g in gids])
    assert want[0][0] and want[0][2] == "" and want[1][1] == ""

    async def go():
        async with _connect(sshd) as conn:
            async with conn.start_sftp_client() as sftp:
                assert {fx.EXT_HOME_DIRECTORY, fx.EXT_USERS_GROUPS} <= set(sftp.extensions)
                assert await sftp.home_directory() == home  # the login name, sent as such
                assert await sftp.home_directory(sshd.user) == home
                assert await sftp.home_directory("root") == pwd.getpwnam("root").pw_dir
                with pytest.raises(fx.SFTPFailure):  # OpenSSH refuses the draft's "" and unknown users
                    await sftp.home_directory("")
                with pytest.raises(fx.SFTPFailure):
                    await sftp.home_directory("no-such-user-m2sec")
                assert await sftp.users_groups_by_id(uids, gids) == want
                assert await sftp.users_groups_by_id(gids=[gids[0]]) == ([], [want[1][0]])
                assert await sftp.users_groups_by_id() == ([], [])
                with pytest.raises(ValueError, match="out of range"):
                    await sftp.users_groups_by_id([1 << 32])
                with pytest.raises(ValueError, match="at most"):
                    await sftp.users_groups_by_id(range(fx.MAX_IDS + 1))
                assert await sftp.getcwd() == home  # the session still works
                # a server that does not announce them
                del sftp._core.extensions[fx.EXT_HOME_DIRECTORY], sftp._core.extensions[fx.EXT_USERS_GROUPS]
                with pytest.raises(fx.SFTPOpUnsupported):
                    await sftp.home_directory()
                with pytest.raises(fx.SFTPOpUnsupported):
                    await sftp.users_groups_by_id([0])
    run(go())
    with SSH.Client("127.0.0.1", sshd.port, username=sshd.user, client_keys=[sshd.user_keys["ed25519"]],
                    known_hosts=sshd.known_hosts()) as client:
        with client.open_sftp() as sftp:
            assert sftp.home_directory() == home and sftp.expand_path("~") == home
            assert sftp.users_groups_by_id(uids, gids) == want
            with pytest.raises(IOError):
                sftp.home_directory("no-such-user-m2sec")
