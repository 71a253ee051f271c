#!/usr/bin/env python3
"""Benchmark: the dashboard's key-to-screen latency with a big queue and a fast-growing log.

    .venv/bin/python tests/bench/bench_tui.py [--messages 100000] [--rate 2000] [--seconds 60] [--keys 200]

Set-up (measured in one process, headless, 120x40):

* queue: ``--messages`` queue entries built by the queue core's own records from the recorded lab
  capture (``tests/data/queue/postqueue-j.jsonl``), with distinct IDs, ages, senders and domains
  (filling the real lab queue with 100,000 messages takes minutes; the panel sees the same records);
  refreshed every ``refresh.queue`` seconds as with a real ``postqueue -j``;
* log: a writer thread appends ``--rate`` real lab log lines per second to a temporary file, and the
  real log source (``LogMonitor``: follow, parse, statistics) tails it every ``refresh.log`` seconds.

Measured: for ``--keys`` key presses (panel switches, cursor moves, re-sorting the queue, filter
typing) the time from the key press (Pilot) until the first frame the app writes to the terminal after
it (``App._display`` is timed; Pilot's own waiting for idle is not counted), as p50/p99/max per kind; process CPU use while driving keys and while
idle; RSS at start, end and peak (ru_maxrss) over ``--seconds`` of running. The peer, measured in the
same run, is the same app with an empty queue and a silent log: the ratio says what the load costs.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mailtop.config import load_config  # noqa: E402
from mailtop.logs.monitor import LogMonitor  # noqa: E402
from mailtop.mta.postfix import entry_from_record, parse_json_record  # noqa: E402
from mailtop.mta.records import Recipient  # noqa: E402
from mailtop.mta.records import Snapshot as QueueSnapshot  # noqa: E402
from mailtop.mta.summary import SummaryBuilder  # noqa: E402
from mailtop.tui.app import MailtopApp  # noqa: E402
from mailtop.tui.collect import Source  # noqa: E402
from mailtop.tui.panels.queue import prepare  # noqa: E402

DATA = REPO / "tests" / "data"


def big_queue(n: int) -> QueueSnapshot:
    lines = (DATA / "queue" / "postqueue-j.jsonl").read_text().splitlines()
    base = [entry_from_record(d) for d in map(parse_json_record, lines) if d is not None]
    now = time.time()
    builder = SummaryBuilder(now, "postqueue -j (bench)")
    entries = []
    for i in range(n):
        e = base[i % len(base)]
        dom = f"d{i % 997}.example"
        rcpts = tuple(Recipient(f"user{i % 5000}@{dom}", r.reason) for r in e.recipients) or (Recipient(f"u@{dom}"),)
        e = replace(e, queue_id=f"{0x100000000 + i:X}", arrival=now - (i % 86400) * 3.0, recipients=rcpts,
                    sender=f"sender{i % 3000}@client{i % 50}.example")
        builder.add(e)
        entries.append(e)
    return QueueSnapshot(entries=tuple(entries), summary=builder.result())


class LogWriter(threading.Thread):
    def __init__(self, path: Path, rate: int) -> None:
        super().__init__(daemon=True)
        self.path, self.rate = path, rate
        self.lines = (DATA / "logs" / "lab-postfix.log").read_text().splitlines()
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        i = 0
        with self.path.open("a") as fh:
            t0 = time.monotonic()
            while not self.stop.is_set():
                due = int((time.monotonic() - t0) * self.rate)
                chunk = []
                while self.written < due:
                    chunk.append(self.lines[i % len(self.lines)])
                    i += 1
                    self.written += 1
                if chunk:
                    fh.write("\n".join(chunk) + "\n")
                    fh.flush()
                time.sleep(0.02)


KEYS = [("switch", ["2"]), ("cursor", ["down"]), ("switch", ["3"]), ("cursor", ["up"]), ("switch", ["1"]),
        ("switch", ["2"]), ("sort", ["o"]), ("cursor", ["pagedown"]), ("filter", ["slash", "u", "s", "e", "r", "1"]),
        ("filter", ["escape"])]


async def drive(app: MailtopApp, n_keys: int, seconds: float) -> dict:
    proc = psutil.Process()
    lat: dict[str, list[float]] = {}
    rss = []
    displays: list[float] = []
    original_display = app._display

    def timed_display(screen, renderable):  # every frame the app writes to the terminal
        original_display(screen, renderable)
        displays.append(time.perf_counter())

    app._display = timed_display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(600):
            if all(s.polls for s in app.poller.snapshots.values()):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        rss.append(proc.memory_info().rss)
        cpu0, t0 = proc.cpu_times(), time.monotonic()
        presses = 0
        while presses < n_keys:
            for kind, keys in KEYS:
                for key in keys:
                    displays.clear()
                    start = time.perf_counter()
                    await pilot.press(key)
                    await pilot.pause()
                    drawn = [t for t in displays if t >= start]
                    # key-to-screen: from the key press to the first frame written after it
                    lat.setdefault(kind, []).append((drawn[0] if drawn else time.perf_counter()) - start)
                    presses += 1
        busy_wall = time.monotonic() - t0
        cpu1 = proc.cpu_times()
        busy_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / busy_wall * 100
        # idle: no keys, collectors keep running
        end = time.monotonic() + seconds
        t1 = time.monotonic()
        while time.monotonic() < end:
            await asyncio.sleep(min(5.0, max(0.0, end - time.monotonic())))
            rss.append(proc.memory_info().rss)
        cpu2 = proc.cpu_times()
        idle_cpu = (cpu2.user + cpu2.system - cpu1.user - cpu1.system) / (time.monotonic() - t1) * 100
        log_lines = app.panel("log").query_one("#logview").total
    return {"lat": lat, "busy_cpu": busy_cpu, "idle_cpu": idle_cpu, "rss": rss, "log_lines": log_lines}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def report(name: str, r: dict) -> float:
    everything = [v for vs in r["lat"].values() for v in vs]
    print(f"\n== {name}")
    for kind, vs in r["lat"].items():
        print(f"  {kind:<7} n={len(vs):<4} p50 {pct(vs, 50):7.1f} ms  p99 {pct(vs, 99):7.1f} ms  max {max(vs) * 1000:7.1f} ms")
    print(f"  all     n={len(everything):<4} p50 {pct(everything, 50):7.1f} ms  p99 {pct(everything, 99):7.1f} ms  "
          f"mean {statistics.mean(everything) * 1000:.1f} ms")
    mb = [x / 2**20 for x in r["rss"]]
    print(f"  CPU while driving keys {r['busy_cpu']:.0f}%   CPU idle (collectors running) {r['idle_cpu']:.0f}%")
    print(f"  RSS start {mb[0]:.0f} MiB  end {mb[-1]:.0f} MiB  max sampled {max(mb):.0f} MiB  "
          f"(growth over the idle period {mb[-1] - mb[1 if len(mb) > 1 else 0]:+.1f} MiB)")
    print(f"  log lines shown by the Log panel: {r['log_lines']}")
    return pct(everything, 99)


def main() -> int:
    ap = argparse.ArgumentParser(description="dashboard key-to-screen benchmark")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=2000, help="log lines per second")
    ap.add_argument("--seconds", type=float, default=60.0, help="idle period for CPU and memory")
    ap.add_argument("--keys", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "mail.log"
        log.touch()
        cfg = load_config(None, environ={}, detect=False, flags={
            "general": {"hostname": "bench", "audit_log": str(Path(tmp) / "audit.log"), "state_dir": tmp},
            "logs": {"files": str(log)}, "aliases": {"path": str(DATA / "tui" / "aliases")}})
        t = time.perf_counter()
        queue = big_queue(args.messages)
        print(f"built {args.messages} queue entries in {time.perf_counter() - t:.1f} s")

        # the peer: same app, empty queue, silent log
        empty = QueueSnapshot(entries=(), summary=SummaryBuilder(time.time(), "empty").result())
        quiet = LogMonitor(cfg)
        peer = MailtopApp(cfg, sources=[Source("queue", cfg.refresh.queue, lambda: prepare(empty)),
                                        Source("log", cfg.refresh.log, quiet.poll)], read_only="bench")
        peer.animation_level = "none"
        peer_r = asyncio.run(drive(peer, args.keys, min(10.0, args.seconds)))

        writer = LogWriter(log, args.rate)
        writer.start()
        monitor = LogMonitor(cfg)
        app = MailtopApp(cfg, sources=[Source("queue", cfg.refresh.queue, lambda: prepare(queue)),
                                       Source("log", cfg.refresh.log, monitor.poll)], read_only="bench")
        app.animation_level = "none"
        r = asyncio.run(drive(app, args.keys, args.seconds))
        writer.stop.set()
        writer.join()
    p99_peer = report("peer: empty queue, silent log", peer_r)
    p99 = report(f"load: {args.messages} queued, log +{args.rate} lines/s ({writer.written} written)", r)
    print(f"\np99 ratio load/peer: {p99 / p99_peer:.1f}x   goal: p99 < 100 ms -> "
          f"{'met' if p99 < 100 else 'NOT met'}")
    print(f"peak RSS of the process (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
