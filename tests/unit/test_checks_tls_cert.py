"""The TLS check's certificate reader and its judgement, on certificates made by openssl in the test."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
from pathlib import Path

import pytest

from mailtop.health.tls import CertificateError, TlsState, name_matches, parse_certificate, tls_finding
from mailtop.model import Status


def make_cert(tmp: Path, cn: str, days: int, san: str | None) -> bytes:
    key, crt = tmp / f"{cn}.key", tmp / f"{cn}.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
            "-days", str(days), "-subj", f"/CN={cn}/O=mailtop test"]
    if san:
        argv += ["-addext", f"subjectAltName={san}"]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return ssl.PEM_cert_to_DER_cert(crt.read_text())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("certs")
    return {
        "lab": make_cert(tmp, "mail.lab.test", 400, "DNS:mail.lab.test,DNS:localhost,IP:127.0.0.1"),
        "wild": make_cert(tmp, "wild", 30, "DNS:*.example.org"),
        "plain": make_cert(tmp, "old.example.net", 5, None),
    }


def test_reads_names_validity_and_self_signed(certs):
    c = parse_certificate(certs["lab"])
    assert c.subject_cn == "mail.lab.test" and c.issuer_cn == "mail.lab.test"
    assert c.dns_names == ("mail.lab.test", "localhost")
    assert c.ip_addresses == ("127.0.0.1",)
    assert c.self_issued
    now = dt.datetime.now(dt.UTC)
    assert 399 < c.days_left(now) <= 400
    assert c.not_before <= now


def test_name_matching_follows_rfc_6125(certs):
    lab = parse_certificate(certs["lab"])
    assert name_matches(lab, "127.0.0.1")
    assert name_matches(lab, "MAIL.lab.test.")
    assert not name_matches(lab, "127.0.0.2")
    assert not name_matches(lab, "lab.test")
    wild = parse_certificate(certs["wild"])
    assert name_matches(wild, "mx.example.org")
    assert not name_matches(wild, "example.org")
    assert not name_matches(wild, "a.b.example.org")
    plain = parse_certificate(certs["plain"])  # no SAN: the CN counts
    assert name_matches(plain, "old.example.net")
    assert not name_matches(plain, "new.example.net")


def test_garbage_is_a_certificate_error(certs):
    with pytest.raises(CertificateError):
        parse_certificate(b"\x30\x82\x01")
    with pytest.raises(CertificateError):
        parse_certificate(certs["lab"][:200])


def _state(cert, **kw):
    base = dict(service="imaps", host="127.0.0.1", port=993, name="127.0.0.1", phase="done", protocol="TLSv1.3",
                cipher="TLS_AES_256_GCM_SHA384", trusted=False, verify_error="self-signed certificate",
                verify_code=18, cert=cert, seconds=0.01, timeout=5)
    base.update(kw)
    return TlsState(**base)


def test_judgement_self_signed_allowed_or_not(certs):
    lab = parse_certificate(certs["lab"])
    ok = tls_finding(_state(lab), allow_self_signed=True, warn_days=21, crit_days=7)
    assert ok.status is Status.OK and "self-signed, allowed" in ok.summary
    assert ok.metrics[0].label == "tls.imaps.cert_days" and ok.metrics[0].warn == 21
    bad = tls_finding(_state(lab), allow_self_signed=False, warn_days=21, crit_days=7)
    assert bad.status is Status.CRITICAL and "not trusted: self-signed certificate" in bad.summary


def test_judgement_expiry_and_names(certs):
    plain = parse_certificate(certs["plain"])  # 5 days left, names old.example.net only
    f = tls_finding(_state(plain), allow_self_signed=True, warn_days=21, crit_days=7)
    assert f.status is Status.CRITICAL
    assert "expires in" in f.summary and "does not match 127.0.0.1" in f.summary
    lab = parse_certificate(certs["lab"])
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=390)  # 10 days before the end
    w = tls_finding(_state(lab), True, 21, 7, now=soon)
    assert w.status is Status.WARNING and "expires in 10 days" in w.summary
    gone = dt.datetime.now(dt.UTC) + dt.timedelta(days=500)
    assert "expired" in tls_finding(_state(lab), True, 21, 7, now=gone).summary
    # port 25: a name mismatch is a warning (sending MTAs rarely check names)
    smtp = tls_finding(_state(lab, service="smtp", name="mx.other.test"), True, 21, 7)
    assert smtp.status is Status.WARNING and "does not match mx.other.test" in smtp.summary


def test_judgement_of_a_failed_connection():
    f = tls_finding(TlsState("submission", "127.0.0.1", 587, "127.0.0.1", phase="nostarttls",
                             error="the server does not offer STARTTLS"), True, 21, 7)
    assert f.status is Status.CRITICAL
    assert f.summary == "submission 127.0.0.1:587: the server does not offer STARTTLS"
    assert "smtpd_tls_security_level" in f.hint
    old = tls_finding(_state(None), True, 21, 7)
    assert old.status is Status.CRITICAL
