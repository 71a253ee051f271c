"""Login tests against the lab's Dovecot: all four ports, right and wrong passwords, TLS faults, the CLI.

Wrong-password logins connect from their own loopback address (127.0.0.9): Dovecot delays every login
from an address after a failed one (auth penalty, 2 s), and the right-password tests from 127.0.0.1
must not pay for it. The same wrong password every time keeps the penalty from growing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailtop.health.access import LoginSpec, Verdict, check_all, check_login

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
WRONG_SOURCE = "127.0.0.9"  # the CLI's wrong-password test uses 127.0.0.10
WRONG_PASSWORD = "not-the-password"
PROTOCOLS = ["imap", "imaps", "pop3", "pop3s"]


def _spec(lab, protocol, *, user="probe", starttls=False, insecure=True, timeout=10.0, port=None, source=""):
    return LoginSpec(protocol, "127.0.0.1", port or lab["ports"][protocol], user, starttls, insecure, timeout, source)


def _pw(lab, user="probe"):
    return lab["users"][user]["password"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_right_password_every_step_ok(lab, protocol):
    r = check_login(_spec(lab, protocol), _pw(lab))
    assert r.ok, [(s.name, str(s.verdict), s.detail) for s in r.steps]
    assert r.messages is not None and r.messages >= 1  # the lab seeds a welcome message
    assert "Dovecot (mailtop lab) ready." in r.greeting
    if protocol.endswith("s"):
        assert r.encrypted and r.cert is not None
        assert r.cert.self_signed and not r.cert.verified
        assert "CN=mail.lab.test" in r.cert.subject and "127.0.0.1" in r.cert.names
        assert r.cert.days_left > 30
    else:
        assert not r.encrypted and r.cert is None
    assert all(s.seconds < 5 for s in r.steps)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_starttls_upgrade(lab, protocol):
    r = check_login(_spec(lab, protocol, starttls=True, user="alice"), _pw(lab, "alice"))
    assert r.ok, [(s.name, str(s.verdict), s.detail) for s in r.steps]
    assert r.encrypted and r.cert is not None and r.cert.tls_version.startswith("TLS")
    assert r.step("starttls" if protocol == "imap" else "stls").verdict is Verdict.OK


def test_wrong_password_is_authentication_failed_on_all_four_ports(lab):
    # Run side by side: Dovecot's penalty delays each failed login from one address by seconds, in
    # parallel they pay it once.
    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(PROTOCOLS, pool.map(
            lambda proto: check_login(_spec(lab, proto, source=WRONG_SOURCE), WRONG_PASSWORD), PROTOCOLS), strict=True))
    for protocol, r in results.items():
        assert r.verdict is Verdict.AUTH_FAILED, (protocol, [(s.name, str(s.verdict), s.detail) for s in r.steps])
        assert r.failed_step.name == ("login" if protocol.startswith("imap") else "pass")
        assert "Authentication failed" in r.failed_step.detail
        assert all(s.verdict is Verdict.OK for s in r.steps[:r.steps.index(r.failed_step)])
        assert WRONG_PASSWORD not in json.dumps(r.to_dict())


@pytest.mark.parametrize(("protocol", "plain_port"), [("imaps", "imap"), ("pop3s", "pop3")])
def test_tls_to_a_plain_port(lab, protocol, plain_port):
    r = check_login(_spec(lab, protocol, port=lab["ports"][plain_port]), _pw(lab))
    assert r.verdict is Verdict.TLS_FAILURE and r.failed_step.name == "tls"
    assert "plain-text port" in r.failed_step.detail


@pytest.mark.parametrize("protocol", ["imaps", "pop3s"])
def test_self_signed_refused_without_insecure(lab, protocol):
    r = check_login(_spec(lab, protocol, insecure=False), _pw(lab))
    assert r.verdict is Verdict.TLS_FAILURE
    assert "self-signed" in r.failed_step.detail and "--insecure" in r.failed_step.detail


def test_plain_client_on_a_tls_port_times_out_within_budget(lab):
    t0 = time.monotonic()
    r = check_login(_spec(lab, "imap", port=lab["ports"]["imaps"], timeout=1.0), _pw(lab))
    assert r.verdict is Verdict.TIMEOUT and r.failed_step.name == "greeting"
    assert time.monotonic() - t0 < 1.0 + 2  # the 1 s budget is honoured (a generous margin)


def test_check_all_from_config(lab, lab_config):
    results = check_all(lab_config, "bob", _pw(lab, "bob"), timeout=10)
    assert [r.spec.protocol for r in results] == PROTOCOLS
    assert all(r.ok for r in results), [(r.spec.label, str(r.verdict)) for r in results]
    assert all(r.encrypted for r in results)  # plain ports are tested with STARTTLS/STLS


def _cli(lab, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILTOP_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mailtop", "--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "login", *args],
        capture_output=True, text=True, timeout=30, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
    )


def test_cli_json_right_password_from_env(lab):
    p = _cli(lab, "pop3s", "--user", "alice", "--password-env", "ALICE_PW", "--json",
             env_extra={"ALICE_PW": _pw(lab, "alice")})
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["ok"] and data["verdict"] == "ok" and data["cert"]["self_signed"]
    assert _pw(lab, "alice") not in p.stdout + p.stderr


def test_cli_text_wrong_password_from_file_exits_1(lab, tmp_path):
    f = tmp_path / "pw"
    f.write_text(WRONG_PASSWORD + "\n")
    f.chmod(0o600)
    p = _cli(lab, "imaps", "--user", "alice", "--password-file", str(f), "--source", "127.0.0.10")
    assert p.returncode == 1
    assert "FAILED at login: authentication failed" in p.stdout
    assert WRONG_PASSWORD not in p.stdout + p.stderr


def test_cli_defaults_to_the_probe_mailbox_and_its_password_file(lab):
    p = _cli(lab, "imap", "--starttls")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "as probe" in p.stdout and "result: OK" in p.stdout
    assert _pw(lab) not in p.stdout + p.stderr


def test_cli_refused_exits_1(lab):
    p = _cli(lab, "pop3", "--port", str(lab["ports"]["dead_relay"]), "--password-env", "X", env_extra={"X": "x"})
    assert p.returncode == 1 and "refused" in p.stdout


def test_access_findings_for_the_check_registry(lab_config):
    import asyncio

    from mailtop.health.access import access_findings
    from mailtop.model import Status

    findings = asyncio.run(access_findings(lab_config))
    assert [f.id for f in findings] == [f"access.{p}" for p in PROTOCOLS]
    assert all(f.status is Status.OK for f in findings), [(f.id, f.summary) for f in findings]
    assert all(any(m.label.endswith("_login") or m.label.endswith("_pass") for m in f.metrics) for f in findings)
