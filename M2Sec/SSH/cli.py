"""The command line of the SSH package: ``m2sec ssh server`` and ``m2sec ssh client``
(``python -m M2Sec ssh ...``).

    m2sec ssh server [-b HOST] [-p PORT] [-k HOSTKEY]... [-a AUTHORIZED_KEYS] [--trusted-ca CA.pub]
                     [--password USER:PASSWORD] [--run-commands] [--allow-forwarding] [--moduli FILE]
                     [--sftp-root DIR]
    m2sec ssh client [-p PORT] [-l USER] [-i KEY]... [--password] [--known-hosts FILE | --accept-any-host-key]
                     [-c CIPHER] [-m MAC] [--kex KEX] [-L LPORT:HOST:PORT] [-R RPORT:HOST:PORT] [-N]
                     HOST [COMMAND...]

Without ``-k`` the server makes an Ed25519 host key for this run and prints its known_hosts
line.  Without ``--run-commands`` sessions get a built-in greeter that echoes its input (no
local program runs) and subsystem requests are refused; with it, commands run through the local
shell as the server's user.  ``--sftp-root DIR`` serves SFTP (and legacy ``scp -O``) from DIR,
which the client cannot leave.
"""

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import M2Sec.SSH as SSH
from M2Sec.SSH.errors import DisconnectError, SSHError
from M2Sec.SSH.process import echo


class _CliServer(SSH.SSHServer):
    """The options of ``m2sec ssh server`` as SSHServer callbacks."""

    passwords: Dict[str, str] = {}
    forwarding = False

    def password_auth_supported(self) -> bool:
        return bool(self.passwords)

    def validate_password(self, username: str, password: str) -> bool:
        return self.passwords.get(username) == password

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        return self.forwarding

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return self.forwarding


async def _greeter(process: Any) -> int:
    """The built-in session: say who is there and echo the input back."""
    what = ("command %r" % process.command if process.command is not None
            else "subsystem %r" % process.subsystem if process.subsystem is not None else "a shell")
    process.stdout.write(("Hello %s, this is an M2Sec SSH server; you asked for %s.\n"
                          % (process.username, what)).encode())
    return await echo(process)


setattr(_greeter, "subsystems", ())  # subsystem requests are refused, never greeted (_asyncio_server reads it)


def _forward_spec(text: str) -> Tuple[int, str, int]:
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        raise argparse.ArgumentTypeError("PORT:HOST:PORT expected, got %r" % text)
    return int(parts[0]), parts[1].strip("[]"), int(parts[2])


def _server_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="m2sec ssh server", description="An SSH server on M2Sec.")
    p.add_argument("-b", "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("-p", "--port", type=int, default=2222, help="port (default 2222; 0 picks a free one)")
    p.add_argument("-k", "--host-key", action="append", default=[], help="private host key file (repeatable)")
    p.add_argument("-a", "--authorized-keys", help="authorized_keys file for every user")
    p.add_argument("--trusted-ca", action="append", default=[], help="user CA public key (repeatable)")
    p.add_argument("--password", action="append", default=[], metavar="USER:PASSWORD",
                   help="accept this password (for tests and demos)")
    p.add_argument("--run-commands", action="store_true", help="run sessions as local programs")
    p.add_argument("--allow-forwarding", action="store_true", help="allow local and remote forwarding")
    p.add_argument("--moduli", help="OpenSSH moduli file for group exchange")
    p.add_argument("--sftp-root", metavar="DIR",
                   help="serve SFTP (and scp) confined to DIR, as the server's user")
    p.add_argument("--login-timeout", type=float, default=120.0)
    p.add_argument("--once", action="store_true", help="exit after the first connection ends")
    return p


async def _serve(args: argparse.Namespace) -> int:
    keys: List[Any] = list(args.host_key)
    if not keys:
        key = SSH.generate_private_key("ssh-ed25519")
        keys = [key]
    done: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
    attrs: Dict[str, Any] = {"passwords": dict(p.split(":", 1) for p in args.password),
                             "forwarding": args.allow_forwarding}
    if args.once:
        def connection_lost(self: _CliServer, exc: Optional[BaseException]) -> None:
            if not done.done():
                done.set_result(None)
        attrs["connection_lost"] = connection_lost
    server_cls = type("Server", (_CliServer,), attrs)
    acceptor = await SSH.listen(args.bind, args.port, server_host_keys=keys,
                                authorized_client_keys=args.authorized_keys, trusted_user_ca_keys=args.trusted_ca,
                                server_factory=server_cls,
                                process_factory=SSH.LocalProcessRunner() if args.run_commands else _greeter,
                                moduli=args.moduli, login_timeout=args.login_timeout,
                                sftp_factory=_sftp_factory(args.sftp_root))
    port = acceptor.get_port()
    print("m2sec ssh server listening on %s port %d" % (args.bind, port), flush=True)
    for k in acceptor.config.server_host_keys:
        print("  host key %s %s" % (k.fingerprint(), k.algorithm.decode()), flush=True)
        if not args.host_key:
            print("  known_hosts: [%s]:%d %s" % (args.bind, port, k.public_key().public_line()), flush=True)
    try:
        await done
    finally:
        acceptor.close()
        await acceptor.wait_closed()
    return 0


def _sftp_factory(root: Optional[str]) -> Any:
    if root is None:
        return None
    if not os.path.isdir(root):
        raise ValueError("--sftp-root %s is not a directory" % root)
    from M2Sec.SSH.sftp_server import SFTPServer
    return lambda process: SFTPServer(process, chroot=root)


def _client_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="m2sec ssh client", description="An SSH client on M2Sec.")
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.add_argument("-p", "--port", type=int, default=22)
    p.add_argument("-l", "--user", default=None)
    p.add_argument("-i", "--identity", action="append", default=[], help="private key file (repeatable)")
    p.add_argument("--password", action="store_true", help="ask for a password (or take $M2SEC_SSH_PASSWORD)")
    p.add_argument("--known-hosts", help="known_hosts file (default ~/.ssh/known_hosts)")
    p.add_argument("--accept-any-host-key", action="store_true", help="do not check the host key (insecure)")
    p.add_argument("-c", "--cipher", action="append")
    p.add_argument("-m", "--mac", action="append")
    p.add_argument("--kex", action="append")
    p.add_argument("-L", dest="local", action="append", default=[], type=_forward_spec, metavar="LPORT:HOST:PORT")
    p.add_argument("-R", dest="remote", action="append", default=[], type=_forward_spec, metavar="RPORT:HOST:PORT")
    p.add_argument("-N", dest="no_command", action="store_true", help="only forward ports")
    p.add_argument("-v", "--verbose", action="store_true", help="print what was negotiated")
    return p


