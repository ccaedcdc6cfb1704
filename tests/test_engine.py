"""M2Sec.Engine: what OpenSSL 3 still offers of the ENGINE API."""

import pytest

from M2Sec import Engine, Err, m2

needs_engine = pytest.mark.skipif(not m2.HAS_ENGINE, reason="this OpenSSL is built without ENGINE support")


def test_flags_agree():
    assert m2.HAS_ENGINE in (0, 1)
    assert m2.is_engine_available == m2.HAS_ENGINE
    assert Engine.Engine.is_available() == bool(m2.HAS_ENGINE)
    assert issubclass(Engine.EngineError, Err.M2SecError)


@needs_engine
def test_openssl_engine_name_and_id():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    assert e.get_id() == "openssl"
    assert e.get_name() == "Software engine support"
    assert e.init() == 1
    assert e.is_initialized()
    assert e.finish() == 1
    assert not e.is_initialized()
    assert e.finish() == 0
    e.free()


@needs_engine
def test_engine_id_as_bytes_and_with_block():
    Engine.load_openssl()
    with Engine.Engine(b"openssl") as e:
        assert e.is_initialized()
        assert e.get_id() == "openssl"
    with pytest.raises(Engine.EngineError):
        e.get_id()


@needs_engine
@pytest.mark.parametrize("bad", ["no-such-engine", "openssl\n"])
def test_bad_id_is_value_error(bad):
    with pytest.raises(ValueError, match="no engine"):
        Engine.Engine(bad)


def test_missing_id():
    with pytest.raises(ValueError):
        Engine.Engine()
    with pytest.raises(ValueError):
        Engine.Engine("")


def test_none_id_to_m2_is_type_error():
    with pytest.raises(TypeError):
        m2.engine_by_id(None)


@needs_engine
def test_freed_engine():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    e.free()
    e.free()
    with pytest.raises(Engine.EngineError, match="freed"):
        e.get_name()
    with pytest.raises(Engine.EngineError):
        e.init()


@needs_engine
def test_bad_ctrl_command():
    Engine.load_dynamic()
    e = Engine.Engine("dynamic")
    with pytest.raises(Engine.EngineError):
        e.ctrl_cmd_string("NO_SUCH_COMMAND", "x")
    with pytest.raises(Engine.EngineError):
        e.ctrl_cmd_string("LOAD", None)  # no SO_PATH set
    e.free()


@needs_engine
def test_load_dynamic_engine_missing_library(tmp):
    with pytest.raises(Engine.EngineError):
        Engine.load_dynamic_engine("m2sec_nothing", str(tmp / "missing.so"))


@needs_engine
def test_load_key_unsupported():
    Engine.load_openssl()
    e = Engine.Engine("openssl")
    e.init()
    with pytest.raises(Engine.EngineError):
        e.load_certificate("slot")
    e.finish()
    e.free()


def test_null_engine_pointer():
    with pytest.raises(ValueError):
        m2.engine_get_id(None)
