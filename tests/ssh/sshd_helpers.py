"""A real OpenSSH sshd on a free loopback port, for the SSH tests and the bench.

:class:`Sshd` makes a temporary directory with host keys of each type (ssh-keygen), a user
key pair and a user certificate, an authorized_keys file, a user CA, a host CA and a host
certificate, a known_hosts file, and an sshd_config (``UsePAM no``, ``StrictModes no``, its
own AuthorizedKeysFile, ``PermitRootLogin yes`` so that it works when the tests run as root),
then starts ``sshd -D -e`` and waits for the port.  :meth:`Sshd.stop` kills it.

Password and keyboard-interactive authentication need a password sshd can check without
touching the system's users: with ``pam_password`` (root only), sshd runs under a name of
its own (a symlink), so that PAM reads the service file /etc/pam.d/<that name>, which this
helper writes and removes: pam_exec checks the password against :data:`PASSWORD`.  sshd's
password method and its keyboard-interactive method (PAM's prompt) both go through it.
"""

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional
from net_helpers import free_port  # noqa: E402,F401  (outside the ephemeral port range)

SSHD = "/usr/sbin/sshd"
PASSWORD = "m2sec-test-password"
HOST_KEY_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "2048"],
}


def keygen(path: str, args: List[str], comment: str = "test") -> str:
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", comment, "-f", path] + args, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


class Sshd:
    """See the module's docstring."""

    def __init__(self, extra_config: str = "", user: Optional[str] = None, pam_password: bool = False,
                 sftp_subsystem: str = "internal-sftp") -> None:
        self.dir = tempfile.mkdtemp(prefix="m2sec-sshd-")
        self.sftp_subsystem = sftp_subsystem  # sshd's own, or a program: /usr/lib/openssh/sftp-server
        self.pam_service: Optional[str] = None
        self.binary = SSHD
        if pam_password:
            self._setup_pam()
        self.user = user or getpass.getuser()
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        d = self.dir
        self.host_keys: Dict[str, str] = {}
        for name, args in HOST_KEY_TYPES.items():
            self.host_keys[name] = keygen(os.path.join(d, "host_" + name), args, "host")
        # a host CA and a certificate for every host key
        self.host_ca = keygen(os.path.join(d, "host_ca"), ["-t", "ed25519"], "host-ca")
        for p in self.host_keys.values():
            subprocess.run(["ssh-keygen", "-q", "-s", self.host_ca, "-I", "host", "-h", "-n", "127.0.0.1,localhost",
                            p + ".pub"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # user keys of every type, all authorized; a user CA and a user certificate
        self.user_keys: Dict[str, str] = {}
        for name, args in HOST_KEY_TYPES.items():
            self.user_keys[name] = keygen(os.path.join(d, "user_" + name), args, "user")
        self.user_ca = keygen(os.path.join(d, "user_ca"), ["-t", "ed25519"], "user-ca")
        self.cert_user_key = keygen(os.path.join(d, "certuser_ed25519"), ["-t", "ed25519"], "certuser")
        subprocess.run(["ssh-keygen", "-q", "-s", self.user_ca, "-I", "user", "-n", self.user,
                        self.cert_user_key + ".pub"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(os.path.join(d, "authorized_keys"), "w") as f:
            for path in self.user_keys.values():
                with open(path + ".pub") as pub:
                    f.write(pub.read())
        with open(self.user_ca + ".pub") as pub:
            self.trusted_ca = os.path.join(d, "trusted_user_ca")
            with open(self.trusted_ca, "w") as f:
                f.write(pub.read())
        self.extra_config = extra_config

    def _setup_pam(self) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("a PAM service for the test sshd can only be installed as root")
        name = "m2sec-test-sshd-%d" % os.getpid()
        check = os.path.join(self.dir, "checkpw")
        with open(check, "w") as f:
            f.write("#!/bin/sh\n[ \"$(tr -d '\\000')\" = %s ]\n" % PASSWORD)
        os.chmod(check, 0o755)
        with open("/etc/pam.d/" + name, "w") as f:
            f.write("auth required pam_exec.so expose_authtok quiet %s\n"
                    "auth optional pam_permit.so\n"
                    "account required pam_permit.so\n"
                    "session required pam_permit.so\n"
                    "password required pam_permit.so\n" % check)
        self.pam_service = name
        self.binary = os.path.join(self.dir, name)
        os.symlink(SSHD, self.binary)

    def config_text(self, port: int) -> str:
        d = self.dir
        lines = [
            "Port %d" % port,
            "ListenAddress 127.0.0.1",
            *("HostKey %s" % p for p in self.host_keys.values()),
            *("HostCertificate %s-cert.pub" % p for p in self.host_keys.values()),
            "PidFile %s/sshd.pid" % d,
            "UsePAM %s" % ("yes" if self.pam_service else "no"),
            "StrictModes no",
            "PermitRootLogin yes",
            "AuthorizedKeysFile %s/authorized_keys" % d,
            "TrustedUserCAKeys %s" % self.trusted_ca,
            "PubkeyAuthentication yes",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication yes",
            "PermitEmptyPasswords no",
            "AllowTcpForwarding yes",
            "PermitUserEnvironment no",
            "AcceptEnv LANG LC_* M2SEC_*",
            "Subsystem sftp %s" % self.sftp_subsystem,
            "LogLevel ERROR",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            # every algorithm the tests negotiate one by one, legacy ones included
            "KexAlgorithms +diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,"
            "diffie-hellman-group1-sha1",
            "Ciphers +aes128-cbc,aes192-cbc,aes256-cbc",
            "HostKeyAlgorithms +ssh-rsa,ssh-rsa-cert-v01@openssh.com",
            "PubkeyAcceptedAlgorithms +ssh-rsa,ssh-rsa-cert-v01@openssh.com",
            "Compression yes",
        ]
        return "\n".join(lines) + "\n" + self.extra_config

    def start(self, timeout: float = 10.0) -> "Sshd":
        if os.geteuid() == 0:
            # sshd run as root chroots its unprivileged child here (Debian's service makes it)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "sshd_config")
            with open(conf, "w") as f:
                f.write(self.config_text(self.port))
            self.proc = subprocess.Popen([self.binary, "-D", "-e", "-f", conf], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "sshd.log"), "w"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                        s.settimeout(2)
                        if s.recv(4).startswith(b"SSH-"):
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("sshd did not start: %s" % self.log())

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "sshd.log")) as f:
                return f.read()
        except OSError:
            return ""

    def known_hosts(self, *names: str) -> str:
        """A known_hosts file listing every host key for 127.0.0.1 at the port."""
        path = os.path.join(self.dir, "known_hosts")
        pattern = "[127.0.0.1]:%d" % self.port
        with open(path, "w") as f:
            for p in self.host_keys.values():
                with open(p + ".pub") as pub:
                    f.write("%s %s\n" % (pattern, " ".join(pub.read().split()[:2])))
        return path

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self.pam_service:
            try:
                os.unlink("/etc/pam.d/" + self.pam_service)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
