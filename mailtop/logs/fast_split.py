"""``mailtop report`` on two CPUs: a large log file is read in two parts at once, with the same answers.

The first part (up to a line boundary near the middle) is read by this process exactly as
``fast._Run.feed`` reads any input. The second part is read at the same time by a forked child
process, with one difference: the flow of a queue ID that also appears in the first part may have
begun there, so what such a line does *to its flow* (the sender and size of a message, the bytes
delivered, "deferred once") is not applied in the child but recorded (``_Run.records``) until the
child sees that flow removed. Everything else such a line does (counters, windows, reasons, delays)
does not depend on the flow and is counted in the child. The queue IDs of the first part are found
by one ``findall`` over its bytes in the child (``_prescan``; a bitmap of their hashes, so a
false hit only makes a line wait needlessly).

The parent then merges (``_merge``): counters added, minute buckets merged, the delay sums
continued with the child's delays in log order (float sums depend on the order: the child's
histograms record their values), and the recorded flow effects replayed, in order, on the parent's
flows. That is the reading of the whole file in one pass, provided that:

* the child's year guess started where the parent's ended (same year and month);
* no flow was evicted: no more live flows than ``max_flows`` at any time (parent's live flows at
  the split + the child's peak + the flows waiting for the replay), and the log spans less than the
  staleness limit (six days), so no sweep evicts anything in either order;
* no line that waits is a final delivery with a delay read by the full parser (its delay would be
  summed out of order);
* the child finished (any error in the child: its result is not used).

Otherwise the parent reads the second part itself, as one process would (the answers are the
same, only slower). ``tests/unit/test_log_fast_split.py`` checks the merged report is identical to
the one-process report for many split points, files and ``max_flows``.

Memory: two processes; the child is forked after the imports and shares those pages until it
writes to them. The benchmark (tests/bench/bench_report.py) reports the sum of both processes'
peak proportional set size (PSS).
"""

from __future__ import annotations

import gc
import os
import pickle
import re
import threading
from collections.abc import Iterator
from typing import Any

from mailtop.logs import fast as F
from mailtop.logs import parse as P
from mailtop.logs import stats as S
from mailtop.logs.follow import Bounded, iter_line_batches

__all__ = ["SPLIT_MIN_BYTES", "can_split", "split_point", "read_split"]

SPLIT_MIN_BYTES = 32 << 20      # smaller files are read by one process (the fork is not worth it)
SPLIT_FRACTION = 0.53   # the child also pre-scans the first part: give it less (best of 0.50-0.56, with the C prescan)

# Anything the parser could take as a queue ID: the head of a message (after "tag: "), up to ": ".
_PRESCAN = re.compile(rb": ([0-9A-Za-z]{6,24})(?=: )")


def can_split(path: Any) -> bool:
    """A regular, uncompressed file large enough, two CPUs to read it with, and a process with one
    thread (``mailtop report``): a fork while another thread holds a lock (the import lock, a file's)
    could leave the child waiting forever."""
    if path is None or str(path) == "-" or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    if cpus < 2:
        return False
    try:
        st = os.stat(path)
        if not os.path.isfile(path) or st.st_size < SPLIT_MIN_BYTES:
            return False
        with open(path, "rb") as fh:
            return fh.read(2) != b"\x1f\x8b"
    except OSError:
        return False


def split_point(path: Any, fraction: float | None = None, near: int | None = None) -> int:
    """The offset just after the first ``\\n`` at or after ``near`` (default: ``fraction`` of the
    file); 0 when there is none before the end."""
    size = os.stat(path).st_size
    if fraction is None:
        fraction = SPLIT_FRACTION
    start = max(0, (int(size * fraction) if near is None else near) - 1)   # a line start stays
    with open(path, "rb") as fh:
        fh.seek(start)
        block = fh.read(1 << 20)
    nl = block.find(b"\n")
    if nl < 0:
        return 0
    at = start + nl + 1
    return at if at < size else 0


def _batches(path: Any, start: int, end: int | None) -> Iterator[tuple[list[str], bool]]:
    with open(path, "rb") as fh:
        fh.seek(start)
        src = fh if end is None else Bounded(fh, end - start)
        yield from iter_line_batches(src, F.REPORT_CHUNK, raw=F._scan_bytes is not None)


