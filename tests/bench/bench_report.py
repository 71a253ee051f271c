#!/usr/bin/env python3
"""Benchmark: `mailtop report --json` against pflogsumm on the same generated log, and following a log
that grows at 5,000 lines/s. Prints figures and ratios; asserts nothing about time (see STYLE.md).

    .venv/bin/python tests/bench/bench_report.py [--lines 1000000] [--log FILE] [--follow-seconds 20]

Report: pflogsumm, `mailtop report --json` and the same with one process (MAILTOP_REPORT_SPLIT=0) run
interleaved, --repeat times each, under /usr/bin/time (wall time; its peak RSS is the largest single
process); the peak sums of RSS and PSS over each command's processes are sampled from /proc every
10 ms in --memory-repeat separate runs each, interleaved (median and largest shown; `mailtop report`
reads a large file with two processes: mailtop/logs/fast_split.py); min and median
times, lines/s and the ratio to pflogsumm's median are printed, and the grand totals compared. mailtop
is byte-compiled first (compileall), as an installed one is (--no-compile: not). Follow: a writer process appends generated lines at a steady rate; a follower
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


def _tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over ``root``'s descendants (smaps_rollup)."""
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            continue
        todo.extend(kids)
        for kid in kids:
            try:
                with open(f"/proc/{kid}/smaps_rollup") as fh:
                    for line in fh:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                continue
    return rss, pss


