"""Unit tests for mailtop.health.probe: reply analysis on captured lab mail, header parsers, settings, history."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mailtop.config import Config, load_config
from mailtop.health.probe import (
    PRESETS,
    TOKEN_HEADER,
    ProbeResult,
    ProbeSettings,
    ProbeStatus,
    analyse_reply,
    append_history,
    build_probe,
    headers_in_text,
    parse_authentication_results,
    parse_received,
    plus_address,
    read_history,
    resolve_target,
    run_probe_sync,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "probe"


def test_echo_reply_captured_from_the_lab():
    raw = (DATA / "echo-reply.eml").read_bytes()
    info = analyse_reply(raw)
    assert not info["bounce"]
    assert info["reply_from"] == "Lab echo responder <echo@lab.test>"
    assert info["reply_subject"].startswith("Re: mailtop probe mt")
    # newest first: Dovecot's LMTP delivery, then Postfix receiving the responder's SMTP
    assert [h.protocol for h in info["reply_path"]] == ["LMTP", "ESMTP"]
    assert info["reply_path"][1].from_host == "echo.lab.test"
    # the probe's own path, echoed in the body: submitted with authentication (ESMTPSA)
    assert [h.protocol for h in info["probe_path"]] == ["ESMTPSA"]
    assert info["probe_path"][0].by_host == "mail.lab.test" and info["probe_path"][0].queue_id
    assert info["reply_auth"] == () and info["probe_auth"] == ()  # the lab signs and checks nothing


def test_reply_with_an_unknown_charset_is_read_as_utf8_and_says_so():
    # the captured echo reply, its text part relabelled with a charset Python does not know (remote input:
    # any responder can declare any charset); before, _body_text raised LookupError out of the probe
    raw = (DATA / "echo-reply.eml").read_bytes()
    relabelled = raw.replace(b'charset="utf-8"\r\nContent-Transfer-Encoding: 8bit',
                             b'charset="x-no-such-charset"\r\nContent-Transfer-Encoding: 8bit', 1)
    assert relabelled != raw
    info = analyse_reply(relabelled)
    assert [h.protocol for h in info["probe_path"]] == ["ESMTPSA"]  # the body was still read
    assert len(info["notes"]) == 1 and "unknown charset 'x-no-such-charset'" in info["notes"][0]
    assert analyse_reply(raw)["notes"] == ()
    result = ProbeResult(token="mt1", target="echo@lab.test", sender="probe+mt1@lab.test",
                         status=ProbeStatus.REPLIED, started="", total_seconds=1.0, timeout=10.0, round_trip=0.5,
                         **{k: v for k, v in info.items() if k not in ("bounce", "diagnostic")})
    assert list(result.to_dict()["notes"]) == list(info["notes"])


HOSTILE = "evil\x1b[2J\u202eexe.txt"
"""An escape sequence that clears the screen and a right-to-left override (shows "exe.txt" as "txt.exe")."""


def test_probe_text_output_escapes_what_the_reply_says():
    """`mailtop probe` text output: the reply's From, Subject, Received hops (its own and the echoed ones in
    the body) and the result's detail reach the terminal escaped. Before, they were printed raw."""
    import io

    from mailtop.health.probe_command import render_text

    raw = (DATA / "echo-reply.eml").read_bytes()
    esc = b"evil\x1b[2J"
    hostile = raw.replace(b"From: Lab echo responder", b"From: " + esc + b" responder", 1)
    hostile = hostile.replace(b"Subject: Re:", b"Subject: " + esc + b" Re:", 1)
    hostile = hostile.replace(b"Received: from echo.lab.test", b"Received: from " + esc + b".lab.test", 1)
    # the body is UTF-8: the echoed probe headers can carry the bidi override too
    hostile = hostile.replace(b"Received: from mailtop.lab.test", b"Received: from " + HOSTILE.encode() + b".lab.test", 1)
    assert hostile.count(esc) == 4
    info = analyse_reply(hostile)
    info.pop("bounce"), info.pop("diagnostic")
    r = ProbeResult(token="mt1", target="echo@lab.test", sender="probe+mt1@lab.test", status=ProbeStatus.REPLIED,
                    started="", total_seconds=1.0, timeout=10.0, round_trip=0.5, detail=f"server said {HOSTILE}",
                    **info)
    assert HOSTILE in r.probe_path[0].from_host  # the record keeps the data as it came
    out = io.StringIO()
    render_text(r, out)
    text = out.getvalue()
    assert "\x1b" not in text and "\u202e" not in text
    shown = "evil\\x1b[2J"
    assert f"reply        {shown} responder <echo@lab.test> | {shown} Re: mailtop probe" in text
    assert f"{shown}\\u202eexe.txt.lab.test -> mail.lab.test with ESMTPSA" in text  # the echoed probe path
    assert f"{shown}.lab.test -> mail.lab.test with ESMTP" in text  # the reply's own path
    assert f"status       replied: server said {shown}\\u202eexe.txt" in text


