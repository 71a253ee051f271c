"""mailtop.health.x509: the DER/X.509 reader shared by the TLS check, the login test and the DKIM check.

On the certificate Dovecot presents in the lab (tests/data/access, with what OpenSSL reads from it), on
certificates made by openssl here, and on malformed input: every failure is one error class, DerError.
"""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
from pathlib import Path

import pytest

from mailtop.health.x509 import (
    OID,
    OID_CN,
    OID_RSA,
    OID_SAN,
    SEQUENCE,
    Certificate,
    DerError,
    children,
    oid_text,
    parse_certificate,
    read_element,
    read_tlv,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "access"
OPENSSL_TIME = "%b %d %H:%M:%S %Y GMT"


@pytest.fixture(scope="module")
def lab_der() -> bytes:
    return ssl.PEM_cert_to_DER_cert((DATA / "lab-imaps-cert.pem").read_text())


def _openssl_reference() -> dict[str, str]:
    ref: dict[str, str] = {}
    lines = (DATA / "lab-imaps-cert.openssl.txt").read_text().splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith(" "):
            k, _, v = line.partition("=")
            ref[k] = v
        if line.startswith("X509v3 Subject Alternative Name"):
            ref["san"] = lines[i + 1].strip()
    return ref


def test_lab_certificate_agrees_with_openssl(lab_der):
    got = parse_certificate(lab_der)
    ref = _openssl_reference()
    # openssl -nameopt RFC2253 prints the RDNs last-first
    assert got.subject == ", ".join(reversed(ref["subject"].split(",")))
    assert got.issuer == ", ".join(reversed(ref["issuer"].split(",")))
    assert got.not_before == dt.datetime.strptime(ref["notBefore"], OPENSSL_TIME).replace(tzinfo=dt.UTC)
    assert got.not_after == dt.datetime.strptime(ref["notAfter"], OPENSSL_TIME).replace(tzinfo=dt.UTC)
    want_names = [n.split(":", 1)[1] for n in ref["san"].split(", ")]
    assert list(got.san) == want_names


def test_lab_certificate_fields(lab_der):
    c = parse_certificate(lab_der)
    assert isinstance(c, Certificate)
    assert c.subject_cn == "mail.lab.test" and c.issuer_cn == "mail.lab.test"
    assert c.dns_names == ("mail.lab.test", "localhost")
    assert c.ip_addresses == ("127.0.0.1",)
    assert c.self_issued
    assert c.names() == ["mail.lab.test", "localhost", "127.0.0.1"]
    assert c.days_left(c.not_after - dt.timedelta(days=2)) == pytest.approx(2.0)


def _openssl_cert(tmp: Path, subj: str, days: int, *extra: str) -> tuple[bytes, dict[str, str]]:
    key, crt = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", str(days), "-subj", subj, *extra], check=True, capture_output=True, timeout=60)
    out = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-startdate", "-enddate"],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return ssl.PEM_cert_to_DER_cert(crt.read_text()), dict(line.split("=", 1) for line in out.splitlines())


def test_generalized_time_and_no_san(tmp_path):
    # valid past 2049: notAfter is a GeneralizedTime (notBefore stays a UTCTime)
    der, ref = _openssl_cert(tmp_path, "/CN=far.example.net/O=mailtop test", 10000)
    c = parse_certificate(der)
    assert c.not_after.year > 2050
    assert c.not_after == dt.datetime.strptime(ref["notAfter"], OPENSSL_TIME).replace(tzinfo=dt.UTC)
    assert c.not_before == dt.datetime.strptime(ref["notBefore"], OPENSSL_TIME).replace(tzinfo=dt.UTC)
    assert c.san == () and c.names() == ["far.example.net"]
    assert c.subject == "CN=far.example.net, O=mailtop test"


def test_utf8_names_and_ipv6_san(tmp_path):
    der, _ = _openssl_cert(tmp_path, "/CN=müller.example/O=Grüße", 30, "-utf8",
                           "-addext", "subjectAltName=DNS:xn--mller-kva.example,IP:::1")
    c = parse_certificate(der)
    assert c.subject_cn == "müller.example"
    assert c.subject == "CN=müller.example, O=Grüße"
    assert c.dns_names == ("xn--mller-kva.example",) and c.ip_addresses == ("::1",)


def test_oids():
    assert oid_text(bytes.fromhex("550403")) == OID_CN == "2.5.4.3"
    assert oid_text(bytes.fromhex("551d11")) == OID_SAN
    assert oid_text(bytes.fromhex("2a864886f70d010101")) == OID_RSA
    assert oid_text(bytes.fromhex("883703")) == "2.999.3"  # X.690's example: first arcs above 2.39
    assert oid_text(b"") == ""
    with pytest.raises(DerError):
        oid_text(bytes.fromhex("2a86"))  # the last byte has the continuation bit


def test_tlv_reading():
    data = bytes.fromhex("3007 0603 550403 0500") + b"rest"
    assert read_tlv(data) == (SEQUENCE, 2, 9)
    assert children(data, 2, 9) == [(OID, 4, 7), (0x05, 9, 9)]
    assert read_element(data, 2) == (OID, bytes.fromhex("550403"), 7)
    long_form = b"\x04\x81\x80" + bytes(128)
    assert read_tlv(long_form) == (0x04, 3, 131)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",  # no length
        b"\x30\x05\x02\x01",  # shorter than its length
        b"\x30\x80\x00\x00",  # indefinite length (BER, not DER)
        b"\x30\x85\x01\x00\x00\x00\x00",  # a length of 5 bytes
        b"\x30\x82\x01",  # long-form length cut short
        b"\x02\x01\x00",  # not a SEQUENCE
        b"\x30\x03\x02\x01\x00",  # a SEQUENCE with no TBSCertificate in it
        b"\x30\x05\x30\x03\x02\x01\x00",  # a TBSCertificate with too few fields
        b"\x30\x04\x30\x02\x02\x05",  # an inner element longer than its container
    ],
)
def test_malformed_input_is_a_der_error(data):
    with pytest.raises(DerError):
        parse_certificate(data)


def test_every_truncation_of_the_lab_certificate_is_a_der_error(lab_der):
    for n in range(len(lab_der)):
        with pytest.raises(DerError):
            parse_certificate(lab_der[:n])


def test_corrupted_bytes_give_a_der_error_or_a_certificate(lab_der):
    """Flipping any one byte either still reads or raises DerError: never IndexError, UnicodeError..."""
    errors = 0
    for i in range(len(lab_der)):
        bad = lab_der[:i] + bytes([lab_der[i] ^ 0xFF]) + lab_der[i + 1 :]
        try:
            parse_certificate(bad)
        except DerError:
            errors += 1
    assert errors > 0  # the structural bytes (tags, lengths) do break it


def test_bad_time_is_a_der_error(lab_der):
    c_start = lab_der.index(b"\x17\x0d")  # notBefore, a UTCTime of 13 characters
    bad = lab_der[: c_start + 2] + b"2613" + lab_der[c_start + 6 :]  # month 13
    with pytest.raises(DerError, match="bad certificate time"):
        parse_certificate(bad)
