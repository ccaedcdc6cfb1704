"""A ready ``process_factory`` for the SSH server that runs local programs as sshd would:
the command through the shell (``sh -c``), a shell, or a subsystem's program, on a pty when
the client asked for one, with window changes and signals passed on and the exit status (or
signal) sent back.  The programs run as the user running the server.

It is off unless passed: ``listen(..., process_factory=LocalProcessRunner())`` (or
:data:`run_local`).  Meant for demos, tests and trusted set-ups: any authenticated user can
run anything the server's user can.  :func:`echo`, the other ready ``process_factory``, runs
nothing: it sends the input back.
"""

import asyncio
import os
import signal as _signal
import struct
from typing import Any, Dict, List, Mapping, Optional, Sequence

from M2Sec.SSH.knownhosts import _wildcard

_CHUNK = 65536


try:  # the pty features need them; Windows has neither
    import fcntl
    import termios
    _HAS_PTY = True
except ImportError:  # pragma: no cover - not on POSIX
    _HAS_PTY = False


def _set_winsize(fd: int, size: Sequence[int]) -> None:
    if not _HAS_PTY:
        return
    cols, rows, width, height = (min(v, 0xFFFF) for v in size)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows or 24, cols or 80, width, height))
    except OSError:  # the pty is gone: the program has ended
        pass