def _prescan(path: Any, end: int) -> bytearray:
    """The bitmap of the hashes of every queue ID (and anything like one) in the first ``end`` bytes."""
    bitmap = bytearray(F.CARRY_BITS // 8)
    mask = F.CARRY_BITS - 1
    findall = _PRESCAN.findall
    in_c = F._prescan if F._qhash is not hash else None    # C's, with C's hash (fast._qhash)
    tail = b""
    with open(path, "rb") as fh:
        src = Bounded(fh, end)
        while True:
            data = src.read(F.REPORT_CHUNK)
            if not data:
                break
            data = tail + data
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if in_c is not None:
                in_c(memoryview(data)[:cut], bitmap)
                continue
            for q in set(findall(data, 0, cut)):
                h = hash(q.decode("ascii")) & mask
                bitmap[h >> 3] |= 1 << (h & 7)
        if tail and in_c is not None:
            in_c(tail, bitmap)
        elif tail:
            for q in set(findall(tail)):
                h = hash(q.decode("ascii")) & mask
                bitmap[h >> 3] |= 1 << (h & 7)
    return bitmap


def _hist_state(h: S._Hist) -> tuple:
    return (h.buckets, h.count, h.max, h.total_us)


def second_part(path: Any, start: int, ref: float | None, syslog_names: Any, max_flows: int,
                doom_minute: int | None = None) -> dict[str, Any]:
    """Read ``path`` from ``start`` to the end as the second part (in the child): a picklable result."""
    stats = S.LogStats(syslog_names=syslog_names, flows=F.ReportFlows(max_flows=max_flows))  # type: ignore[arg-type]
    run = F._Run(stats)
    run.doom_minute = doom_minute
    run.carry = _prescan(path, start)
    parser = P.LineParser(ref)
    first_year: list[tuple[int, int]] = []
    years = parser.years
    plain_year = years.year

    def year(month: int, day: int) -> int:       # the year guess this part starts from
        out = plain_year(month, day)
        first_year.append((years._year, years._month))
        del years.year
        return out

    years.year = year  # type: ignore[method-assign]
    run.feed(parser, _batches(path, start, None))
    st = stats
    return {
        "lines": st.lines, "unparsed": st.unparsed, "skipped": st.skipped, "first_ts": st.first_ts,
        "last_ts": st.last_ts, "t": st._t, "senders": st.senders, "sending_domains": st.sending_domains,
        "recipients": st.recipients, "recipient_domains": st.recipient_domains, "all_counts": st.all_counts,
        "reasons": st.reasons, "auth": st.auth, "login_clients": st.login_clients, "services": st.services,
        "minutes": list(st._minutes),
        "hist_all": _hist_state(st.hist_all),
        "hist_relay": {k: _hist_state(h) for k, h in st.hist_relay.items()},
        "hist_domain": {k: _hist_state(h) for k, h in st.hist_domain.items()},
        "records": run.records, "first_year": first_year[0] if first_year else None,
        "peak": st.flows.peak, "evicted": st.flows.evicted, "unsupported": run.unsupported,
        "doomed_any": run.doomed_any,
    }


def _usable(part: dict[str, Any] | None, run: F._Run, parser: P.LineParser) -> bool:
    if part is None or part["unsupported"] or part["evicted"]:
        return False
    years = parser.years
    if part["first_year"] is not None and years._year and part["first_year"] != (years._year, years._month):
        return False
    st = run.stats
    flows: F.ReportFlows = st.flows  # type: ignore[assignment]
    firsts = [x for x in (st.first_ts, part["first_ts"]) if x]
    lasts = [x for x in (st.last_ts, part["last_ts"]) if x]
    if firsts and max(lasts) - min(firsts) >= flows.stale_after:
        return False
    # live flows at any time of the one-pass reading: the parent's at the split, the child's, and the
    # flows the waiting lines make (a whole line: at most one)
    waiting = {r[1] for r in part["records"] if r[0] != "L"}
    lines = sum(1 for r in part["records"] if r[0] == "L")
    return len(flows) + part["peak"] + len(waiting) + lines <= flows.max_flows


def _merge_hist(h: S._Hist | None, state: tuple) -> S._Hist:
    """The child's histogram added (integer sums: the same in any order)."""
    buckets, count, mx, total_us = state
    if h is None:
        h = S._Hist()
    for b, n in buckets.items():
        h.buckets[b] = h.buckets.get(b, 0) + n
    h.count += count
    if mx > h.max:
        h.max = mx
    h.total_us += total_us
    return h


def _merge(run: F._Run, parser: P.LineParser, part: dict[str, Any]) -> None:
    st = run.stats
    st.lines += part["lines"]
    st.unparsed += part["unparsed"]
    st.skipped += part["skipped"]
    for ts in (part["first_ts"],):
        if ts and (ts < st.first_ts or not st.first_ts):
            st.first_ts = ts
    if part["last_ts"] > st.last_ts:
        st.last_ts = part["last_ts"]
    for name in ("senders", "sending_domains", "recipients", "recipient_domains", "all_counts", "reasons", "auth",
                 "login_clients", "services"):
        getattr(st, name).update(part[name])
    st._t.update(part["t"])
    # the waiting lines first: the whole lines among them ("L") make minute buckets of the child's
    # first minutes, which its later minutes, merged next, move out of the windows as in one pass
    _replay(run, parser, part["records"])
    for m in part["minutes"]:
        b = st._minute(m.minute * 60.0)
        b.c.update(m.c)
        b.delays.extend(m.delays)
        b.reasons.update(m.reasons)
        b.auth.update(m.auth)
        b.logins.update(m.logins)
    run.doomed_any = run.doomed_any or part["doomed_any"]
    st.hist_all = _merge_hist(st.hist_all, part["hist_all"])
    for attr in ("hist_relay", "hist_domain"):
        mine = getattr(st, attr)
        for k, state in part[attr].items():
            mine[k] = _merge_hist(mine.get(k), state)


def _replay(run: F._Run, parser: P.LineParser, records: list[tuple]) -> None:
    """What the waiting lines do to their flows, in log order, on this process's flows (the flow part
    of ``_Run.feed``'s branches, and ``LogStats.add`` for whole lines)."""
    st = run.stats
    flows: F.ReportFlows = st.flows  # type: ignore[assignment]
    live = flows._live
    t = st._t
    for rec in records:
        kind = rec[0]
        if kind == "L":            # the child did not count it
            st.add(parser.parse(rec[1]))
            continue
        key, ts = rec[1], rec[2]
        if kind == "R":
            live.pop(key, None)
            continue
        fl = live.get(key)
        if fl is None:
            fl = flows._new(key, ts)
        if kind == "Q":
            first = not fl.size
            fl.last_seen = ts
            sender, size = rec[3], rec[4]
            if not fl.size:
                fl.size = size
            if first and fl.received:
                addr = S._norm_addr(sender) if sender else "from=<>"
                dom = S._addr_domain(addr)
                if dom is None or not dom:
                    dom = addr if fl.received == "pickup" else fl.received
                st.sending_domains[dom] += 1
                st.senders[addr] += 1
                t["bytes_received"] += size
                fl.received = ""
            continue
        fl.last_seen = ts
        if kind == "C":
            fl.received = rec[3]
        elif kind == "S":
            if fl.size:
                t["bytes_delivered"] += fl.size
        elif kind == "D":
            if not fl.deferred:
                fl.deferred = True
                t["deferred"] += 1


def read_split(run: F._Run, path: Any, ref: float | None, at: int | None = None, fork: bool = True) -> None:
    """Read ``path`` into ``run`` in two parts (see the module docstring). ``at``: the split offset
    (snapped to the next line start; default ``split_point``); ``fork=False`` reads the second part in this process first (tests)."""
    at = split_point(path, near=at)
    parser = P.LineParser(ref)
    st = run.stats
    if at <= 0:
        run.feed(parser, _batches(path, 0, None))
        return
    names, max_flows = tuple(st.syslog_names), st.flows.max_flows
    part: dict[str, Any] | None = None
    if not fork:
        part = second_part(path, at, ref, names, max_flows, run.doom_minute)
        run.feed(parser, _batches(path, 0, at))
    else:
        part = _in_child(lambda: second_part(path, at, ref, names, max_flows, run.doom_minute),
                         lambda: run.feed(parser, _batches(path, 0, at)))
    if _usable(part, run, parser):
        _merge(run, parser, part)  # type: ignore[arg-type]
    else:
        run.feed(parser, _batches(path, at, None))


def _in_child(work, meanwhile) -> dict[str, Any] | None:  # noqa: ANN001
    """``work()`` in a forked child while ``meanwhile()`` runs here; the child's result, or None when it
    failed. ``meanwhile``'s exceptions propagate (after the child is reaped)."""
    r, w = os.pipe()
    gc.freeze()                # the child's collections then leave the shared pages alone (copy-on-write)
    try:
        pid = os.fork()
    except OSError:            # no process to spare: all here
        gc.unfreeze()
        os.close(r)
        os.close(w)
        meanwhile()
        return None
    if pid:
        gc.unfreeze()
    else:                      # the child: never returns
        code = 1
        try:
            os.close(r)
            result = work()
            with open(w, "wb", buffering=1 << 16) as out:     # streamed: no copy of the whole result
                pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
                pickler.fast = True     # no memo of every object (~1-2 MiB at the child's end): the
                pickler.dump(result)    # result has no cycles; a string used twice is written twice
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reads the rest itself
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    # The child's result is read by a thread while this process reads its own part: the child can
    # write it and exit as soon as it is done, so the two processes' peaks of memory do not add up
    # (the result is ~0.6 MB of pickle for 1M lines; the child's whole state is more).
    received: list[bytes] = []

    def drain() -> None:
        with open(r, "rb", buffering=0) as src:
            parts = []
            while True:
                data = src.read(1 << 16)
                if not data:
                    break
                parts.append(data)
            received.append(b"".join(parts))

    reader = threading.Thread(target=drain, name="fast_split-result", daemon=True)
    reader.start()
    part: dict[str, Any] | None = None
    try:
        meanwhile()
    finally:
        reader.join()
        _, status = os.waitpid(pid, 0)
    if received:
        try:
            part = pickle.loads(received.pop())
        except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, TypeError):
            part = None
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    return part
