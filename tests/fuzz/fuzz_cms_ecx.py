"""X25519/X448 recipients of CMS (M2Sec/_cms_ecx.py, RFC 8418) on received DER: mode 0 gives the
input to the recipient rewriter and its strict DER reader directly (_cms_ecx.to_kek), mode 1 to
CMS.decrypt after OpenSSL parsed it.  Malformed input is an ECXError or a CMSError."""
from _harness import main

from M2Sec import CMS, EVP, _cms_ecx

EXPECTED = (_cms_ecx.ECXError, CMS.CMSError)
#: the seeds (make_seeds.py) are encrypted to this key's public half
KEY = EVP.load_raw_private_key("X25519", bytes(range(32)))


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, data = data[0] % 2, data[1:]
    if mode == 0:
        _cms_ecx.to_kek(data, KEY)
    else:
        CMS.decrypt(CMS.load_der(data), KEY)


if __name__ == "__main__":
    main(one_input, EXPECTED)