def _controlling_tty() -> None:  # in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class LocalProcessRunner:
    """Runs each session's command, shell or subsystem as a local process.

    :param shell: the shell (default ``$SHELL`` or /bin/sh).
    :param subsystems: subsystem name -> command line (``{"sftp": "/usr/lib/openssh/sftp-server"}``);
        other subsystems are refused.
    :param accept_env: patterns of the client's environment variables passed on (sshd's AcceptEnv).
    :param env: variables set for every process.
    """

    def __init__(self, shell: Optional[str] = None, subsystems: Optional[Mapping[str, str]] = None,
                 accept_env: Sequence[str] = ("LANG", "LC_*"), env: Optional[Mapping[str, str]] = None) -> None:
        self.shell = shell or os.environ.get("SHELL") or "/bin/sh"
        self.subsystems: Dict[str, str] = dict(subsystems or {})
        self.accept_env = list(accept_env)
        self.env = dict(env or {})

    def _environment(self, process: Any) -> Dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "HOME", "USER", "LOGNAME", "LANG") if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["SHELL"] = self.shell
        env.update(self.env)
        for k, v in process.env.items():
            if any(_wildcard(p, k) for p in self.accept_env):
                env[k] = v
        env.update(process.permissions.environment)
        if getattr(process, "agent_path", None):
            env["SSH_AUTH_SOCK"] = process.agent_path
        peer = process.get_extra_info("peername") or ("", 0)
        sock = process.get_extra_info("sockname") or ("", 0)
        env["SSH_CONNECTION"] = "%s %d %s %d" % (peer[0], peer[1], sock[0], sock[1])
        if process.original_command is not None:
            env["SSH_ORIGINAL_COMMAND"] = process.original_command
        if process.term_type:
            env["TERM"] = process.term_type
        return env

    def _argv(self, process: Any) -> List[str]:
        if process.subsystem is not None:
            return [self.shell, "-c", self.subsystems[process.subsystem]]
        if process.command is not None:
            return [self.shell, "-c", process.command]
        return [self.shell]

    async def __call__(self, process: Any) -> None:
        env = self._environment(process)
        argv = self._argv(process)
        cwd = env.get("HOME") if env.get("HOME") and os.path.isdir(env["HOME"]) else None
        xauth_dir = await self._x11_environment(process, env)
        try:
            if process.term_type is not None:
                await self._run_pty(process, argv, env, cwd)
            else:
                await self._run_pipes(process, argv, env, cwd)
        finally:
            if xauth_dir is not None:
                import shutil
                shutil.rmtree(xauth_dir, ignore_errors=True)

    @staticmethod
    async def _x11_environment(process: Any, env: Dict[str, str]) -> Optional[str]:
        """ssh -X: DISPLAY, and the client's (fake) cookie in an Xauthority file of the
        session's own (as sshd runs xauth); the directory to remove afterwards."""
        display = getattr(process, "x11_display", None)
        if not display:
            return None
        import tempfile
        directory = tempfile.mkdtemp(prefix="m2sec-x11-")
        path = os.path.join(directory, "Xauthority")
        proto, cookie = process.x11_auth
        number = display.split(":", 1)[1]
        try:
            proc = await asyncio.create_subprocess_exec("xauth", "-q", "-f", path, "add", "unix:" + number, proto,
                                                        cookie, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await asyncio.wait_for(proc.wait(), 10)
        except (OSError, asyncio.TimeoutError):
            pass  # without xauth the display works only for clients that need no cookie
        env["DISPLAY"] = display
        env["XAUTHORITY"] = path
        return directory

    # ---- plumbing ----
    @staticmethod
    async def _copy_in(process: Any, write: Any, drain: Any, close: Any) -> None:
        try:
            while True:
                data = await process.stdin.read(_CHUNK)
                if not data:
                    break
                write(data)
                await drain()
        except (OSError, ConnectionError):
            pass
        finally:
            close()

    @staticmethod
    async def _copy_out(reader: asyncio.StreamReader, writer: Any) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass

    @staticmethod
    def _signals(process: Any, proc: asyncio.subprocess.Process) -> None:
        def on_signal(name: str) -> None:
            num = getattr(_signal, "SIG" + name, None)
            if num is not None and proc.returncode is None:
                try:
                    proc.send_signal(num)
                except ProcessLookupError:
                    pass
        process.on_signal = on_signal

        def on_close(_: Any) -> None:
            if proc.returncode is None:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass
        process.closed.add_done_callback(on_close)

    @staticmethod
    def _finish(process: Any, rc: int) -> None:
        if rc < 0:
            try:
                name = _signal.Signals(-rc).name[3:]
            except ValueError:
                name = "KILL"
            process.exit_with_signal(name)
        else:
            process.exit(rc)

    async def _run_pipes(self, process: Any, argv: List[str], env: Dict[str, str], cwd: Optional[str]) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd,
                                                        start_new_session=True)
        except OSError as e:
            process.stderr.write(("cannot run %s: %s\n" % (argv[0], e.strerror)).encode())
            process.exit(127)
            return
        self._signals(process, proc)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin = proc.stdin
        feeder = asyncio.get_running_loop().create_task(
            self._copy_in(process, stdin.write, stdin.drain, stdin.close))
        await asyncio.gather(self._copy_out(proc.stdout, process.stdout), self._copy_out(proc.stderr, process.stderr))
        rc = await proc.wait()
        feeder.cancel()
        self._finish(process, rc)

    async def _run_pty(self, process: Any, argv: List[str], env: Dict[str, str], cwd: Optional[str]) -> None:
        loop = asyncio.get_running_loop()
        if not _HAS_PTY:
            raise OSError("a pty needs a POSIX system")
        master, slave = os.openpty()
        try:
            _set_winsize(master, process.term_size)
            proc = await asyncio.create_subprocess_exec(*argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                                        cwd=cwd, start_new_session=True,
                                                        preexec_fn=_controlling_tty)
        except OSError as e:
            os.close(master)
            process.stderr.write(("cannot run %s: %s\n" % (argv[0], e.strerror)).encode())
            process.exit(127)
            return
        finally:
            os.close(slave)
        self._signals(process, proc)
        process.on_window_change = lambda *size: _set_winsize(master, size)
        reader = asyncio.StreamReader()
        read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                         os.fdopen(master, "rb", 0))
        write_transport, write_proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                                     os.fdopen(os.dup(master), "wb", 0))
        writer = asyncio.StreamWriter(write_transport, write_proto, None, loop)
        feeder = loop.create_task(self._copy_in(process, writer.write, writer.drain, lambda: None))
        await self._copy_out(reader, process.stdout)
        rc = await proc.wait()
        feeder.cancel()
        read_transport.close()
        write_transport.close()
        self._finish(process, rc)


#: a runner with the default settings, as a process_factory
run_local = LocalProcessRunner()


async def echo(process: Any) -> int:
    """A ``process_factory`` that sends the session's input back until EOF; exit status 0."""
    while True:
        data = await process.stdin.read(_CHUNK)
        if not data:
            return 0
        process.stdout.write(data)
        await process.stdout.drain()
