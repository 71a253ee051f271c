"""The dashboard as a user keeps it open: 100,000 queued (the benchmark's synthetic queue in the queue worker),
the log growing at 2,000 lines/s, and every health check of the lab's config re-run every ``--check-every``
seconds in the workers, for ``--seconds`` (default ten minutes). Prints bench_tui's report: key-to-screen
latency, CPU, and RSS of the UI process and of each worker every 30 s (is memory flat?).

Run it in the lab's network namespace, on a quiet machine::

    flock /tmp/mailtop-heavy.lock ip netns exec mt-NAME env MAILTOP_LAB_DIR=... \\
        .venv/bin/python tests/bench/bench_tui_long.py [--seconds 600] [--check-every 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import bench_tui as B  # noqa: E402

from mailtop.config import load_config  # noqa: E402
from mailtop.tui.app import MailtopApp  # noqa: E402
from mailtop.tui.sources import build_sources  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="idle period after the keys")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=2000, help="log lines per second")
    ap.add_argument("--log-source", type=Path, help="append this log's lines (default: the lab capture's)")
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--check-every", type=float, default=10.0)
    args = ap.parse_args()
    lab_toml = Path(os.environ.get("MAILTOP_LAB_DIR", HERE.parents[1] / ".lab")) / "mailtop.toml"
    every = args.check_every
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "mail.log"
        log.touch()
        cfg = load_config(lab_toml, environ={}, detect=False, flags={
            "general": {"audit_log": str(Path(tmp) / "audit.log"), "state_dir": tmp}, "logs": {"files": str(log)},
            "refresh": {"health": every, "dns": every, "tls": every, "relay": every, "quota": every}})
        sources, _ = build_sources(cfg, workers=True, queue_reader="bench_tui:BenchReader",
                                   reader_args={"n": args.messages}, sys_path=(str(HERE),))
        wanted = [s for s in sources if s.name in ("queue", "log")]
        wanted += [B.timed_check(s) for s in sources if s.name.startswith("check:")]
        app = MailtopApp(cfg, sources=wanted, read_only="bench")
        app.animation_level = "none"
        writer = B.LogWriter(log, args.rate, args.log_source)
        writer.start()
        try:
            result = asyncio.run(B.drive(app, args.keys, args.seconds, None))
        finally:
            writer.stop.set()
            writer.join()
    B.report(f"{args.seconds / 60:g} minutes: {args.messages} queued, log +{args.rate} lines/s ({writer.written} "
             f"written), every check every {every:g} s", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