def test_bounce_captured_from_the_lab():
    info = analyse_reply((DATA / "bounce-ghost.eml").read_bytes())
    assert info["bounce"]
    assert "550 5.1.1" in info["diagnostic"] and "User doesn't exist" in info["diagnostic"]
    assert info["reply_from"].startswith("Mail Delivery System")
    assert info["probe_path"] and info["probe_path"][0].protocol == "ESMTPSA"


# RFC 8601 Appendix B examples (B.3, B.4 and B.6), written out as the RFC prints them.
RFC8601_B3 = "example.com; spf=pass smtp.mailfrom=example.net"
RFC8601_B4 = """example.com;
          auth=pass (cram-md5) smtp.auth=sender@example.net;
          spf=pass smtp.mailfrom=example.net"""
RFC8601_B6 = """mail-router.example.net;
          dkim=pass (good signature) header.d=newyork.example.com
                header.b=oINEO8hg;
          dkim=fail (bad signature) header.d=newyork.example.com
                header.b=EToRSuvU"""


def test_authentication_results_rfc8601_examples():
    (spf,) = parse_authentication_results(RFC8601_B3)
    assert (spf.authserv_id, spf.method, spf.result) == ("example.com", "spf", "pass")
    assert spf.properties == "smtp.mailfrom=example.net"
    auth, spf = parse_authentication_results(RFC8601_B4)
    assert (auth.method, auth.result, spf.method) == ("auth", "pass", "spf")
    assert "cram-md5" not in auth.properties  # comments are dropped
    d1, d2 = parse_authentication_results(RFC8601_B6)
    assert (d1.result, d2.result) == ("pass", "fail") and d1.authserv_id == "mail-router.example.net"
    assert parse_authentication_results("example.org 1; none") == ()


def test_result_prefers_the_responders_verdict():
    from mailtop.health.probe import AuthVerdict

    r = ProbeResult("t", "a@b.c", "s@b.c", ProbeStatus.REPLIED, "2026-01-01T00:00:00+00:00", 1.0, 30.0,
                    reply_auth=(AuthVerdict("here", "spf", "none"), AuthVerdict("here", "dkim", "pass")),
                    probe_auth=(AuthVerdict("there", "spf", "pass"),))
    assert r.verdict("spf") == "pass" and r.verdict("dkim") == "pass" and r.verdict("dmarc") == ""
    d = r.to_dict()
    assert d["status"] == "replied" and d["spf"] == "pass" and json.dumps(d)


def test_parse_received_folded():
    hop = parse_received("from mailtop.lab.test (unknown [127.0.0.1])\n\tby mail.lab.test (Postfix) with ESMTPSA"
                         " id 087B051422D\n\tfor <echo@lab.test>; Wed, 25 Nov 2026 18:13:24 +0000 (UTC)")
    assert (hop.from_host, hop.by_host, hop.protocol, hop.queue_id) == (
        "mailtop.lab.test", "mail.lab.test", "ESMTPSA", "087B051422D")
    assert hop.date.startswith("Wed, 25 Nov 2026")
    assert parse_received("by mail.lab.test (Postfix) id 758545142B7; Wed, 25 Nov 2026").from_host == ""


