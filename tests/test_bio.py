"""M2Sec.BIO: MemoryBuffer, File, openfile, IOBuffer, CipherStream and the m2.bio_* functions."""

import os

import pytest

from M2Sec import BIO, m2

KEY = bytes(range(32))
IV = bytes(range(100, 116))
PLAIN = b"The quick brown fox jumps over the lazy dog.\n" * 7


# ---- MemoryBuffer ----

def test_memorybuffer_round_trip():
    mb = BIO.MemoryBuffer()
    assert len(mb) == 0
    assert mb.write(b"hello ") == 6
    assert mb.write(bytearray(b"world")) == 5
    assert len(mb) == 11
    assert mb.read(5) == b"hello"
    assert len(mb) == 6
    assert mb.read() == b" world"
    assert mb.read() is None  # empty: M2Crypto's None
    mb.free()


def test_memorybuffer_initial_data_and_getvalue():
    mb = BIO.MemoryBuffer(b"abc\x00def")
    assert mb.getvalue() == b"abc\x00def"
    mb.free()


@pytest.mark.parametrize("bad", ["text", 5, [b"a"], object()])
def test_memorybuffer_rejects_non_bytes(bad):
    with pytest.raises(TypeError):
        BIO.MemoryBuffer(bad)


def test_memorybuffer_write_str_is_utf8():
    mb = BIO.MemoryBuffer()
    mb.write("é")
    assert mb.read() == "é".encode("utf-8")
    mb.free()


def test_memorybuffer_write_rejects_int():
    mb = BIO.MemoryBuffer()
    with pytest.raises(TypeError):
        mb.write(42)
    mb.free()


def test_memorybuffer_empty_write_and_zero_read():
    mb = BIO.MemoryBuffer(b"x")
    assert mb.write(b"") == 0
    assert mb.read(0) is None
    assert mb.read(-1 + 1) is None
    with pytest.raises(ValueError):
        mb.read(-1)
    assert mb.read() == b"x"
    mb.free()


def test_memorybuffer_readline_and_readlines():
    mb = BIO.MemoryBuffer(b"one\ntwo\nthree")
    assert mb.readline() == b"one\n"
    assert mb.readlines() == [b"two\n", b"three"]
    assert mb.readline() == b""
    mb.free()


def test_memorybuffer_readline_size_limit():
    mb = BIO.MemoryBuffer(b"abcdefgh\n")
    assert mb.readline(4) == b"abc"  # at most size - 1 bytes
    with pytest.raises(ValueError):
        mb.readline(1)
    mb.free()


def test_memorybuffer_close_ends_writing_only():
    mb = BIO.MemoryBuffer(b"data")
    mb.close()
    assert not mb.writeable()
    with pytest.raises(IOError):
        mb.write(b"more")
    assert mb.read() == b"data"  # still readable after close(), as in M2Crypto
    mb.free()


def test_memorybuffer_freed_raises():
    mb = BIO.MemoryBuffer(b"data")
    mb.free()
    mb.free()  # idempotent
    with pytest.raises(BIO.BIOError):
        mb.read()
    with pytest.raises(BIO.BIOError):
        len(mb)
    with pytest.raises(BIO.BIOError):
        mb.write(b"x")
    with pytest.raises(BIO.BIOError):
        mb.readline()


def test_memorybuffer_with_block_frees():
    with BIO.MemoryBuffer(b"abc") as mb:
        assert mb.read() == b"abc"
    assert mb.bio is None
    with pytest.raises(BIO.BIOError):
        mb.read()


def test_big_read_is_bounded_by_what_is_there():
    mb = BIO.MemoryBuffer(b"x" * 100)
    # asking for 2 GiB must not allocate 2 GiB: returns what is pending
    data = mb.read(2 ** 31 - 1)
    assert data == b"x" * 100
    mb.free()


