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
