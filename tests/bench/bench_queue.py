#!/usr/bin/env python3
"""Benchmark: ``mailtop queue --json --shape`` against ``postqueue -j`` alone and ``qshape``.

Fills the lab's deferred queue (smtp-source against the lab's SMTP port; the dead relay defers
everything) up to each size given, then measures in the same run, interleaved, ``--repeat`` times:

    postqueue -c DIR -j > /dev/null
    qshape -c DIR deferred > /dev/null
    python -m mailtop --config LAB/mailtop.toml queue --json --shape > /dev/null
    .venv/bin/mailtop --config LAB/mailtop.toml queue --json --shape > /dev/null   (the console script)

and prints the median wall time, the ratios (goal: mailtop <= 1.3x postqueue -j, < qshape) and the
peak RSS of each process (``wait4``; note that the queue is read by Postfix's showq daemon, whose
memory is not postqueue's). It also checks that mailtop's shape totals equal qshape's.

Run it inside your lab's network namespace, as root (qshape reads the queue folders):

    ip netns exec mt-NAME env MAILTOP_LAB_DIR=$PWD/.lab-NAME .venv/bin/python tests/bench/bench_queue.py 10000 100000

``--compare DIR`` also measures the mailtop of another checkout (``python -m mailtop`` run in DIR,
e.g. ``git archive REV mailtop | tar -x -C DIR``), interleaved with the rest, for before/after
figures from the same run on a noisy machine.

The bench's messages (recipients @benchN.example) are deleted at the end unless ``--keep``. While
measuring, the lab instance's back-off times are raised to an hour (``postconf -e``, restored at the
end) so the queue manager's retries do not churn the queue under the measurement (``--no-quiesce``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOMAINS = 10


def lab_dir() -> Path:
    return Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab")).resolve()


GNU_TIME = "/usr/bin/time"


def measure(argv: list[str], cwd: Path = REPO) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (KiB) and stdout of one run (stdout to a pipe we drain).

    The peak RSS comes from GNU time when present: a child spawned straight from this Python process
    would report this process's own size (vfork shares our memory until exec).
    """
    rss_file = None
    if os.path.exists(GNU_TIME):
        rss_file = f"/tmp/bench_queue_rss.{os.getpid()}"
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    out = b""
    assert proc.stdout is not None
    while chunk := proc.stdout.read(1 << 20):
        out += chunk if len(out) < (64 << 20) else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err}")
    peak = usage.ru_maxrss
    if rss_file is not None:
        with open(rss_file) as fh:
            peak = int(fh.read().split()[-1])
        os.unlink(rss_file)
    return wall, peak, out


def deferred_count(cfg_dir: str) -> tuple[int, int]:
    """(deferred, still on its way: incoming, active, maildrop) message counts."""
    _, _, out = measure(["postqueue", "-c", cfg_dir, "-j"])
    deferred = other = 0
    for line in out.splitlines():
        if b'"queue_name": "deferred"' in line:
            deferred += 1
        elif b'"queue_name": "hold"' not in line:
            other += 1
    return deferred, other


