"""A private X server for the X11 forwarding tests: Xvfb on a display number it picks
(-displayfd), reached through its UNIX socket only, accepting one MIT-MAGIC-COOKIE-1 cookie;
an Xauthority file with that cookie for the display, as a user's X session would have."""

import os
import select
import shutil
import subprocess
import tempfile

XVFB = shutil.which("Xvfb") or "/usr/bin/Xvfb"


class Xvfb:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="m2sec-xvfb-")
        self.cookie = os.urandom(16).hex()
        server_auth = os.path.join(self.dir, "server.auth")
        subprocess.run(["xauth", "-f", server_auth, "add", ":0", "MIT-MAGIC-COOKIE-1", self.cookie], check=True,
                       capture_output=True, timeout=20)
        r, w = os.pipe()
        self.proc = subprocess.Popen([XVFB, "-displayfd", str(w), "-auth", server_auth, "-nolisten", "tcp",
                                      "-screen", "0", "320x200x24"], pass_fds=(w,), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        self._displayfd = r  # kept open while Xvfb runs: it writes a newline after the number
        number = ""
        while not number.endswith("\n"):
            ready, _, _ = select.select([r], [], [], 20)
            chunk = os.read(r, 64).decode() if ready else ""
            if not chunk:
                break
            number += chunk
        number = number.strip()
        if not number.isdigit():
            self.stop()
            raise RuntimeError("Xvfb did not start")
        self.display = ":" + number
        self.xauthority = os.path.join(self.dir, "client.auth")
        subprocess.run(["xauth", "-f", self.xauthority, "add", self.display, "MIT-MAGIC-COOKIE-1", self.cookie],
                       check=True, capture_output=True, timeout=20)

    def stop(self) -> None:
        if getattr(self, "_displayfd", None) is not None:
            os.close(self._displayfd)
            self._displayfd = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
