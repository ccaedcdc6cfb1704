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


#: modules of the protocol core without I/O: no sockets, event loops, threads, clocks or files
SANS_IO = ("sftp.py",)
FORBIDDEN = {"socket", "asyncio", "threading", "time", "os", "selectors", "subprocess"}


def _top_level_imports(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_sans_io_core_makes_no_io():
    base = Path(M2Sec.SSH.__file__).parent
    for name in SANS_IO:
        assert _top_level_imports(base / name) & FORBIDDEN == set(), name
    # and what it imports from M2Sec.SSH is core too
    for name in SANS_IO:
        tree = ast.parse((base / name).read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert {m for m in mods if m.startswith("M2Sec.SSH.")} <= {"M2Sec.SSH.errors", "M2Sec.SSH.packet"}