def test_big_read_too_large_for_int():
    bio = m2.bio_new(m2.bio_s_mem())
    try:
        with pytest.raises(OverflowError):
            m2.bio_read(bio, 2 ** 40)
        with pytest.raises(ValueError):
            m2.bio_read(bio, -1)
    finally:
        m2.bio_free(bio)


def test_large_memorybuffer_round_trip():
    blob = os.urandom(3 * 1024 * 1024 + 7)  # past the 1 MiB per-call cap
    mb = BIO.MemoryBuffer(blob)
    assert len(mb) == len(blob)
    assert mb.read() == blob
    mb.free()


# ---- File and openfile ----

def test_file_write_then_read(tmp):
    path = tmp / "f.bin"
    f = BIO.openfile(str(path), "wb")
    assert f.write(b"line 1\nline 2\n") == 14
    f.close()
    assert path.read_bytes() == b"line 1\nline 2\n"
    f = BIO.openfile(str(path))
    assert f.readline() == b"line 1\n"
    assert f.read() == b"line 2\n"
    assert f.read() == b""
    f.close()


def test_file_readlines_and_seek_tell(tmp):
    path = tmp / "f.txt"
    path.write_bytes(b"a\nbb\nccc\n")
    with BIO.openfile(str(path)) as f:
        assert f.readlines() == [b"a\n", b"bb\n", b"ccc\n"]
        assert f.tell() == 9
        f.seek(2)
        assert f.tell() == 2
        assert f.read(2) == b"bb"


def test_file_on_python_file_object(tmp):
    path = tmp / "g.bin"
    with open(path, "wb") as pyf:
        bf = BIO.File(pyf, close_pyfile=0)
        bf.write(b"xyz")
        bf.close()
        assert not pyf.closed  # close_pyfile=0 leaves it open
    assert path.read_bytes() == b"xyz"


def test_file_close_closes_python_file(tmp):
    path = tmp / "h.bin"
    pyf = open(path, "wb")
    bf = BIO.File(pyf)
    bf.close()
    assert pyf.closed
    bf.close()  # idempotent


def test_file_fileno(tmp):
    path = tmp / "i.bin"
    path.write_bytes(b"")
    with open(path, "rb") as pyf:
        bf = BIO.File(pyf, close_pyfile=0)
        assert bf.fileno() == pyf.fileno()
        bf.close()


def test_file_closed_raises(tmp):
    path = tmp / "j.bin"
    path.write_bytes(b"data")
    f = BIO.openfile(str(path))
    f.close()
    with pytest.raises(IOError):
        f.read()
    with pytest.raises(IOError):
        f.readline()
    with pytest.raises(IOError):
        f.write(b"x")


def test_openfile_missing_raises_bioerror(tmp):
    with pytest.raises(BIO.BIOError, match="No such file"):
        BIO.openfile(str(tmp / "missing" / "file"))


def test_openfile_empty_file(tmp):
    path = tmp / "empty"
    path.write_bytes(b"")
    with BIO.openfile(str(path)) as f:
        assert f.read() == b""
        assert f.readline() == b""
        assert f.readlines() == []


def test_bio_new_file_and_errors(tmp):
    path = tmp / "k.bin"
    bio = m2.bio_new_file(str(path), "wb")
    assert m2.bio_write(bio, b"abc") == 3
    m2.bio_free(bio)
    assert path.read_bytes() == b"abc"
    with pytest.raises(BIO.BIOError, match="cannot open file"):
        m2.bio_new_file(str(tmp / "nope" / "x"), "rb")
    with pytest.raises(TypeError):
        m2.bio_new_file(b"\x00", 5)


# ---- IOBuffer ----

def test_iobuffer_over_memorybuffer():
    mb = BIO.MemoryBuffer(b"first\nsecond\n")
    io = BIO.IOBuffer(mb)
    assert io.readline() == b"first\n"
    assert io.read() == b"second\n"
    io.close()
    # the underlying BIO survives the IOBuffer
    mb.write(b"again")
    assert mb.read() == b"again"
    mb.free()