def timed(argv: list[str], stdout_path: Path, env: dict[str, str] | None = None,
          sample: bool = False) -> tuple[float, int, int, int]:
    """(wall seconds, peak RSS KiB as /usr/bin/time reports it, peak sum of RSS KiB, peak sum of PSS KiB
    over the command's processes) of one command. ``mailtop report`` may fork a second process
    (mailtop/logs/fast_split.py): /usr/bin/time's figure is the largest single process. With ``sample``
    the sums are read from /proc every 10 ms (a shorter peak can be missed; the sampling takes CPU, so
    those runs are not the timed ones); else they are 0."""
    with open(stdout_path, "wb") as out:
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%e %M", *argv], stdout=out, stderr=subprocess.PIPE,
                                cwd=REPO, env=env)
        rss_max = pss_max = 0
        while sample and proc.poll() is None:
            rss, pss = _tree_memory(proc.pid)
            rss_max, pss_max = max(rss_max, rss), max(pss_max, pss)
            time.sleep(0.01)
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise RuntimeError(f"{argv[0]} failed: {err.decode(errors='replace')}")
    last = err.decode().strip().splitlines()[-1].split()
    return float(last[0]), int(last[1]), rss_max, pss_max


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_report(log: Path, lines: int, repeat: int = 3, mem_repeat: int = 3, compile_first: bool = True) -> None:
    import statistics

    from test_log_report import _LABELS, pflogsumm_totals  # the same parsing as the integration test

    tmp = Path(tempfile.mkdtemp())
    if compile_first:
        # An installed mailtop has its modules byte-compiled (pip compiles at install; a checkout
        # writes __pycache__ on first use), but a shell with PYTHONDONTWRITEBYTECODE=1 (this one's)
        # would compile every module from source in every run (~30 ms of the start here).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "mailtop")], check=True,
                       stdout=subprocess.DEVNULL)
        print("mailtop byte-compiled first (compileall), as installed; --no-compile to measure without")
    one = dict(os.environ, MAILTOP_REPORT_SPLIT="0")
    runs: dict[str, list[tuple[float, int, int, int]]] = {"pflogsumm": [], "mailtop": [], "mailtop, 1 process": []}
    print(f"report on {lines:,} lines ({log.stat().st_size / 1e6:.0f} MB), {repeat} runs each, interleaved; "
          f"{_load()} before")
    commands = {
        "pflogsumm": (["/usr/sbin/pflogsumm", "--syslog-name=postfix-lab", str(log)], tmp / "pf.txt", None),
        "mailtop": ([sys.executable, "-m", "mailtop", "report", "--json", str(log)], tmp / "mt.json", None),
        "mailtop, 1 process": ([sys.executable, "-m", "mailtop", "report", "--json", str(log)], tmp / "mt1.json", one),
    }
    for _ in range(repeat):
        for name, (argv, out, env) in commands.items():
            runs[name].append(timed(argv, out, env))
    # memory: sampled runs apart from the timed ones (sampling takes CPU), interleaved, mem_repeat each;
    # the peak sums vary between runs with how the two processes' peaks overlap: median and max shown
    samples: dict[str, list[tuple[float, int, int, int]]] = {name: [] for name in commands}
    for _ in range(mem_repeat):
        for name, (argv, out, env) in commands.items():
            samples[name].append(timed(argv, out, env, sample=True))
    memory = {name: (0.0, 0, statistics.median(r[2] for r in rs), statistics.median(r[3] for r in rs))
              for name, rs in samples.items()}
    pss_max = {name: max(r[3] for r in rs) for name, rs in samples.items()}
    print(f"  ({_load()} after)")
    pf = pflogsumm_totals(log, "postfix-lab")
    mine = json.loads((tmp / "mt.json").read_text())["totals"]
    equal = all(int(v / pf[k + ":unit"]) == pf[k] for k, v in mine.items())
    same = json.loads((tmp / "mt1.json").read_text()) == json.loads((tmp / "mt.json").read_text())
    pf_med = statistics.median(r[0] for r in runs["pflogsumm"])
    pf_pss = memory["pflogsumm"][3]
    print(f"  {'':22} {'min s':>6} {'median s':>8} {'lines/s (median)':>17} {'ratio':>6}   peak MiB: "
          f"{'time %M':>7} {'RSS sum':>7} {'PSS sum':>7} {'PSS max':>7}   (sums: median of {mem_repeat} sampled runs)")
    for name, rs in runs.items():
        secs = sorted(r[0] for r in rs)
        med = statistics.median(secs)
        mem = memory[name]
        print(f"  {name:22} {secs[0]:6.2f} {med:8.2f} {lines / med:>17,.0f} {pf_med / med:5.2f}x   "
              f"{'':9} {max(r[1] for r in rs) / 1024:7.1f} {mem[2] / 1024:7.1f} {mem[3] / 1024:7.1f} "
              f"{pss_max[name] / 1024:7.1f}")
    print(f"  speed ratio mailtop/pflogsumm (medians): {pf_med / statistics.median(r[0] for r in runs['mailtop']):.2f}x"
          f"   memory ratio (peak PSS sums, medians of {mem_repeat} sampled runs): {memory['mailtop'][3] / pf_pss:.2f}x"
          f" (largest run {pss_max['mailtop'] / pss_max['pflogsumm']:.2f}x the largest pflogsumm run)")
    print("  peak PSS sums MiB, each sampled run: " + "; ".join(
        f"{name} " + " ".join(f"{r[3] / 1024:.1f}" for r in rs) for name, rs in samples.items()))
    print(f"  totals equal: {equal}; one-process report identical: {same}  " + ", ".join(
        f"{k}={v}" for k, v in mine.items() if k in _LABELS.values()))
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
    ap.add_argument("--repeat", type=int, default=3, help="runs of each report program (default 3)")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile mailtop first (every run then compiles it when the "
                         "environment has PYTHONDONTWRITEBYTECODE set)")
    ap.add_argument("--memory-repeat", type=int, default=3,
                    help="memory-sampled runs of each report program, apart from the timed ones (default 3)")
    args = ap.parse_args()
    log = args.log
    if log is None:
        log = Path(tempfile.mkdtemp()) / "gen.log"
        subprocess.run([sys.executable, str(REPO / "tests/bench/gen_maillog.py"), str(log), "--lines",
                        str(args.lines)], check=True)
    lines = sum(1 for _ in open(log, "rb"))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    bench_report(log, lines, args.repeat, args.memory_repeat, not args.no_compile)
    if args.follow_seconds > 0:
        bench_follow(log, args.rate, args.follow_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
