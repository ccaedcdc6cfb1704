"""M2Sec.SSH.errors: DisconnectError and its RFC 4253 11.1 reason codes."""

import pytest

from M2Sec.Err import M2SecError
from M2Sec.SSH import errors


def test_disconnect_error():
    e = errors.DisconnectError(errors.BY_APPLICATION, "bye", local=False)
    assert (e.code, e.reason, e.local) == (11, "bye", False)
    assert "code 11" in str(e) and "remote" in str(e) and "bye" in str(e)
    assert isinstance(e, M2SecError)


@pytest.mark.parametrize("cls,code", [
    (errors.ProtocolError, 2), (errors.KeyExchangeFailed, 3), (errors.MACError, 5), (errors.CompressionError, 6),
    (errors.ServiceNotAvailable, 7), (errors.ProtocolVersionNotSupported, 8), (errors.HostKeyNotVerifiable, 9),
    (errors.ConnectionLost, 10), (errors.ByApplication, 11), (errors.AuthenticationFailed, 14),
    (errors.IllegalUserName, 15),
])
def test_coded_subclasses(cls, code):
    e = cls("why")
    assert isinstance(e, errors.DisconnectError) and e.code == cls.code == code
    assert e.reason == "why" and e.local
    with pytest.raises(errors.DisconnectError):
        raise e


def test_value_errors():
    assert issubclass(errors.SSHFormatError, ValueError) and issubclass(errors.SSHKeyError, ValueError)
    assert not issubclass(errors.DisconnectError, ValueError)
