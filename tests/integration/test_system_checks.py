"""Services check against the lab: Postfix and Dovecot running, ports greeting; a tarpit and a refused port."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from mailtop.checks import run_checks
from mailtop.health.system import listening_ports, postfix_findings
from mailtop.model import Status

FAST = 0.5  # seconds: general.timeout for the fault tests


def postfix_dir(tmp_path: Path, queue: Path, pid: str | None = None) -> Path:
    """A Postfix config dir for an instance that is not running: no master.pid (or a stale one)."""
    conf = tmp_path / "postfix"
    conf.mkdir()
    (queue / "pid").mkdir(parents=True)
    if pid is not None:
        (queue / "pid" / "master.pid").write_text(pid + "\n")
    (conf / "main.cf").write_text(f"queue_directory = {queue}\nmyhostname = mail.lab.test\n")
    (conf / "master.cf").write_text("")  # without it postconf warns and sleeps
    # postconf waits (up to ~2 s) for a main.cf written this very second to settle: make it older
    for f in conf.iterdir():
        os.utime(f, (time.time() - 60, time.time() - 60))
    return conf


def with_(cfg, **sections):
    return dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()})


async def test_lab_daemons_run_and_every_port_greets(lab, lab_config):
    run = await run_checks(lab_config, only="system")
    by = {f.id: f for f in run.findings}
    master_pid = int((Path(lab["state_dir"]) / "spool" / "postfix" / "pid" / "master.pid").read_text().split()[0])
    assert by["system.postfix"].status is Status.OK, by["system.postfix"]
    assert by["system.postfix"].data["pid"] == master_pid
    assert by["system.postfix.postfix-open"].status is Status.OK
    assert by["system.dovecot"].status is Status.OK
    for service in ("smtp", "submission", "imap", "imaps", "pop3", "pop3s"):
        f = by[f"system.{service}"]
        assert f.status is Status.OK, f
        assert f.data["listening"] is True
        assert f.data["port"] == lab["ports"][service]
    assert by["system.smtp"].data["greeting"].startswith("220")
    assert by["system.imaps"].data["greeting"].startswith("* OK")
    assert by["system.pop3"].data["greeting"].startswith("+OK")


def test_psutil_sees_the_lab_listeners(lab):
    table = listening_ports()
    assert table is not None
    for key in ("smtp", "imap", "pop3s", "open_relay"):
        assert "127.0.0.1" in table[lab["ports"][key]]


async def test_a_tarpit_smtp_port_is_critical_within_the_timeout(lab_config, tarpit):
    cfg = with_(lab_config, general={"timeout": FAST}, smtp={"port": tarpit})
    t0 = time.perf_counter()
    run = await run_checks(cfg, only="system.smtp")
    elapsed = time.perf_counter() - t0
    (f,) = run.findings
    assert f.status is Status.CRITICAL
    assert "accepted the connection but sent no greeting within 0.5 s" in f.summary
    assert f.data["listening"] is True  # psutil: it listens, it just does not talk
    assert elapsed < FAST + 2  # the timeout is honoured (a generous margin)


async def test_a_tarpit_imaps_port_stops_in_the_tls_handshake(lab_config, tarpit):
    cfg = with_(lab_config, general={"timeout": FAST}, imap={"tls_port": tarpit})
    run = await run_checks(cfg, only="system.imaps")
    (f,) = run.findings
    assert f.status is Status.CRITICAL
    assert "TLS handshake did not finish" in f.summary


async def test_a_refused_port_is_critical_and_not_listening(lab_config, closed_port):
    cfg = with_(lab_config, general={"timeout": FAST}, pop3={"port": closed_port})
    t0 = time.perf_counter()
    run = await run_checks(cfg, only="system.pop3")
    (f,) = run.findings
    assert f.status is Status.CRITICAL
    assert f.summary.endswith("is not listening")
    assert "refused" in f.details.lower()
    assert time.perf_counter() - t0 < FAST + 2  # a refused port does not outlast the timeout


async def test_postfix_down_skips_its_dependants_at_once(lab_config, tmp_path):
    # a Postfix config whose queue has no master.pid: this "instance" is not running
    conf = postfix_dir(tmp_path, tmp_path / "spool")
    cfg = with_(lab_config, general={"timeout": 3.0}, postfix={"config_dir": conf, "instances": []})
    t0 = time.perf_counter()
    run = await run_checks(cfg, only="system.postfix,system.smtp,tls.smtp,tls.submission,queue,relay")
    elapsed = time.perf_counter() - t0
    by = {f.id: f for f in run.findings}
    assert by["system.postfix"].status is Status.CRITICAL
    assert "no pid file" in by["system.postfix"].details
    for dep in ("system.smtp", "tls.smtp", "tls.submission", "queue", "relay"):
        assert by[dep].status is Status.UNKNOWN, by[dep]
        assert by[dep].summary.startswith("skipped: Postfix (system.postfix) is down")
    # nothing waited for a timeout (3 s): the dependants never ran
    assert elapsed < 3.0


async def test_a_stale_pid_file_is_not_running(lab_config, tmp_path):
    # a pid that no process has (the kernel's pid_max is below 2**22 + 1 on Linux)
    conf = postfix_dir(tmp_path, tmp_path / "spool", pid="4194305")
    cfg = with_(lab_config, postfix={"config_dir": conf, "instances": []})
    (f,) = await postfix_findings(cfg)
    assert f.status is Status.CRITICAL
    assert "stale pid file" in f.details


async def test_a_missing_postconf_is_unknown_not_a_crash(lab_config, tmp_path):
    cfg = with_(lab_config, postfix={"bin_dir": tmp_path, "config_dir": tmp_path / "nowhere", "instances": []},
                general={"timeout": FAST})
    run = await run_checks(cfg, only="system.postfix")
    (f,) = run.findings
    # with no postconf in bin_dir the PATH one is used; it then fails on the missing config dir
    assert f.status is Status.UNKNOWN
    assert "postconf" in f.details


async def test_dovecot_with_a_wrong_config_is_unknown(lab_config, tmp_path):
    cfg = with_(lab_config, dovecot={"config": tmp_path / "missing.conf"}, general={"timeout": 2.0})
    run = await run_checks(cfg, only="system.dovecot")
    (f,) = run.findings
    assert f.status is Status.UNKNOWN
    assert "doveconf" in f.details


async def test_a_refused_implicit_tls_port_says_refused_not_handshake(lab_config, closed_port):
    cfg = with_(lab_config, general={"timeout": FAST}, imap={"tls_port": closed_port})
    (f,) = (await run_checks(cfg, only="system.imaps")).findings
    assert f.status is Status.CRITICAL
    assert f.summary.endswith("is not listening") and "Connection refused" in f.details


NOT_ROOT = """
import asyncio, datetime, json, os, sys
# everything the checks import lazily is imported first: the interpreter itself lives under /root here
import mailtop.report, mailtop.health.system, mailtop.health.quota, mailtop.health.tls, psutil, ssl
import asyncio.subprocess, encodings.idna
datetime.datetime.strptime("2020", "%Y")
from mailtop.checks import run_checks
from mailtop.config import load_config
cfg = load_config(sys.argv[1], environ={}, detect=False)
os.setgid(65534)
os.setuid(65534)  # nobody: no pid files, no doveadm, no maildirs
run = asyncio.run(run_checks(cfg, only="system.postfix,system.dovecot,system.smtp,quota"))
print(json.dumps({"uid": os.getuid(), "findings": [[f.id, f.status.name, f.summary, f.details, f.data.get("pid")]
                                                   for f in run.findings]}))
"""


def test_not_root_each_finding_says_what_it_could_not_see(lab):
    import json
    import subprocess
    import sys

    cfg = Path(lab["state_dir"]) / "mailtop.toml"
    out = subprocess.run([sys.executable, "-c", NOT_ROOT, str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["uid"] == 65534
    by = {fid: (status, summary, details, pid) for fid, status, summary, details, pid in data["findings"]}
    status, summary, details, _ = by["system.postfix"]
    assert status == "OK" and "without root mailtop cannot tell whether it is this instance" in summary
    assert "is not readable (not root)" in details
    # Dovecot names its config on its command line: the instance is found for certain
    status, summary, details, pid = by["system.dovecot"]
    assert status == "OK" and "is running" in summary
    assert pid == int((Path(lab["state_dir"]) / "dovecot" / "run" / "master.pid").read_text().split()[0])
    assert by["system.smtp"][0] == "OK"
    status, summary, details, _ = by["quota.source"]
    assert status == "UNKNOWN"
    assert "needs root or the mail user" in details and "Permission denied" in details
