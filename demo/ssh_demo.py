#!/usr/bin/env python3
"""M2Sec's SSH demo: an M2Sec SSH server on loopback, and two clients talking to it, the
M2Sec client and (where it is installed) OpenSSH's own ``ssh``.

``demo()`` is the step ``make demo`` runs; ``python demo/ssh_demo.py`` runs it alone.
"""

import asyncio
import hashlib
import os
import shutil
import tempfile

import M2Sec.SSH as SSH

SSH_CLIENT = shutil.which("ssh")


async def session(process: SSH.SSHServerProcess) -> int:
    """The server's application: greet, then answer "sha256" with a digest of the input."""
    if process.command == "sha256":
        data = await process.stdin.read()
        process.stdout.write(("%d bytes, SHA-256 %s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode())
        return 0
    process.stdout.write(("hello %s from an M2Sec SSH server (you ran %r)\n"
                          % (process.username, process.command)).encode())
    return 7


async def run_demo(tmp: str) -> None:
    host_key = SSH.generate_private_key("ssh-ed25519")
    user_key = SSH.generate_private_key("ecdsa-sha2-nistp256")
    user_path = os.path.join(tmp, "id_ecdsa")
    user_key.save_private(user_path)
    os.chmod(user_path, 0o600)
    authorized = os.path.join(tmp, "authorized_keys")
    with open(authorized, "w") as f:
        f.write(user_key.public_key().public_line() + "\n")

    server = await SSH.listen("127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized,
                              process_factory=session)
    port = server.get_port()
    known_hosts = os.path.join(tmp, "known_hosts")
    with open(known_hosts, "w") as f:
        f.write("[127.0.0.1]:%d %s\n" % (port, host_key.public_key().public_line()))
    print("server listening on 127.0.0.1 port %d, host key %s" % (port, host_key.fingerprint()))

    async with SSH.connect("127.0.0.1", port, username="demo", client_keys=[user_key],
                           known_hosts=known_hosts) as conn:
        n = conn.negotiated
        print("M2Sec client: %s, %s, %s" % (n["kex"].decode(), n["host_key"].decode(), n["cipher_out"].decode()))
        result = await conn.run("whoami")
        print("  stdout: %s  exit status: %d" % (result.stdout.decode().strip(), result.exit_status))
        data = os.urandom(8 << 20)
        result = await conn.run("sha256", input=data)
        assert result.stdout.decode().split()[-1] == hashlib.sha256(data).hexdigest()
        print("  sent 8 MiB: the server's digest matches")

    if SSH_CLIENT:
        argv = [SSH_CLIENT, "-F", "/dev/null", "-p", str(port), "-i", user_path, "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + known_hosts,
                "-o", "StrictHostKeyChecking=yes", "-l", "openssh", "127.0.0.1", "uname"]
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        print("OpenSSH ssh: %s  exit status: %d" % (out.decode().strip(), proc.returncode))
        assert proc.returncode == 7, err.decode()
    else:
        print("(OpenSSH's ssh is not installed: skipped)")
    server.close()
    await server.wait_closed()


def demo() -> None:
    """An M2Sec SSH server with the M2Sec client and OpenSSH's ssh as its clients."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(asyncio.wait_for(run_demo(tmp), 60))


if __name__ == "__main__":
    demo()