def test_headers_in_text_handles_continuations():
    text = "Intro line: no, this has spaces before\n\nReceived: from a\n  by b with SMTP\nSubject: x\n\nbody"
    got = dict(headers_in_text(text))
    assert got["Received"] == "from a by b with SMTP" and got["Subject"] == "x"


def test_targets_and_presets():
    assert resolve_target("lab") == "echo@lab.test"
    assert resolve_target("port25") == "check-auth@verifier.port25.com"
    assert resolve_target(" bob@lab.test ") == "bob@lab.test"
    with pytest.raises(ValueError, match="presets"):
        resolve_target("not an address")
    lecture = {"sa-test@sendmail.net", "check-auth@verifier.port25.com", "autorespond+dkim@dk.elandsys.com",
               "test@dkimtest.jason.long.name", "dktest@exhalus.net", "dkim-test@altn.com", "dktest@blackops.org"}
    assert {p.address for p in PRESETS if p.public} == lecture
    assert [p.address for p in PRESETS if not p.public] == ["echo@lab.test"]


def test_plus_addressing_and_probe_message():
    assert plus_address("probe@lab.test", "mt1") == "probe+mt1@lab.test"
    assert plus_address("probe+old@lab.test", "mt2") == "probe+mt2@lab.test"
    s = _settings(Path("/nonexistent"))
    msg = build_probe(s, "mtabc", "probe+mtabc@lab.test")
    assert msg[TOKEN_HEADER] == "mtabc" and "mtabc" in msg["Subject"] and msg["Message-ID"] == "<mtabc@lab.test>"
    assert msg["To"] == "echo@lab.test"


def _settings(state_dir, **kw):
    base = ProbeSettings(target="echo@lab.test", sender="probe@lab.test", submit_host="127.0.0.1",
                         submit_port=2587, submit_mode="submission", submit_user="probe", helo_name="t.lab.test",
                         smtp_insecure=True, imap_host="127.0.0.1", imap_port=1993, imap_implicit_tls=True,
                         imap_insecure=True, mailbox_user="probe", timeout=5.0, state_dir=state_dir)
    return replace(base, **kw)


