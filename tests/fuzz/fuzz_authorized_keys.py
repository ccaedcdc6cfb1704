"""authorized_keys files (M2Sec.SSH.authorized_keys): options, key lines, and the permissions
each entry grants to a client address (from=, expiry-time=, permitopen ...)."""
from _harness import main

from M2Sec.SSH.authorized_keys import AuthorizedKeys, AuthorizedKeysError, parse_expiry, parse_options
from M2Sec.SSH.errors import SSHFormatError, SSHKeyError

EXPECTED = (AuthorizedKeysError, SSHFormatError, SSHKeyError)


def one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] == ord("!"):  # the option parsers on their own
        text = data[1:].decode("utf-8", "replace")
        options, _rest = parse_options(text)
        for name, value in options:
            if name == "expiry-time" and value is not None:
                parse_expiry(value)
        return
    ak = AuthorizedKeys(data)
    for entry in ak.entries:
        entry.permissions("192.0.2.7", 1.0e9)
        entry.permissions("2001:db8::7", 1.0e9)
        entry.key.public_blob()


if __name__ == "__main__":
    main(one_input, EXPECTED)
