"""X509's typed extension helpers (SKI, AKI, basic constraints, key usage, EKU, SAN, AIA, CRL
distribution points, name and policy constraints): what OpenSSL prints and enforces, what
M2Sec reads back, and bad input."""

import ipaddress
import subprocess

import pytest

from M2Sec import X509, m2

from pki_helpers import Chain, build_cert, new_key, openssl

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def chain():
    return Chain("EC", leaf_exts=[
        X509.subject_alt_name(X509.GeneralName.uri("https://leaf.example/"), dns=["leaf.example", "bücher.example"],
                              ip=["192.0.2.7", "2001:db8::7"], email=["ops@leaf.example"]),
        X509.extended_key_usage("serverAuth", "1.3.6.1.5.5.7.3.2"),
        X509.authority_info_access(ocsp=["http://127.0.0.1:8888/ocsp"], ca_issuers=["http://127.0.0.1:8888/inter.der"]),
        X509.crl_distribution_points("http://127.0.0.1:8888/inter.crl",
                                     ["http://a.example/1.crl", X509.GeneralName.uri("ldap://b.example/cn=x")]),
    ])


def _text(cert):
    return openssl("x509", "-noout", "-text", input=cert.as_pem()).decode()


def test_openssl_prints_them(chain):
    text = _text(chain.leaf)
    assert "DNS:leaf.example, DNS:xn--bcher-kva.example, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:7" in text
    assert "email:ops@leaf.example" in text and "URI:https://leaf.example/" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "OCSP - URI:http://127.0.0.1:8888/ocsp" in text and "CA Issuers - URI:http://127.0.0.1:8888/inter.der" in text
    assert "URI:http://127.0.0.1:8888/inter.crl" in text and "URI:ldap://b.example/cn=x" in text
    assert "X509v3 Basic Constraints: critical\n                CA:FALSE" in text
    assert "X509v3 Key Usage: critical\n                Digital Signature" in text
    inter = _text(chain.inter)
    assert "CA:TRUE, pathlen:0" in inter and "Certificate Sign, CRL Sign" in inter


def test_read_back(chain):
    leaf, inter, root = chain.leaf, chain.inter, chain.root
    assert leaf.get_ocsp_urls() == ["http://127.0.0.1:8888/ocsp"]
    assert leaf.get_ca_issuers_urls() == ["http://127.0.0.1:8888/inter.der"]
    assert leaf.get_crl_urls() == ["http://127.0.0.1:8888/inter.crl", "http://a.example/1.crl", "ldap://b.example/cn=x"]
    assert root.get_ocsp_urls() == [] and root.get_crl_urls() == [] and root.get_authority_key_id() is None
    # SKI is the RFC 5280 method-1 hash of the key; AKI names the issuer's SKI
    assert len(inter.get_subject_key_id()) == 20
    assert leaf.get_authority_key_id() == inter.get_subject_key_id()
    assert inter.get_authority_key_id() == root.get_subject_key_id()
    assert leaf.get_subject_key_id() is None
    assert (m2.GEN_IPADD, ipaddress.ip_address("2001:db8::7").packed) in leaf.get_subject_alt_names()
    assert leaf.check_host("bücher.example") and leaf.check_ip("192.0.2.7")
    assert leaf.check_ca() == 0 and inter.check_ca() == 1
    assert leaf.check_purpose(m2.X509_PURPOSE_SSL_SERVER, 0) and leaf.check_purpose(m2.X509_PURPOSE_SSL_CLIENT, 0)
    # the openssl command agrees on the identifiers
    ski = openssl("x509", "-noout", "-ext", "subjectKeyIdentifier", input=inter.as_pem()).decode()
    assert inter.get_subject_key_id().hex(":").upper() in ski


def test_chain_verifies(chain):
    assert len(X509.verify_chain(chain.leaf, [chain.root], [chain.inter], purpose=m2.X509_PURPOSE_SSL_SERVER)) == 3


def _write(tmp_path, **certs):
    paths = {}
    for name, cert in certs.items():
        paths[name] = str(tmp_path / (name + ".pem"))
        cert.save(paths[name])
    return paths


