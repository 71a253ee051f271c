"""Faults that need no mail server: a refused port and a tarpit (accepts TCP, never says a word).

Real sockets on loopback; every case must end with a clear verdict within the session's budget.
"""

from __future__ import annotations

import socket
import time

import pytest

from mailtop.health.access import LoginSpec, Verdict, check_login


@pytest.mark.parametrize(
    ("protocol", "failing_step"),
    [("imap", "greeting"), ("imaps", "tls"), ("pop3", "greeting"), ("pop3s", "tls")],
)
def test_tarpit_gives_timeout_within_budget(tarpit, protocol, failing_step):
    budget = 0.8
    t0 = time.monotonic()
    r = check_login(LoginSpec(protocol, "127.0.0.1", tarpit, "alice", insecure=True, timeout=budget), "pw")
    elapsed = time.monotonic() - t0
    assert r.verdict is Verdict.TIMEOUT
    assert r.failed_step.name == failing_step
    assert r.step("connect").verdict is Verdict.OK
    assert all(s.verdict is Verdict.SKIPPED for s in r.steps[[s.name for s in r.steps].index(failing_step) + 1:])
    assert elapsed < budget + 0.5


@pytest.mark.parametrize("protocol", ["imap", "imaps", "pop3", "pop3s"])
def test_refused_port(closed_port, protocol):
    t0 = time.monotonic()
    r = check_login(LoginSpec(protocol, "127.0.0.1", closed_port, "alice", timeout=5), "pw")
    assert r.verdict is Verdict.REFUSED and r.failed_step.name == "connect"
    assert "refused" in r.failed_step.detail
    assert time.monotonic() - t0 < 1.0


def test_server_that_hangs_up_at_once():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    import threading

    def hang_up():
        conn, _ = srv.accept()
        conn.close()

    t = threading.Thread(target=hang_up, daemon=True)
    t.start()
    try:
        r = check_login(LoginSpec("pop3", "127.0.0.1", port, "alice", timeout=2), "pw")
    finally:
        t.join(2)
        srv.close()
    assert r.verdict is Verdict.PROTOCOL_ERROR and r.failed_step.name == "greeting"


def _unreadable_certificate(tmp_path):
    """A key and a certificate made by openssl, with one digit of notAfter replaced by a letter: OpenSSL still
    loads it and completes a handshake with it (a client that does not verify does not look at the dates),
    mailtop's DER reader cannot read that time."""
    import ssl
    import subprocess

    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "30", "-subj", "/CN=mail.lab.test"],
                   check=True, capture_output=True, timeout=60)
    der = bytearray(ssl.PEM_cert_to_DER_cert(crt.read_text()))
    not_before = der.index(b"\x17\x0d")  # UTCTime, 13 bytes: YYMMDDHHMMSSZ
    not_after = der.index(b"\x17\x0d", not_before + 2)
    der[not_after + 2 + 11] = ord("X")  # the last digit of the seconds
    bad = tmp_path / "bad.pem"
    bad.write_text(ssl.DER_cert_to_PEM_cert(bytes(der)))
    return bad, key


@pytest.mark.parametrize(("protocol", "greeting"), [("imaps", b"* OK ready\r\n"), ("pop3s", b"+OK ready\r\n")])
def test_unreadable_server_certificate_is_a_tls_step_verdict(tmp_path, protocol, greeting):
    """A certificate mailtop cannot read ends the session at the tls step with a verdict saying so; before, the
    DerError escaped check_login (the dashboard crashed, `mailtop login imaps` ended in a traceback)."""
    import ssl
    import threading

    crt, key = _unreadable_certificate(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    handshakes = []

    def serve():
        try:
            conn, _ = srv.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                handshakes.append(tls.version())
                tls.settimeout(10)
                tls.sendall(greeting)
                tls.recv(100)  # until the client hangs up
        except OSError:
            return  # the client closed the connection first: that is this test's case, nothing to report

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = check_login(LoginSpec(protocol, "127.0.0.1", srv.getsockname()[1], "alice", insecure=True, timeout=5),
                        "pw")
    finally:
        t.join(10)
        srv.close()
    assert handshakes, "the TLS handshake with the test server did not complete"
    assert r.verdict is Verdict.TLS_FAILURE and r.failed_step.name == "tls"
    assert "certificate could not be read" in r.failed_step.detail and "bad certificate time" in r.failed_step.detail
    assert r.step("connect").verdict is Verdict.OK
    assert r.cert is None
    assert all(s.verdict is Verdict.SKIPPED for s in r.steps[2:])
