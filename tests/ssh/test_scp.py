"""The legacy SCP protocol's parsing of the peer's records (M2Sec/SSH/scp.py), through the
server's ``scp -t`` handler on a real SFTPServer in a temporary directory: good records are
written, bad ones end the transfer with an ``scp:`` error line and exit status 1 (never an
exception out of the handler).  Transfers against OpenSSH's scp are in test_sftp_server.py."""

import asyncio
import os

import pytest

from M2Sec.SSH.scp import SCPError, _parse_entry, _parse_times, parse_scp_command, scp_server_handler
from M2Sec.SSH.sftp_server import SFTPServer

pytestmark = pytest.mark.timeout(30)


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def readline(self) -> bytes:
        line, sep, self.data = self.data.partition(b"\n")
        return line + sep

    async def read(self, n: int) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out


class _Stdout:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += bytes(data)

    async def drain(self) -> None:
        pass


class _Process:
    def __init__(self, data: bytes) -> None:
        self.stdin, self.stdout = _Stdin(data), _Stdout()


def _sink(root, command: str, records: bytes):
    handler = scp_server_handler(command, lambda process: SFTPServer(process, chroot=str(root)))
    process = _Process(records)
    status = asyncio.run(asyncio.wait_for(handler(process), 20))
    return status, process.stdout.data


def test_records_are_written(tmp_path):
    status, out = _sink(tmp_path, "scp -r -p -t -- /",
                        b"T1700000000 0 1600000000 0\nD0750 0 dir\nC0640 3 a\nabc\x00E\n")
    assert (status, out) == (0, b"\x00" * 6)
    st = os.stat(tmp_path / "dir" / "a")
    assert (tmp_path / "dir" / "a").read_bytes() == b"abc" and st.st_mode & 0o777 == 0o640
    assert os.stat(tmp_path / "dir").st_mtime == 1700000000


# found by fuzzing (tests/fuzz/fuzz_scp.py): a T record's time past what os.utime takes raised
# OverflowError out of the handler (the session died with a traceback), and a C record's mode
# past 07777 did the same in os.open
@pytest.mark.parametrize("records, why", [
    (b"T" + b"5" * 30 + b" 0 2 0\nC0644 3 a\nabc\x00", b"malformed SCP time line"),
    (b"T9223372036854775808 0 2 0\nC0644 3 a\nabc\x00", b"SCP time out of range"),
    (b"T1 0 2 0 5\n", b"malformed SCP time line"),
    (b"T1 1000000 2 0\n", b"SCP time out of range"),
    (b"T-1 0 2 0\n", b"malformed SCP time line"),
    (b"C" + b"7" * 20 + b" 3 a\nabc\x00", b"malformed SCP file mode"),
    (b"C+644 3 a\nabc\x00", b"malformed SCP line"),
    (b"C0644 1_0 a\nabc\x00", b"malformed SCP line"),
    (b"C0644 \xd9\xa3 a\nabc\x00", b"malformed SCP line"),  # an Arabic-Indic 3: int() took it
    (b"D0755 0 ..\n", b"unsafe SCP file name"),
])
def test_bad_records_end_the_transfer(tmp_path, records, why):
    status, out = _sink(tmp_path, "scp -p -t -- /", records)
    assert status == 1
    assert out.startswith(b"\x00") and b"\x02scp: " in out and why in out, out
    assert os.listdir(tmp_path) in ([], ["a"])


def test_parsers():
    assert _parse_entry(b"0644 12 name with spaces\n") == (0o644, 12, "name with spaces")
    assert _parse_times(b"1700000000 0 1600000000 0\n") == (1600000000, 1700000000)
    for bad in (b"0644 12\n", b"08 1 a\n", b"0644 -1 a\n", b"10000 1 a\n", b"0644 1 a/b\n"):
        with pytest.raises(SCPError):
            _parse_entry(bad)
    for bad in (b"1 0 2\n", b"\xff 0 2 0\n", b"4294967296 0 1 0\n"):
        with pytest.raises(SCPError):
            _parse_times(bad)
    assert parse_scp_command("scp -v -r -p -t -- /x") == ("t", ["/x"], True, True, False)
    assert parse_scp_command("scp -x -t /x") is None and parse_scp_command("ls -t /x") is None
