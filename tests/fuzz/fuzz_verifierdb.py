"""The TLS API's VerifierDB (M2Sec.TLS.verifierdb): a stored entry (as a dbm file holds it)
read back and checked against a password, which runs SRP's verifier computation on the entry's
N, g and salt.  A damaged entry is a ValueError."""
from _harness import main

from M2Sec.Err import M2SecError
from M2Sec.TLS.verifierdb import VerifierDB

EXPECTED = (ValueError, M2SecError)


def one_input(data: bytes) -> None:
    db = VerifierDB()  # in memory: the same mapping of name to raw entry a dbm file gives
    db.create()
    name, _, raw = data.partition(b"\n")
    try:
        key = name.decode("utf-8")
    except UnicodeDecodeError:
        return
    db.db[key] = raw
    if key in db:
        db[key]
        db.check(key, "password")
    db.keys()


if __name__ == "__main__":
    main(one_input, EXPECTED)
