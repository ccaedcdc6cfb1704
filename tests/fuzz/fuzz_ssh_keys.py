"""SSH key files (M2Sec.SSH.keys): openssh-key-v1 private keys, RFC 4716 and OpenSSH public
key lines, PEM keys through M2Sec, and public key blobs.  No passphrase is given: an encrypted
key must be refused with KeyPassphraseError before any key derivation runs."""
from _harness import main

from M2Sec.SSH import keys
from M2Sec.SSH.errors import SSHFormatError, SSHKeyError

EXPECTED = (SSHFormatError, SSHKeyError)


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0] % 4, data[1:]
    if mode == 0:
        key = keys.load_private_key(data)
        key.public_blob()
    elif mode == 1:
        key = keys.load_public_key(data)
        key.fingerprint()
    elif mode == 2:
        keys.decode_public_blob(data).public_line()
    else:
        keys.parse_rfc4716(data)


if __name__ == "__main__":
    main(one_input, EXPECTED)
