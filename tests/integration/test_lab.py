"""The bundled lab does what its contract says, against the real daemons (services/lab up first)."""

from __future__ import annotations

import imaplib
import json
import os
import poplib
import smtplib
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "services" / "lab"


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _send(lab, frm: str, to: str, subject: str, port_key: str = "smtp") -> None:
    with smtplib.SMTP("127.0.0.1", lab["ports"][port_key], local_hostname="tests.lab.test", timeout=10) as s:
        s.sendmail(frm, [to], f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n")


def _wait(predicate, timeout: float = 15.0, step: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _maildir_has(maildir: Path, needle: str) -> Path | None:
    for sub in ("new", "cur"):
        d = maildir / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            try:
                if needle.encode() in f.read_bytes():
                    return f
            except FileNotFoundError:  # Dovecot moved it from new/ to cur/ meanwhile
                continue
    return None


def test_status_reports_every_service_up(lab):
    out = subprocess.run([sys.executable, str(LAB), "status"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, MAILTOP_LAB_DIR=lab["state_dir"]))
    assert out.returncode == 0, out.stdout + out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert names == ["nsd", "dovecot", "postfix", "postfix-open"]
    assert all(" up " in line + " " for line in out.stdout.splitlines())


def test_up_twice_is_a_no_op(lab):
    out = subprocess.run([sys.executable, str(LAB), "up"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MAILTOP_LAB_DIR=lab["state_dir"]))
    assert out.returncode == 0, out.stderr
    assert "already up" in out.stdout


def test_a_taken_port_is_named_with_its_holder(lab, tmp_path):
    # A second lab in another state folder wants the same ports: it must refuse, naming port and holder.
    out = subprocess.run([sys.executable, str(LAB), "up"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MAILTOP_LAB_DIR=str(tmp_path / "second")))
    assert out.returncode == 1
    assert f"port {lab['ports']['dns']} (dns) is already in use by nsd" in out.stderr


def test_smtp_to_alice_lands_in_her_maildir(lab):
    token = uuid.uuid4().hex
    _send(lab, "tester@client.example", "alice@lab.test", f"lab-test {token}")
    maildir = Path(lab["users"]["alice"]["maildir"])
    assert _wait(lambda: _maildir_has(maildir, token)), f"no message with {token} in {maildir}"


def test_non_local_mail_is_deferred_with_its_reason(lab):
    token = uuid.uuid4().hex[:12]
    rcpt = f"user-{token}@example.com"
    _send(lab, "tester@client.example", rcpt, f"defer {token}")

    def deferred():
        out = subprocess.run(["postqueue", "-c", lab["postfix"]["config_dir"], "-j"], capture_output=True,
                             text=True, timeout=30, check=True)
        for line in out.stdout.splitlines():
            rec = json.loads(line)
            for r in rec["recipients"]:
                if r["address"] == rcpt and rec["queue_name"] == "deferred":
                    return r
        return None

    rec = _wait(deferred, timeout=20)
    assert rec, f"{rcpt} never showed in the deferred queue"
    assert f":{lab['ports']['dead_relay']}: Connection refused" in rec["delay_reason"]


@pytest.mark.parametrize(("port_key", "expect"), [("smtp", 554), ("open_relay", 250)])
def test_relay_from_outside_address(lab, port_key, expect):
    """127.0.0.2 is outside mynetworks of the safe instance; the open instance relays for anyone."""
    s = smtplib.SMTP(local_hostname="outside.example", timeout=10, source_address=(lab["outside_client"], 0))
    try:
        s.connect("127.0.0.1", lab["ports"][port_key])
        s.ehlo("outside.example")
        code, _ = s.mail("spammer@outside.example")
        assert code == 250
        code, msg = s.rcpt("victim@example.com")
        assert code == expect, msg
        assert s.rset()[0] == 250  # never DATA
    finally:
        s.quit()


@pytest.mark.parametrize("mode", ["imap", "imaps"])
def test_imap_login(lab, mode):
    pw = lab["users"]["alice"]["password"]
    port = lab["ports"][mode]
    make = (lambda: imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=_tls(), timeout=10)) if mode == "imaps" \
        else (lambda: imaplib.IMAP4("127.0.0.1", port, timeout=10))
    im = make()
    typ, _ = im.login("alice", pw)
    assert typ == "OK"
    typ, data = im.select("INBOX")
    assert typ == "OK" and int(data[0]) >= 1
    im.logout()
    im = make()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED|Authentication failed"):
        im.login("alice", "wrong-" + pw)
    im.logout()


@pytest.mark.parametrize("mode", ["pop3", "pop3s"])
def test_pop3_login(lab, mode):
    pw = lab["users"]["bob"]["password"]
    port = lab["ports"][mode]
    make = (lambda: poplib.POP3_SSL("127.0.0.1", port, context=_tls(), timeout=10)) if mode == "pop3s" \
        else (lambda: poplib.POP3("127.0.0.1", port, timeout=10))
    p = make()
    p.user("bob")
    assert p.pass_(pw).startswith(b"+OK")
    count, _size = p.stat()
    assert count >= 1
    p.quit()
    p = make()
    p.user("bob")
    with pytest.raises(poplib.error_proto, match="Authentication failed"):
        p.pass_("wrong-" + pw)
    p.quit()


def _dns(lab, name: str, rdtype: str):
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, "127.0.0.1", port=lab["dns"]["port"], timeout=3)


