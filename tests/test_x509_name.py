"""M2Sec.X509.X509_Name and the m2.x509_name_* functions."""

import pytest

from M2Sec import ASN1, Err, X509, m2


def _name(**fields):
    n = X509.X509_Name()
    for k, v in fields.items():
        setattr(n, k, v)
    return n


def test_attributes_round_trip():
    n = _name(C="US", O="Example Org", CN="test.example")
    assert n.C == "US" and n.O == "Example Org" and n.CN == "test.example"
    assert n.OU is None
    assert len(n) == 3 and n.entry_count() == 3
    assert str(n) == "/C=US/O=Example Org/CN=test.example"
    n.close()


def test_unicode_value():
    n = _name(CN="Zürich ☃")
    assert n.CN == "Zürich ☃"
    assert n.as_text(flags=m2.XN_FLAG_RFC2253 & ~m2.ASN1_STRFLGS_ESC_MSB) == "CN=Zürich ☃"
    n.close()


def test_unknown_attribute():
    n = X509.X509_Name()
    with pytest.raises(AttributeError):
        n.NotAField  # noqa: B018
    n.close()


def test_as_text_flags():
    n = _name(C="DE", CN="a,b")
    assert n.as_text() == "C=DE, CN=a,b"
    assert n.as_text(flags=m2.XN_FLAG_RFC2253) == "CN=a\\,b,C=DE"
    n.close()


def test_entries_and_objects():
    n = _name(O="One", CN="first")
    n.add_entry_by_txt("CN", ASN1.MBSTRING_ASC, "second")
    entries = n.get_entries_by_nid(X509.X509_Name.nid["CN"])
    assert [bytes(e.get_data()) for e in entries] == [b"first", b"second"]
    assert entries[0].get_object().as_text(1) == "2.5.4.3"
    assert [e.get_object().nid() for e in n] == [17, 13, 13]  # O, CN, CN
    with pytest.raises(IndexError):
        n[3]
    with pytest.raises(IndexError):
        m2.x509_name_get_entry(n._ptr(), -1)
    n.close()


def test_add_entry_by_txt_len_and_bytes():
    n = X509.X509_Name()
    n.add_entry_by_txt("O", ASN1.MBSTRING_ASC, b"truncated value", len=9)
    assert n.O == "truncated"
    n.close()


@pytest.mark.parametrize("field", ["noSuchField", ""])
def test_add_entry_unknown_field(field):
    n = X509.X509_Name()
    with pytest.raises(X509.X509Error):
        n.add_entry_by_txt(field, ASN1.MBSTRING_ASC, "x")
    assert len(n) == 0
    n.close()


def test_add_entry_wrong_types():
    n = X509.X509_Name()
    with pytest.raises(TypeError):
        m2.x509_name_add_entry_by_txt(n._ptr(), None, ASN1.MBSTRING_ASC, b"x", -1, 0)
    with pytest.raises(TypeError):
        m2.x509_name_add_entry_by_txt(n._ptr(), "CN", ASN1.MBSTRING_ASC, "str", -1, 0)
    with pytest.raises(TypeError):
        n.CN = 5
    n.close()


def test_country_must_be_two_letters():
    n = X509.X509_Name()
    with pytest.raises(X509.X509Error):
        n.add_entry_by_txt("C", ASN1.MBSTRING_ASC, "USA")
    n.close()


def test_entry_outlives_name():
    n = _name(CN="kept")
    e = n[0]
    del n  # the entry holds its name alive
    import gc
    gc.collect()
    assert bytes(e.get_data()) == b"kept"


def test_freed_name():
    n = _name(CN="x")
    n.close()
    with pytest.raises(Err.ClosedError):
        str(n)
    with pytest.raises(Err.ClosedError):
        n.CN  # noqa: B018
    with pytest.raises(Err.ClosedError):
        len(n)
    with pytest.raises(Err.ClosedError):
        n.as_der()


def test_null_pointers():
    with pytest.raises(ValueError):
        m2.x509_name_oneline(None)
    with pytest.raises(ValueError):
        m2.x509_name_entry_count(None)


def test_der_hash_and_text_match_openssl(openssl, tmp):
    subj = "/C=US/ST=CA/O=M2Sec Test/OU=Unit/CN=www.example.com"
    key, crt = tmp / "k.pem", tmp / "c.pem"
    openssl(["req", "-x509", "-newkey", "ed25519", "-nodes", "-subj", subj, "-days", "1",
             "-keyout", str(key), "-out", str(crt)])
    out = openssl(["x509", "-in", str(crt), "-noout", "-subject_hash", "-subject",
                   "-nameopt", "compat"]).stdout.decode().splitlines()
    n = _name(C="US", ST="CA", O="M2Sec Test", OU="Unit", CN="www.example.com")
    assert "%08x" % n.as_hash() == out[0]
    assert "subject=" + str(n) == out[1]
    oneline = openssl(["x509", "-in", str(crt), "-noout", "-subject", "-nameopt", "oneline"]).stdout.decode()
    assert oneline.strip() == "subject=" + n.as_text(flags=m2.XN_FLAG_ONELINE)
    # the DER encoding parses back with openssl as a SEQUENCE of 5 SETs
    der = tmp / "name.der"
    der.write_bytes(n.as_der())
    parsed = openssl(["asn1parse", "-inform", "DER", "-in", str(der)]).stdout.decode()
    assert parsed.count("SET") == 5 and "www.example.com" in parsed
    n.close()


def test_name_cmp_and_dup():
    a, b = _name(CN="same"), _name(CN="same")
    c = _name(CN="other")
    assert m2.x509_name_cmp(a._ptr(), b._ptr()) == 0
    assert m2.x509_name_cmp(a._ptr(), c._ptr()) != 0
    d = X509.X509_Name(m2.x509_name_dup(a._ptr()), 1)
    a.close()
    assert d.CN == "same"
    for x in (b, c, d):
        x.close()