def test_iobuffer_write_buffers_until_flush():
    mb = BIO.MemoryBuffer()
    io = BIO.IOBuffer(mb)
    io.write(b"buffered")
    assert len(mb) == 0  # still in the buffer BIO
    io.flush()
    assert mb.read() == b"buffered"
    io.close()
    mb.free()


def test_iobuffer_read_only_mode():
    mb = BIO.MemoryBuffer(b"x")
    io = BIO.IOBuffer(mb, mode="rb")
    with pytest.raises(IOError):
        io.write(b"y")
    io.close()
    mb.free()


def test_iobuffer_closed_raises():
    mb = BIO.MemoryBuffer(b"abc")
    io = BIO.IOBuffer(mb)
    io.close()
    io.close()
    with pytest.raises(IOError):
        io.read()
    mb.free()


def test_iobuffer_on_freed_bio_raises():
    mb = BIO.MemoryBuffer()
    mb.free()
    with pytest.raises(BIO.BIOError):
        BIO.IOBuffer(mb)


def test_iobuffer_keeps_underlying_alive():
    io = BIO.IOBuffer(BIO.MemoryBuffer(b"kept alive\n"))
    import gc
    gc.collect()
    assert io.readline() == b"kept alive\n"
    io.close()


# ---- CipherStream ----

def _encrypt(algo, key, iv, data):
    mem = BIO.MemoryBuffer()
    cf = BIO.CipherStream(mem)
    cf.set_cipher(algo, key, iv, 1)
    cf.write(data)
    cf.flush()
    cf.write_close()
    cf.close()
    out = mem.read() or b""
    mem.free()
    return out


def _decrypt(algo, key, iv, data):
    mem = BIO.MemoryBuffer(data)
    cf = BIO.CipherStream(mem)
    cf.set_cipher(algo, key, iv, 0)
    cf.write_close()
    out = cf.read()
    cf.close()
    mem.free()
    return out


@pytest.mark.parametrize("algo, enc_name, klen, ivlen", [
    ("aes_128_cbc", "aes-128-cbc", 16, 16),
    ("aes_256_cbc", "aes-256-cbc", 32, 16),
    ("aes_192_cfb", "aes-192-cfb", 24, 16),
    ("aes_256_ctr", "aes-256-ctr", 32, 16),
    ("aes_128_ofb", "aes-128-ofb", 16, 16),
    ("des_ede3_cbc", "des-ede3-cbc", 24, 8),
])
def test_cipherstream_matches_openssl_enc(openssl, tmp, algo, enc_name, klen, ivlen):
    key, iv = KEY[:klen], IV[:ivlen]
    ours = _encrypt(algo, key, iv, PLAIN)
    theirs = openssl(["enc", "-" + enc_name, "-K", key.hex(), "-iv", iv.hex()], input=PLAIN).stdout
    assert ours == theirs
    assert _decrypt(algo, key, iv, theirs) == PLAIN
    # and openssl decrypts ours
    back = openssl(["enc", "-d", "-" + enc_name, "-K", key.hex(), "-iv", iv.hex()], input=ours).stdout
    assert back == PLAIN


def test_cipherstream_empty_plaintext_is_one_padding_block(openssl):
    ours = _encrypt("aes_128_cbc", KEY[:16], IV, b"")
    assert len(ours) == 16
    theirs = openssl(["enc", "-aes-128-cbc", "-K", KEY[:16].hex(), "-iv", IV.hex()], input=b"").stdout
    assert ours == theirs


def test_cipherstream_wrong_key_does_not_give_plaintext():
    ct = _encrypt("aes_128_cbc", KEY[:16], IV, PLAIN)
    bad = bytes(16)
    try:
        out = _decrypt("aes_128_cbc", bad, IV, ct)
    except BIO.BIOError:
        return  # bad padding detected
    assert out != PLAIN