def test_settings_from_config(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text(f'[general]\nstate_dir = "{tmp_path}"\n[smtp]\nport = 2525\nsubmission_port = 2587\n'
                    '[imap]\nport = 1143\ntls_port = 0\n[probe]\nsender = "probe@lab.test"\nmailbox_user = "probe"\n'
                    'target = "lab"\nsubmit_via = "smtp"\ntimeout = 9\n')
    cfg = load_config(toml, environ={}, detect=False)
    s = ProbeSettings.from_config(cfg)
    assert (s.target, s.submit_port, s.submit_mode, s.imap_port, s.imap_implicit_tls, s.timeout) == (
        "echo@lab.test", 2525, "smtp", 1143, False, 9.0)
    assert ProbeSettings.from_config(cfg, target="port25", timeout=3).target == "check-auth@verifier.port25.com"
    with pytest.raises(ValueError, match="probe"):
        ProbeSettings.from_config(Config())  # built-in defaults: no probe mailbox configured


def test_history_round_trip(tmp_path):
    r = ProbeResult("mt1", "echo@lab.test", "p+mt1@lab.test", ProbeStatus.REPLIED, "2026-01-01T00:00:00+00:00",
                    0.8, 30.0, submit_seconds=0.05, round_trip=0.61234)
    path = append_history(tmp_path / "state", r)
    append_history(tmp_path / "state", replace(r, token="mt2", status=ProbeStatus.TIMEOUT, round_trip=None))
    with path.open("a") as fh:
        fh.write("garbage\n{\"unexpected\": 1}\n")
    append_history(tmp_path / "state", replace(r, token="mt3", target="other@lab.test"))
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    entries = read_history(tmp_path / "state")
    assert [e.token for e in entries] == ["mt1", "mt2", "mt3"]
    assert entries[0].round_trip == 0.6123 and entries[1].round_trip is None and entries[1].status == "timeout"
    assert [e.token for e in read_history(tmp_path / "state", limit=1)] == ["mt3"]
    assert [e.token for e in read_history(tmp_path / "state", target="echo@lab.test")] == ["mt1", "mt2"]
    assert read_history(tmp_path / "missing") == ()


def test_mailbox_refused_ends_the_probe_at_once(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    seen = []
    r = run_probe_sync(_settings(tmp_path, imap_port=port), "pw", seen.append)
    assert r.status is ProbeStatus.MAILBOX_FAILED and "refused" in r.detail
    assert [e.phase for e in seen] == ["mailbox", "done"]
    assert read_history(tmp_path)[-1].status == "mailbox failed"


def test_mailbox_tarpit_ends_within_the_timeout(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    try:
        t0 = time.monotonic()
        r = run_probe_sync(_settings(tmp_path, imap_port=srv.getsockname()[1], timeout=1.0), "pw", record=False)
    finally:
        srv.close()
    assert r.status is ProbeStatus.MAILBOX_FAILED and "timeout" in r.detail
    assert time.monotonic() - t0 < 1.0 + 2  # the 1 s timeout is honoured (a generous margin)
    assert read_history(tmp_path) == ()


class _PlainImapWithoutStarttls:
    """An IMAP server on loopback that offers no STARTTLS (plain port, no TLS at all) and records every byte the
    client sends: the probe's mailbox step against the case the lab's Dovecot never gives (it always offers
    STARTTLS). It answers CAPABILITY, refuses LOGIN (NO) and says BYE to LOGOUT."""

    def __init__(self) -> None:
        import threading

        self.received = b""
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.srv.settimeout(10)
        self.port = self.srv.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return  # the test ended without a client
        with conn:
            conn.settimeout(10)
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE] plain test server ready\r\n")
            buf = b""
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                self.received += data
                buf += data
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    tag, _, rest = line.partition(b" ")
                    command = rest.split(b" ", 1)[0].upper()
                    if command == b"CAPABILITY":
                        conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\n" + tag + b" OK done\r\n")
                    elif command == b"LOGOUT":
                        conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                        return
                    else:
                        conn.sendall(tag + b" NO [AUTHENTICATIONFAILED] not here\r\n")

    def close(self) -> None:
        self.srv.close()
        self.thread.join(10)


@pytest.mark.parametrize("allowed", [False, True])
def test_probe_refuses_a_clear_text_mailbox_login_unless_allowed(tmp_path, allowed):
    """[imap] tls_port = 0 and no STARTTLS offered: the probe refuses to send the password in clear (as its SMTP
    side does), unless [probe] allow_plaintext_login. Before, it logged in in clear text."""
    server = _PlainImapWithoutStarttls()
    try:
        settings = _settings(tmp_path, imap_port=server.port, imap_implicit_tls=False, imap_plaintext_ok=allowed)
        r = run_probe_sync(settings, "s3cret-pw", record=False)
    finally:
        server.close()
    assert r.status is ProbeStatus.MAILBOX_FAILED
    if allowed:
        assert b"LOGIN" in server.received.upper() and b"s3cret-pw" in server.received
        assert "authentication failed" in r.detail
    else:
        assert b"LOGIN" not in server.received.upper() and b"s3cret-pw" not in server.received
        assert "offers no STARTTLS" in r.detail and "refusing to send the probe mailbox's password" in r.detail
        assert "allow_plaintext_login" in r.detail


def test_allow_plaintext_login_comes_from_the_probe_section(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('[imap]\ntls_port = 0\n[probe]\nsender = "probe@lab.test"\nmailbox_user = "probe"\n')
    assert ProbeSettings.from_config(load_config(toml, environ={}, detect=False)).imap_plaintext_ok is False
    toml.write_text(toml.read_text() + "allow_plaintext_login = true\n")
    assert ProbeSettings.from_config(load_config(toml, environ={}, detect=False)).imap_plaintext_ok is True
