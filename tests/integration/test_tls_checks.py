"""TLS check against the lab's Postfix and Dovecot, and against faults: a wrong certificate (made with
openssl here and served by a real TLS listener), a tarpit, a refused port, a server without STARTTLS."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import subprocess
import threading
import time

import pytest

from mailtop.checks import run_checks
from mailtop.model import Status

FAST = 0.5


def with_(cfg, **sections):
    return dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()})


@pytest.fixture(scope="module")
def wrong_cert(tmp_path_factory):
    """A self-signed certificate for another name, 3 days from expiry."""
    tmp = tmp_path_factory.mktemp("wrongcert")
    key, crt = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "3", "-subj", "/CN=wrong.example", "-addext", "subjectAltName=DNS:wrong.example"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@pytest.fixture
def imaps_with_wrong_cert(wrong_cert):
    """An implicit-TLS listener that greets like IMAP with the wrong certificate."""
    crt, key = wrong_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"* OK wrong-cert test server ready\r\n")
                    tls.recv(100)
            except (OSError, ssl.SSLError):
                conn.close()  # the client may drop the handshake on purpose; next connection

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


async def test_lab_tls_endpoints_are_ok_with_the_self_signed_certificate_allowed(lab, lab_config):
    run = await run_checks(lab_config, only="tls")
    by = {f.id: f for f in run.findings}
    assert set(by) == {"tls.smtp", "tls.submission", "tls.imaps", "tls.pop3s"}
    for f in by.values():
        assert f.status is Status.OK, f
        assert f.data["self_signed"] is True and f.data["trusted"] is False
        assert f.data["protocol"] in ("TLSv1.2", "TLSv1.3")
        assert "127.0.0.1" in f.data["names"]
        assert f.data["days_left"] > 21
    assert by["tls.imaps"].data["port"] == lab["ports"]["imaps"]


async def test_self_signed_is_critical_where_the_config_does_not_allow_it(lab_config):
    cfg = with_(lab_config, imap={"allow_self_signed": False}, smtp={"allow_self_signed": False})
    run = await run_checks(cfg, only="tls.imaps,tls.submission,tls.pop3s")
    by = {f.id: f for f in run.findings}
    for fid in ("tls.imaps", "tls.submission"):
        assert by[fid].status is Status.CRITICAL
        assert "not trusted" in by[fid].summary and "self-signed" in by[fid].summary
    assert by["tls.pop3s"].status is Status.OK  # [pop3] still allows it


async def test_name_mismatch_is_critical_except_on_port_25(lab_config):
    cfg = with_(lab_config, imap={"tls_name": "imap.elsewhere.test"}, smtp={"tls_name": "mx.elsewhere.test"})
    run = await run_checks(cfg, only="tls.imaps,tls.smtp")
    by = {f.id: f for f in run.findings}
    assert by["tls.imaps"].status is Status.CRITICAL
    assert "does not match imap.elsewhere.test" in by["tls.imaps"].summary
    assert by["tls.smtp"].status is Status.WARNING


async def test_expiry_thresholds_come_from_config(lab_config):
    days = 10_000
    cfg = with_(lab_config, thresholds={"cert_warn_days": days, "cert_crit_days": 7})
    (f,) = (await run_checks(cfg, only="tls.pop3s")).findings
    assert f.status is Status.WARNING and "expires in" in f.summary
    cfg = with_(lab_config, thresholds={"cert_warn_days": days, "cert_crit_days": days})
    (f,) = (await run_checks(cfg, only="tls.pop3s")).findings
    assert f.status is Status.CRITICAL


async def test_a_wrong_certificate_is_critical_with_every_reason(lab_config, imaps_with_wrong_cert):
    cfg = with_(lab_config, imap={"tls_port": imaps_with_wrong_cert, "allow_self_signed": False},
                general={"timeout": 2.0})
    (f,) = (await run_checks(cfg, only="tls.imaps")).findings
    assert f.status is Status.CRITICAL
    assert "certificate expires in 3.0 days" in f.summary or "certificate expires in 2.9 days" in f.summary
    assert "does not match 127.0.0.1 (it names wrong.example)" in f.summary
    assert "not trusted" in f.summary
    assert f.data["names"] == ["wrong.example"]


async def test_the_open_relay_instance_offers_no_starttls(lab, lab_config):
    cfg = with_(lab_config, smtp={"port": lab["ports"]["open_relay"]})
    (f,) = (await run_checks(cfg, only="tls.smtp")).findings
    assert f.status is Status.CRITICAL
    assert f.summary.endswith("the server does not offer STARTTLS")


@pytest.mark.parametrize("service,section,key", [("smtp", "smtp", "port"), ("imaps", "imap", "tls_port")])
async def test_a_tarpit_is_critical_within_the_timeout(lab_config, tarpit, service, section, key):
    cfg = with_(lab_config, general={"timeout": FAST}, **{section: {key: tarpit}})
    t0 = time.perf_counter()
    (f,) = (await run_checks(cfg, only=f"tls.{service}")).findings
    assert time.perf_counter() - t0 < FAST + 2  # the timeout is honoured (a generous margin)
    assert f.status is Status.CRITICAL
    expected = "no SMTP greeting" if service == "smtp" else "TLS handshake did not complete"
    assert expected in f.summary and "timed out after 0.5 s" in f.summary


async def test_a_refused_port_is_critical(lab_config, closed_port):
    cfg = with_(lab_config, general={"timeout": FAST}, pop3={"tls_port": closed_port})
    (f,) = (await run_checks(cfg, only="tls.pop3s")).findings
    assert f.status is Status.CRITICAL
    assert "no connection: Connection refused" in f.summary