@pytest.mark.parametrize(
    ("name", "rdtype", "expect"),
    [
        ("lab.test", "MX", "10 mail.lab.test."),
        ("lab.test", "MX", "20 mx2.lab.test."),
        ("mail.lab.test", "A", "127.0.0.1"),
        ("lab.test", "TXT", "v=spf1 mx ip4:127.0.0.1 -all"),
        ("lab2026._domainkey.lab.test", "TXT", "v=DKIM1; k=rsa; p=MIIB"),
        ("_dmarc.lab.test", "TXT", "v=DMARC1; p=quarantine"),
        ("_smtp._tls.lab.test", "TXT", "v=TLSRPTv1"),
        ("1.0.0.127.in-addr.arpa", "PTR", "mail.lab.test."),
        ("2.0.0.127.dnsbl.test", "A", "127.0.0.2"),
    ],
)
def test_dns_records_answer(lab, name, rdtype, expect):
    resp = _dns(lab, name, rdtype)
    assert resp.rcode() == 0
    texts = [rd.to_text().replace('" "', "").replace('"', "") for rr in resp.answer for rd in rr]
    assert any(expect in t for t in texts), texts


def test_dns_unlisted_address_is_nxdomain(lab):
    resp = _dns(lab, "9.0.0.127.dnsbl.test", "A")
    assert resp.rcode() == 3  # NXDOMAIN: not listed


def test_echo_responder_replies_into_the_senders_mailbox(lab):
    token = uuid.uuid4().hex
    _send(lab, f"probe+{token}@lab.test", "echo@lab.test", f"probe {token}")
    maildir = Path(lab["users"]["probe"]["maildir"])
    reply = _wait(lambda: _maildir_has(maildir, f"Re: probe {token}"), timeout=20)
    assert reply, "no reply from echo@lab.test"
    text = reply.read_text(errors="replace")
    assert "Auto-Submitted: auto-replied" in text
    assert "Return-Path: <>" in text  # null envelope sender: it can never loop
    assert f"Subject: probe {token}" in text  # the original headers are in the body


def test_echo_responder_copes_with_folded_headers(lab):
    token = uuid.uuid4().hex
    frm = f"probe+{token}@lab.test"
    subject = f"folded {token} with a subject long enough\r\n that the sender folded it"
    with smtplib.SMTP("127.0.0.1", lab["ports"]["smtp"], local_hostname="tests.lab.test", timeout=10) as s:
        s.sendmail(frm, ["echo@lab.test"],
                   f"From: {frm}\r\nTo: echo@lab.test\r\nSubject: {subject}\r\n"
                   f"Message-ID:\r\n <{token}@tests.lab.test>\r\n\r\nbody\r\n")
    maildir = Path(lab["users"]["probe"]["maildir"])
    reply = _wait(lambda: _maildir_has(maildir, f"Re: folded {token} with"), timeout=20)
    assert reply, "no reply to a message with folded headers"
    assert f"In-Reply-To: <{token}@tests.lab.test>" in reply.read_text(errors="replace")


def test_lab_files_with_secrets_are_private(lab):
    state = Path(lab["state_dir"])
    for path in (state / "lab.json", state / "probe.password", Path(lab["tls"]["key"])):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_quota_usage_shows_in_maildirsize_and_doveadm(lab):
    maildirsize = Path(lab["users"]["carol"]["maildir"]) / "maildirsize"
    lines = maildirsize.read_text().splitlines()
    assert lines[0] == f"{lab['users']['carol']['quota_kib'] * 1024}S"
    used = sum(int(line.split()[0]) for line in lines[1:])
    assert used > 0.9 * lab["users"]["carol"]["quota_kib"] * 1024  # carol is close to full
    out = subprocess.run(["doveadm", "-c", lab["dovecot"]["config"], "-f", "json", "quota", "get", "-u", "carol"],
                         capture_output=True, text=True, timeout=30, check=True)
    rows = {r["type"]: r for r in json.loads(out.stdout)}
    assert int(rows["STORAGE"]["limit"]) == lab["users"]["carol"]["quota_kib"]
    assert int(rows["STORAGE"]["percent"]) >= 90
