"""The ``m2sec`` command (``python -m M2Sec``): one subcommand per area."""

import importlib
import sys
from typing import List, Optional

# subcommand -> "module:function" taking argv and returning an exit status
COMMANDS = {
    "https": "M2Sec.wsgi.cli:main",
    "smime": "M2Sec.smime_cli:main",
    "ssh": "M2Sec.SSH.cli:main",
    "sftp": "M2Sec.SSH.sftp_cli:sftp_main",
    "scp": "M2Sec.SSH.sftp_cli:scp_main",
    "tls": "M2Sec.TLS.cli:tls_main",
    "tlsdb": "M2Sec.TLS.cli:tlsdb_main",
}


def version_text() -> str:
    """'M2Sec X.Y.Z on OpenSSL ...': M2Sec's version and the OpenSSL it runs on (with ML-KEM,
    ML-DSA and SLH-DSA named when that OpenSSL has them)."""
    import M2Sec
    from M2Sec import m2

    pq = [name for name, flag in (("ML-KEM", "HAS_ML_KEM"), ("ML-DSA", "HAS_ML_DSA"), ("SLH-DSA", "HAS_SLH_DSA"))
          if getattr(m2, flag, 0)]
    return "M2Sec %s on %s%s" % (M2Sec.__version__, m2.OPENSSL_VERSION_TEXT,
                                 " (post-quantum: %s)" % ", ".join(pq) if pq else "")


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):
        print(version_text())
        return 0
    if not argv or argv[0] not in COMMANDS:
        print("usage: m2sec {--version,%s} ..." % ",".join(sorted(COMMANDS)), file=sys.stderr)
        return 2
    module, func = COMMANDS[argv[0]].split(":")
    return int(getattr(importlib.import_module(module), func)(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
