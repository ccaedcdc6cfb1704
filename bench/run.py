"""`make bench`: M2Sec beside the peers a user would choose instead and the C limit, one table.

Each area is a module beside this file (bench/<area>.py) whose rows() gives rows in this
table's format; every figure is the median of interleaved runs, so each ratio compares figures
measured under the same machine load.  `python run.py evp_msg tls` runs only those areas
("evp" is evp_msg: the symmetric-crypto rows).  When evp_msg runs, the chart of its figures as
ratios to the C limit goes to bench/results/latest.png.
"""

import importlib
import os
import subprocess
import sys

from _timing import print_table

RUNS = 5
AREAS = ("evp_msg", "smime", "cms", "ssh_keys", "tls", "tls_api", "ssh_client", "ssh_server", "https_server", "sftp")  # bench/<area>.py modules with rows() in this table's format


def main(only=()):
    """The table; `only` names the areas to run (all of them when empty)."""
    only = tuple("evp_msg" if a == "evp" else a for a in only)
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for area in AREAS:
        if (not only or area in only) and os.path.exists(os.path.join(here, area + ".py")):
            rows.extend(importlib.import_module(area).rows())

    print_table(rows)
    if not only or "evp_msg" in only:
        try:
            chart = importlib.import_module("evp_msg").write_chart(os.path.join(here, "results", "latest.png"))
        except ImportError as exc:  # run by hand without make bench's matplotlib: the table stands alone
            chart = "not drawn (%s; make bench installs matplotlib)" % exc
        print("\nchart (ratios to the C limit): %s" % chart)
    print("\nmedians of %d interleaved runs; %s; Python %s" % (RUNS, subprocess.run(
        ["openssl", "version"], capture_output=True, text=True).stdout.strip(), sys.version.split()[0]))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]))
