"""M2Sec.SSH's layering (DESIGN.md, house style 8): crypto.py is the only SSH module that
imports OpenSSL's bindings; the others reach them through it."""

import ast
from pathlib import Path

import M2Sec.SSH

BINDINGS = {"EVP", "RSA", "EC", "DSA", "DH", "Rand", "BN", "m2", "_m2sec"}


def _bindings_imported(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "M2Sec" and len(parts) == 1:
                found |= {a.name for a in node.names} & BINDINGS
            elif parts[0] == "M2Sec" and parts[1] in BINDINGS:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("M2Sec.") and a.name.split(".")[1] in BINDINGS}
    return found


def test_only_crypto_imports_the_bindings():
    modules = sorted(Path(M2Sec.SSH.__file__).parent.glob("*.py"))
    assert len(modules) > 10
    offenders = {p.name: _bindings_imported(p) for p in modules if p.name != "crypto.py"}
    assert {name: found for name, found in offenders.items() if found} == {}
    assert _bindings_imported(Path(M2Sec.SSH.__file__).parent / "crypto.py") >= {"EVP", "m2"}


def test_import_without_posix_tty_modules():
    """import M2Sec.SSH works where fcntl and termios are missing (Windows): only ptys need them."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['fcntl'] = None; sys.modules['termios'] = None\n"
            "import M2Sec.SSH, M2Sec.SSH.process, M2Sec.SSH.agent, M2Sec.SSH.config\n"
            "import M2Sec.SSH.sftp_server, M2Sec.SSH.scp\n"
            "assert not M2Sec.SSH.process._HAS_PTY\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


CORE = ["connection.py", "server.py", "server_auth.py", "kex.py", "auth.py", "channel.py", "packet.py",
        "sftp.py"]
FORBIDDEN = {"time", "os", "socket", "asyncio", "threading", "subprocess", "selectors"}


def _stdlib_imported(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & FORBIDDEN


def test_core_reads_no_clock_file_or_socket():
    """The protocol core takes time as an argument and does no I/O (DESIGN.md, SSH/)."""
    here = Path(M2Sec.SSH.__file__).parent
    offenders = {name: _stdlib_imported(here / name) for name in CORE}
    assert {n: f for n, f in offenders.items() if f} == {}


def test_sftp_core_uses_only_the_core():
    """The SFTP packet layer (sftp.py) builds on the wire encoding and errors, nothing above."""
    tree = ast.parse((Path(M2Sec.SSH.__file__).parent / "sftp.py").read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m for m in mods if m.startswith("M2Sec.")} <= {"M2Sec.SSH.errors", "M2Sec.SSH.packet"}