def test_cipherstream_truncated_ciphertext():
    ct = _encrypt("aes_128_cbc", KEY[:16], IV, PLAIN)
    try:
        out = _decrypt("aes_128_cbc", KEY[:16], IV, ct[:-5])
    except BIO.BIOError:
        return
    assert out != PLAIN and len(out) < len(PLAIN)


def test_cipherstream_unknown_algorithm():
    cf = BIO.CipherStream(BIO.MemoryBuffer())
    with pytest.raises(ValueError):
        cf.set_cipher("nosuchalgo", KEY, IV, 1)
    with pytest.raises(ValueError):
        cf.set_cipher("", KEY, IV, 1)
    cf.close()


def test_cipherstream_short_key_or_iv():
    cf = BIO.CipherStream(BIO.MemoryBuffer())
    with pytest.raises(BIO.BIOError, match="shorter"):
        cf.set_cipher("aes_256_cbc", KEY[:16], IV, 1)
    with pytest.raises(BIO.BIOError, match="shorter"):
        cf.set_cipher("aes_256_cbc", KEY, IV[:8], 1)
    cf.close()


def test_cipherstream_wrong_key_type():
    cf = BIO.CipherStream(BIO.MemoryBuffer())
    with pytest.raises(TypeError):
        cf.set_cipher("aes_128_cbc", 12345, IV, 1)
    cf.close()


def test_cipherstream_closed_raises():
    mem = BIO.MemoryBuffer()
    cf = BIO.CipherStream(mem)
    cf.set_cipher("aes_128_cbc", KEY[:16], IV, 1)
    cf.close()
    assert not cf.readable()
    with pytest.raises(IOError):
        cf.read()
    with pytest.raises(IOError):
        cf.readline()
    with pytest.raises(IOError):
        cf.readlines()
    with pytest.raises(IOError):
        cf.write(b"x")
    with pytest.raises(BIO.BIOError):
        cf.set_cipher("aes_128_cbc", KEY[:16], IV, 1)
    mem.free()


def test_cipherstream_salt_len():
    assert BIO.CipherStream.SALT_LEN == 8


# ---- low-level functions ----

def test_bio_method_types():
    for method, kind in ((m2.bio_s_mem, m2.BIO_TYPE_MEM), (m2.bio_f_buffer, m2.BIO_TYPE_BUFFER),
                         (m2.bio_f_cipher, m2.BIO_TYPE_CIPHER)):
        bio = m2.bio_new(method())
        assert m2.bio_method_type(bio) == kind
        m2.bio_free(bio)


def test_bio_new_mem_data_copies():
    data = bytearray(b"original")
    bio = m2.bio_new_mem_data(data)
    data[:] = b"changed!"
    assert m2.bio_read(bio, 100) == b"original"
    m2.bio_free(bio)


def test_mem_eof_return_and_retry():
    bio = m2.bio_new(m2.bio_s_mem())
    assert m2.bio_read(bio, 10) is None
    assert m2.bio_should_retry(bio)  # an empty memory BIO asks to retry by default
    m2.bio_set_mem_eof_return(bio, 0)
    assert m2.bio_read(bio, 10) is None
    assert not m2.bio_should_retry(bio)
    m2.bio_free(bio)


def test_bio_gets_on_cipher_bio_unsupported():
    bio = m2.bio_new(m2.bio_f_cipher())
    with pytest.raises((NotImplementedError, ValueError)):
        m2.bio_gets(bio, 100)
    m2.bio_free(bio)


def test_bio_fd_and_pipe():
    r, w = os.pipe()
    try:
        wb = m2.bio_new_fd(w, m2.bio_noclose)
        assert m2.bio_write(wb, b"through a pipe") == 14
        m2.bio_free(wb)
        rb = m2.bio_new_fd(r, m2.bio_noclose)
        assert m2.bio_read(rb, 100) == b"through a pipe"
        assert m2.bio_get_fd(rb) == r
        m2.bio_free(rb)
    finally:
        os.close(r)
        os.close(w)
