#!/usr/bin/env python3
"""Benchmark: the dashboard's key-to-screen latency with a big queue and a fast-growing log.

    .venv/bin/python tests/bench/bench_tui.py [--messages 100000] [--rate 2000] [--seconds 60] [--keys 200]
                                              [--in-process] [--explain] [--checks [--check-every 10]]

Set-up (headless, 120x40), with the dashboard's own sources (``build_sources``):

* queue: ``--messages`` queue entries built by the queue core's own records from the recorded lab
  capture (``tests/data/queue/postqueue-j.jsonl``), with distinct IDs, ages, senders and domains
  (filling the real lab queue with 100,000 messages takes minutes; the panel sees the same records);
  ``BenchReader`` stands in for ``PostfixQueue`` and is read every ``refresh.queue`` seconds as a real
  ``postqueue -j`` would be (each poll prepares the snapshot anew);
* log: a writer thread appends ``--rate`` real lab log lines per second to a temporary file, and the
  real log source (``mailtop.logs.monitor.LogMonitor``: follow, parse, statistics) tails it every
  ``refresh.log`` seconds.
* by default the queue and the log are read in worker processes (``mailtop.tui.worker``), as in the
  app; ``--in-process`` runs them in threads of the UI process instead (the design before), to compare.

Measured: for ``--keys`` key presses (panel switches, cursor moves, re-sorting the queue, filter
typing) the time from the key press (Pilot) until the first frame the app writes to the terminal after
it (``App._display`` is timed; Pilot's own waiting for idle is not counted). A key that changes the
Queue panel's sort or filter is timed until the first frame after the new rows were drawn (the worker
answers asynchronously; the bare first frame after the key would flatter it). A key that changes
nothing on screen (a cursor move in an empty list: the peer) has no key-to-screen time: it is counted
apart, not timed. Also:
CPU of the UI process and of UI + workers, while driving keys and idle; RSS of the UI process and of
the workers every 5 s over ``--seconds`` of running. The peer, measured in the same run, is the same
app with an empty queue and a silent log: the ratio says what the load costs.

``--checks``: the health checks too, as a user has them: the lab's config (``$MAILTOP_LAB_DIR/mailtop.toml``,
run inside the lab's network namespace) with the benchmark's growing log as ``logs.files``, and every
``check:*`` source of ``build_sources`` (the probe is opt-in, as in the app). Their refresh intervals
(``refresh.health/dns/tls/relay/quota``) are set to ``--check-every`` seconds so that checks run while
keys are pressed (at the defaults most run once a minute or less: this asks what a key pays when one
lands). The load is then measured twice in the same run, without and with the checks; the keys whose
time overlapped a check's run are counted apart, and ``--explain`` names the checks that ran during
each slow key.
"""

from __future__ import annotations

import argparse
import asyncio
import re
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

# Only the core at module level: the queue worker imports this module for BenchReader (no Textual there).
from mailtop.config import load_config  # noqa: E402
from mailtop.mta.postfix import entry_from_record, parse_json_record  # noqa: E402
from mailtop.mta.records import Recipient  # noqa: E402
from mailtop.mta.records import Snapshot as QueueSnapshot  # noqa: E402
from mailtop.mta.summary import SummaryBuilder  # noqa: E402

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


class BenchReader:
    """Stands in for ``PostfixQueue`` in the queue worker: ``snapshot()`` returns the synthetic queue
    (built once; each poll still prepares it, as a fresh ``postqueue -j`` would be)."""

    def __init__(self, cfg: object, n: int) -> None:
        self.queue = big_queue(n)

    def snapshot(self) -> QueueSnapshot:
        return self.queue


CHECK_RUNS: list[tuple[float, float, str]] = []
"""(start, end, source) of every check run (``perf_counter``), for ``--checks``."""


def timed_check(src):
    """The check source ``src`` with its runs recorded in ``CHECK_RUNS``."""
    fetch = src.fetch

    async def timed_fetch():
        t0 = time.perf_counter()
        try:
            return await fetch()
        finally:
            CHECK_RUNS.append((t0, time.perf_counter(), src.name))

    return replace(src, fetch=timed_fetch)


def checks_during(t0: float, t1: float) -> list[str]:
    return sorted({name for a, b, name in CHECK_RUNS if a < t1 and b > t0})


