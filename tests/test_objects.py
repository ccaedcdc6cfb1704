"""The m2.obj_* functions, against OIDs from their RFCs and `openssl asn1parse`."""

import pytest

from M2Sec import ASN1, m2

# (dotted OID, short name, long name), from RFC 5280 / RFC 8017 / RFC 5480
KNOWN = [
    ("2.5.4.3", "CN", "commonName"),
    ("2.5.4.6", "C", "countryName"),
    ("2.5.4.10", "O", "organizationName"),
    ("1.2.840.113549.1.1.1", "rsaEncryption", "rsaEncryption"),
    ("1.2.840.113549.1.1.11", "RSA-SHA256", "sha256WithRSAEncryption"),
    ("2.16.840.1.101.3.4.2.1", "SHA256", "sha256"),
    ("1.2.840.10045.2.1", "id-ecPublicKey", "id-ecPublicKey"),
    ("2.5.29.17", "subjectAltName", "X509v3 Subject Alternative Name"),
    ("1.3.101.112", "ED25519", "ED25519"),
]


@pytest.mark.parametrize("oid, sn, ln", KNOWN)
def test_names_and_nids_agree(oid, sn, ln):
    nid = m2.obj_txt2nid(oid)
    assert nid > 0
    assert m2.obj_sn2nid(sn) == nid
    assert m2.obj_ln2nid(ln) == nid
    assert m2.obj_txt2nid(sn) == nid and m2.obj_txt2nid(ln) == nid
    assert m2.obj_nid2sn(nid) == sn
    assert m2.obj_nid2ln(nid) == ln


@pytest.mark.parametrize("oid, sn, ln", KNOWN)
def test_txt2obj_obj2txt(oid, sn, ln):
    o = m2.obj_txt2obj(oid, 1)
    assert m2.obj_obj2txt(o, 1) == oid.encode()
    assert m2.obj_obj2txt(o, 0) == ln.encode()
    assert m2.obj_obj2nid(o) == m2.obj_txt2nid(oid)
    m2.asn1_object_free(o)
    o = m2.obj_txt2obj(sn, 0)
    assert m2.obj_obj2txt(o, 1) == oid.encode()
    m2.asn1_object_free(o)


@pytest.mark.parametrize("oid, sn, ln", KNOWN[:4])
def test_long_name_matches_openssl_asn1parse(openssl, oid, sn, ln):
    out = openssl(["asn1parse", "-genstr", "OID:" + oid]).stdout.decode()
    assert out.rstrip().endswith(":" + ln)


def test_unregistered_oid_keeps_dotted_form():
    oid = "1.3.6.1.4.1.99999.1.2.3"
    o = m2.obj_txt2obj(oid, 1)
    assert m2.obj_obj2nid(o) == 0  # NID_undef
    assert m2.obj_obj2txt(o, 0) == oid.encode()
    m2.asn1_object_free(o)


def test_long_oid_text():
    oid = "1.3.6.1.4.1." + ".".join(str(1000 + i) for i in range(40))  # > 128 characters
    o = m2.obj_txt2obj(oid, 1)
    assert m2.obj_obj2txt(o, 1) == oid.encode()
    m2.asn1_object_free(o)


@pytest.mark.parametrize("bad", ["", "no-such-name", "1.2.x", "999.1", "1"])
def test_txt2obj_invalid(bad):
    with pytest.raises(ASN1.ASN1Error):
        m2.obj_txt2obj(bad, 0)


def test_txt2obj_no_name_refuses_names():
    with pytest.raises(ASN1.ASN1Error):
        m2.obj_txt2obj("commonName", 1)


@pytest.mark.parametrize("bad", ["", "no-such-name", "1.2.3..4"])
def test_unknown_names_give_nid_undef(bad):
    assert m2.obj_txt2nid(bad) == 0
    assert m2.obj_sn2nid(bad) == 0
    assert m2.obj_ln2nid(bad) == 0


def test_nid2sn_unknown_is_none():
    assert m2.obj_nid2sn(10 ** 6) is None
    assert m2.obj_nid2ln(-1) is None


@pytest.mark.parametrize("fn", [m2.obj_txt2nid, m2.obj_sn2nid, m2.obj_ln2nid])
@pytest.mark.parametrize("bad", [None, b"CN", 13])
def test_wrong_types(fn, bad):
    with pytest.raises(TypeError):
        fn(bad)


def test_txt2obj_none_raises():
    with pytest.raises(TypeError):
        m2.obj_txt2obj(None, 0)


def test_obj_cmp_dup_and_nid2obj():
    a = m2.obj_txt2obj("2.5.4.3", 1)
    b = m2.obj_dup(a)
    c = m2.obj_txt2obj("2.5.4.6", 1)
    assert m2.obj_cmp(a, b) == 0
    assert m2.obj_cmp(a, c) != 0
    n = m2.obj_nid2obj(13)
    assert m2.obj_obj2txt(n, 1) == b"2.5.4.3"
    for o in (a, b, c):
        m2.asn1_object_free(o)


def test_obj_create():
    nid = m2.obj_create("1.3.6.1.4.1.55555.7.1", "m2secTestObj", "M2Sec test object")
    assert nid > 0
    assert m2.obj_sn2nid("m2secTestObj") == nid
    assert m2.obj_txt2nid("1.3.6.1.4.1.55555.7.1") == nid
    assert m2.obj_nid2ln(nid) == "M2Sec test object"
    with pytest.raises(ASN1.ASN1Error):
        m2.obj_create("not an oid", "x1", "y1")


def test_null_object():
    with pytest.raises(ValueError):
        m2.obj_obj2txt(None, 0)
    with pytest.raises(ValueError):
        m2.obj_obj2nid(None)
