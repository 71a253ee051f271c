#!/usr/bin/env python3
"""Benchmark: ``mailtop.reasons.normalize_reason`` against the plain version it replaced (same run).

The reasons are those ``mailtop report`` normalises on a realistic log: in ``status=deferred (...)``,
``status=bounced (...)`` (and expired) the text in the parentheses, after ``NOQUEUE: reject: `` the text
(whole, and the reason part of it that LogStats gets); each as it is and with
``<...@...>`` already ``<*>`` (LogStats._norm's cache key, which is what reaches the function). Also
every reason of the committed captures (``reasons_ref.captured_reasons``: the logs, the journal, the
queue's ``postqueue -j`` and ``-p``). Make the log first:

    .venv/bin/python tests/bench/gen_maillog.py /tmp/reasons-m1.log --lines 1000000
    flock /tmp/mailtop-heavy.lock .venv/bin/python tests/bench/bench_reasons.py /tmp/reasons-m1.log

Each distinct reason is normalised once per round (a cache in front, as LogStats has, would hide the
cost), by the reference (``reference_normalize_reason`` in tests/helpers/reasons_ref.py: mailtop/reasons.py
at 12b7cc5, the plain seventeen ``re.sub`` passes, frozen) and by the current function, interleaved,
``--repeat`` rounds.
Printed: the number of distinct reasons, microseconds per call (median and min over rounds) for each,
and the ratio. Exit 1 if any output differs from the reference's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))

from reasons_ref import captured_reasons, reasons_and_keys, reference_normalize_reason  # noqa: E402

from mailtop.reasons import normalize_reason  # noqa: E402


def per_call_us(fn: Callable[[str], str], texts: list[str]) -> float:
    t0 = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - t0) / len(texts) * 1e6


def measure(name: str, texts: list[str], repeat: int) -> int:
    bad = [t for t in texts if normalize_reason(t) != reference_normalize_reason(t)]
    ref: list[float] = []
    new: list[float] = []
    for _ in range(repeat):  # interleaved, so that a busy moment hits both
        ref.append(per_call_us(reference_normalize_reason, texts))
        new.append(per_call_us(normalize_reason, texts))
    r, n = statistics.median(ref), statistics.median(new)
    print(f"{name:34s} {len(texts):7d}  reference {r:6.2f} us (min {min(ref):6.2f})  "
          f"normalize_reason {n:6.2f} us (min {min(new):6.2f})  ratio {r / n:5.2f}x"
          f"  outputs {len({normalize_reason(t) for t in texts})}  differ {len(bad)}")
    for text in bad[:5]:
        print(f"  DIFFERS: {text!r}\n    reference: {reference_normalize_reason(text)!r}\n"
              f"    now:       {normalize_reason(text)!r}")
    return len(bad)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", nargs="?", default="/tmp/reasons-m1.log",
                    help="a generated log (tests/bench/gen_maillog.py); default /tmp/reasons-m1.log")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    if not os.path.exists(args.log):
        print(f"{args.log}: no such file; make it with\n"
              f"  .venv/bin/python tests/bench/gen_maillog.py {args.log} --lines 1000000", file=sys.stderr)
        return 2
    with open(args.log, encoding="utf-8", errors="surrogateescape") as f:
        raw, keys = reasons_and_keys(f)
    print(f"log {args.log} ({os.path.getsize(args.log) / 1e6:.0f} MB); load {os.getloadavg()[0]:.2f}; "
          f"python {sys.version.split()[0]}; {args.repeat} rounds, distinct reasons each call once per round")
    bad = measure("realistic log: keys LogStats calls", sorted(keys), args.repeat)
    bad += measure("realistic log: reasons as written", sorted(raw), args.repeat)
    bad += measure("captures (tests/data)", sorted(captured_reasons()), args.repeat)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
