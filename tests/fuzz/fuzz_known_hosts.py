"""known_hosts files (M2Sec.SSH.knownhosts): parsing, then a lookup of the host the input's
first line names, as the client does.  A malformed line is a KnownHostsError (a ValueError)."""
from _harness import main

from M2Sec.SSH.errors import SSHFormatError, SSHKeyError
from M2Sec.SSH.knownhosts import KnownHosts, KnownHostsError

EXPECTED = (KnownHostsError, SSHFormatError, SSHKeyError)


def one_input(data: bytes) -> None:
    kh = KnownHosts(data)
    kh.lookup("host.example", 22)
    kh.host_key_algorithms("[127.0.0.1]:2222", 2222)


if __name__ == "__main__":
    main(one_input, EXPECTED)
