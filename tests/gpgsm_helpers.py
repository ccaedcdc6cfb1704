"""A throw-away GnuPG home for gpgsm (GnuPG's S/MIME tool): the test CA trusted, RSA keys
imported from PKCS#12, CRL and policy checks off; its gpg-agent stopped at the end."""

import os
import shutil
import subprocess
from typing import Optional

import pytest

GPGSM = shutil.which("gpgsm")
PASS = "m2sec-test"


class GpgSM:
    def __init__(self, home: str, ca) -> None:
        if GPGSM is None:
            pytest.fail("gpgsm is needed (apt-get install gpgsm)")
        self.home, self.ca = home, ca
        os.makedirs(home, mode=0o700)
        with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
            f.write("allow-loopback-pinentry\n")
        with open(os.path.join(home, "gpgsm.conf"), "w") as f:
            f.write("disable-crl-checks\ndisable-policy-checks\nbatch\npinentry-mode loopback\n")
        self.run("--import", ca.path("root.pem"), ca.path("inter.pem"))
        fpr = [line.split(":")[9] for line in self.run("--with-colons", "--list-keys", "M2Sec Test Root").stdout.decode().splitlines()
               if line.startswith("fpr:")][0]
        with open(os.path.join(home, "trustlist.txt"), "w") as f:
            f.write("%s S relax\n" % fpr)

    def run(self, *args: str, input: Optional[bytes] = None, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, GNUPGHOME=self.home)
        p = subprocess.run([GPGSM, *args], input=input, capture_output=True, timeout=60, env=env)
        if check and p.returncode != 0:
            raise AssertionError("gpgsm %s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p

    def import_key(self, name: str) -> None:
        """name's RSA key and certificate, through a PKCS#12 file in the algorithms gpgsm 2.2
        reads (3DES and SHA-1: it cannot parse OpenSSL 3's AES/PBKDF2 default)."""
        p12 = self.ca.path(name + ".p12")
        # gpgsm 2.2 fails now and then to decrypt a PKCS#12 that OpenSSL reads ("decryption
        # failed ... possibly bad passphrase given", or "decryption failed; trying charset ..."
        # ending in a data error in the shrouded key bag), depending on the random salt: a file
        # with a new salt is made, a few times at most; any other failure ends at once.
        for attempt in range(5):
            subprocess.run(["openssl", "pkcs12", "-export", "-in", self.ca.path(name + ".pem"), "-inkey",
                            self.ca.path(name + ".key"), "-passout", "pass:" + PASS, "-keypbe", "PBE-SHA1-3DES",
                            "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1", "-out", p12], check=True, timeout=60,
                           capture_output=True)
            p = self.run("--passphrase-fd", "0", "--import", p12, input=(PASS + "\n").encode(), check=attempt == 4)
            if p.returncode == 0 or b"decryption failed" not in p.stderr:
                break
        if p.returncode != 0:
            raise AssertionError("gpgsm --import %s failed: %s" % (p12, p.stderr.decode(errors="replace")))

    def with_pass(self, *args: str, input: Optional[bytes] = None, check: bool = True) -> subprocess.CompletedProcess:
        """gpgsm with the key passphrase on fd 0 (args must name the input file)."""
        return self.run("--passphrase-fd", "0", *args, input=(PASS + "\n").encode(), check=check)

    def stop(self) -> None:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=self.home),
                       capture_output=True, timeout=30)