def client_options(args: argparse.Namespace) -> Dict[str, Any]:
    """connect()'s keyword arguments from the client options every command shares: -i,
    --known-hosts, --accept-any-host-key, --password."""
    kw: Dict[str, Any] = dict(client_keys=args.identity or None)
    if args.accept_any_host_key:
        kw["known_hosts"] = None
    elif args.known_hosts:
        kw["known_hosts"] = args.known_hosts
    if args.password:
        kw["password"] = os.environ.get("M2SEC_SSH_PASSWORD") or getpass.getpass("Password: ")
    return kw


async def _client(args: argparse.Namespace) -> int:
    user, _, host = args.host.rpartition("@")
    kw = client_options(args)
    kw.update(username=args.user or user or getpass.getuser(), kex_algs=args.kex, encryption_algs=args.cipher,
              mac_algs=args.mac)
    async with SSH.connect(host, args.port, **kw) as conn:
        if args.verbose:
            n = conn.negotiated
            print("connected: %s, host key %s (%s), cipher %s, MAC %s" % (
                n["kex"].decode(), n["host_key"].decode(), conn.host_key.fingerprint(), n["cipher_out"].decode(),
                n["mac_out"].decode()), file=sys.stderr)
        for lport, dhost, dport in args.local:
            listener = await conn.forward_local_port("127.0.0.1", lport, dhost, dport)
            print("forwarding 127.0.0.1:%d -> %s:%d" % (listener.get_port(), dhost, dport), file=sys.stderr)
        for rport, dhost, dport in args.remote:
            remote = await conn.forward_remote_port("127.0.0.1", rport, dhost, dport)
            print("remote 127.0.0.1:%d -> %s:%d" % (remote.get_port(), dhost, dport), file=sys.stderr)
        if args.no_command:
            await conn.wait_closed()
            return 0
        command = " ".join(args.command) if args.command else None
        stdin = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
        result = await conn.run(command, input=stdin)
        for stream, data in ((sys.stdout, result.stdout), (sys.stderr, result.stderr)):
            stream.buffer.write(data.encode() if isinstance(data, str) else data)  # run() without encoding: bytes
            stream.flush()
        return result.returncode if result.returncode is not None and result.returncode >= 0 else 255


def main(argv: Optional[List[str]] = None) -> int:
    """``m2sec ssh server|client ...``; the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("server", "client"):
        print("usage: m2sec ssh {server,client} ... (-h for help)", file=sys.stderr)
        return 2
    try:
        if argv[0] == "server":
            return asyncio.run(_serve(_server_parser().parse_args(argv[1:])))
        return asyncio.run(_client(_client_parser().parse_args(argv[1:])))
    except KeyboardInterrupt:
        return 130
    except (DisconnectError, SSHError, OSError, ValueError) as e:
        print("m2sec ssh: %s" % e, file=sys.stderr)
        return 255


if __name__ == "__main__":
    sys.exit(main())
