"""Benchmark of ``mailtop --check`` against the lab: every check, concurrently.

Run inside the lab's network namespace, e.g.:

    ip netns exec mt-NAME env MAILTOP_LAB_DIR=$PWD/.lab-NAME .venv/bin/python tests/bench/bench_check.py

Prints, over ``--runs`` runs (median and worst):

- wall time of one concurrent run of every check, and the slowest check (goal: wall < 2 s);
- the same checks run one after another (the named peer: what concurrency buys);
- start-up, import to first check, in a fresh interpreter (goal: < 0.3 s), next to two peers measured
  in the same run: a bare interpreter (``python -c pass``) and importing Textual (``import textual.app``),
  which ``--check`` never does;
- the whole ``mailtop --check --format json`` process, as cron or a monitoring agent sees it.

Figures only: it never fails on a goal (timing goals are not tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

WALL_GOAL = 2.0
STARTUP_GOAL = 0.3

STARTUP_SCRIPT = """
import time
t0 = time.perf_counter()
import asyncio, json, sys
from mailtop.cli import build_parser, _flags
from mailtop.config import load_config
args = build_parser().parse_args(["--config", sys.argv[1], "--check"])
cfg = load_config(args.config, flags=_flags(args))
from mailtop.checks import run_checks
run = asyncio.run(run_checks(cfg))
first = min(r.started for r in run.results if r.state != "skipped")
print(json.dumps({"startup": first - t0, "wall": run.wall,
                  "textual": any(m == "textual" or m.startswith("textual.") for m in sys.modules)}))
"""


def lab_config_path() -> Path:
    lab = Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab")).resolve()
    cfg = lab / "mailtop.toml"
    if not cfg.is_file():
        sys.exit(f"bench_check: no lab at {lab} (run services/lab up, set MAILTOP_LAB_DIR)")
    return cfg


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False, timeout=120, cwd=REPO)
    return time.perf_counter() - t0


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms   worst {max(values) * 1000:7.1f} ms"


async def sequential(cfg) -> tuple[float, dict[str, float]]:
    """Every check of the registry alone, one after another (prerequisites run with each)."""
    from mailtop.checks import registry, run_checks

    each: dict[str, float] = {}
    t0 = time.perf_counter()
    for check in registry(cfg):
        t = time.perf_counter()
        await run_checks(cfg, only=check.id)
        each[check.id] = time.perf_counter() - t
    return time.perf_counter() - t0, each


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    cfg_path = lab_config_path()
    from mailtop.checks import run_checks
    from mailtop.config import load_config

    cfg = load_config(cfg_path, environ={}, detect=False)
    print(f"mailtop --check benchmark against {cfg_path} ({opts.runs} runs; Python {sys.version.split()[0]})")

    walls: list[float] = []
    slowest: dict[str, list[float]] = {}
    last = None
    for _ in range(opts.runs):
        run = asyncio.run(run_checks(cfg))
        walls.append(run.wall)
        for r in run.results:
            slowest.setdefault(r.check, []).append(r.elapsed)
        last = run
    assert last is not None
    n_checks = len(last.results)
    n_findings = len(last.findings)
    top = sorted(slowest.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
    seq_total, _ = asyncio.run(sequential(cfg))
    print()
    print(f"all {n_checks} checks ({n_findings} findings), concurrent:  {fmt(walls)}"
          f"   goal < {WALL_GOAL:.1f} s: {'met' if max(walls) < WALL_GOAL else 'MISSED'}")
    print("  slowest checks (median): " + ", ".join(f"{cid} {statistics.median(v) * 1000:.0f} ms" for cid, v in top))
    print(f"peer: the same checks one after another: {seq_total * 1000:7.1f} ms"
          f"   -> concurrency is {seq_total / statistics.median(walls):.1f}x faster")

    startups: list[float] = []
    textual_seen = False
    for _ in range(opts.runs):
        out = subprocess.run([sys.executable, "-c", STARTUP_SCRIPT, str(cfg_path)], capture_output=True, text=True,
                             timeout=120, cwd=REPO)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        startups.append(data["startup"])
        textual_seen |= data["textual"]
    bare = [timed([sys.executable, "-c", "pass"]) for _ in range(opts.runs)]
    textual = [timed([sys.executable, "-c", "import textual.app"]) for _ in range(opts.runs)]
    whole = [timed([sys.executable, "-m", "mailtop", "--config", str(cfg_path), "--check", "--format", "json"])
             for _ in range(opts.runs)]
    print()
    print(f"start-up, import to first check:        {fmt(startups)}"
          f"   goal < {STARTUP_GOAL:.1f} s: {'met' if max(startups) < STARTUP_GOAL else 'MISSED'}"
          f"   (Textual imported: {'YES' if textual_seen else 'no'})")
    print(f"peer: bare interpreter (python -c pass): {fmt(bare)}")
    print(f"peer: python -c 'import textual.app':   {fmt(textual)}"
          f"   -> start-up is {statistics.median(textual) / statistics.median(startups):.1f}x"
          " cheaper than importing Textual alone")
    print(f"whole process, mailtop --check --format json: {fmt(whole)}"
          f"   ({statistics.median(whole) / statistics.median(bare):.1f}x a bare interpreter)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