QUEUE_ID = re.compile(r"\b([0-9A-F]{10,12})\b")
"""Queue IDs of the lab capture (short IDs; a cycle number is put in front of them)."""


class LogWriter(threading.Thread):
    """Appends log lines at ``rate`` lines/s, dated now: the lab capture's (few distinct senders,
    recipients and clients), or with ``source`` a log file's, read as it goes (e.g. one from
    tests/bench/gen_maillog.py, with a real log's tens of thousands of keys), again from its start at
    its end; queue IDs get a pass number in front from the second pass on."""

    def __init__(self, path: Path, rate: int, source: Path | None = None) -> None:
        super().__init__(daemon=True)
        self.path, self.rate = path, rate
        self.source = source
        self.lines = (DATA / "logs" / "lab-postfix.log").read_text().splitlines() if source is None else []
        self.stop = threading.Event()
        self.written = 0

    def source_lines(self):  # noqa: ANN201
        """The source file's lines, pass after pass (queue IDs made unique per pass after the first)."""
        cycle = 0
        while True:
            with open(self.source, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    line = line.rstrip("\n")
                    yield line if not cycle else QUEUE_ID.sub(lambda m, c=cycle: f"{c:X}" + m.group(1), line)
            cycle += 1

    def cycle_lines(self, cycle: int) -> list[str]:
        """The capture's lines with queue IDs unique to this pass (as on a live host, where every message
        has its own ID: flows of messages never removed pile up in the log core; replayed IDs hid that)."""
        prefix = f"{cycle:X}"
        return [QUEUE_ID.sub(lambda m: prefix + m.group(1), line) for line in self.lines]

    def run(self) -> None:
        i = 0
        lines = self.lines
        src = self.source_lines() if self.source is not None else None
        with self.path.open("a") as fh:
            t0 = time.monotonic()
            while not self.stop.is_set():
                due = int((time.monotonic() - t0) * self.rate)
                chunk = []
                now = time.localtime()
                stamp = time.strftime("%b ", now) + f"{now.tm_mday:2d}" + time.strftime(" %H:%M:%S", now)  # dated now, as on a live host (the
                # statistics keep per-minute buckets for their window: replayed old dates never age out)
                while self.written < due:
                    if src is not None:
                        line = next(src)
                    else:
                        if i % len(self.lines) == 0:
                            lines = self.cycle_lines(i // len(self.lines))
                        line = lines[i % len(lines)]
                    chunk.append(stamp + line[15:] if line[:3].isalpha() and line[15:16] == " " else line)
                    i += 1
                    self.written += 1
                if chunk:
                    fh.write("\n".join(chunk) + "\n")
                    fh.flush()
                time.sleep(0.02)


KEYS = [("switch", ["2"]), ("cursor", ["down"]), ("switch", ["3"]), ("cursor", ["up"]), ("switch", ["1"]),
        ("switch", ["2"]), ("sort", ["o"]), ("cursor", ["pagedown"]), ("filter", ["slash", "u", "s", "e", "r", "1"]),
        ("filter", ["escape"])]


class Tracer:
    """``--explain``: what the UI process's event loop did during each slow key.

    Records every event-loop step (``asyncio.Handle._run``) longer than ``STEP`` seconds with the
    messages Textual dispatched in it (widget class, message class), every screen layout
    (``Screen._refresh_layout``) and every garbage collection (``gc.callbacks``), with start times on
    the ``perf_counter`` clock the keys are timed with.
    """

    STEP = 0.004

    def __init__(self) -> None:
        self.steps: list[tuple[float, float, str, list[str]]] = []
        self.gcs: list[tuple[float, float, int, int]] = []
        self.layouts: list[tuple[float, float]] = []
        self._current: list[str] = []
        self._active: dict[object, str] = {}
        self._gc_start = 0.0
        self.parts: dict[str, list[tuple[float, float]]] = {}
        self.asked: list[tuple[float, float, float, float]] = []
        """Keys that asked the queue worker for a view: (key-to-screen, key to request, round trip,
        answer to screen)."""

    def install(self) -> None:
        import asyncio.events
        import gc

        from textual.message_pump import MessagePump
        from textual.screen import Screen

        tracer = self
        run = asyncio.events.Handle._run

        def timed_run(handle: asyncio.events.Handle) -> None:
            tracer._current = []
            cb = handle._callback
            owner = getattr(cb, "__self__", None)
            task = owner if isinstance(owner, asyncio.Task) else None
            t0 = time.perf_counter()
            run(handle)
            dt = time.perf_counter() - t0
            if dt > tracer.STEP:
                name = task.get_name() if task is not None else getattr(cb, "__qualname__", repr(cb))
                inside = tracer._active.get(task)
                tracer.steps.append((t0, dt, name, ([f"in {inside}"] if inside else []) + tracer._current))

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]
        dispatch = MessagePump._dispatch_message

        async def timed_dispatch(pump: MessagePump, message: object) -> None:
            name = f"{type(pump).__name__}.{type(message).__name__}"
            tracer._current.append(name)
            task = asyncio.current_task()
            outer = tracer._active.get(task)
            tracer._active[task] = name
            try:
                await dispatch(pump, message)
            finally:
                if outer is None:
                    tracer._active.pop(task, None)
                else:
                    tracer._active[task] = outer

        MessagePump._dispatch_message = timed_dispatch  # type: ignore[method-assign]
        layout = Screen._refresh_layout

        def timed_layout(screen: Screen, *a: object, **kw: object) -> None:
            t0 = time.perf_counter()
            layout(screen, *a, **kw)
            tracer.layouts.append((t0, time.perf_counter() - t0))
            tracer._current.append("LAYOUT")

        Screen._refresh_layout = timed_layout  # type: ignore[method-assign]
        from textual._compositor import Compositor

        def timed(cls: type, attr: str) -> None:
            original = getattr(cls, attr)
            spans = tracer.parts.setdefault(attr, [])

            def wrapper(*a: object, **kw: object) -> object:
                t0 = time.perf_counter()
                try:
                    return original(*a, **kw)
                finally:
                    dt = time.perf_counter() - t0
                    spans.append((t0, dt))
                    if dt > 0.002:
                        tracer._current.append(f"{attr} {dt * 1000:.0f}ms")

            setattr(cls, attr, wrapper)

        timed(Compositor, "reflow")
        timed(Compositor, "render_update")
        timed(Compositor, "update_widgets")

        def on_gc(phase: str, info: dict) -> None:
            if phase == "start":
                self._gc_start = time.perf_counter()
            else:
                self.gcs.append((self._gc_start, time.perf_counter() - self._gc_start, info["generation"],
                                 info["collected"]))
                tracer._current.append(f"GC{info['generation']}")

        gc.callbacks.append(on_gc)

    @staticmethod
    def census() -> str:
        import gc
        from collections import Counter

        counts = Counter(type(o).__qualname__ for o in gc.get_objects())
        total = sum(counts.values())
        return (f"    objects the cyclic GC tracks (not frozen): {total}, frozen {gc.get_freeze_count()}; most: "
                + ", ".join(f"{k} {v}" for k, v in counts.most_common(12)))

    def during(self, t0: float, t1: float) -> str:
        steps = [s for s in self.steps if s[0] < t1 and s[0] + s[1] > t0]
        gcs = [g for g in self.gcs if t0 <= g[0] < t1]
        lays = [x for x in self.layouts if t0 <= x[0] < t1]
        out = [f"      layouts {len(lays)} ({sum(x[1] for x in lays) * 1000:.0f} ms)  "
               f"GC {', '.join(f'gen{g[2]} {g[1] * 1000:.1f} ms' for g in gcs if g[1] > 0.001) or '-'}"]
        for s0, dt, name, what in steps:
            shown = ", ".join(dict.fromkeys(what))
            out.append(f"      +{(s0 - t0) * 1000:6.1f} ms  {dt * 1000:5.1f} ms  {name[:40]}: {shown[:160]}")
        return "\n".join(out)


def family_rss(proc: psutil.Process) -> tuple[int, int]:
    """RSS of the UI process and of its worker processes (children)."""
    kids = 0
    for child in proc.children(recursive=True):
        try:
            kids += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return proc.memory_info().rss, kids


def family_cpu(proc: psutil.Process) -> float:
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


async def drive(app, n_keys: int, seconds: float, tracer: Tracer | None = None) -> dict:
    proc = psutil.Process()
    lat: dict[str, list[float]] = {}
    slow: list[tuple[float, str, str, int]] = []
    blank: dict[str, int] = {}
    rss: list[tuple[int, int]] = []
    displays: list[float] = []
    windows: list[tuple[float, str, str, int, float, float]] = []
    spans: list[tuple[float, float, float]] = []  # (took, start, drawn) of every timed key
    original_display = app._display
    asked0 = len(tracer.asked) if tracer is not None else 0

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
        errors = {s.name: s.error for s in app.poller.snapshots.values() if s.error or not s.polls}
        if errors:
            raise SystemExit(f"a collector failed, nothing to measure: {errors}")
        queue_panel = app.panel("queue")
        rss.append(family_rss(proc))
        cpu0, all0, t0 = proc.cpu_times(), family_cpu(proc), time.monotonic()
        presses = 0
        while presses < n_keys:
            for kind, keys in KEYS:
                for key in keys:
                    displays.clear()
                    start = time.perf_counter()
                    await pilot.press(key)
                    await pilot.pause()
                    ready = start
                    if queue_panel.shown:  # wait for the rows of a new sort/filter (the worker's answer)
                        for _ in range(1000):
                            if not queue_panel.view_pending:
                                break
                            await asyncio.sleep(0.002)
                        await pilot.pause()
                        ready = max(start, queue_panel.drawn_at)
                    drawn = [t for t in displays if t >= ready]
                    presses += 1
                    if not drawn:  # nothing changed on screen (cursor at the end of an empty list)
                        blank[kind] = blank.get(kind, 0) + 1
                        continue
                    # key-to-screen: from the key press to the first frame written after it (and after the rows)
                    took = drawn[0] - start
                    lat.setdefault(kind, []).append(took)
                    slow.append((took, kind, key, presses))
                    spans.append((took, start, drawn[0]))
                    if tracer is not None:
                        windows.append((took, kind, key, presses, start, drawn[0]))
                        asked = [v[2] for v in queue_panel.view_times if v[2] >= start]
                        if asked and queue_panel.shown:
                            tracer.asked.append((took, asked[0] - start, queue_panel.view_times[-1][0],
                                                 drawn[0] - asked[0] - queue_panel.view_times[-1][0]))
        busy_wall = time.monotonic() - t0
        census = tracer.census() if tracer is not None else ""
        cpu1, all1 = proc.cpu_times(), family_cpu(proc)
        busy_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / busy_wall * 100
        busy_all = (all1 - all0) / busy_wall * 100
        # idle: no keys, collectors keep running
        end = time.monotonic() + seconds
        t1 = time.monotonic()
        while time.monotonic() < end:
            await asyncio.sleep(min(5.0, max(0.0, end - time.monotonic())))
            rss.append(family_rss(proc))
        cpu2, all2 = proc.cpu_times(), family_cpu(proc)
        idle_wall = time.monotonic() - t1
        idle_cpu = (cpu2.user + cpu2.system - cpu1.user - cpu1.system) / idle_wall * 100
        idle_all = (all2 - all1) / idle_wall * 100
        by_role = {}
        for name, src in app.poller.sources.items():
            pid = getattr(src.owner, "pid", None)
            name = getattr(src.owner, "role", name)  # the check sources share one worker
            if pid is not None and name not in by_role:
                try:
                    by_role[name] = psutil.Process(pid).memory_info().rss
                except psutil.NoSuchProcess:
                    continue
        log_lines = app.panel("log").query_one("#logview").total
        gc_pauses = list(getattr(app, "gc_pauses", ()))[1:]  # the first is the start-up freeze
        views = list(queue_panel.view_times)
        errors = {s.name: s.error for s in app.poller.snapshots.values() if s.error}
    return {"lat": lat, "busy_cpu": busy_cpu, "idle_cpu": idle_cpu, "busy_all": busy_all, "idle_all": idle_all,
            "rss": rss, "log_lines": log_lines, "slow": sorted(slow, reverse=True)[:5], "errors": errors,
            "blank": blank, "views": views, "spans": spans,
            "census": census, "gc": gc_pauses, "by_role": by_role, "asked": tracer.asked[asked0:] if tracer else [],
            "explain": [f"    {key} ({kind}, #{i}) {took * 1000:.0f} ms"
                        + (f"  checks running: {', '.join(checks_during(t0, t1))}" if checks_during(t0, t1) else "")
                        + "\n" + tracer.during(t0, t1)
                        for took, kind, key, i, t0, t1 in sorted(windows, reverse=True)[:8]] if tracer else []}


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
    ui = [x[0] / 2**20 for x in r["rss"]]
    kids = [x[1] / 2**20 for x in r["rss"]]
    print(f"  CPU while driving keys: UI process {r['busy_cpu']:.0f}%, UI + workers {r['busy_all']:.0f}%   "
          f"idle (collectors running): UI {r['idle_cpu']:.0f}%, UI + workers {r['idle_all']:.0f}%")
    i0 = 1 if len(ui) > 1 else 0
    print(f"  RSS UI process: start {ui[0]:.0f} MiB  end {ui[-1]:.0f} MiB  max sampled {max(ui):.0f} MiB  "
          f"(growth over the idle period {ui[-1] - ui[i0]:+.1f} MiB)")
    print(f"  RSS workers:    start {kids[0]:.0f} MiB  end {kids[-1]:.0f} MiB  max sampled {max(kids):.0f} MiB  "
          f"(growth over the idle period {kids[-1] - kids[i0]:+.1f} MiB)")
    if len(ui) > 4 and len(ui) <= 25:
        print("  RSS UI + workers (MiB, at the start, then every 5 s idle): "
              + " ".join(f"{a + b:.0f}" for a, b in zip(ui, kids, strict=True)))
    elif len(ui) > 25:  # a long run: every 30 s, and the last five minutes
        print("  RSS every 30 s of the idle period (MiB), UI process: " + " ".join(f"{v:.0f}" for v in ui[1::6]))
        print("                                           workers:    " + " ".join(f"{v:.0f}" for v in kids[1::6]))
        last = 300 // 5
        if len(ui) > last + 1:
            print(f"  last 5 minutes: UI {ui[-1] - ui[-1 - last]:+.1f} MiB, workers {kids[-1] - kids[-1 - last]:+.1f} MiB "
                  f"(max - min: UI {max(ui[-1 - last:]) - min(ui[-1 - last:]):.1f}, "
                  f"workers {max(kids[-1 - last:]) - min(kids[-1 - last:]):.1f} MiB)")
    if r.get("by_role"):
        print("  RSS of each worker at the end: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in r["by_role"].items()))
    if r.get("gc"):
        g = r["gc"]
        print(f"  full garbage collections in input pauses: {len(g)}, "
              + (f"{min(g) * 1000:.0f}-{max(g) * 1000:.0f} ms each" if g else "none"))
    if r["blank"]:
        print("  keys that changed nothing on screen (not timed): "
              + ", ".join(f"{kind} {n}" for kind, n in r["blank"].items()))
    print("  slowest keys: " + ", ".join(f"{key} ({kind}, #{i}) {t * 1000:.0f} ms" for t, kind, key, i in r["slow"]))
    if r["views"]:
        rtt = [v[0] for v in r["views"]]
        comp = [v[1] for v in r["views"]]
        print(f"  re-sort/filter answers from the queue worker: n={len(rtt)}  round trip p50 {pct(rtt, 50):.1f} ms "
              f"p99 {pct(rtt, 99):.1f} ms  (computing in the worker p50 {pct(comp, 50):.1f} ms p99 {pct(comp, 99):.1f} ms)")
    if CHECK_RUNS and r.get("spans"):
        during = [t for t, a, b in r["spans"] if checks_during(a, b)]
        apart = [t for t, a, b in r["spans"] if not checks_during(a, b)]
        k0, k1 = min(a for _, a, _ in r["spans"]), max(b for _, _, b in r["spans"])
        runs = [x for x in CHECK_RUNS if x[0] < k1 and x[1] > k0]
        print(f"  check runs while keys were pressed: {len(runs)} ({len({x[2] for x in runs})} checks)")
        for label, vs in (("keys during a check run", during), ("keys with no check running", apart)):
            if vs:
                print(f"  {label:<27} n={len(vs):<4} p50 {pct(vs, 50):7.1f} ms  p99 {pct(vs, 99):7.1f} ms  "
                      f"max {max(vs) * 1000:7.1f} ms")
    print(f"  log lines shown by the Log panel: {r['log_lines']}")
    if r["explain"]:
        print("  the slowest keys, with the event-loop steps over 4 ms, layouts and garbage collections in them:")
        print("\n".join(r["explain"]))
        print(r["census"])
        if r["asked"]:
            a = sorted(r["asked"], reverse=True)
            print("  keys that asked the queue worker for rows, slowest first: key-to-screen = key to request + "
                  "round trip + answer to screen (ms):")
            print("    " + ", ".join(f"{t * 1000:.0f} = {k * 1000:.0f} + {rt * 1000:.0f} + {d * 1000:.0f}"
                                     for t, k, rt, d in a[:10]))
    if r["errors"]:
        print(f"  collectors failing at the end: {r['errors']}")
    return pct(everything, 99)


def main() -> int:
    ap = argparse.ArgumentParser(description="dashboard key-to-screen benchmark")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=2000, help="log lines per second")
    ap.add_argument("--log-source", type=Path, help="append this log's lines (default: the lab capture's)")
    ap.add_argument("--seconds", type=float, default=60.0, help="idle period for CPU and memory")
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--in-process", action="store_true", help="collectors in threads of the UI process")
    ap.add_argument("--checks", action="store_true",
                    help="also measure the load with the health checks (the lab's config, run in the lab's netns)")
    ap.add_argument("--check-every", type=float, default=10.0,
                    help="with --checks: seconds between runs of each check (refresh.health/dns/tls/relay/quota)")
    ap.add_argument("--explain", action="store_true",
                    help="trace the UI's event loop: what ran during the slowest keys (adds a little overhead)")
    args = ap.parse_args()
    from mailtop.tui.app import MailtopApp
    from mailtop.tui.sources import build_sources

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "mail.log"
        log.touch()
        cfg = load_config(None, environ={}, detect=False, flags={
            "general": {"hostname": "bench", "audit_log": str(Path(tmp) / "audit.log"), "state_dir": tmp},
            "logs": {"files": str(log)}, "aliases": {"path": str(DATA / "tui" / "aliases")}})

        lab_cfg = None
        if args.checks:
            import os

            lab_toml = Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab")) / "mailtop.toml"
            every = args.check_every
            lab_cfg = load_config(lab_toml, environ={}, detect=False, flags={
                "general": {"audit_log": str(Path(tmp) / "audit.log"), "state_dir": tmp},
                "logs": {"files": str(log)},
                "refresh": {"health": every, "dns": every, "tls": every, "relay": every, "quota": every}})

        def app_for(n: int, checks: str = "") -> MailtopApp:
            c = lab_cfg if checks else cfg
            sources, _ = build_sources(c, workers=not args.in_process, queue_reader="bench_tui:BenchReader",
                                       reader_args={"n": n}, sys_path=(str(Path(__file__).parent),))
            wanted = [s for s in sources if s.name in ("queue", "log")]
            if checks == "worker":  # as the app runs them: in the checks worker process
                wanted += [timed_check(s) for s in sources if s.name.startswith("check:")]
            elif checks == "ui":  # as before: on the UI's event loop and its threads
                from mailtop.tui.sources import check_sources

                wanted += [timed_check(s) for s in check_sources(c)]
            app = MailtopApp(c, sources=wanted, read_only="bench")
            app.animation_level = "none"
            return app

        print(f"collectors: {'threads of the UI process' if args.in_process else 'worker processes'}")
        # the peer: same app, empty queue, silent log
        tracer = Tracer() if args.explain else None
        if tracer is not None:
            tracer.install()
        peer_r = asyncio.run(drive(app_for(0), args.keys, min(10.0, args.seconds), tracer))

        writer = LogWriter(log, args.rate, args.log_source)
        writer.start()
        r = asyncio.run(drive(app_for(args.messages), args.keys, args.seconds, tracer))
        with_checks = {}
        for where in ("worker", "ui") if args.checks else ():  # the UI process keeps what the "ui" run left
            with_checks[where] = asyncio.run(drive(app_for(args.messages, checks=where), args.keys, args.seconds, tracer))
        writer.stop.set()
        writer.join()
    p99_peer = report("peer: empty queue, silent log", peer_r)
    p99 = report(f"load: {args.messages} queued, log +{args.rate} lines/s ({writer.written} written)", r)
    for where, rc in with_checks.items():
        label = "in the UI process (threads, as before)" if where == "ui" else "in the checks worker process"
        p99c = report(f"load + health checks every {args.check_every:g} s (the lab's config), {label}", rc)
        print(f"\np99 ratio load+checks {where}/load: {p99c / p99:.2f}x")
    print(f"\np99 ratio load/peer: {p99 / p99_peer:.1f}x   goal: p99 < 100 ms -> "
          f"{'met' if p99 < 100 else 'NOT met'}")
    print(f"peak RSS of the process (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
