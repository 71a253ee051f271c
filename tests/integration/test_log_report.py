"""`mailtop report` against pflogsumm on the same input: a live lab log, the committed lab capture and
a generated log; `mailtop trace` and the follower on the lab's real, growing log file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailtop.logs.follow import MailLogFollower
from mailtop.logs.stats import LogStats

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "logs"
PFLOGSUMM = "/usr/sbin/pflogsumm"

_LABELS = {
    "received": "received", "delivered": "delivered", "forwarded": "forwarded", "deferred": "deferred",
    "bounced": "bounced", "rejected": "rejected", "reject warnings": "reject_warnings", "held": "held",
    "discarded": "discarded", "bytes received": "bytes_received", "bytes delivered": "bytes_delivered",
    "senders": "senders", "sending hosts/domains": "sending_domains", "recipients": "recipients",
    "recipient hosts/domains": "recipient_domains",
}


def pflogsumm_totals(path: Path, syslog_name: str) -> dict[str, int]:
    out = subprocess.run([PFLOGSUMM, f"--syslog-name={syslog_name}", str(path)], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    grand = out.split("Per-Hour Traffic")[0]
    totals: dict[str, int] = {}
    for m in re.finditer(r"^\s*(\d+)([km]?)\s+([a-z /]+?)(?:\s+\(|\s*$)", grand, re.M):
        label = m.group(3).strip()
        if label in _LABELS:
            totals[_LABELS[label]] = int(m.group(1))
            totals[_LABELS[label] + ":unit"] = {"": 1, "k": 1024, "m": 1048576}[m.group(2)]
    d = re.search(r"\((\d+)([km]?)\s+deferrals\)", grand)
    totals["deferrals"] = int(d.group(1)) if d else 0
    totals["deferrals:unit"] = {"": 1, "k": 1024, "m": 1048576}[d.group(2)] if d else 1
    return totals


def mailtop_totals(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "mailtop", "report", "--json", *args], capture_output=True,
                         text=True, timeout=300, check=True, cwd=REPO).stdout
    return json.loads(out)


def assert_equal_totals(path: Path, syslog_name: str) -> dict:
    pf = pflogsumm_totals(path, syslog_name)
    data = mailtop_totals("--syslog-name", syslog_name, str(path))
    mine = data["totals"]
    assert len(pf) == 2 * len(mine), pf
    for key, value in mine.items():
        unit = pf[key + ":unit"]
        assert int(value / unit) == pf[key], (key, value, pf[key], unit)   # pflogsumm prints 1234k as int(n/1024)
    return data


def test_equal_to_pflogsumm_on_the_lab_capture():
    data = assert_equal_totals(DATA / "lab-postfix.log", "postfix-lab")
    assert data["totals"]["received"] > 100 and data["totals"]["deferrals"] > 100


def test_equal_to_pflogsumm_on_the_xfs_capture():
    """14-character short queue IDs (queue file inodes on XFS) and long queue IDs: every message counted."""
    data = assert_equal_totals(DATA / "lab-xfs-postfix.log", "postfix-lab")
    t = data["totals"]
    assert t["received"] >= 30 and t["delivered"] >= 20 and t["deferred"] >= 5 and t["bounced"] >= 2


def test_equal_to_pflogsumm_on_a_generated_log(tmp_path: Path):
    log = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(REPO / "tests/bench/gen_maillog.py"), str(log), "--lines", "60000",
                    "--seed", "3"], check=True, timeout=120, capture_output=True)
    data = assert_equal_totals(log, "postfix-lab")
    t = data["totals"]
    assert t["delivered"] > 1000 and t["bounced"] > 50 and t["rejected"] > 100 and t["deferred"] > 100
    assert data["unparsed"] == 0


def test_generated_lines_have_the_shapes_of_the_lab(tmp_path: Path):
    """Every (service, kind) the generator writes also occurs in the real lab capture."""
    from mailtop.logs.parse import LineParser

    log = tmp_path / "gen.log"
    subprocess.run([sys.executable, str(REPO / "tests/bench/gen_maillog.py"), str(log), "--lines", "20000"],
                   check=True, timeout=120, capture_output=True)
    p = LineParser()
    gen = {(e.program, e.service, e.kind) for e in map(p.parse, log.read_text().splitlines())}
    real = {(e.program, e.service, e.kind) for name in ("lab-postfix.log", "lab-dovecot.log")
            for e in map(p.parse, (DATA / name).read_text().splitlines())}
    assert gen - real == set()


@pytest.fixture(scope="module")
def lab_traffic(lab: dict) -> Path:
    """Run the lab's traffic generator once; the lab's Postfix log then holds real, fresh lines."""
    subprocess.run([str(REPO / "services" / "lab"), "traffic", "40", "--seed", "11"], check=True, timeout=300,
                   capture_output=True)
    time.sleep(1.5)   # the last deliveries and removals
    return Path(lab["state_dir"]) / "log" / "postfix.log"


def test_equal_to_pflogsumm_on_the_live_lab_log(lab_traffic: Path, tmp_path: Path):
    snap = tmp_path / "postfix.log"
    snap.write_bytes(lab_traffic.read_bytes())      # one consistent copy for both programs
    data = assert_equal_totals(snap, "postfix-lab")
    assert data["totals"]["received"] >= 10


def test_report_text_and_stdin(lab_traffic: Path):
    text = subprocess.run([sys.executable, "-m", "mailtop", "report", str(lab_traffic)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=REPO).stdout
    assert "Grand Totals" in text and "Delivery delays" in text and "received" in text
    piped = subprocess.run([sys.executable, "-m", "mailtop", "report", "--json"], input=DATA.joinpath(
        "lab-postfix.log").read_bytes(), capture_output=True, timeout=120, check=True, cwd=REPO).stdout
    assert json.loads(piped)["totals"]["received"] == 122


def test_unreadable_log_says_what_to_do(tmp_path: Path):
    r = subprocess.run([sys.executable, "-m", "mailtop", "report", str(tmp_path / "missing.log")],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 2 and "cannot read the mail log" in r.stderr and "adm" in r.stderr


def test_trace_command_on_the_live_lab(lab_traffic: Path):
    line = next(ln for ln in lab_traffic.read_text().splitlines() if "status=sent" in ln)
    qid = line.split(": ")[1]
    r = subprocess.run([sys.executable, "-m", "mailtop", "trace", "--json", qid, str(lab_traffic)],
                       capture_output=True, text=True, timeout=60, cwd=REPO, check=True)
    data = json.loads(r.stdout)
    assert data["queue_ids"][0] == qid and any("removed" in ln for ln in data["lines"])
    assert any("client=" in ln for ln in data["lines"]) or any("uid=" in ln for ln in data["lines"])


def test_follow_the_live_lab_log_while_traffic_runs(lab: dict):
    """The follower on the lab's real postlogd file sees exactly the lines appended while traffic runs."""
    log = Path(lab["state_dir"]) / "log" / "postfix.log"
    fol = MailLogFollower([log])        # from the end
    fol.poll()                          # opens the log here, at its end (and past anything written meanwhile)
    before = fol.followers[0].offset    # so the follower hands over exactly what is written after `before`
    stats = LogStats()
    stop = threading.Event()
    got: list = []

    def worker() -> None:
        for batch in fol.batches(stop, poll_interval=0.2, idle_every=0.2):
            stats.add_all(batch)
            got.extend(batch)

    def appended() -> list[str]:
        data = log.read_bytes()[before:]
        return data[: data.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()   # complete lines

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    subprocess.run([str(REPO / "services" / "lab"), "traffic", "15", "--seed", "5"], check=True, timeout=300,
                   capture_output=True)
    # Postfix goes on logging the last deliveries for a moment: wait (with a deadline) until the
    # follower has handed over every line the file holds and the file has stayed the same for 1 s.
    deadline = time.monotonic() + 60
    seen, file_lines, quiet_since, size = [], [], time.monotonic(), -1
    while time.monotonic() < deadline:
        seen = [e.line for e in got[:len(got)]]       # what the follower gave, then what the file holds
        file_lines = appended()
        if len(file_lines) != size:
            size, quiet_since = len(file_lines), time.monotonic()
        if seen == file_lines and time.monotonic() - quiet_since >= 1.0:
            break
        time.sleep(0.1)
    stop.set()
    t.join(10)
    fol.close()
    assert not t.is_alive()
    assert len(seen) == len(file_lines) and seen == file_lines      # no line lost, doubled or reordered
    assert [e.line for e in got] == appended()[:len(got)]            # nor after, until the follower stopped
    assert stats.unparsed == 0 and stats.counts().received >= 5
