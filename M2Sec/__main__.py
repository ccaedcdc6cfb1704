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


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: m2sec {%s} ..." % ",".join(sorted(COMMANDS)), file=sys.stderr)
        return 2
    module, func = COMMANDS[argv[0]].split(":")
    return getattr(importlib.import_module(module), func)(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
