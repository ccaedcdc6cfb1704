"""The TLS API's HandshakeSettings (M2Sec.TLS.settings): options given the values the input
encodes (names, lists, numbers), validated and translated into OpenSSL's configuration, which
is then applied to a real SSL_CTX.  A bad value is a ValueError or TypeError naming it."""
import atheris
from _harness import main

from M2Sec.Err import M2SecError
from M2Sec.TLS import _engine
from M2Sec.TLS.settings import OPTION_NAMES, HandshakeSettings

EXPECTED = (ValueError, TypeError, M2SecError)


def _value(fdp: "atheris.FuzzedDataProvider"):
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return fdp.ConsumeIntInRange(-5, 70000)
    if kind == 1:
        return fdp.ConsumeUnicodeNoSurrogates(12)
    if kind == 2:
        return [fdp.ConsumeUnicodeNoSurrogates(10) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 3:
        return (fdp.ConsumeIntInRange(0, 4), fdp.ConsumeIntInRange(0, 5))
    if kind == 4:
        return fdp.ConsumeBool()
    return [fdp.ConsumeBytes(6) for _ in range(fdp.ConsumeIntInRange(0, 3))]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    settings = HandshakeSettings()
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        setattr(settings, OPTION_NAMES[fdp.ConsumeIntInRange(0, len(OPTION_NAMES) - 1)], _value(fdp))
    config = settings.validate()._config
    server = fdp.ConsumeBool()
    ctx = _engine.new_context(server, config, srp=fdp.ConsumeBool())
    ctx.close()


if __name__ == "__main__":
    main(one_input, EXPECTED)
