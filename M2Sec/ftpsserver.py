"""A small FTP server with TLS (RFC 4217) on M2Sec's SSL, for tests, demos and trusted networks.

``FTPSServer`` serves one directory to the users it is given.  It speaks explicit TLS
(``AUTH TLS``, ``PBSZ``, ``PROT``) or, with ``implicit=True``, TLS from the first byte, and
runs TLS as the server on every protected data connection, in passive (``PASV``/``EPSV``) and
active (``PORT``/``EPRT``) mode.  By default it requires TLS before login and on data
connections, and a data connection must come from the control connection's address; with
``require_session_reuse`` a protected data connection must resume the control connection's TLS
session, as vsftpd's ``require_ssl_reuse`` demands, which proves it comes from the same client.

    ctx = SSL.Context()
    ctx.load_cert_chain("cert.pem", "key.pem")
    server = FTPSServer(("127.0.0.1", 0), ctx, "/srv/ftp", users={"alice": "secret"})
    threading.Thread(target=server.serve_forever, daemon=True).start()
"""

import hmac
import os
import socket
import socketserver
import stat
import time
from typing import Any, Callable, Dict, Optional, Tuple, cast

from M2Sec import SSL, _sslsock

MAX_LINE = 8192
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class FTPSServer(socketserver.ThreadingTCPServer):
    """A threading FTP/TLS server over one root directory.

    :param server_address: (host, port) to listen on
    :param ssl_context: the server's :class:`SSL.Context` (certificate and key loaded)
    :param root: the directory served; paths never leave it
    :param users: user name -> password
    :param implicit: TLS from the first byte (``ftps://``, usually port 990)
    :param require_tls: refuse login and data connections without TLS
    :param require_session_reuse: a protected data connection must resume the control session
    :param timeout: seconds a connection may stay idle
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, server_address: Tuple[str, int], ssl_context: "SSL.Context", root: str, *,
                 users: Dict[str, str], implicit: bool = False, require_tls: bool = True,
                 require_session_reuse: bool = False, timeout: float = 60.0,
                 bind_and_activate: bool = True) -> None:
        self.ssl_ctx = ssl_context
        self.root = os.path.realpath(root)
        self.users = dict(users)
        self.implicit = implicit
        self.require_tls = require_tls
        self.require_session_reuse = require_session_reuse
        self.timeout = timeout
        ssl_context.set_session_id_ctx(b"M2Sec.ftpsserver")
        super().__init__(server_address, FTPSHandler, bind_and_activate)


class _Reply(Exception):
    """Ends a command early with this reply."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class FTPSHandler(socketserver.BaseRequestHandler):
    """One FTP control connection; commands dispatch through ``COMMANDS``."""

    server: FTPSServer

    def setup(self) -> None:
        self.conn: Any = self.request
        self.conn.settimeout(self.server.timeout)
        self.peer_ip = self.client_address[0]
        self.rfile: Any = None
        self.user: Optional[str] = None
        self.logged_in = False
        self.pbsz = False
        self.protected = False
        self.binary = False
        self.cwd = "/"
        self.pasv: Optional[socket.socket] = None
        self.port_addr: Optional[Tuple[str, int]] = None
        self.done = False

    # ---- the control connection ------------------------------------------------------------

    def reply(self, line: str) -> None:
        self.conn.sendall(line.encode("utf-8") + b"\r\n")

    def _start_tls(self) -> None:
        if self.rfile is not None:
            self.rfile.close()  # drops any plaintext sent after AUTH (command injection)
        self.conn = _sslsock.server(self.server.ssl_ctx, self.conn)
        self.rfile = self.conn.makefile("rb")

    @property
    def secured(self) -> bool:
        return isinstance(self.conn, SSL.Connection)

    def handle(self) -> None:
        try:
            if self.server.implicit:
                self._start_tls()
                self.pbsz = self.protected = True
            else:
                self.rfile = self.conn.makefile("rb")
            self.reply("220 M2Sec FTPS server ready.")
            while not self.done:
                line = self.rfile.readline(MAX_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_LINE:
                    self.reply("500 Command line too long.")
                    break
                self.dispatch(line.decode("utf-8", "replace").rstrip("\r\n"))
        except (OSError, SSL.SSLError):
            pass  # the client went away, timed out or broke TLS: drop the connection
        finally:
            self._close_pasv()

    def dispatch(self, line: str) -> None:
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        entry = COMMANDS.get(verb)
        if entry is None:
            self.reply("502 Command not implemented.")
            return
        method, needs_login = entry
        if needs_login and not self.logged_in:
            self.reply("530 Please login with USER and PASS.")
            return
        try:
            method(self, arg)
        except _Reply as r:
            self.reply(r.line)

    def finish(self) -> None:
        for f in (self.rfile, self.conn):
            try:
                if f is not None:
                    f.close()
            except (OSError, SSL.SSLError):
                pass

    # ---- session commands ------------------------------------------------------------------

    def ftp_AUTH(self, arg: str) -> None:
        if arg.upper() not in ("TLS", "TLS-C"):
            raise _Reply("504 AUTH %s not supported; use AUTH TLS." % arg)
        if self.secured:
            raise _Reply("503 Already using TLS.")
        self.reply("234 Proceed with negotiation.")
        self._start_tls()

    def ftp_PBSZ(self, arg: str) -> None:
        if not self.secured:
            raise _Reply("503 PBSZ needs a TLS control connection.")
        self.pbsz = True
        self.reply("200 PBSZ=0")

    def ftp_PROT(self, arg: str) -> None:
        level = arg.upper()
        if not self.pbsz:
            raise _Reply("503 PBSZ first.")
        if level == "P":
            self.protected = True
        elif level == "C" and not self.server.require_tls:
            self.protected = False
        elif level == "C":
            raise _Reply("534 Data connections must be protected.")
        else:
            raise _Reply("504 PROT %s not supported." % arg)
        self.reply("200 PROT now %s." % ("Private" if self.protected else "Clear"))

    def ftp_CCC(self, arg: str) -> None:
        self.reply("534 The control connection stays protected.")

    def ftp_USER(self, arg: str) -> None:
        if self.server.require_tls and not self.secured:
            raise _Reply("530 Use AUTH TLS before logging in.")
        self.user, self.logged_in = arg, False
        self.reply("331 Password please.")

    def ftp_PASS(self, arg: str) -> None:
        if self.user is None:
            raise _Reply("503 USER first.")
        expected = self.server.users.get(self.user)
        good = expected is not None and hmac.compare_digest(expected.encode(), arg.encode())
        if not good:
            self.user = None
            time.sleep(0.2)
            raise _Reply("530 Login incorrect.")
        self.logged_in = True
        self.reply("230 Login successful.")

    def ftp_QUIT(self, arg: str) -> None:
        self.reply("221 Goodbye.")
        self.done = True

    def ftp_NOOP(self, arg: str) -> None:
        self.reply("200 OK.")

    def ftp_SYST(self, arg: str) -> None:
        self.reply("215 UNIX Type: L8")

    def ftp_FEAT(self, arg: str) -> None:
        self.conn.sendall(b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n EPRT\r\n"
                          b" SIZE\r\n MDTM\r\n UTF8\r\n211 End\r\n")

    def ftp_OPTS(self, arg: str) -> None:
        if arg.upper() in ("UTF8 ON", "UTF-8 ON"):
            raise _Reply("200 UTF8 is always on.")
        raise _Reply("501 Option not understood.")

    def ftp_TYPE(self, arg: str) -> None:
        kind = arg.upper().split()
        if not kind or kind[0] not in ("A", "I", "L"):
            raise _Reply("504 TYPE %s not supported." % arg)
        self.binary = kind[0] != "A"
        self.reply("200 Switching to %s mode." % ("Binary" if self.binary else "ASCII"))

    def ftp_MODE(self, arg: str) -> None:
        self.reply("200 Mode S." if arg.upper() == "S" else "504 Only MODE S.")

    def ftp_STRU(self, arg: str) -> None:
        self.reply("200 Structure F." if arg.upper() == "F" else "504 Only STRU F.")

    # ---- paths -------------------------------------------------------------------------------

    def _resolve(self, arg: str) -> Tuple[str, str]:
        """(virtual path, real path) for arg; 550 if it would leave the root."""
        vpath = os.path.normpath(os.path.join(self.cwd, arg or ".")).replace("\\", "/")
        if not vpath.startswith("/"):
            vpath = "/" + vpath
        vpath = "/" + vpath.lstrip("/")
        real = os.path.realpath(os.path.join(self.server.root, vpath.lstrip("/")))
        if os.path.commonpath([real, self.server.root]) != self.server.root:
            raise _Reply("550 Permission denied.")
        return vpath, real

    def ftp_PWD(self, arg: str) -> None:
        self.reply('257 "%s" is the current directory.' % self.cwd.replace('"', '""'))

    def ftp_CWD(self, arg: str) -> None:
        vpath, real = self._resolve(arg)
        if not os.path.isdir(real):
            raise _Reply("550 No such directory.")
        self.cwd = vpath
        self.reply("250 Directory changed.")

    def ftp_CDUP(self, arg: str) -> None:
        self.ftp_CWD("..")

    def ftp_SIZE(self, arg: str) -> None:
        _, real = self._resolve(arg)
        if not os.path.isfile(real):
            raise _Reply("550 No such file.")
        self.reply("213 %d" % os.path.getsize(real))

    def ftp_MDTM(self, arg: str) -> None:
        _, real = self._resolve(arg)
        if not os.path.isfile(real):
            raise _Reply("550 No such file.")
        self.reply("213 " + time.strftime("%Y%m%d%H%M%S", time.gmtime(os.path.getmtime(real))))

    def ftp_MKD(self, arg: str) -> None:
        vpath, real = self._resolve(arg)
        try:
            os.mkdir(real)
        except OSError:
            raise _Reply("550 Cannot create directory.") from None
        self.reply('257 "%s" created.' % vpath.replace('"', '""'))

    def ftp_RMD(self, arg: str) -> None:
        vpath, real = self._resolve(arg)
        if real == self.server.root:
            raise _Reply("550 Permission denied.")
        try:
            os.rmdir(real)
        except OSError:
            raise _Reply("550 Cannot remove directory.") from None
        self.reply("250 Directory removed.")

    def ftp_DELE(self, arg: str) -> None:
        _, real = self._resolve(arg)
        if not os.path.isfile(real):
            raise _Reply("550 No such file.")
        os.remove(real)
        self.reply("250 File deleted.")

    # ---- data connections --------------------------------------------------------------------

    def _close_pasv(self) -> None:
        if self.pasv is not None:
            self.pasv.close()
            self.pasv = None

    def _listen(self) -> int:
        self._close_pasv()
        self.port_addr = None
        local_ip = self.request.getsockname()[0]
        self.pasv = socket.create_server((local_ip, 0), family=self.request.family)
        self.pasv.settimeout(self.server.timeout)
        return int(self.pasv.getsockname()[1])

    def ftp_PASV(self, arg: str) -> None:
        if self.request.family != socket.AF_INET:
            raise _Reply("522 Use EPSV on IPv6.")
        port = self._listen()
        ip = self.request.getsockname()[0].replace(".", ",")
        self.reply("227 Entering Passive Mode (%s,%d,%d)." % (ip, port >> 8, port & 0xFF))

    def ftp_EPSV(self, arg: str) -> None:
        if arg.upper() == "ALL":
            raise _Reply("200 EPSV ALL accepted.")
        self.reply("229 Entering Extended Passive Mode (|||%d|)." % self._listen())

    def _set_port(self, host: str, port: int) -> None:
        if host != self.peer_ip or not 1024 <= port <= 65535:
            raise _Reply("504 Data connections go to the client's own address only.")
        self._close_pasv()
        self.port_addr = (host, port)
        self.reply("200 PORT command successful.")

    def ftp_PORT(self, arg: str) -> None:
        try:
            nums = [int(n) for n in arg.split(",")]
            if len(nums) != 6 or any(not 0 <= n <= 255 for n in nums):
                raise ValueError
        except ValueError:
            raise _Reply("501 Bad PORT argument.") from None
        self._set_port(".".join(map(str, nums[:4])), nums[4] << 8 | nums[5])

    def ftp_EPRT(self, arg: str) -> None:
        parts = arg.split(arg[:1]) if arg else []
        if len(parts) != 5 or parts[1] not in ("1", "2") or not parts[3].isdigit():
            raise _Reply("501 Bad EPRT argument.")
        self._set_port(parts[2], int(parts[3]))

    def _open_data(self, what: str) -> Any:
        """The data connection (TLS if protected) after a 150 reply; raises _Reply on failure."""
        if self.server.require_tls and not self.protected:
            raise _Reply("521 Data connections must be protected (PROT P).")
        if self.pasv is None and self.port_addr is None:
            raise _Reply("425 Use PASV, EPSV, PORT or EPRT first.")
        self.reply("150 Opening %s mode data connection for %s." % ("BINARY" if self.binary else "ASCII", what))
        try:
            if self.pasv is not None:
                sock, addr = self.pasv.accept()
                self._close_pasv()
                if addr[0] != self.peer_ip:
                    sock.close()
                    raise _Reply("425 Data connection from another address refused.")
            else:
                addr, self.port_addr = self.port_addr, None
                sock = socket.create_connection(cast(Tuple[str, int], addr), timeout=self.server.timeout)
            sock.settimeout(self.server.timeout)
        except OSError:
            raise _Reply("425 Cannot open data connection.") from None
        if not self.protected:
            return sock
        try:
            conn = _sslsock.server(self.server.ssl_ctx, sock)
        except (OSError, SSL.SSLError):
            raise _Reply("522 TLS negotiation on the data connection failed.") from None
        if self.server.require_session_reuse and not conn.session_reused():
            self._close_quietly(conn)
            raise _Reply("522 TLS session reuse required on the data connection.")
        return conn

    @staticmethod
    def _close_quietly(conn: Any) -> None:
        try:
            conn.close()
        except (OSError, SSL.SSLError):
            pass

    def _send_data(self, what: str, chunks: Any) -> None:
        conn = self._open_data(what)
        try:
            for chunk in chunks:
                conn.sendall(chunk)
        except (OSError, SSL.SSLError):
            self._close_quietly(conn)
            raise _Reply("426 Connection closed; transfer aborted.") from None
        conn.close()
        self.reply("226 Transfer complete.")

    def _listing(self, real: str, long: bool) -> bytes:
        names = sorted(os.listdir(real)) if os.path.isdir(real) else [os.path.basename(real)]
        base = real if os.path.isdir(real) else os.path.dirname(real)
        lines = []
        for name in names:
            if not long:
                lines.append(name)
                continue
            st = os.lstat(os.path.join(base, name))
            t = time.localtime(st.st_mtime)
            lines.append("%s 1 owner group %12d %s %2d %02d:%02d %s" % (
                stat.filemode(st.st_mode), st.st_size, _MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, name))
        return "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")

    def _list(self, arg: str, long: bool) -> None:
        args = [a for a in arg.split() if not a.startswith("-")]
        _, real = self._resolve(args[0] if args else "")
        if not os.path.exists(real):
            raise _Reply("550 No such file or directory.")
        self._send_data("the listing", [self._listing(real, long)])

    def ftp_LIST(self, arg: str) -> None:
        self._list(arg, True)

    def ftp_NLST(self, arg: str) -> None:
        self._list(arg, False)

    def ftp_RETR(self, arg: str) -> None:
        _, real = self._resolve(arg)
        if not os.path.isfile(real):
            raise _Reply("550 No such file.")
        with open(real, "rb") as f:
            chunks = iter(lambda: f.read(65536), b"")
            if not self.binary:
                chunks = (c.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for c in chunks)
            self._send_data(os.path.basename(real), chunks)

    def ftp_STOR(self, arg: str) -> None:
        _, real = self._resolve(arg)
        if not os.path.isdir(os.path.dirname(real)) or os.path.isdir(real):
            raise _Reply("553 Cannot store there.")
        conn = self._open_data(os.path.basename(real))
        try:
            with open(real + ".part", "wb") as f:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    f.write(data if self.binary else data.replace(b"\r\n", b"\n"))
        except (OSError, SSL.SSLError):
            self._close_quietly(conn)
            if os.path.exists(real + ".part"):
                os.remove(real + ".part")
            raise _Reply("426 Connection closed; transfer aborted.") from None
        conn.close()
        os.replace(real + ".part", real)
        self.reply("226 Transfer complete.")


Command = Callable[[FTPSHandler, str], None]

# verb -> (method, needs login)
COMMANDS: Dict[str, Tuple[Command, bool]] = {
    verb[4:]: (getattr(FTPSHandler, verb), verb[4:] not in
               ("AUTH", "PBSZ", "PROT", "CCC", "USER", "PASS", "QUIT", "NOOP", "SYST", "FEAT", "OPTS"))
    for verb in dir(FTPSHandler) if verb.startswith("ftp_")
}