def fill(cfg_dir: str, port: int, target: int) -> None:
    have, _ = deferred_count(cfg_dir)
    need = target - have
    if need <= 0:
        print(f"  deferred queue already has {have} messages")
        return
    print(f"  sending {need} messages (smtp-source, {DOMAINS} destination domains) ...", flush=True)
    t0 = time.perf_counter()
    per = [need // DOMAINS + (1 if i < need % DOMAINS else 0) for i in range(DOMAINS)]
    procs = [
        subprocess.Popen(["smtp-source", "-m", str(n), "-s", "4", "-l", "2048", "-f", "bench@client.example",
                          "-t", f"user@bench{i}.example", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for i, n in enumerate(per) if n
    ]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"smtp-source failed: {err.decode(errors='replace')}")
    sent = time.perf_counter() - t0
    while True:
        d, other = deferred_count(cfg_dir)
        if d >= target and other == 0:
            break
        if time.perf_counter() - t0 > 3600:
            raise SystemExit(f"queue did not settle: {d} deferred, {other} elsewhere")
        time.sleep(2)
    print(f"  sent in {sent:.1f} s ({need / sent:.0f} msg/s); all deferred after {time.perf_counter() - t0:.1f} s")


QUIET = {"queue_run_delay": "3600s", "minimal_backoff_time": "3600s", "maximal_backoff_time": "7200s"}


def quiesce(cfg_dir: str) -> dict[str, str]:
    """Stop the deferred queue's churn while measuring: with 100,000 messages to a dead relay, the queue
    manager retries some every minute, moving them through the active queue and competing for the CPU
    with what is measured. Raises the back-off times of the lab's instance (restored afterwards) and
    waits until one round of retries has pushed everything back to deferred."""
    names = list(QUIET)
    out = subprocess.run(["postconf", "-c", cfg_dir, *names], capture_output=True, text=True, check=True).stdout
    old = dict(line.split(" = ", 1) for line in out.splitlines())
    subprocess.run(["postconf", "-c", cfg_dir, "-e", *(f"{k}={v}" for k, v in QUIET.items())], check=True)
    subprocess.run(["postfix", "-c", cfg_dir, "reload"], capture_output=True, check=True)
    t0 = time.perf_counter()
    calm = 0
    while calm < 3 and time.perf_counter() - t0 < 900:
        time.sleep(2)
        _, other = deferred_count(cfg_dir)
        calm = calm + 1 if other == 0 else 0
    print(f"  queue quiesced (back-off raised to 1 h) after {time.perf_counter() - t0:.1f} s")
    return old


def restore(cfg_dir: str, old: dict[str, str]) -> None:
    subprocess.run(["postconf", "-c", cfg_dir, "-e", *(f"{k}={v}" for k, v in old.items())], check=True)
    subprocess.run(["postfix", "-c", cfg_dir, "reload"], capture_output=True, check=True)


def cleanup(cfg_dir: str) -> None:
    _, _, out = measure(["postqueue", "-c", cfg_dir, "-j"])
    ids = [json.loads(x)["queue_id"] for x in out.splitlines()
           if b"@bench" in x and b".example" in x]
    if ids:
        subprocess.run(["postsuper", "-c", cfg_dir, "-d", "-"], input="".join(i + "\n" for i in ids).encode(),
                       capture_output=True, check=False, timeout=3600)
    print(f"removed the bench's {len(ids)} messages")


def mj_counts(out: bytes) -> object:
    """What of mailtop's JSON does not depend on the time it ran (ages and buckets move)."""
    j = json.loads(out)
    return ({k: (q["messages"], q["recipients"], q["bytes"], q["oldest_id"]) for k, q in j["queues"].items()},
            [(d["domain"], d["recipients"], d["messages"]) for d in j["domains"]],
            {k: [(r["domain"], r["counts"][0]) for r in t["rows"]] for k, t in j["shape"]["queues"].items()})


def shape_total_qshape(out: bytes) -> int:
    for line in out.decode().splitlines():
        parts = line.split()
        if parts and parts[0] == "TOTAL":
            return int(parts[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", nargs="*", type=int, default=[10000], help="deferred queue sizes (default 10000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each command per size (median shown)")
    ap.add_argument("--keep", action="store_true", help="leave the bench's messages in the queue")
    ap.add_argument("--compare", metavar="DIR", type=Path,
                    help="also measure the mailtop package of this checkout (run with DIR as working directory)")
    ap.add_argument("--no-quiesce", action="store_true",
                    help="measure while the queue manager retries (noisy); by default retries are paused")
    args = ap.parse_args()

    lab = json.loads((lab_dir() / "lab.json").read_text())
    cfg_dir = lab["postfix"]["config_dir"]
    toml = str(Path(lab["state_dir"]) / "mailtop.toml")
    port = lab["ports"]["smtp"]
    cmds = {
        "postqueue -j": ["postqueue", "-c", cfg_dir, "-j"],
        "qshape deferred": ["qshape", "-c", cfg_dir, "deferred"],
        "mailtop queue --json --shape": [sys.executable, "-m", "mailtop", "--config", toml, "queue", "--json",
                                         "--shape"],
    }
    script = Path(sys.executable).parent / "mailtop"  # the console script users run (no runpy)
    if script.is_file():
        cmds["mailtop (console script)"] = [str(script), *cmds["mailtop queue --json --shape"][3:]]
    cwds = dict.fromkeys(cmds, REPO)
    if args.compare:
        other = f"mailtop of {args.compare}"
        cmds[other] = cmds["mailtop queue --json --shape"]
        cwds[other] = args.compare.resolve()
    print(f"lab {lab['state_dir']}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    saved: dict[str, str] = {}
    try:
        for size in sorted(args.sizes):
            print(f"\n== deferred queue of {size} messages")
            fill(cfg_dir, port, size)
            if not args.no_quiesce:
                old = quiesce(cfg_dir)
                saved = saved or old  # the lab's own values, from the first call
            times: dict[str, list[float]] = {k: [] for k in cmds}
            rss: dict[str, int] = dict.fromkeys(cmds, 0)
            outs: dict[str, bytes] = {}
            for _ in range(args.repeat):
                for name, argv in cmds.items():  # interleaved: the queue's own churn hits all alike
                    wall, peak, out = measure(argv, cwds[name])
                    times[name].append(wall)
                    rss[name] = max(rss[name], peak)
                    outs[name] = out
            med = {k: statistics.median(v) for k, v in times.items()}
            for name in cmds:
                print(f"  {name:<30} median {med[name]:7.3f} s  (min {min(times[name]):.3f}, max "
                      f"{max(times[name]):.3f})  peak RSS {rss[name] / 1024:6.1f} MiB")
            m, pq, qs = med["mailtop queue --json --shape"], med["postqueue -j"], med["qshape deferred"]
            print(f"  ratio mailtop / postqueue -j = {m / pq:.2f}x (goal <= 1.3x);  "
                  f"mailtop / qshape = {m / qs:.2f}x (goal < 1x)  [python -m mailtop]")
            print(f"  min/min: mailtop / postqueue -j = {min(times['mailtop queue --json --shape']) / min(times['postqueue -j']):.2f}x")
            if "mailtop (console script)" in med:
                cs = med["mailtop (console script)"]
                print(f"  console script: {cs / pq:.2f}x postqueue -j, {cs / qs:.2f}x qshape")
            if args.compare:
                print(f"  {other}: {med[other] / pq:.2f}x postqueue -j, {med[other] / qs:.2f}x qshape; "
                      f"this checkout / that one = {m / med[other]:.2f}x")
                same = mj_counts(outs[other]) == mj_counts(outs["mailtop queue --json --shape"])
                print(f"  counts check (queues, domains, shape rows' totals): the two checkouts "
                      f"{'agree' if same else 'DIFFER'}")
            mj = json.loads(outs["mailtop queue --json --shape"])
            mine = mj["shape"]["queues"].get("deferred", {}).get("total", [0])[0]
            theirs = shape_total_qshape(outs["qshape deferred"])
            print(f"  load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"  shape check: mailtop deferred total {mine} recipients, qshape {theirs} "
                  f"({'equal' if mine == theirs else 'DIFFERENT (the queue changed between runs?)'})")
    finally:
        if saved:
            restore(cfg_dir, saved)
        if not args.keep:
            cleanup(cfg_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