def test_name_constraints_enforced(tmp_path):
    root_key, ca_key = new_key("EC"), new_key("EC")
    root = build_cert("NC Root", root_key, None, root_key, 1,
                      [X509.basic_constraints(True), X509.key_usage(key_cert_sign=True, crl_sign=True),
                       X509.subject_key_identifier(root_key)])
    ca = build_cert("NC CA", ca_key, root, root_key, 2,
                    [X509.basic_constraints(True), X509.key_usage(key_cert_sign=True),
                     X509.subject_key_identifier(ca_key), X509.authority_key_identifier(root),
                     X509.name_constraints(permitted=[X509.GeneralName.dns("good.example"), X509.GeneralName.ip("10.0.0.0/8")],
                                           excluded=[X509.GeneralName.dns("bad.good.example")]),
                     X509.policy_constraints(require_explicit_policy=2, inhibit_policy_mapping=1)])
    text = _text(ca)
    assert "X509v3 Name Constraints: critical" in text and "DNS:good.example" in text
    assert "IP:10.0.0.0/255.0.0.0" in text and "DNS:bad.good.example" in text
    assert "X509v3 Policy Constraints: critical" in text
    assert "Require Explicit Policy:2" in text and "Inhibit Policy Mapping:1" in text

    def leaf(name, serial, **san):
        return build_cert(name, new_key("EC"), ca, ca_key, serial,
                          [X509.basic_constraints(False), X509.subject_alt_name(**san)])

    ok = leaf("www.good.example", 10, dns=["www.good.example"], ip=["10.1.2.3"])
    outside = leaf("www.evil.example", 11, dns=["www.evil.example"])
    excluded = leaf("x.bad.good.example", 12, dns=["x.bad.good.example"])
    bad_ip = leaf("www.good.example", 13, dns=["www.good.example"], ip=["192.0.2.1"])
    p = _write(tmp_path, root=root, ca=ca, ok=ok, outside=outside, excluded=excluded, bad_ip=bad_ip)
    openssl("verify", "-CAfile", p["root"], "-untrusted", p["ca"], p["ok"])
    assert len(X509.verify_chain(ok, [root], [ca])) == 3
    for name, cert in (("outside", outside), ("excluded", excluded), ("bad_ip", bad_ip)):
        r = subprocess.run(["openssl", "verify", "-CAfile", p["root"], "-untrusted", p["ca"], p[name]],
                           capture_output=True, timeout=60)
        assert r.returncode != 0 and b"subtree" in r.stdout + r.stderr, name
        with pytest.raises(X509.X509VerificationError) as exc:
            X509.verify_chain(cert, [root], [ca])
        expected = X509.X509_V_ERR_EXCLUDED_VIOLATION if name == "excluded" else X509.X509_V_ERR_PERMITTED_VIOLATION
        assert exc.value.verify_code == expected and exc.value.depth == 0


def test_criticality_and_basic_forms():
    assert X509.basic_constraints(True).get_critical() == 1
    assert X509.basic_constraints(False, critical=False).get_critical() == 0
    assert X509.name_constraints(permitted=["example.com"]).get_critical() == 1
    assert X509.policy_constraints(inhibit_policy_mapping=0).get_critical() == 1
    assert X509.subject_alt_name(dns=["a.example"]).get_critical() == 0
    assert X509.subject_alt_name(dns=["a.example"], critical=True).get_critical() == 1
    assert X509.key_usage(digital_signature=True, critical=False).get_critical() == 0
    assert X509.key_usage(key_agreement=True, encipher_only=True).get_value() == "Key Agreement, Encipher Only"
    assert X509.extended_key_usage("OCSPSigning").get_value() == "OCSP Signing"
    assert X509.authority_key_identifier(new_key("ED25519")).get_name() == "authorityKeyIdentifier"
    assert X509.subject_key_identifier(new_key("RSA")).get_name() == "subjectKeyIdentifier"
    assert X509.subject_alt_name(X509.GeneralName.directory(X509.X509_Name()), X509.GeneralName.registered_id("1.2.3.4"))


def test_no_injection_through_values():
    # commas and prefixes in a value stay in the value: one name each, never two
    ext = X509.subject_alt_name(dns=["a.example, DNS:evil.example"])
    cert = build_cert("x", new_key("EC"), None, new_key("EC"), 1, [ext])
    assert cert.get_subject_alt_names() == [(m2.GEN_DNS, b"a.example, DNS:evil.example")]
    assert not cert.check_host("evil.example")
    aia = X509.authority_info_access(ocsp=["http://x/,caIssuers;URI:http://evil/"])
    cert = build_cert("x", new_key("EC"), None, new_key("EC"), 1, [aia])
    assert cert.get_ocsp_urls() == ["http://x/,caIssuers;URI:http://evil/"] and cert.get_ca_issuers_urls() == []


def test_bad_input():
    G = X509.GeneralName
    for bad in (lambda: G.dns("a\x00b"), lambda: G.dns(""), lambda: G.email("bü@example.com"),
                lambda: G.ip("300.1.1.1"), lambda: G.ip("10.0.0.0/33"), lambda: G.uri(""),
                lambda: G.registered_id("not an oid"),
                lambda: X509.basic_constraints(False, 1), lambda: X509.basic_constraints(True, -1),
                lambda: X509.key_usage(), lambda: X509.key_usage(encipher_only=True),
                lambda: X509.extended_key_usage(), lambda: X509.extended_key_usage("serverAuth,critical"),
                lambda: X509.extended_key_usage("serverAuth\x00"), lambda: X509.subject_alt_name(),
                lambda: X509.authority_info_access(), lambda: X509.crl_distribution_points(),
                lambda: X509.crl_distribution_points([]), lambda: X509.name_constraints(),
                lambda: X509.policy_constraints(), lambda: X509.policy_constraints(require_explicit_policy=-1)):
        with pytest.raises(ValueError):
            bad()
    for bad in (lambda: G.dns(b"bytes"), lambda: G.ip(1234), lambda: G.directory("CN=x"),
                lambda: X509.key_usage(sign_everything=True), lambda: X509.subject_alt_name(dns=[b"x"]),
                lambda: X509.subject_key_identifier("key"), lambda: X509.authority_key_identifier(None),
                lambda: X509.name_constraints(permitted=[("dns", b"x")])):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(X509.X509Error):
        X509.subject_alt_name(G(m2.GEN_DIRNAME, b"\x30\x05garbage"))
    with pytest.raises(ValueError):
        X509.subject_alt_name(G(m2.GEN_IPADD, b"\x01\x02\x03"))
    with pytest.raises(ValueError):
        X509.subject_alt_name(G(99, b"x"))
