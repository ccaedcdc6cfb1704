"""M2Sec.util: padding, hex, passphrase callbacks and test helpers."""

import unittest

import pytest

from M2Sec import util


@pytest.mark.parametrize("data, blklen, expected", [
    ("", 8, "\x08" * 8),
    ("abc", 8, "abc" + "\x05" * 5),
    ("12345678", 8, "12345678" + "\x08" * 8),
    ("abc", 16, "abc" + "\x0d" * 13),
    ("a", 1, "a\x01"),
])
def test_pkcs7_pad(data, blklen, expected):  # RFC 5652 section 6.3
    assert util.pkcs7_pad(data, blklen) == expected


@pytest.mark.parametrize("blklen", [0, -1, 256])
def test_pkcs7_pad_bad_block(blklen):
    with pytest.raises(ValueError):
        util.pkcs7_pad("abc", blklen)


def test_pkcs5_pad_is_8_byte_pkcs7():
    assert util.pkcs5_pad("abcdefghi") == "abcdefghi" + "\x07" * 7
    assert util.pkcs5_pad("") == "\x08" * 8


def test_octx_to_num():
    assert util.octx_to_num(b"") == 0
    assert util.octx_to_num(b"\x01\x00") == 256
    assert util.octx_to_num(b"\xff" * 16) == 2 ** 128 - 1


def test_bin_to_hex_is_base64_as_m2crypto():
    assert util.bin_to_hex(b"\x00\x01\x02") == "AAEC"
    assert util.bin_to_hex(b"") == ""


def test_no_passphrase_callback():
    assert util.no_passphrase_callback() == b""
    assert util.no_passphrase_callback(1, "prompt") == b""


def test_passphrase_callback_verifies(monkeypatch):
    answers = iter(["first", "different", "same", "same"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert util.passphrase_callback(True) == b"same"


def test_passphrase_callback_ctrl_c(monkeypatch):
    def interrupt(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr("getpass.getpass", interrupt)
    assert util.passphrase_callback(False) is None


def test_genparam_callbacks(capsys):
    assert util.quiet_genparam_callback(0, 0) == 1
    assert util.genparam_callback(1, 0) == 1
    assert util.genparam_callback(9, 0) == 1
    assert capsys.readouterr().out == "+"


def test_expected_failure_if():
    class T(unittest.TestCase):
        @util.expectedFailureIf(True)
        def test_fails(self):
            self.fail("expected")

        @util.expectedFailureIf(False)
        def test_passes(self):
            pass

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(T).run(result)
    assert len(result.expectedFailures) == 1
    assert result.wasSuccessful()


def test_util_error_root():
    from M2Sec.Err import M2SecError

    assert issubclass(util.UtilError, M2SecError)
