"""Unit tests for mailtop.health.access: verdicts, specs, text hygiene, passwords."""

from __future__ import annotations

import imaplib
import io
import poplib
import socket
import ssl

import pytest

from mailtop.health.access import (
    LoginResult,
    LoginSpec,
    PasswordError,
    Step,
    Verdict,
    _scrub,
    _text,
    classify,
    planned_steps,
)
from mailtop.health.access_command import render_text, resolve_password


@pytest.mark.parametrize(
    ("exc", "auth", "verdict"),
    [
        (ConnectionRefusedError(111, "Connection refused"), False, Verdict.REFUSED),
        (TimeoutError("timed out"), False, Verdict.TIMEOUT),
        (imaplib.IMAP4.abort("command: LOGIN => socket error: timed out"), True, Verdict.TIMEOUT),
        (imaplib.IMAP4.error("b'[AUTHENTICATIONFAILED] Authentication failed.'"), True, Verdict.AUTH_FAILED),
        (imaplib.IMAP4.error("SELECT command error: BAD"), False, Verdict.PROTOCOL_ERROR),
        (imaplib.IMAP4.abort("socket error: EOF"), False, Verdict.PROTOCOL_ERROR),
        (poplib.error_proto(b"-ERR [AUTH] Authentication failed."), True, Verdict.AUTH_FAILED),
        (socket.gaierror(-2, "Name or service not known"), False, Verdict.UNREACHABLE),
        (OSError(113, "No route to host"), False, Verdict.UNREACHABLE),
        (ConnectionResetError(104, "Connection reset by peer"), False, Verdict.PROTOCOL_ERROR),
        (EOFError(), False, Verdict.PROTOCOL_ERROR),
    ],
)
def test_classify(exc, auth, verdict):
    got, why = classify(exc, auth_step=auth)
    assert got is verdict
    assert why


def test_classify_tls_errors_give_a_hint():
    err = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    err.reason = "WRONG_VERSION_NUMBER"
    verdict, why = classify(err)
    assert verdict is Verdict.TLS_FAILURE and "plain-text port" in why
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    verdict, why = classify(cert)
    assert verdict is Verdict.TLS_FAILURE and "self-signed certificate" in why and "--insecure" in why


def test_spec_validation():
    with pytest.raises(ValueError, match="--starttls"):
        LoginSpec("imaps", "127.0.0.1", 993, "u", starttls=True)
    with pytest.raises(ValueError, match="protocol"):
        LoginSpec("smtp", "127.0.0.1", 25, "u")
    with pytest.raises(ValueError, match="port"):
        LoginSpec("imap", "127.0.0.1", 0, "u")
    with pytest.raises(ValueError, match="timeout"):
        LoginSpec("pop3", "127.0.0.1", 110, "u", timeout=0)


def test_planned_steps():
    assert planned_steps(LoginSpec("imap", "h", 143, "u")) == (
        "connect", "greeting", "capabilities", "login", "list", "select", "logout")
    assert planned_steps(LoginSpec("imap", "h", 143, "u", starttls=True))[3] == "starttls"
    assert planned_steps(LoginSpec("pop3s", "h", 995, "u"))[:3] == ("connect", "tls", "greeting")
    assert "stls" in planned_steps(LoginSpec("pop3", "h", 110, "u", starttls=True))


def test_scrub_removes_secret_and_control_characters():
    assert _scrub("NO [AUTH] bad pass s3cret\r\n\x1b[31mred", "s3cret") == "NO [AUTH] bad pass *** [31mred"
    assert len(_scrub("x" * 1000, "")) == 300
    assert _text("b'[AUTHENTICATIONFAILED] Authentication failed.'") == "[AUTHENTICATIONFAILED] Authentication failed."
    assert _text([b"OK", None, "done"]) == "OK done"


def _result(steps):
    return LoginResult(spec=LoginSpec("pop3", "127.0.0.1", 110, "bob"), steps=tuple(steps),
                       started="2026-01-01T00:00:00.000+00:00", seconds=0.5)


def test_result_verdict_and_json():
    r = _result([Step("connect", Verdict.OK, 0.001), Step("pass", Verdict.AUTH_FAILED, 0.4, "-ERR [AUTH]"),
                 Step("stat", Verdict.SKIPPED, 0.0)])
    assert not r.ok and r.verdict is Verdict.AUTH_FAILED and r.failed_step.name == "pass"
    d = r.to_dict()
    assert d["verdict"] == "authentication failed" and d["steps"][1]["verdict"] == "authentication failed"
    out = io.StringIO()
    render_text(r, out)
    assert "FAILED at pass: authentication failed" in out.getvalue()


def test_password_sources(tmp_path):
    env = {"PW": "from-env", "PROBE_PW": "probe-env"}
    assert resolve_password(env_var="PW", file=None, environ=env, prompt="") == "from-env"
    with pytest.raises(PasswordError, match="NOPE"):
        resolve_password(env_var="NOPE", file=None, environ=env, prompt="")
    f = tmp_path / "pw"
    f.write_text("from-file\nsecond line ignored\n")
    f.chmod(0o644)
    warn = io.StringIO()
    assert resolve_password(env_var=None, file=f, environ=env, prompt="", warn=warn) == "from-file"
    assert "chmod 600" in warn.getvalue() and "from-file" not in warn.getvalue()
    assert resolve_password(env_var=None, file=None, environ=env, prompt="", fallback_env="PROBE_PW") == "probe-env"
    assert resolve_password(env_var=None, file=None, environ=env, prompt="", fallback_env="PROBE_PW",
                            fallback_file=f) == "from-file"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(PasswordError, match="empty"):
        resolve_password(env_var=None, file=empty, environ=env, prompt="")
    with pytest.raises(PasswordError, match="does not exist"):
        resolve_password(env_var=None, file=tmp_path / "missing", environ=env, prompt="")


def test_command_modules_are_cheap_to_import():
    import subprocess
    import sys

    code = ("import sys, mailtop.health.access_command, mailtop.health.probe_command; "
            "print(sorted(m for m in ('imaplib', 'poplib', 'imapclient', 'aiosmtplib', 'textual', 'asyncio') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "[]"
