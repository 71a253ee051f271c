"""Deterministic data for snapshot tests and screenshots: recorded lab captures and fixed records."""

from __future__ import annotations

from pathlib import Path

from mailtop.checks import CheckResult, CheckRun
from mailtop.config import Config, load_config
from mailtop.health.quota import FsUsage, QuotaSnapshot, UserQuota
from mailtop.logs.monitor import LogBatch
from mailtop.logs.parse import LineParser
from mailtop.logs.stats import LogStats
from mailtop.model import Finding, Status
from mailtop.mta.postfix import entry_from_record, parse_json_record, summarize_json_lines
from mailtop.mta.records import Snapshot as QueueSnapshot
from mailtop.tui.collect import Source

DATA = Path(__file__).resolve().parent.parent / "data"


def snapshot_config() -> Config:
    return load_config(None, environ={}, detect=False, flags={
        "general": {"hostname": "mail.lab.test", "audit_log": "/nonexistent/audit.log",
                    "state_dir": str(DATA / "tui" / "state")},
        # relative to the repository (pytest's working folder): snapshots must not show where the
        # checkout lives, or they differ between a developer's tree and CI's clone
        "aliases": {"path": "tests/data/tui/aliases"},
        "probe": {"target": "echo@lab.test", "mailbox_user": "probe"},
        "imap": {"port": "1143", "tls_port": "1993"}, "pop3": {"port": "1110", "tls_port": "1995"},
    })


def queue_snapshot() -> QueueSnapshot:
    now = float((DATA / "queue" / "captured-at.txt").read_text().split()[0])
    lines = (DATA / "queue" / "postqueue-j.jsonl").read_text().splitlines()
    entries = tuple(entry_from_record(d) for d in (parse_json_record(x) for x in lines) if d is not None)
    return QueueSnapshot(entries=entries, summary=summarize_json_lines(lines, now))


def log_batch() -> LogBatch:
    parser = LineParser()
    events = [parser.parse(line) for line in (DATA / "logs" / "lab-postfix.log").read_text().splitlines()]
    last = max(e.ts for e in events)
    stats = LogStats(clock=lambda: last)
    stats.add_all(events)
    w = 3600.0
    return LogBatch(lines=tuple(events[-300:]), counts=stats.counts(w), delays=stats.delays(w),
                    by_relay=dict(stats.delays(w, by="relay")), by_domain=dict(stats.delays(w, by="domain")),
                    time=last, window=w)


def check_run(now: float) -> CheckRun:
    findings = (
        Finding("relay.probe.127.0.0.1:2526", Status.CRITICAL, "OPEN RELAY: 127.0.0.1:2526 accepted outside recipients",
                details="RCPT TO:<x@example.com> from 127.0.0.2: 250 2.1.5 Ok",
                hint="set smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"),
        Finding("quota.user.carol", Status.WARNING, "carol uses 92 % of the quota (942.0 KiB of 1.0 MiB)",
                hint="raise the quota or ask carol to clean up"),
        Finding("system.postfix", Status.OK, "Postfix (/etc/postfix) is running (pid 100)"),
        Finding("system.dovecot", Status.OK, "Dovecot (/etc/dovecot/dovecot.conf) is running (pid 200)"),
        Finding("tls.smtp", Status.OK, "smtp 127.0.0.1:2525: TLSv1.3, certificate valid 825 more days"),
        Finding("dns.mx.lab.test", Status.OK, "MX 10 mail.lab.test (127.0.0.1)"),
        Finding("queue.total", Status.OK, "13 messages queued, oldest 6.8 min"),
    )
    results = tuple(CheckResult(f.id, (f,), "ran", 0.0, 0.01) for f in findings)
    return CheckRun("mail.lab.test", now, 0.0, 0.1, results)


def quota_snapshot(now: float) -> QuotaSnapshot:
    kib = 1024
    users = (
        UserQuota("carol", 942 * kib, 1024 * kib, 2, None, "doveadm"),
        UserQuota("alice", 3 * kib, 50 * 1024 * kib, 4, None, "doveadm"),
        UserQuota("bob", 5 * kib, 50 * 1024 * kib, 3, None, "doveadm"),
        UserQuota("probe", 5 * kib, 50 * 1024 * kib, 2, None, "maildirsize"),
    )
    fs = (FsUsage("/var/mail", "/var/mail", 100 * 1024**3, 22 * 1024**3, 78 * 1024**3, 22.0, 6_000_000, 180_000, 3.0),)
    return QuotaSnapshot(now, users, fs)


def fixed_sources() -> list[Source]:
    q = queue_snapshot()
    now = q.summary.time
    run = check_run(now)
    return [
        Source("queue", 3600.0, lambda: q),
        Source("log", 3600.0, log_batch),
        Source("quota", 3600.0, lambda: quota_snapshot(now)),
        *[Source(f"check:{r.check}", 3600.0,
                 (lambda r=r: CheckRun(run.host, run.time, 0.0, 0.1, (r,)))) for r in run.results],
    ]
