"""The application the server tests run: an SSHServer with every authentication method, and a
session handler with a few commands (see :func:`app`)."""

import asyncio

import M2Sec.SSH as SSH
from M2Sec.SSH.process import echo

from .server_helpers import NEW_PASSWORD, PASSWORD, USER, pattern, read_sha256


class AppServer(SSH.SSHServer):
    """Passwords (user "changeme" must change it), keyboard-interactive with two questions,
    forwarding allowed."""

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        if username == "changeme" and password == PASSWORD:
            raise SSH.PasswordChangeRequired("Your password has expired")
        return username in (USER, "alice") and password == PASSWORD

    def change_password(self, username, old, new):
        return username == "changeme" and old == PASSWORD and new == NEW_PASSWORD

    def kbdint_auth_supported(self):
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        return ("Test", "Two questions", "", [("Password: ", False), ("Favourite colour: ", True)])

    def validate_kbdint_response(self, username, responses):
        return responses == [PASSWORD, "blue"]

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        return True

    def unix_connection_requested(self, dest_path):
        return not dest_path.endswith("forbidden.sock")

    def unix_server_requested(self, listen_path):
        return not listen_path.endswith("forbidden.sock")

    def server_requested(self, listen_host, listen_port):
        return True


async def app(process):
    """Commands: hello, cat, sha256, gen N, whoami, env NAME, pty, signal, winch, forced;
    subsystem echo; a shell echoes lines until "exit N"."""
    out = process.stdout
    if process.subsystem is not None:
        return await echo(process) if process.subsystem == "echo" else 1
    cmd = process.command
    if cmd is None:  # a shell
        out.write(b"$ ")
        while True:
            line = await process.stdin.readline()
            if not line:
                return 0
            words = line.decode().split()
            if words[:1] == ["exit"]:
                return int(words[1])
            out.write(b"you said " + line.strip() + b"\r\n$ ")
    words = cmd.split()
    name, args = (words[0], words[1:]) if words else ("", [])
    if name == "hello":
        out.write(b"hello\n")
        process.stderr.write(b"oops\n")
        return 3
    if name == "cat":
        return await echo(process)
    if name == "sha256":
        n, digest = await read_sha256(process.stdin)
        out.write(b"%d %s\n" % (n, digest.encode()))
        return 0
    if name == "gen":
        total = int(args[0])
        block = pattern(1 << 20)
        while total > 0:
            out.write(block[:total])
            total -= len(block)
            await out.drain()
        return 0
    if name == "algs":  # what the key exchange chose, as the server sees it
        n = process.get_extra_info("connection").negotiated
        out.write(b" ".join(n[k] for k in ("kex", "host_key", "cipher_in", "mac_in", "comp_in")) + b"\n")
        return 0
    if name == "whoami":
        out.write(process.username.encode() + b"\n")
        return 0
    if name == "env":
        out.write(process.env.get(args[0], "").encode() + b"\n")
        return 0
    if name == "pty":
        out.write(b"%s %d %d\n" % (str(process.term_type).encode(), process.term_size[0], process.term_size[1]))
        return 0
    if name == "signal":
        got = asyncio.get_running_loop().create_future()
        process.on_signal = lambda sig: got.done() or got.set_result(sig)
        out.write(b"ready\n")
        sig = await got
        process.exit_with_signal(sig)
        return None
    if name == "winch":
        got = asyncio.get_running_loop().create_future()
        process.on_window_change = lambda *size: got.done() or got.set_result(size)
        out.write(b"ready\n")
        size = await got
        out.write(b"%d %d\n" % size[:2])
        return 0
    if name == "forced":
        out.write(b"forced (asked for %s)\n" % str(process.original_command).encode())
        return 0
    process.stderr.write(b"unknown command\n")
    return 127
