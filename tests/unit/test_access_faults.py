"""Faults that need no mail server: a refused port and a tarpit (accepts TCP, never says a word).

Real sockets on loopback; every case must end with a clear verdict within the session's budget.
"""

from __future__ import annotations

import contextlib
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
    assert elapsed < budget + 2  # the budget is honoured (a generous margin, not a speed test)


@pytest.mark.parametrize("protocol", ["imap", "imaps", "pop3", "pop3s"])
def test_refused_port(closed_port, protocol):
    r = check_login(LoginSpec(protocol, "127.0.0.1", closed_port, "alice", timeout=5), "pw")
    # REFUSED at connect (not TIMEOUT) is the proof that it did not wait for the budget
    assert r.verdict is Verdict.REFUSED and r.failed_step.name == "connect"
    assert "refused" in r.failed_step.detail


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



def _openssl_certificate(tmp_path, subject: str = "/CN=mail.lab.test", *extra: str):
    """A key and a self-signed certificate made by openssl (``-utf8``: the subject may hold any character)."""
    import subprocess

    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "30", "-utf8", "-subj", subject, *extra],
                   check=True, capture_output=True, timeout=60)
    return crt, key


def _unreadable_certificate(tmp_path):
    """An openssl certificate with one digit of notAfter replaced by a letter: OpenSSL still loads it and
    completes a handshake with it (a client that does not verify does not look at the dates), mailtop's DER
    reader cannot read that time."""
    import ssl

    crt, key = _openssl_certificate(tmp_path)
    der = bytearray(ssl.PEM_cert_to_DER_cert(crt.read_text()))
    not_before = der.index(b"\x17\x0d")  # UTCTime, 13 bytes: YYMMDDHHMMSSZ
    not_after = der.index(b"\x17\x0d", not_before + 2)
    der[not_after + 2 + 11] = ord("X")  # the last digit of the seconds
    bad = tmp_path / "bad.pem"
    bad.write_text(ssl.DER_cert_to_PEM_cert(bytes(der)))
    return bad, key


@contextlib.contextmanager
def _tls_server(crt, key, greeting: bytes):
    """A real TLS server on loopback for one connection: handshake, ``greeting``, then wait for the client to
    hang up. Yields (port, list that gets the TLS version once the handshake completed)."""
    import ssl
    import threading

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    handshakes: list[str] = []

    def serve():
        try:
            conn, _ = srv.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                handshakes.append(tls.version() or "")
                tls.settimeout(10)
                tls.sendall(greeting)
                tls.recv(100)  # until the client hangs up
        except OSError:
            return  # the client closed the connection first: these tests' case, nothing to report

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1], handshakes
    finally:
        t.join(10)
        srv.close()


@pytest.mark.parametrize(("protocol", "greeting"), [("imaps", b"* OK ready\r\n"), ("pop3s", b"+OK ready\r\n")])
def test_unreadable_server_certificate_is_a_tls_step_verdict(tmp_path, protocol, greeting):
    """A certificate mailtop cannot read ends the session at the tls step with a verdict saying so; before, the
    DerError escaped check_login (the dashboard crashed, `mailtop login imaps` ended in a traceback)."""
    crt, key = _unreadable_certificate(tmp_path)
    with _tls_server(crt, key, greeting) as (port, handshakes):
        r = check_login(LoginSpec(protocol, "127.0.0.1", port, "alice", insecure=True, timeout=5), "pw")
    assert handshakes, "the TLS handshake with the test server did not complete"
    assert r.verdict is Verdict.TLS_FAILURE and r.failed_step.name == "tls"
    assert "certificate could not be read" in r.failed_step.detail and "bad certificate time" in r.failed_step.detail
    assert r.step("connect").verdict is Verdict.OK
    assert r.cert is None
    assert all(s.verdict is Verdict.SKIPPED for s in r.steps[2:])


HOSTILE = "evil\x1b[2J\u202eexe.txt"
"""An escape sequence that clears the screen and a right-to-left override (shows "exe.txt" as "txt.exe")."""


def test_login_text_output_escapes_the_servers_certificate_and_replies(tmp_path):
    """`mailtop login` text output: a certificate subject/issuer made by openssl with ESC and a bidi override,
    and a greeting with them, reach the terminal escaped. Before, the certificate names were printed raw."""
    import io

    from mailtop.health.access_command import render_text

    crt, key = _openssl_certificate(tmp_path, f"/CN={HOSTILE}/O=Lab",
                                    "-addext", "subjectAltName=DNS:evil\x1b[2J.lab.test,DNS:mail.lab.test")
    with _tls_server(crt, key, f"* OK {HOSTILE}\r\n".encode()) as (port, handshakes):
        r = check_login(LoginSpec("imaps", "127.0.0.1", port, "alice", insecure=True, timeout=5), "pw")
    assert handshakes
    assert r.cert is not None and HOSTILE in r.cert.subject  # the record keeps the data as it came
    out = io.StringIO()
    render_text(r, out)
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text
    assert "subject CN=evil\\x1b[2J\\u202eexe.txt, O=Lab" in text
    assert "issuer  CN=evil\\x1b[2J\\u202eexe.txt, O=Lab" in text
    assert "names   evil\\x1b[2J.lab.test, mail.lab.test" in text
