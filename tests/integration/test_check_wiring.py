"""The checks wired to the other cores, against the lab: queue (mailtop.mta), logs (mailtop.logs),
aliases (mailtop.ops.aliases), DNS and relay (mailtop.health.dns/relay)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import smtplib
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from mailtop.checks import queue_findings, run_checks, tail_lines
from mailtop.logs.parse import LineParser
from mailtop.model import Status
from mailtop.mta.postfix import summarize_json_lines


def with_(cfg, **sections):
    return dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()})


def _age(path: Path, seconds: float = 60) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


async def _wait_for(predicate, cfg, only: str, timeout: float = 15.0):
    end = time.monotonic() + timeout
    while True:
        run = await run_checks(cfg, only=only)
        if predicate(run) or time.monotonic() > end:
            return run
        time.sleep(0.2)


@pytest.fixture
def deferred_domain(lab):
    """A message to a unique outside domain: the lab defers it (its relay is dead)."""
    domain = f"wiring-{uuid.uuid4().hex[:8]}.example"
    with smtplib.SMTP("127.0.0.1", lab["ports"]["smtp"], local_hostname="tests.lab.test", timeout=10) as s:
        s.sendmail(f"alice@{lab['domain']}", [f"someone@{domain}"],
                   f"Subject: wiring {domain}\r\n\r\nchecks wiring test\r\n")
    yield domain
    # leave the lab's queue as it was: delete this test's message
    conf = lab["postfix"]["config_dir"]
    listing = subprocess.run(["postqueue", "-c", conf, "-j"], capture_output=True, text=True, timeout=30).stdout
    ids = [rec["queue_id"] for rec in map(json.loads, listing.splitlines())
           if any(r["address"].endswith("@" + domain) for r in rec["recipients"])]
    if ids:
        subprocess.run(["postsuper", "-c", conf, "-d", "-"], input="\n".join(ids) + "\n", text=True,
                       capture_output=True, timeout=30, check=True)


# --------------------------------------------------------------------------- queue


async def test_queue_check_reports_per_queue_and_per_destination(lab_config, deferred_domain):
    cfg = with_(lab_config, thresholds={"queue_count_warn": 1, "queue_oldest_warn": 0.0, "queue_oldest_crit": 1e9})
    fid = f"queue.domain.{deferred_domain}"
    run = await _wait_for(lambda r: any(f.id == fid for f in r.findings), cfg, "queue")
    by = {f.id: f for f in run.findings}
    assert by["queue.total"].status is Status.OK and by["queue.total"].data["messages"] >= 1
    assert by["queue.deferred"].status is Status.WARNING  # count >= 1
    assert by["queue.deferred"].metrics[0].label == "queue.deferred"
    assert by[fid].status is Status.WARNING
    assert "Connection refused" in by[fid].details
    # the age threshold on its own: CRITICAL once the oldest deferred mail is older than it
    cfg = with_(lab_config, thresholds={"queue_oldest_crit": 0.001})
    run = await run_checks(cfg, only="queue.deferred")
    (f,) = run.findings
    assert f.status is Status.CRITICAL


def _queue_ids(conf: str, domain: str, queue: str | None = None) -> list[str]:
    listing = subprocess.run(["postqueue", "-c", conf, "-j"], capture_output=True, text=True, timeout=30).stdout
    return [rec["queue_id"] for rec in map(json.loads, listing.splitlines())
            if any(r["address"].endswith("@" + domain) for r in rec["recipients"])
            and (queue is None or rec["queue_name"] == queue)]


async def test_held_mail_is_left_out_of_the_per_destination_ages(lab, lab_config, deferred_domain):
    """An admin puts mail on hold on purpose: its age must not make a destination WARNING/CRITICAL (queue.hold
    is reported, never judged). Before, queue.domain.<d> counted the hold queue and went CRITICAL."""
    conf = lab["postfix"]["config_dir"]
    end = time.monotonic() + 15
    while not _queue_ids(conf, deferred_domain, "deferred") and time.monotonic() < end:
        time.sleep(0.2)
    ids = _queue_ids(conf, deferred_domain, "deferred")
    assert ids, f"the lab did not defer the mail for {deferred_domain}"
    # every age is over the thresholds: any destination with mail waiting outside the hold queue is CRITICAL
    cfg = with_(lab_config, thresholds={"queue_oldest_warn": 0.0, "queue_oldest_crit": 0.0})
    fid = f"queue.domain.{deferred_domain}"
    before = {f.id: f for f in (await run_checks(cfg, only="queue")).findings}
    assert before[fid].status is Status.CRITICAL  # waiting in the deferred queue: judged
    subprocess.run(["postsuper", "-c", conf, "-h", "-"], input="\n".join(ids) + "\n", text=True,
                   capture_output=True, timeout=30, check=True)
    end = time.monotonic() + 15
    while _queue_ids(conf, deferred_domain, "hold") != ids and time.monotonic() < end:
        time.sleep(0.2)
    assert _queue_ids(conf, deferred_domain, "hold") == ids
    by = {f.id: f for f in (await run_checks(cfg, only="queue")).findings}
    assert fid not in by, by.get(fid)
    assert by["queue.hold"].status is Status.OK and by["queue.hold"].data["messages"] >= 1


async def test_queue_check_with_defaults_is_ok_on_a_young_queue(lab, lab_config, deferred_domain):
    """The default thresholds (500 messages, 1 h / 1 day) find a young queue OK. Judged on this test's own
    deferred mail as the lab lists it (postqueue -j), so what other tests left in the queue (or a lab up for
    hours) cannot change the outcome; the check itself still runs against the whole lab queue."""
    conf = lab["postfix"]["config_dir"]
    end = time.monotonic() + 15
    while not _queue_ids(conf, deferred_domain, "deferred") and time.monotonic() < end:
        time.sleep(0.2)
    listing = subprocess.run(["postqueue", "-c", conf, "-j"], capture_output=True, text=True, timeout=30).stdout
    own = [line for line in listing.splitlines() if f"@{deferred_domain}" in line]
    assert len(own) == 1 and json.loads(own[0])["queue_name"] == "deferred"
    findings = queue_findings(summarize_json_lines(own, time.time()), lab_config)
    assert [f.id for f in findings] == ["queue.total", "queue.deferred"]
    assert all(f.status is Status.OK for f in findings), findings
    # and the wired check on the whole lab queue: it ran, and this young destination is not flagged
    run = await run_checks(lab_config, only="queue")
    assert run.findings[0].id == "queue.total"
    assert not [f for f in run.findings if f.status is Status.UNKNOWN], run.findings
    assert f"queue.domain.{deferred_domain}" not in {f.id for f in run.findings}


# --------------------------------------------------------------------------- logs

ANY_DEFERRAL_WARNS = {"log_window": 600.0, "defer_rate_warn": 0.001, "defer_rate_crit": 101.0,
                      "rate_min_attempts": 1}
"""Thresholds under which one deferral in the window is a WARNING whatever else the lab's log holds: the
rate is judged from one attempt on, and never reaches CRITICAL (a rate is at most 100 %, and the check
uses >=; with crit 100, a lab whose only recent attempts are deferrals was CRITICAL)."""


async def test_log_check_sees_the_deferral_in_the_window(lab, lab_config, deferred_domain):
    log = Path(lab["postfix"]["log"])
    end = time.monotonic() + 15
    while deferred_domain not in log.read_text(errors="replace") and time.monotonic() < end:
        time.sleep(0.2)
    cfg = with_(lab_config, thresholds=ANY_DEFERRAL_WARNS)
    run = await run_checks(cfg, only="logs")
    by = {f.id: f for f in run.findings}
    assert set(by) >= {"logs.defer_rate", "logs.bounce_rate", "logs.auth_failures"}
    assert by["logs.defer_rate"].status is Status.WARNING
    assert "deferred in the last 10 min" in by["logs.defer_rate"].summary


async def test_any_deferral_warns_even_when_every_attempt_in_the_window_was_deferred(lab, lab_config,
                                                                                    deferred_domain, tmp_path):
    """The worst case for the thresholds above: a log whose only delivery attempt is a deferral (a defer rate
    of 100 %). Written by the test from the lab's real lines for this test's message."""
    log = Path(lab["postfix"]["log"])
    end = time.monotonic() + 15
    while f"@{deferred_domain}>" not in log.read_text(errors="replace") and time.monotonic() < end:
        time.sleep(0.2)
    lines = log.read_text(errors="replace").splitlines()
    (deferral,) = [x for x in lines if f"@{deferred_domain}>" in x and "status=deferred" in x]
    qid = deferral.split(": ", 2)[1]
    own = tmp_path / "postfix.log"
    own.write_text("\n".join(x for x in lines if f" {qid}: " in x) + "\n")
    cfg = with_(lab_config, thresholds=ANY_DEFERRAL_WARNS, logs={"files": [own]})
    by = {f.id: f for f in (await run_checks(cfg, only="logs")).findings}
    assert by["logs.defer_rate"].metrics[0].value == 100.0
    assert by["logs.defer_rate"].status is Status.WARNING, by["logs.defer_rate"]
    # with the old crit of 100 % the same log was CRITICAL: the reason the tests above could fail on a quiet lab
    old = with_(cfg, thresholds={**ANY_DEFERRAL_WARNS, "defer_rate_crit": 100.0})
    assert {f.id: f for f in (await run_checks(old, only="logs")).findings}["logs.defer_rate"].status \
        is Status.CRITICAL


async def test_a_missing_or_unreadable_log_is_unknown_and_the_rest_still_counts(lab, lab_config, tmp_path):
    files = [Path(lab["postfix"]["log"]), tmp_path / "missing.log", tmp_path]
    run = await run_checks(with_(lab_config, logs={"files": files}), only="logs")
    by = {f.id: f for f in run.findings}
    missing = [f for f in run.findings if "does not exist" in f.summary]
    unreadable = [f for f in run.findings if f.summary.startswith("cannot read the mail log")]
    assert len(missing) == 1 and missing[0].status is Status.UNKNOWN
    assert len(unreadable) == 1 and unreadable[0].status is Status.UNKNOWN
    assert "logs.defer_rate" in by


def test_tail_lines_reads_back_just_far_enough(lab, tmp_path):
    src = Path(lab["postfix"]["log"])
    copy = tmp_path / "postfix.log"
    lines = src.read_text(errors="replace").splitlines()
    assert len(lines) > 20
    # A fresh lab may have logged everything within one second: date the first half of the real
    # lines a minute back so that "since the middle" has something to leave out.
    first = LineParser(reference_time=time.time()).parse(lines[0]).ts
    earlier = time.strftime("%b %e %H:%M:%S", time.localtime(first - 60))
    half = len(lines) // 2
    lines = [earlier + line[15:] for line in lines[:half]] + lines[half:]
    copy.write_text("\n".join(lines) + "\n")
    parser = LineParser(reference_time=time.time())
    assert tail_lines(copy, 0.0, parser, chunk=512) == lines
    stamps = [parser.parse(line).ts for line in lines]
    since = stamps[len(stamps) // 2]
    got = tail_lines(copy, since, LineParser(reference_time=time.time()), chunk=512)
    assert got == lines[len(lines) - len(got):]  # a suffix of the file
    assert all(ts < since for ts in stamps[: len(lines) - len(got)])  # nothing newer left out
    assert len(got) < len(lines)


# --------------------------------------------------------------------------- aliases


@pytest.fixture
def broken_aliases(lab, tmp_path):
    """A Postfix config like the lab's whose aliases file lacks postmaster, sends abuse nowhere, has a loop,
    and whose database is older than the text (someone forgot newaliases)."""
    conf = tmp_path / "postfix"
    conf.mkdir()
    aliases = conf / "aliases"
    main_cf = (Path(lab["postfix"]["config_dir"]) / "main.cf").read_text()
    main_cf = main_cf.replace(str(Path(lab["postfix"]["config_dir"]) / "aliases"), str(aliases))
    (conf / "main.cf").write_text(main_cf)
    shutil.copyfile(Path(lab["postfix"]["config_dir"]) / "master.cf", conf / "master.cf")
    aliases.write_text("abuse: nosuchuser-xyz\nroot: alice@lab.test\nring1: ring2\nring2: ring1\n")
    for f in conf.iterdir():
        _age(f, 120)  # postconf waits for a main.cf written this second to settle
    subprocess.run(["postalias", "-c", str(conf), f"hash:{aliases}"], check=True, capture_output=True, timeout=30)
    _age(Path(str(aliases) + ".db"), 100)
    aliases.write_text(aliases.read_text() + "# edited after the last newaliases\n")
    _age(aliases, 10)
    return conf, aliases


async def test_aliases_check_on_the_lab_is_ok(lab_config):
    run = await run_checks(lab_config, only="aliases")
    by = {f.id: f for f in run.findings}
    assert by["aliases.postmaster"].status is Status.OK
    assert "alice@lab.test" in by["aliases.postmaster"].summary
    assert by["aliases.abuse"].status is Status.OK
    assert by["aliases.loops"].status is Status.OK
    assert by["aliases.database"].status is Status.OK
    assert by["aliases.virtual.database"].status is Status.OK  # texthash: nothing to rebuild


async def test_aliases_check_finds_missing_roles_loops_and_a_stale_database(lab_config, broken_aliases):
    conf, aliases = broken_aliases
    cfg = with_(lab_config, postfix={"config_dir": conf}, aliases={"path": aliases, "virtual_path": None})
    run = await run_checks(cfg, only="aliases", skip="system.postfix")
    by = {f.id: f for f in run.findings}
    assert by["aliases.postmaster"].status is Status.CRITICAL
    assert "no postmaster alias" in by["aliases.postmaster"].summary
    assert by["aliases.abuse"].status is Status.WARNING
    assert "not deliverable" in by["aliases.abuse"].summary
    assert by["aliases.loops"].status is Status.CRITICAL
    assert "ring1" in by["aliases.loops"].summary
    db = by["aliases.database"]
    assert db.status is Status.WARNING and "older than its source" in db.summary
    assert db.hint.startswith("run: ") and "newaliases" in db.hint and str(conf) in db.hint


async def test_an_unreadable_aliases_file_is_unknown(lab_config, tmp_path):
    cfg = with_(lab_config, aliases={"path": tmp_path / "nope", "virtual_path": None})
    (f,) = (await run_checks(cfg, only="aliases")).findings
    assert f.id == "aliases.file" and f.status is Status.UNKNOWN
    assert "cannot read" in f.summary


# --------------------------------------------------------------------------- dns and relay


async def test_dns_and_relay_are_wired_to_their_modules(lab_config):
    run = await run_checks(lab_config, only="dns,relay")
    ids = [f.id for f in run.findings]
    assert any(i.startswith("dns.") and i != "dns.resolver" for i in ids)
    assert any(i.startswith("relay.") for i in ids)
    assert not [f for f in run.findings if "not built" in f.summary or "check failed" in f.summary]
    # the lab's open instance is configured as a relay target: the relay check must say CRITICAL
    assert any(f.status is Status.CRITICAL for f in run.findings if f.id.startswith("relay."))


async def test_dns_is_skipped_when_the_nameserver_does_not_answer(lab_config):
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a UDP port that reads nothing and answers nothing
    silent.bind(("127.0.0.1", 0))
    try:
        port = silent.getsockname()[1]
        cfg = with_(lab_config, dns={"nameservers": [f"127.0.0.1:{port}"], "timeout": 0.5})
        t0 = time.perf_counter()
        run = await run_checks(cfg, only="dns")
        elapsed = time.perf_counter() - t0
    finally:
        silent.close()
    by = {f.id: f for f in run.findings}
    assert by["dns.resolver"].status is Status.CRITICAL
    assert "no DNS answer" in by["dns.resolver"].summary
    (skipped,) = [f for f in run.findings if f.id == "dns"]
    assert skipped.summary == "skipped: the DNS resolver (dns.resolver) is down"
    assert elapsed < 0.5 + 2  # the 0.5 s DNS timeout is honoured (a generous margin)


async def test_log_check_counts_only_the_configured_syslog_names(lab, lab_config, deferred_domain):
    log = Path(lab["postfix"]["log"])
    end = time.monotonic() + 15
    while deferred_domain not in log.read_text(errors="replace") and time.monotonic() < end:
        time.sleep(0.2)
    base = ANY_DEFERRAL_WARNS
    cfg = with_(lab_config, thresholds=base, logs={"files": [log], "syslog_names": ["some-other-instance"]})
    by = {f.id: f for f in (await run_checks(cfg, only="logs")).findings}
    assert " of 0 delivery attempts" in by["logs.defer_rate"].summary
    cfg = with_(lab_config, thresholds=base, logs={"files": [log], "syslog_names": [lab["postfix"]["syslog_name"]]})
    by = {f.id: f for f in (await run_checks(cfg, only="logs")).findings}
    assert by["logs.defer_rate"].status is Status.WARNING
