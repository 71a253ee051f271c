#!/usr/bin/env python3
"""Benchmark: `mailtop report --json` against pflogsumm on the same generated log, and following a log
that grows at 5,000 lines/s. Prints figures and ratios; asserts nothing about time (see STYLE.md).

    .venv/bin/python tests/bench/bench_report.py [--lines 1000000] [--log FILE] [--follow-seconds 20]

Report: both programs run as separate processes under /usr/bin/time (wall time, peak RSS); the grand
totals are compared. `mailtop report` takes the fast path (mailtop/logs/fast.py; docs/report.md has
the figures and where the time goes). Follow: a writer process appends generated lines at a steady rate; a follower
(MailLogFollower + LogStats, as the dashboard uses them) reads them; lag = when a line was read minus
when it was due to be written; RSS of the follower process at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "integration"))


def timed(argv: list[str], stdout_path: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one process."""
    with open(stdout_path, "wb") as out:
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], stdout=out, stderr=subprocess.PIPE,
                           timeout=3600, check=True, cwd=REPO)
    last = r.stderr.decode().strip().splitlines()[-1].split()
    return float(last[0]), int(last[1])


def bench_report(log: Path, lines: int) -> None:
    from test_log_report import _LABELS, pflogsumm_totals  # the same parsing as the integration test

    tmp = Path(tempfile.mkdtemp())
    pf_s, pf_kb = timed(["/usr/sbin/pflogsumm", "--syslog-name=postfix-lab", str(log)], tmp / "pf.txt")
    mt_s, mt_kb = timed([sys.executable, "-m", "mailtop", "report", "--json", str(log)], tmp / "mt.json")
    pf = pflogsumm_totals(log, "postfix-lab")
    mine = json.loads((tmp / "mt.json").read_text())["totals"]
    equal = all(int(v / pf[k + ":unit"]) == pf[k] for k, v in mine.items())
    print(f"report on {lines:,} lines ({log.stat().st_size / 1e6:.0f} MB):")
    print(f"  pflogsumm            {pf_s:7.2f} s  {lines / pf_s:>10,.0f} lines/s  peak RSS {pf_kb / 1024:7.1f} MiB")
    print(f"  mailtop report --json{mt_s:7.2f} s  {lines / mt_s:>10,.0f} lines/s  peak RSS {mt_kb / 1024:7.1f} MiB")
    print(f"  speed ratio mailtop/pflogsumm: {pf_s / mt_s:.2f}x   memory ratio: {mt_kb / pf_kb:.2f}x")
    print(f"  totals equal: {equal}  " + ", ".join(f"{k}={v}" for k, v in mine.items()
                                                  if k in _LABELS.values()))
    if not equal:
        print("  pflogsumm:", {k: v for k, v in pf.items() if not k.endswith(":unit")})


WRITER = r"""
# appends the lines of SRC to DST at RATE lines/s for SECONDS; prints its start time first
import sys, time
src, dst, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
lines = open(src).read().splitlines()
n = int(rate * seconds)
start = time.time() + 0.5
print(start, flush=True)
i = 0
with open(dst, "a", buffering=1 << 16) as out:
    while i < n:
        due = int((time.time() - start) * rate) + 1
        if due > i:
            upto = min(due, n)
            out.write("".join(lines[j % len(lines)] + "\n" for j in range(i, upto)))
            out.flush()
            i = upto
        time.sleep(0.005)
"""


def bench_follow(src: Path, rate: float, seconds: float) -> None:
    import psutil

    from mailtop.logs.follow import MailLogFollower
    from mailtop.logs.stats import LogStats

    tmp = Path(tempfile.mkdtemp())
    log = tmp / "mail.log"
    log.touch()
    proc = psutil.Process()
    fol = MailLogFollower([log])
    stats = LogStats(clock=time.time, max_keys=50_000)
    stop = threading.Event()
    lags: list[float] = []
    rss: list[int] = []
    count = [0]
    start_box: list[float] = []

    def worker() -> None:
        for batch in fol.batches(stop, poll_interval=0.25, idle_every=0.5):
            now = time.time()
            stats.add_all(batch)
            count[0] += len(batch)
            if batch and start_box:
                # the writer writes line j (0-based) when it is due at start + (j + 1) / rate; nothing is
                # lost or doubled (tests prove it), so the last line read is line count - 1
                lags.append(now - (start_box[0] + count[0] / rate))
            if len(rss) < 10000:
                rss.append(proc.memory_info().rss)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    rss0 = proc.memory_info().rss
    w = subprocess.Popen([sys.executable, "-c", WRITER, str(src), str(log), str(rate), str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    start_box.append(float(w.stdout.readline()))
    w.wait(timeout=seconds + 60)
    time.sleep(1.0)
    stop.set()
    t.join(10)
    fol.close()
    expected = int(rate * seconds)
    lags.sort()
    half = len(rss) // 2
    print(f"follow at {rate:,.0f} lines/s for {seconds:.0f} s ({expected:,} lines):")
    print(f"  lines read {count[0]:,} of {expected:,}; lag p50 {lags[len(lags) // 2]:.3f} s, "
          f"p99 {lags[int(len(lags) * 0.99)]:.3f} s, max {lags[-1]:.3f} s")
    print(f"  RSS start {rss0 / 2**20:.1f} MiB, first half max {max(rss[:half]) / 2**20:.1f} MiB, "
          f"second half max {max(rss[half:]) / 2**20:.1f} MiB, live flows {len(stats.flows)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--log", type=Path, help="an existing log (default: generate one)")
    ap.add_argument("--follow-seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=5000.0)
    args = ap.parse_args()
    log = args.log
    if log is None:
        log = Path(tempfile.mkdtemp()) / "gen.log"
        subprocess.run([sys.executable, str(REPO / "tests/bench/gen_maillog.py"), str(log), "--lines",
                        str(args.lines)], check=True)
    lines = sum(1 for _ in open(log, "rb"))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    bench_report(log, lines)
    if args.follow_seconds > 0:
        bench_follow(log, args.rate, args.follow_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
