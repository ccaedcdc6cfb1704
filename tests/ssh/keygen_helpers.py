"""ssh-keygen as a peer for the key tests, and SSHSIG (OpenSSH's PROTOCOL.sshsig) framing so
that signatures made by M2Sec can be checked by ``ssh-keygen -Y`` and the other way round."""

import base64
import shutil
import subprocess
from typing import Sequence, Tuple, Union

import pytest

from M2Sec import EVP
from M2Sec.SSH.keys import SSHKey
from M2Sec.SSH.packet import SSHReader, string, uint32

KEYGEN = shutil.which("ssh-keygen")


def keygen(args: Sequence[Union[str, "object"]], input: Union[bytes, None] = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ssh-keygen *args`` (30 s timeout); fails the test if it is missing or fails."""
    if KEYGEN is None:
        pytest.fail("ssh-keygen is needed (apt-get install openssh-client)")
    proc = subprocess.run([KEYGEN, *map(str, args)], input=input, capture_output=True, timeout=30)
    if check and proc.returncode != 0:
        pytest.fail("ssh-keygen %s failed (%d): %s" % (" ".join(map(str, args)), proc.returncode,
                                                      proc.stderr.decode(errors="replace")))
    return proc


def make_key(tmp, name: str, kind: str, bits: Union[int, None] = None, passphrase: str = "",
             *extra: str) -> str:
    """ssh-keygen -t kind [-b bits] -N passphrase -f tmp/name; returns the path."""
    path = str(tmp / name)
    args = ["-q", "-t", kind, "-N", passphrase, "-C", "made by ssh-keygen", "-f", path, *extra]
    if bits:
        args[1:1] = ["-b", str(bits)]
    keygen(args)
    return path


_MAGIC = b"SSHSIG"


def _signed_data(namespace: str, data: bytes, hash_alg: str) -> bytes:
    return _MAGIC + string(namespace) + string(b"") + string(hash_alg) + string(EVP.digest(hash_alg, data))


def sshsig_sign(key: SSHKey, data: bytes, namespace: str = "file") -> bytes:
    """An armored SSH signature of data by key, as ``ssh-keygen -Y sign`` writes."""
    alg = b"rsa-sha2-512" if key.algorithm == b"ssh-rsa" else None
    sig = key.sign(_signed_data(namespace, data, "sha512"), alg)
    body = _MAGIC + uint32(1) + string(key.public_blob()) + string(namespace) + string(b"") + string("sha512") + string(sig)
    b64 = base64.b64encode(body).decode()
    lines = ["-----BEGIN SSH SIGNATURE-----"] + [b64[i:i + 76] for i in range(0, len(b64), 76)]
    return ("\n".join(lines + ["-----END SSH SIGNATURE-----"]) + "\n").encode()


def sshsig_parse(armored: bytes, data: bytes) -> Tuple[bytes, bytes, bytes]:
    """(public key blob, signature blob, signed data) of an ``ssh-keygen -Y sign`` signature."""
    lines = armored.decode().strip().splitlines()
    r = SSHReader(base64.b64decode("".join(lines[1:-1])))
    assert r.get_bytes(6) == _MAGIC and r.get_uint32() == 1
    blob, namespace = r.get_string(), r.get_text()
    r.get_string()
    hash_alg = r.get_text()
    sig = r.get_string()
    r.done()
    return blob, sig, _signed_data(namespace, data, hash_alg)
